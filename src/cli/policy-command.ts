/**
 * `wasmplane policy check` and `wasmplane policy map`: ask the policy
 * engine about a state folder (Kubernetes-style YAML/JSON), offline.
 *
 * `check` exits 0 when the flow is allowed and 1 when it is denied, so
 * scripts can assert reachability; input errors exit 2 as everywhere.
 *
 * With `--agent [socket]` both ask the running node agent instead of reading
 * a state folder: the same output, from the state the datapath is serving.
 *
 * @module
 */
import { Command, Option } from "commander";
import { DEFAULT_AGENT_SOCKET } from "../agent/api.js";
import { connectAgent } from "../agent/client.js";
import { createCluster, type Cluster } from "../cluster/cluster.js";
import { loadState } from "../state/load.js";
import { LEVEL, protocolName } from "../policy/resolver-host.js";
import type { PolicyMapEntry } from "../policy/resolver-host.js";
import type { Verdict } from "../policy/engine.js";
import type { Reachability } from "../cluster/cluster.js";
import type { CommandContext } from "./context.js";
import { EXIT, UsageError } from "./errors.js";
import { Output, OUTPUT_MODES, type OutputMode } from "./output.js";

interface StateOptions {
  state?: string;
  /** `true` for `--agent` without a path: the default socket. */
  agent?: string | true;
  output: OutputMode;
}

/** Where the answer comes from: a state folder, or the agent on a socket. */
function sourceOf(options: StateOptions): { state: string } | { socket: string } {
  if (options.state !== undefined && options.agent !== undefined) throw new UsageError("--state and --agent: give one of them, not both", "--agent");
  if (options.agent !== undefined) return { socket: options.agent === true ? DEFAULT_AGENT_SOCKET : options.agent };
  if (options.state !== undefined) return { state: options.state };
  throw new UsageError("one of --state <path> or --agent [socket] is required (see --help)", "--state");
}

function stateOption(): Option {
  return new Option("-s, --state <path>", "file or directory of Kubernetes-style YAML/JSON");
}

function agentOption(): Option {
  return new Option("--agent [socket]", `ask the running node agent instead of a state folder (socket default: ${DEFAULT_AGENT_SOCKET})`);
}

/** Loads a state path into a fresh cluster view. */
export async function clusterFromState(path: string): Promise<Cluster> {
  const cluster = await createCluster();
  for (const doc of await loadState(path)) cluster.apply(doc.value, doc.source);
  return cluster;
}

