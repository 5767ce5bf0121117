/**
 * The agent's options, their defaults and their checks, shared by
 * `startAgent` and the `wasmplane agent` command.
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import type { AppliedChange } from "./api.js";
import type { AgentLogger } from "./log.js";

/** Options of {@link startAgent}. */
export interface AgentOptions {
  /** State file or directory (Kubernetes-style YAML/JSON), watched for changes. */
  state: string;
  /** Interface to attach the XDP load balancer to (native mode, generic as a fallback). Default: none (services reach pods only through tc translation). */
  interface?: string;
  /** Endpoints to attach tc programs to: `namespace/pod` → host-side interface. Added to the pods' `wasmplane.io/interface` annotations (these win on a conflict). */
  endpoints?: Readonly<Record<string, string>>;
  /** Unix socket of the local API; `null` for none. Default {@link DEFAULT_AGENT_SOCKET}. */
  socket?: string | null;
  /** `host:port` to serve Prometheus metrics on. Default: none. */
  metricsAddress?: string;
  /** bpffs directory of the pinned maps. Default `/sys/fs/bpf/wasmplane`. */
  pinRoot?: string;
  /** This node's name (NodePort addresses, `Local` traffic policies, which annotated pods are local). Default: the state's only Node. */
  node?: string;
  /** Source address of IPv4 outer headers (to backends over IPIP). */
  encapSource4?: string;
  /** Source address of IPv6 outer headers. */
  encapSource6?: string;
  /** A compiled xdp_lb.o. Default: the checkout's, built when stale. */
  lbObject?: string;
  /** A compiled tc_endpoint.o. Default: the checkout's, built when stale. */
  endpointObject?: string;
  /** Where log lines go. Default: JSON lines on stderr. */
  logger?: AgentLogger;
  /** Watch the state path and apply changes. Default true. */
  watch?: boolean;
  /** Milliseconds of quiet after a file event before the changed files are read. Default 5. */
  debounceMs?: number;
  /** Called after every change applied (also the first). */
  onApplied?: (change: AppliedChange) => void;
}

const POD = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const IFNAME = /^[^/\s:]{1,15}$/;

/** Checks an interface name. @throws InvalidInputError naming `field` */
export function checkInterfaceName(field: string, name: unknown): string {
  if (typeof name !== "string" || !IFNAME.test(name)) throw new InvalidInputError(field, name, "must be an interface name (1 to 15 characters, no '/', ':' or spaces)");
  return name;
}

/** Checks the endpoints option. @throws InvalidInputError naming the entry */
export function checkEndpoints(field: string, endpoints: Readonly<Record<string, string>> | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const [pod, iface] of Object.entries(endpoints ?? {})) {
    if (!POD.test(pod)) throw new InvalidInputError(field, pod, "must name pods as namespace/pod");
    out.set(pod, checkInterfaceName(`${field}["${pod}"]`, iface));
  }
  const byInterface = new Map<string, string>();
  for (const [pod, iface] of out) {
    const other = byInterface.get(iface);
    if (other !== undefined) throw new InvalidInputError(field, iface, `is given to both ${other} and ${pod}: one interface per endpoint`);
    byInterface.set(iface, pod);
  }
  return out;
}

/**
 * Parses `ns/pod=ifname,ns/pod=ifname` (the `--endpoints` flag).
 * @throws InvalidInputError (field `--endpoints`) for a malformed entry
 */
export function parseEndpointsFlag(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(",").map((p) => p.trim()).filter((p) => p !== "")) {
    const eq = part.indexOf("=");
    if (eq <= 0 || eq === part.length - 1) throw new InvalidInputError("--endpoints", part, "must be namespace/pod=interface");
    const pod = part.slice(0, eq);
    if (pod in out) throw new InvalidInputError("--endpoints", pod, "is given twice");
    out[pod] = part.slice(eq + 1);
  }
  checkEndpoints("--endpoints", out);
  return out;
}
