/**
 * Processes for the network-namespace tests: synchronous commands with a
 * deadline, and long-running helpers spoken to with one JSON line per
 * request (test/support/netns/client.mjs, lb-agent.ts) or only watched
 * (backend-server.mjs). Every wait is bounded; every helper can be stopped
 * by its own pid (SIGTERM, then SIGKILL).
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";

/** Runs `cmd args` to completion (at most `timeoutMs`); throws with its output on failure. */
export function sh(cmd: string, args: string[], options: { input?: string; timeoutMs?: number } = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", input: options.input, timeout: options.timeoutMs ?? 30_000, maxBuffer: 64 << 20, killSignal: "SIGKILL" });
  if (r.error) throw new Error(`${cmd} ${args.join(" ")}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status ?? r.signal}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Like {@link sh} but never throws: for cleanup. Returns whether it succeeded. */
export function trySh(cmd: string, args: string[], timeoutMs = 30_000): boolean {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL" });
  return !r.error && r.status === 0;
}

/** A spawned helper: stdout read line by line, stderr kept for error messages. */
export class Helper {
  readonly name: string;
  readonly child: ChildProcessWithoutNullStreams;
  #lines: string[] = [];
  #waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  #stderr = "";
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #exited: Promise<void>;

  constructor(name: string, cmd: string, args: string[], options: { cwd?: string } = {}) {
    this.name = name;
    this.child = spawn(cmd, args, { cwd: options.cwd, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdin.on("error", () => {}); // EPIPE after the child died: reported through exit
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      const i = this.#waiters.findIndex((w) => w.test(line));
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(line);
      else this.#lines.push(line);
    });
    this.child.stderr.on("data", (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString("utf8")).slice(-8000);
    });
    this.#exited = new Promise((resolve) => {
      this.child.on("error", (error) => {
        this.#stderr += `\nspawn failed: ${error.message}`;
        this.#exit ??= { code: null, signal: null };
        resolve();
      });
      this.child.on("exit", (code, signal) => {
        this.#exit = { code, signal };
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.#exit === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What the helper wrote on stderr (last 8 kB) and how it exited, for error messages. */
  describe(): string {
    const exit = this.#exit ? `exited ${this.#exit.code ?? this.#exit.signal}` : "running";
    return `${this.name} (pid ${this.pid}, ${exit})${this.#stderr.trim() ? `; stderr:\n${this.#stderr.trim()}` : ""}`;
  }

  /** The next stdout line matching `test` (earlier unread lines included), within `timeoutMs`. */
  async waitForLine(test: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
    const seen = this.#lines.findIndex(test);
    if (seen >= 0) return this.#lines.splice(seen, 1)[0]!;
    let timer: NodeJS.Timeout | undefined;
    let waiter: { test: (line: string) => boolean; resolve: (line: string) => void } | undefined;
    try {
      return await Promise.race([
        new Promise<string>((resolve) => {
          waiter = { test, resolve };
          this.#waiters.push(waiter);
        }),
        this.#exited.then(() => { throw new Error(`${what}: ${this.describe()}`); }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${what}: nothing within ${timeoutMs} ms from ${this.describe()}`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (waiter) this.#waiters = this.#waiters.filter((w) => w !== waiter);
    }
  }

  /** Sends one JSON request line and returns the next JSON answer line; throws on `{ ok: false }`. */
  async call<T = Record<string, unknown>>(request: Record<string, unknown>, timeoutMs: number): Promise<T> {
    if (!this.running) throw new Error(`${String(request.op)}: ${this.describe()}`);
    this.child.stdin.write(`${JSON.stringify(request)}\n`);
    const line = await this.waitForLine((l) => l.startsWith("{"), timeoutMs, `${this.name} ${String(request.op)}`);
    const answer = JSON.parse(line) as { ok: boolean; error?: string } & T;
    if (!answer.ok) throw new Error(`${this.name} ${String(request.op)}: ${answer.error}`);
    return answer;
  }

  /**
   * Ends the helper: closes its stdin (helpers exit on EOF), then SIGTERM,
   * then SIGKILL, each after `graceMs`. Resolves once it has exited.
   */
  async stop(graceMs = 2000): Promise<void> {
    if (!this.running) return;
    const exited = () => Promise.race([this.#exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref())]);
    this.child.stdin.end();
    if (await exited()) return;
    this.child.kill("SIGTERM");
    if (await exited()) return;
    this.child.kill("SIGKILL");
    await exited();
  }

  /** Synchronous last resort (process exit handlers): SIGKILL by pid. */
  killNow(): void {
    if (this.running) this.child.kill("SIGKILL");
  }
}
