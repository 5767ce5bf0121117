/**
 * `wasmplane status`, `observe` and `policy check|map --agent` against a
 * fake agent: a small HTTP server on a temporary Unix socket, started here,
 * that answers the local API (src/agent/api.ts) with canned data and records
 * what it was asked. This tests the clients' requests and output; the real
 * agent has its own tests. Plus the errors: no agent, an error answer, an
 * agent of another API version. No root needed.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_AGENT_SOCKET } from "../src/agent/api.js";
import type { AgentPolicyMap } from "../src/agent/client.js";
import { renderStatus } from "../src/cli/status-command.js";
import type { Reachability, ReachabilityQuery } from "../src/cluster/cluster.js";
import { matchesFlow, parseFlowFilter } from "../src/observe/filter.js";
import { FLOW_LINES, FLOWS, STATUS } from "./support/observed-flows.js";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

const ALLOWED: Reachability = {
  allowed: true,
  fromIdentity: 1001,
  toIdentity: 1002,
  egress: { verdict: "allow", reason: "not-enforced", proxy: false, rules: [] },
  ingress: { verdict: "allow", reason: "allowed", proxy: false, rules: [{ policy: "knp/shop/db-from-web", rule: 0, section: "ingress", index: 0 }] },
};
const DENIED: Reachability = {
  allowed: false,
  fromIdentity: 1003,
  toIdentity: 1001,
  egress: { verdict: "allow", reason: "not-enforced", proxy: false, rules: [] },
  ingress: { verdict: "deny", reason: "policy-deny", proxy: false, rules: [{ policy: "ccnp/quarantine-tools", rule: 0, section: "ingressDeny", index: 0 }] },
};
const DB_MAP: AgentPolicyMap = {
  endpoint: "shop/db",
  identity: 1002,
  entries: [
    { identity: 1001, direction: "ingress", protocol: 6, port: 5432, endPort: 5432, prefixLength: 24, deny: false, proxy: false, precedence: 3 },
    { identity: 1003, direction: "ingress", protocol: 0, port: 0, endPort: 65535, prefixLength: 0, deny: true, proxy: false, precedence: 4 },
  ],
  labels: { "1001": ["k8s:app=web"], "1003": ["k8s:app=debug"] },
};

interface FakeAgent {
  socket: string;
  /** Request lines (`GET /v1/flows?...`) in arrival order. */
  requests: string[];
  /** Bodies of POST requests, parsed. */
  bodies: unknown[];
  /** Follow streams whose client went away. */
  closedStreams: number;
  /** Overrides the status answer. */
  status: unknown;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

