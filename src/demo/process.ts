/**
 * Processes of the live demo: short commands run to completion with a
 * deadline (`ip`, `sysctl`), and long-running children (the node agent, the
 * servers and clients inside namespaces) read line by line and spoken to
 * with one JSON line per request. The network-namespace tests (lb-e2e,
 * endpoint-e2e, agent-e2e) start their helpers with the same class.
 *
 * Children run in their own process group by default, so a Ctrl-C on the
 * terminal reaches the demo alone and the demo stops them in its own order;
 * every child is stopped by its own pid (stdin closed, then SIGTERM, then
 * SIGKILL).
 *
 * @module
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { WasmplaneError } from "../errors.js";

/** Runs `cmd args` to completion (at most `timeoutMs`) and returns stdout; throws with its output on failure. */
export function sh(cmd: string, args: readonly string[], timeoutMs = 20_000): string {
  // bpftool's JSON dump of a whole map can run to tens of megabytes.
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20, killSignal: "SIGKILL" });
  if (r.error) throw new WasmplaneError("KERNEL_FEATURE", `${cmd} ${args.join(" ")}: ${r.error.message}`);
  if (r.status !== 0) {
    const output = `${r.stderr}${r.stdout}`.trim();
    throw new WasmplaneError("KERNEL_FEATURE", `${cmd} ${args.join(" ")} exited ${r.status ?? r.signal}${output ? `: ${output}` : ""}`);
  }
  return r.stdout;
}

/** Like {@link sh}, for cleanup: never throws, returns whether it succeeded. */
export function trySh(cmd: string, args: readonly string[], timeoutMs = 20_000): boolean {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL" });
  return !r.error && r.status === 0;
}

/** Mounts the BPF filesystem on /sys/fs/bpf unless it is mounted there: pins live in it. */
export function ensureBpffs(): void {
  const mounts = readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" "));
  if (!mounts.some((m) => m[1] === "/sys/fs/bpf" && m[2] === "bpf")) sh("mount", ["-t", "bpf", "bpf", "/sys/fs/bpf"]);
}

/** Whether a process with this pid exists (signal 0 reaches it). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether `cmd` is on PATH. */
export function onPath(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** How a {@link Child} is started. */
export interface ChildOptions {
  /** Called with each line the child writes on stderr. */
  onStderrLine?: (line: string) => void;
  /** Working directory (default: this process's). */
  cwd?: string;
  /**
   * Whether the child gets a process group of its own (default true), so
   * that a Ctrl-C on the terminal reaches only this process, which then
   * stops the child itself.
   */
  ownProcessGroup?: boolean;
}

/** A long-running child: stdout read line by line, the end of stderr kept for messages. */
export class Child {
  readonly name: string;
  readonly process: ChildProcessWithoutNullStreams;
  #lines: string[] = [];
  #waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  #stderr = "";
  #exit: string | undefined;
  #stopping: Promise<void> | undefined;
  readonly #exited: Promise<void>;

  constructor(name: string, cmd: string, args: readonly string[], options: ChildOptions = {}) {
    this.name = name;
    this.process = spawn(cmd, args, { cwd: options.cwd, stdio: ["pipe", "pipe", "pipe"], detached: options.ownProcessGroup ?? true });
    this.process.stdin.on("error", () => {}); // EPIPE once the child is gone: reported through its exit
    createInterface({ input: this.process.stdout }).on("line", (line) => {
      const i = this.#waiters.findIndex((w) => w.test(line));
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(line);
      else this.#lines.push(line);
    });
    createInterface({ input: this.process.stderr }).on("line", (line) => {
      this.#stderr = `${this.#stderr}${line}\n`.slice(-8000);
      options.onStderrLine?.(line);
    });
    this.#exited = new Promise((resolve) => {
      this.process.on("error", (error) => {
        this.#exit ??= `could not start: ${error.message}`;
        resolve();
      });
      this.process.on("exit", (code, signal) => {
        this.#exit = code !== null ? `exited ${code}` : `killed by ${signal}`;
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  get running(): boolean {
    return this.#exit === undefined && this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Resolves when the child has exited. */
  get exited(): Promise<void> {
    return this.#exited;
  }

  /** How the child is doing, with the end of its stderr: for error messages. */
  describe(): string {
    const stderr = this.#stderr.trim();
    return `${this.name} (pid ${this.pid}, ${this.#exit ?? "running"})${stderr ? `; its stderr ends with:\n${stderr.split("\n").slice(-12).join("\n")}` : ""}`;
  }

  /** The next stdout line passing `test` (earlier unread lines included), within `timeoutMs`. */
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
        this.#exited.then(() => {
          throw new WasmplaneError("KERNEL_FEATURE", `${what}: ${this.describe()}`);
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new WasmplaneError("KERNEL_FEATURE", `${what}: nothing within ${timeoutMs} ms from ${this.describe()}`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (waiter) this.#waiters = this.#waiters.filter((w) => w !== waiter);
    }
  }

  /** Sends one JSON request line and returns the next JSON answer; throws on `{ ok: false }`. */
  async call<T = Record<string, unknown>>(request: Record<string, unknown>, timeoutMs: number): Promise<T> {
    if (!this.running) throw new WasmplaneError("KERNEL_FEATURE", `${String(request.op)}: ${this.describe()}`);
    this.process.stdin.write(`${JSON.stringify(request)}\n`);
    const line = await this.waitForLine((l) => l.startsWith("{"), timeoutMs, `${this.name} ${String(request.op)}`);
    const answer = JSON.parse(line) as { ok: boolean; error?: string } & T;
    if (!answer.ok) throw new WasmplaneError("KERNEL_FEATURE", `${this.name} ${String(request.op)}: ${answer.error}`);
    return answer;
  }

  /**
   * Ends the child: `signal` first when given (the agent cleans up on
   * SIGTERM), else its stdin closed (the helpers exit on EOF); then SIGTERM,
   * then SIGKILL, each after `graceMs`. Resolves once it has exited.
   */
  stop(graceMs = 2000, signal?: NodeJS.Signals): Promise<void> {
    // Once: a second SIGTERM would cut short the agent's own cleanup.
    this.#stopping ??= this.#stop(graceMs, signal);
    return this.#stopping;
  }

  async #stop(graceMs: number, signal: NodeJS.Signals | undefined): Promise<void> {
    if (!this.running) return;
    const exited = () => Promise.race([this.#exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref())]);
    if (signal) this.process.kill(signal);
    else this.process.stdin.end();
    if (await exited()) return;
    this.process.kill("SIGTERM");
    if (await exited()) return;
    this.process.kill("SIGKILL");
    await exited();
  }

  /** Last resort, synchronous (an exit handler): SIGKILL by pid. */
  killNow(): void {
    if (this.running) this.process.kill("SIGKILL");
  }
}