function parsePortProtocol(text: string): { port: number; protocol: "TCP" | "UDP" | "SCTP" } {
  const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(text);
  const port = m ? Number(m[1]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--port: expected <port>[/TCP|UDP|SCTP], such as 80/TCP (got "${text}")`, "--port");
  return { port, protocol: (m[2]?.toUpperCase() ?? "TCP") as "TCP" | "UDP" | "SCTP" };
}

function describeVerdict(v: Verdict): string {
  const rules = v.rules.map((r) => (r.index < 0 ? `${r.policy} (enforces ${r.section})` : `${r.policy} rule ${r.rule} ${r.section}[${r.index}]`));
  return `${v.verdict.padEnd(5)}  ${v.reason}${v.proxy ? " (via L7 proxy)" : ""}${rules.length ? `  ${rules.join(", ")}` : ""}`;
}

export function addPolicyCommand(program: Command, ctx: CommandContext): void {
  const policy = program.command("policy").description("ask the policy engine about a state folder: verdicts and policy maps");
  const output = new Option("--output <format>", "result format on stdout").choices(OUTPUT_MODES).default("text");

  policy
    .command("check")
    .description("decide one flow: the client's egress and the server's ingress, with the rules that decided")
    .addOption(stateOption())
    .addOption(agentOption())
    .requiredOption("--from <endpoint>", "client: ns/pod or an IP address")
    .requiredOption("--to <endpoint>", "server: ns/pod or an IP address")
    .requiredOption("--port <port/proto>", "destination port and protocol, e.g. 80/TCP (protocol defaults to TCP)")
    .addOption(output)
    .addHelpText("after", "\nExit codes: 0 allowed, 1 denied, 2 usage or input error (or no agent on the socket).\n\nExamples:\n  wasmplane policy check --state examples/state --from x/a --to y/b --port 80/TCP\n  wasmplane policy check --agent --from x/a --to y/b --port 80/TCP")
    .action(async (options: StateOptions & { from: string; to: string; port: string }) => {
      const out = new Output(ctx.io, options.output);
      ctx.output = out;
      const source = sourceOf(options);
      const flow = parsePortProtocol(options.port);
      const query = { from: options.from, to: options.to, ...flow };
      let r: Reachability;
      if ("socket" in source) r = await connectAgent(source.socket).checkPolicy(query);
      else r = (await clusterFromState(source.state)).reachability(query);
      out.result({ from: options.from, to: options.to, ...flow, ...r });
      out.line(`${options.from} -> ${options.to} ${flow.port}/${flow.protocol}: ${r.allowed ? "ALLOWED" : "DENIED"}`);
      out.line(`  egress   ${options.from.padEnd(16)} identity ${String(r.fromIdentity).padEnd(8)} ${describeVerdict(r.egress)}`);
      out.line(`  ingress  ${options.to.padEnd(16)} identity ${String(r.toIdentity).padEnd(8)} ${describeVerdict(r.ingress)}`);
      ctx.exitCode = r.allowed ? EXIT.OK : EXIT.DRIFT;
    });

  policy
    .command("map")
    .description("print the policy map entries of an endpoint, as the datapath will read them")
    .addOption(stateOption())
    .addOption(agentOption())
    .requiredOption("-e, --endpoint <ns/pod>", "the endpoint")
    .addOption(output)
    .addHelpText("after", "\nEach entry is matched by longest prefix over (protocol, port) for the peer's\nidentity and for identity 0 (any peer); the higher precedence wins.")
    .action(async (options: StateOptions & { endpoint: string }) => {
      const out = new Output(ctx.io, options.output);
      ctx.output = out;
      const source = sourceOf(options);
      let identity: number;
      let entries: readonly PolicyMapEntry[];
      let labelsOf: (identity: number) => readonly string[] | undefined;
      if ("socket" in source) {
        const answer = await connectAgent(source.socket).policyMap(options.endpoint);
        ({ identity, entries } = answer);
        labelsOf = (id) => answer.labels?.[String(id)];
      } else {
        const cluster = await clusterFromState(source.state);
        const found = cluster.identityOf(options.endpoint);
        if (found === undefined) throw new UsageError(`--endpoint: ${options.endpoint} is not a pod of the state`, "--endpoint");
        identity = found;
        entries = cluster.engine.policyMap(identity);
        labelsOf = (id) => cluster.engine.identities.labels(id);
      }
      out.result({ endpoint: options.endpoint, identity, entries });
      out.line(`${options.endpoint}: identity ${identity}, ${entries.length} entries`);
      out.line(`  ${"direction".padEnd(9)} ${"peer".padEnd(9)} ${"proto".padEnd(6)} ${"ports".padEnd(13)} prefix  verdict`);
      for (const e of entries) out.line(`  ${formatEntry(e, labelsOf)}`);
    });
}

function formatEntry(e: PolicyMapEntry, labelsOf: (identity: number) => readonly string[] | undefined): string {
  const peer = e.identity === 0 ? "any" : String(e.identity);
  const proto = e.prefixLength === 0 ? "any" : protocolName(e.protocol);
  const ports = e.prefixLength <= 8 ? "any" : e.port === e.endPort ? String(e.port) : `${e.port}-${e.endPort}`;
  const verdict = e.deny ? "deny" : e.precedence === LEVEL.notEnforced ? "allow (not enforced)" : e.proxy ? "allow via proxy" : "allow";
  const labels = e.identity === 0 ? "" : `  ${(labelsOf(e.identity) ?? []).join(" ")}`;
  return `${e.direction.padEnd(9)} ${peer.padEnd(9)} ${proto.padEnd(6)} ${ports.padEnd(13)} /${String(e.prefixLength).padEnd(6)} ${verdict}${labels}`;
}