async function startFakeAgent(dir: string): Promise<FakeAgent> {
  const socket = join(dir, "agent.sock");
  const agent: FakeAgent = { socket, requests: [], bodies: [], closedStreams: 0, status: STATUS, close: () => Promise.resolve() };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    agent.requests.push(`${req.method} ${req.url}`);
    const url = new URL(req.url ?? "/", "http://agent");
    let raw = "";
    req.setEncoding("utf8").on("data", (c: string) => (raw += c));
    req.on("end", () => {
      if (req.method === "GET" && url.pathname === "/v1/status") return send(res, 200, agent.status);
      if (req.method === "GET" && url.pathname === "/v1/flows") {
        let filter;
        try {
          filter = parseFlowFilter(url.searchParams);
        } catch (error) {
          return send(res, 400, { error: { code: "INVALID_INPUT", message: (error as Error).message } });
        }
        const last = Number(url.searchParams.get("last") ?? 100);
        const kept = FLOWS.filter((f) => matchesFlow(f, filter)).slice(-last);
        res.writeHead(200, { "content-type": "application/x-ndjson" });
        for (const flow of kept) res.write(`${JSON.stringify(flow)}\n`);
        if (url.searchParams.get("follow") !== "1") return void res.end();
        // Following: one more flow later, in two pieces to test line assembly, then nothing until the client leaves.
        const text = `${JSON.stringify({ ...FLOWS[0]!, time: "2024-05-01T12:00:03.000Z" })}\n`;
        setTimeout(() => res.write(text.slice(0, 40)), 20);
        setTimeout(() => res.write(text.slice(40)), 40);
        res.on("close", () => agent.closedStreams++);
        return;
      }
      if (req.method === "POST" && url.pathname === "/v1/policy/check") {
        const query = JSON.parse(raw) as ReachabilityQuery;
        agent.bodies.push(query);
        if (query.to === "shop/nope") return send(res, 400, { error: { code: "INVALID_INPUT", message: "query.to: shop/nope is not a known pod" } });
        return send(res, 200, query.from === "tools/debug" ? DENIED : ALLOWED);
      }
      if (req.method === "GET" && url.pathname === "/v1/policy/map") {
        if (url.searchParams.get("endpoint") === "shop/db") return send(res, 200, DB_MAP);
        return send(res, 404, { error: { code: "UNKNOWN_ENDPOINT", message: `${url.searchParams.get("endpoint")} is not an endpoint of this node` } });
      }
      send(res, 404, { error: { code: "NOT_FOUND", message: `no ${req.method} ${url.pathname}` } });
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  agent.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return agent;
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI without blocking this process (the fake agent answers from
 * its event loop). `until`, when given, is called on each stdout chunk with
 * the child; it may signal it.
 */
function cli(args: readonly string[], until?: (stdout: string, child: ReturnType<typeof spawn>) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
      until?.(stdout, child);
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Exactly one line on stderr, no stack trace. */
function oneLineError(r: Run): string {
  assert.equal(r.stderr.split("\n").filter(Boolean).length, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  return r.stderr.trim();
}

let dir: string;
let agent: FakeAgent;

before(async () => {
  assert.ok(existsSync(CLI), "dist/cli.js is missing: run `npm run build` first");
  dir = mkdtempSync(join(tmpdir(), "wasmplane-agent-clients-"));
  agent = await startFakeAgent(dir);
});
after(async () => {
  await agent.close();
  rmSync(dir, { recursive: true, force: true });
});

test("status: a readable summary of the agent's answer", async () => {
  const r = await cli(["status", "--socket", agent.socket]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  const out = r.stdout;
  assert.match(out, /^health +degraded$/m);
  assert.match(out, /^counts +3 services, 9 backends, 6 identities, 2 endpoints, 17 policy entries$/m);
  assert.match(out, /^xdp +eth0 \(native\)$/m);
  assert.match(out, /^flows +12\.5\/s over the last 10 s, 0 events lost$/m);
  assert.match(out, /^last applied +generation 4 at 2024-05-01T11:59:00\.000Z in 12 ms \(services 1, backends 2, policies 0, pods 0\)$/m);
  assert.match(out, /^ {2}rejected: bad\.yaml: Service shop\/broken: spec\.ports\[0\]\.port: must be 1-65535$/m);
  assert.match(out, /^ {2}wp_lb_services +3 +4096 +0\.1%$/m);
  assert.match(out, /^ {2}wp_policy_exact +1536 +2048 +75\.0%$/m);
  assert.match(out, /^ {2}default-deny +7$/m);
  assert.match(out, /^ {2}policy-deny +42$/m);
  assert.ok(out.indexOf("default-deny") < out.indexOf("policy-deny"), "drops sorted by reason");
  assert.match(out, /^ {2}shop\/db +lxc-db$/m);
  assert.ok(agent.requests.includes("GET /v1/status"));
});

test("status --output json: the agent's status as sent", async () => {
  const r = await cli(["status", "--socket", agent.socket, "--output", "json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), STATUS);
});

test("status: an agent of another API version is refused on one line", async () => {
  agent.status = { ...STATUS, apiVersion: 2 };
  try {
    const r = await cli(["status", "--socket", agent.socket]);
    assert.equal(r.code, 2);
    assert.match(oneLineError(r), /^wasmplane: error: agent: the agent speaks API version 2; this client reads version 1$/);
  } finally {
    agent.status = STATUS;
  }
});

test("observe: one line per kept flow, in the agent's order", async () => {
  const r = await cli(["observe", "--socket", agent.socket]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trimEnd().split("\n"), FLOW_LINES);
});

test("observe: the filters travel as query parameters; the agent's filtered answer is printed", async () => {
  agent.requests.length = 0;
  let r = await cli(["observe", "--socket", agent.socket, "--namespace", "tools", "--verdict", "dropped", "--port", "8080", "--protocol", "tcp", "--identity", "1003", "--pod", "debug"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trimEnd().split("\n"), [FLOW_LINES[1]]);
  assert.deepEqual(agent.requests, ["GET /v1/flows?namespace=tools&pod=debug&verdict=DROPPED&port=8080&protocol=tcp&identity=1003"]);

  agent.requests.length = 0;
  r = await cli(["observe", "--socket", agent.socket, "--last", "2"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trimEnd().split("\n"), FLOW_LINES.slice(-2));
  assert.deepEqual(agent.requests, ["GET /v1/flows?last=2"]);

  r = await cli(["observe", "--socket", agent.socket, "--namespace", "nowhere"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "");
});

test("observe --output json: one ObservedFlow object per line", async () => {
  const r = await cli(["observe", "--socket", agent.socket, "--output", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assert.deepEqual(lines.map((l) => JSON.parse(l)), FLOWS);
});

test("observe --follow: prints what comes until SIGINT, then exits 0 and leaves the stream", async () => {
  agent.requests.length = 0;
  const closedBefore = agent.closedStreams;
  let signalled = false;
  const r = await cli(["observe", "--socket", agent.socket, "--follow", "--verdict", "FORWARDED"], (stdout, child) => {
    // The three kept forwarded flows, then the one sent later.
    if (!signalled && stdout.split("\n").length > 4) {
      signalled = true;
      child.kill("SIGINT");
    }
  });
  assert.equal(signalled, true, r.stdout);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.signal, null);
  assert.equal(r.stderr, "");
  const lines = r.stdout.trimEnd().split("\n");
  assert.deepEqual(lines.slice(0, 3), [FLOW_LINES[0], FLOW_LINES[2], FLOW_LINES[4]]);
  assert.equal(lines[3], FLOW_LINES[0]!.replace("12:00:00.123Z", "12:00:03.000Z"));
  assert.deepEqual(agent.requests, ["GET /v1/flows?verdict=FORWARDED&follow=1"]);
  // The server notices the closed connection on its own schedule.
  for (let i = 0; i < 100 && agent.closedStreams === closedBefore; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(agent.closedStreams, closedBefore + 1);
});

test("observe: bad filters are one-line errors naming the flag, before any request", async () => {
  agent.requests.length = 0;
  for (const [args, flag] of [
    [["--port", "99999"], "--port"],
    [["--verdict", "ALLOWED"], "--verdict"],
    [["--identity", "x"], "--identity"],
    [["--last", "0"], "--last"],
  ] as const) {
    const r = await cli(["observe", "--socket", agent.socket, ...args]);
    assert.equal(r.code, 2, flag);
    assert.match(oneLineError(r), new RegExp(`^wasmplane: error: ${flag}: `));
  }
  assert.deepEqual(agent.requests, []);
});

test("policy check --agent: the live verdict, exit 0 allowed and 1 denied, the query as sent", async () => {
  agent.bodies.length = 0;
  let r = await cli(["policy", "check", "--agent", agent.socket, "--from", "shop/web", "--to", "shop/db", "--port", "5432"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^shop\/web -> shop\/db 5432\/TCP: ALLOWED$/m);
  assert.match(r.stdout, /ingress +shop\/db +identity 1002 +allow +allowed +knp\/shop\/db-from-web rule 0 ingress\[0\]/);
  assert.deepEqual(agent.bodies, [{ from: "shop/web", to: "shop/db", port: 5432, protocol: "TCP" }]);

  r = await cli(["policy", "check", "--agent", agent.socket, "--from", "tools/debug", "--to", "shop/web", "--port", "8080/udp", "--output", "json"]);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { from: "tools/debug", to: "shop/web", port: 8080, protocol: "UDP", ...DENIED });
  assert.deepEqual(agent.bodies[1], { from: "tools/debug", to: "shop/web", port: 8080, protocol: "UDP" });

  r = await cli(["policy", "check", "--agent", agent.socket, "--from", "shop/web", "--to", "shop/nope", "--port", "80"]);
  assert.equal(r.code, 2);
  assert.equal(oneLineError(r), "wasmplane: error: agent: query.to: shop/nope is not a known pod");
});

test("policy map --agent: the endpoint's entries with the peers' labels", async () => {
  let r = await cli(["policy", "map", "--agent", agent.socket, "--endpoint", "shop/db"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^shop\/db: identity 1002, 2 entries$/m);
  assert.match(r.stdout, /^ {2}ingress +1001 +TCP +5432 +\/24 +allow +k8s:app=web$/m);
  assert.match(r.stdout, /^ {2}ingress +1003 +any +any +\/0 +deny +k8s:app=debug$/m);
  assert.ok(agent.requests.includes("GET /v1/policy/map?endpoint=shop%2Fdb"));

  r = await cli(["policy", "map", "--agent", agent.socket, "--endpoint", "shop/db", "--output", "json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { endpoint: "shop/db", identity: 1002, entries: DB_MAP.entries });

  r = await cli(["policy", "map", "--agent", agent.socket, "--endpoint", "x/y"]);
  assert.equal(r.code, 2);
  assert.equal(oneLineError(r), "wasmplane: error: agent: x/y is not an endpoint of this node");
});

test("policy: --state or --agent, one of them", async () => {
  let r = await cli(["policy", "map", "--endpoint", "shop/db"]);
  assert.equal(r.code, 2);
  assert.match(oneLineError(r), /one of --state <path> or --agent \[socket\] is required/);
  r = await cli(["policy", "map", "--endpoint", "shop/db", "--state", dir, "--agent", agent.socket]);
  assert.equal(r.code, 2);
  assert.match(oneLineError(r), /--state and --agent/);
});

test("no agent: one line naming the socket, exit 2, for every client", async () => {
  const missing = join(dir, "missing.sock");
  const notSocket = join(dir, "plain-file");
  writeFileSync(notSocket, "");
  for (const socket of [missing, notSocket]) {
    for (const args of [
      ["status", "--socket", socket],
      ["observe", "--socket", socket, "--follow"],
      ["policy", "check", "--agent", socket, "--from", "a/b", "--to", "c/d", "--port", "80"],
      ["policy", "map", "--agent", socket, "--endpoint", "a/b"],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 2, args.join(" "));
      assert.equal(oneLineError(r), `wasmplane: error: no agent listening on ${socket} (is \`wasmplane agent\` running?)`);
      assert.equal(r.stdout, "");
    }
  }
  const r = await cli(["status", "--socket", missing, "--output", "json"]);
  assert.equal(r.code, 2);
  assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, "AGENT_UNAVAILABLE");
});

test("--help for status and observe", async () => {
  for (const command of ["status", "observe"]) {
    const r = await cli([command, "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--socket <path>/);
    assert.match(r.stdout, /--output <format>/);
  }
  const r = await cli(["policy", "check", "--help"]);
  assert.match(r.stdout, /--agent \[socket\]/);
});

test("docs/observe.md shows the output these commands print", async () => {
  const doc = await readFile(fileURLToPath(new URL("../docs/observe.md", import.meta.url)), "utf8");
  const status = renderStatus(STATUS, DEFAULT_AGENT_SOCKET).join("\n");
  assert.ok(doc.includes(`\`\`\`\n${status}\n\`\`\``), "the status example is renderStatus of the test's status");
  assert.ok(doc.includes(`\`\`\`\n${FLOW_LINES.join("\n")}\n\`\`\``), "the observe example is the test's lines");
  const r = await cli(["observe", "--socket", agent.socket, "--port", "99999"]);
  assert.ok(doc.includes(r.stderr), r.stderr);
  const missing = join(dir, "nobody.sock");
  const none = await cli(["status", "--socket", missing]);
  assert.ok(doc.includes(none.stderr.replace(missing, DEFAULT_AGENT_SOCKET)), none.stderr);
});
