/**
 * `wasmplane agent`: runs the node agent (src/agent) in the foreground
 * until SIGTERM or SIGINT, re-reading the state on SIGHUP.
 *
 * Problems found before anything is applied (a state path that does not
 * exist, no eBPF privilege, an unknown interface, a socket in use) end the
 * run with one line on stderr and exit code 2. Once running, the agent logs
 * to stderr (JSON lines, or text with `--log-format text`) and never exits
 * for bad input: rejected objects are logged and left out.
 *
 * @module
 */
import { Command, Option } from "commander";
import { startAgent } from "../agent/agent.js";
import { DEFAULT_AGENT_SOCKET } from "../agent/api.js";
import { createLogger, LOG_FORMATS, type LogFormat } from "../agent/log.js";
import { parseEndpointsFlag } from "../agent/options.js";
import { DEFAULT_PIN_ROOT } from "../bpf/pin.js";
import type { CommandContext } from "./context.js";
import { EXIT } from "./errors.js";
import { Output } from "./output.js";

interface AgentFlags {
  state: string;
  interface?: string;
  endpoints?: string;
  socket: string;
  api: boolean;
  metricsAddress?: string;
  pinRoot: string;
  node?: string;
  encapSource4?: string;
  encapSource6?: string;
  cleanup?: boolean;
  logFormat: LogFormat;
}

export function addAgentCommand(program: Command, ctx: CommandContext): void {
  program
    .command("agent")
    .description("node agent: program the XDP load balancer and the endpoints' tc programs from a state folder, and keep them in step with it")
    .requiredOption("-s, --state <path>", "file or directory of Kubernetes-style YAML/JSON, watched for changes")
    .option("-i, --interface <ifname>", "attach the XDP load balancer to this interface (native mode, generic as a fallback)")
    .option("--endpoints <list>", "endpoints to attach tc programs to: ns/pod=ifname,... (also: the pods' wasmplane.io/interface annotation)")
    .option("--socket <path>", "Unix socket of the local API", DEFAULT_AGENT_SOCKET)
    .option("--no-api", "serve no local API")
    .option("--metrics-address <host:port>", "serve Prometheus metrics (GET /metrics) here")
    .option("--pin-root <dir>", "bpffs directory of the pinned maps", DEFAULT_PIN_ROOT)
    .option("--node <name>", "this node's name in the state (default: the state's only Node)")
    .option("--encap-source4 <address>", "source address of IPv4 outer headers to backends")
    .option("--encap-source6 <address>", "source address of IPv6 outer headers to backends")
    .option("--cleanup", "on exit, detach every program and remove every pin (default: leave the datapath running)")
    .addOption(new Option("--log-format <format>", "log lines on stderr").choices(LOG_FORMATS).default("json"))
    .addHelpText("after", `
Signals: SIGHUP re-reads the state; SIGTERM and SIGINT stop the agent and
exit 0, leaving programs attached and maps pinned (unless --cleanup).

Exit codes: 0 stopped by a signal, 2 usage or input error (nothing applied), 3 internal error.

Example:
  wasmplane agent --state /etc/wasmplane/state --interface eth0 --endpoints prod/web=lxc1a2b`)
    .action(async (flags: AgentFlags) => {
      ctx.output = new Output(ctx.io, "text");
      const endpoints = flags.endpoints !== undefined ? parseEndpointsFlag(flags.endpoints) : undefined;
      const log = createLogger(ctx.io.stderr, flags.logFormat);
      const agent = await startAgent({
        state: flags.state, interface: flags.interface, endpoints, socket: flags.api ? flags.socket : null,
        metricsAddress: flags.metricsAddress, pinRoot: flags.pinRoot, node: flags.node,
        encapSource4: flags.encapSource4, encapSource6: flags.encapSource6, logger: log,
      });
      const stopped = new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: string) => {
          log.info("signal", { signal });
          if (stopping) return; // a second signal while stopping: the first one is being handled
          stopping = true;
          process.off("SIGHUP", hup);
          agent.stop({ cleanup: flags.cleanup === true }).then(resolve, (error: unknown) => {
            log.error("stop failed", { error: error instanceof Error ? error.message : String(error) });
            resolve();
          });
        };
        const hup = () => void agent.apply().catch((error: unknown) => log.error("apply failed", { error: error instanceof Error ? error.message : String(error) }));
        process.on("SIGHUP", hup);
        process.on("SIGTERM", () => stop("SIGTERM"));
        process.on("SIGINT", () => stop("SIGINT"));
      });
      try {
        await agent.ready;
      } catch (error) {
        await agent.stop();
        throw error;
      }
      await stopped;
      ctx.exitCode = EXIT.OK;
    });
}
