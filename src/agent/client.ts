/**
 * A client of the node agent's local API (src/agent/api.ts): HTTP/1.1 over
 * the agent's Unix socket, what `wasmplane status`, `observe` and
 * `policy --agent` use.
 *
 * Failures come in two kinds, both {@link WasmplaneError}s with a code:
 * nobody listening on the socket ({@link AgentUnavailableError}), and an
 * agent that answered with an error or with something this client cannot
 * read ({@link AgentError}, carrying the HTTP status and the agent's own
 * error code).
 *
 * @module
 */
import { request, type IncomingMessage } from "node:http";
import type { ReachabilityQuery, Reachability } from "../cluster/cluster.js";
import { WasmplaneError } from "../errors.js";
import { flowFilterToQuery } from "../observe/filter.js";
import type { FlowFilter, ObservedFlow } from "../observe/types.js";
import type { PolicyMapEntry } from "../policy/resolver-host.js";
import { AGENT_API_VERSION, DEFAULT_AGENT_SOCKET, type AgentStatus } from "./api.js";

/** Nothing listens on the agent's socket: it does not exist, is not a socket, or refuses connections. */
export class AgentUnavailableError extends WasmplaneError {
  /** The socket path that was tried. */
  readonly socket: string;
  /** Node's errno code of the failed connect (`ENOENT`, `ECONNREFUSED`, ...). */
  readonly errno: string | undefined;

  constructor(socket: string, errno: string | undefined, options?: { cause?: unknown }) {
    const message =
      errno === "EACCES" || errno === "EPERM"
        ? `permission denied on ${socket} (the agent's socket is for root: run as root or with sudo)`
        : `no agent listening on ${socket} (is \`wasmplane agent\` running?)`;
    super("AGENT_UNAVAILABLE", message, options);
    this.socket = socket;
    this.errno = errno;
  }
}

/** The agent answered with an error, or with an answer this client cannot read. */
export class AgentError extends WasmplaneError {
  /** HTTP status of the answer; 0 when the answer itself was unreadable. */
  readonly status: number;
  /** The agent's error code (`{ "error": { "code" } }`), when it sent one. */
  readonly agentCode: string | undefined;

  constructor(status: number, message: string, agentCode?: string) {
    super("AGENT_ERROR", `agent: ${message}`);
    this.status = status;
    this.agentCode = agentCode;
  }
}

/** `GET /v1/policy/map?endpoint=ns/pod`: an endpoint's policy map entries as the datapath reads them. */
export interface AgentPolicyMap {
  /** The endpoint, `ns/pod`. */
  readonly endpoint: string;
  /** Its security identity. */
  readonly identity: number;
  /** Its entries, in the order the agent lists them. */
  readonly entries: readonly PolicyMapEntry[];
  /** Labels of the peer identities in `entries`, by identity number, when the agent sends them. */
  readonly labels?: Readonly<Record<string, readonly string[]>>;
}

/** Options of {@link AgentClient.flows}. */
export interface FlowStreamOptions {
  /** Keep the stream open and receive new flows as they come. */
  readonly follow?: boolean;
  /** How many kept flows to receive first (the agent's default, 100, when absent). */
  readonly last?: number;
  /** Ends the stream; `flows()` then resolves. */
  readonly signal?: AbortSignal;
}

/** A connection to one agent; every call opens its own HTTP request. */
export interface AgentClient {
  /** The socket path this client talks to. */
  readonly socket: string;
  /**
   * `GET /v1/status`.
   *
   * @throws {@link AgentUnavailableError} when nothing listens on the socket.
   * @throws {@link AgentError} on an error answer, or an answer of another `apiVersion`.
   */
  status(): Promise<AgentStatus>;
  /**
   * `GET /v1/flows`: calls `onFlow` for each flow that passes `filter`, in
   * the agent's order. Resolves when the agent ends the stream (at once
   * after the kept flows unless `follow`), or when `options.signal` aborts.
   *
   * @throws {@link AgentUnavailableError} when nothing listens on the socket.
   * @throws {@link AgentError} on an error answer (a filter the agent refuses) or a line that is not a flow.
   */
  flows(filter: FlowFilter, options: FlowStreamOptions, onFlow: (flow: ObservedFlow) => void): Promise<void>;
  /**
   * `POST /v1/policy/check`: the live agent's verdict on one flow.
   *
   * @throws {@link AgentUnavailableError} when nothing listens on the socket.
   * @throws {@link AgentError} on an error answer (such as a pod the agent does not know).
   */
  checkPolicy(query: ReachabilityQuery): Promise<Reachability>;
  /**
   * `GET /v1/policy/map?endpoint=`: the endpoint's policy map entries.
   *
   * @throws {@link AgentUnavailableError} when nothing listens on the socket.
   * @throws {@link AgentError} on an error answer (such as an unknown endpoint).
   */
  policyMap(endpoint: string): Promise<AgentPolicyMap>;
}

/** Errno codes of a connect that found nobody to talk to. */
const UNAVAILABLE = new Set(["ENOENT", "ECONNREFUSED", "ENOTSOCK", "ENOTDIR", "EACCES", "EPERM", "ECONNRESET"]);

/**
 * A client of the agent listening on `socket` (default
 * {@link DEFAULT_AGENT_SOCKET}). Connects lazily: nothing is opened until
 * the first call, so a missing agent is reported by that call.
 */
export function connectAgent(socket: string = DEFAULT_AGENT_SOCKET): AgentClient {
  function open(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers: Record<string, string | number> = { accept: "application/json" };
      if (payload !== undefined) Object.assign(headers, { "content-type": "application/json", "content-length": Buffer.byteLength(payload) });
      const req = request({ socketPath: socket, method, path, headers, signal });
      req.once("response", resolve);
      req.once("error", (error: NodeJS.ErrnoException) => {
        if (error.name === "AbortError") reject(error);
        else if (error.code && UNAVAILABLE.has(error.code) && !req.reusedSocket) reject(new AgentUnavailableError(socket, error.code, { cause: error }));
        else reject(new AgentError(0, `${method} ${path}: ${error.message}`));
      });
      req.end(payload);
    });
  }

  async function json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await open(method, path, body);
    const text = await readAll(res);
    if ((res.statusCode ?? 0) >= 400) throw errorAnswer(res.statusCode ?? 0, text);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new AgentError(res.statusCode ?? 0, `${method} ${path}: the answer is not JSON (${text.slice(0, 60)})`);
    }
  }

  return {
    socket,
    async status() {
      const status = await json<AgentStatus>("GET", "/v1/status");
      if (typeof status !== "object" || status === null || status.apiVersion !== AGENT_API_VERSION) {
        throw new AgentError(200, `the agent speaks API version ${String((status as { apiVersion?: unknown } | null)?.apiVersion)}; this client reads version ${AGENT_API_VERSION}`);
      }
      return status;
    },
    checkPolicy(query) {
      return json<Reachability>("POST", "/v1/policy/check", query);
    },
    policyMap(endpoint) {
      return json<AgentPolicyMap>("GET", `/v1/policy/map?${new URLSearchParams({ endpoint })}`);
    },
    async flows(filter, options, onFlow) {
      const query = flowFilterToQuery(filter);
      if (options.follow) query.set("follow", "1");
      if (options.last !== undefined) query.set("last", String(options.last));
      const path = `/v1/flows?${query}`;
      const { signal } = options;
      if (signal?.aborted) return;
      let res: IncomingMessage;
      try {
        res = await open("GET", path, undefined, signal);
      } catch (error) {
        if (signal?.aborted) return;
        throw error;
      }
      if ((res.statusCode ?? 0) >= 400) throw errorAnswer(res.statusCode ?? 0, await readAll(res));
      await readLines(res, signal, (line, lineNumber) => {
        let flow: ObservedFlow;
        try {
          flow = JSON.parse(line) as ObservedFlow;
        } catch {
          throw new AgentError(res.statusCode ?? 0, `GET /v1/flows: line ${lineNumber} is not JSON (${line.slice(0, 60)})`);
        }
        onFlow(flow);
      });
    },
  };
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.once("error", reject);
  });
}

/** Calls `onLine` for each non-empty line of `res` until it ends or `signal` aborts; an error thrown by `onLine` ends the stream and rejects. */
function readLines(res: IncomingMessage, signal: AbortSignal | undefined, onLine: (line: string, lineNumber: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let pending = "";
    let lineNumber = 0;
    let settled = false;
    const finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      if (error !== undefined) {
        res.destroy();
        reject(error);
      } else resolve();
    };
    const onAbort = () => {
      res.destroy();
      finish();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    res.setEncoding("utf8");
    const take = (line: string) => {
      lineNumber++;
      if (line.trim() !== "") onLine(line, lineNumber);
    };
    res.on("data", (chunk: string) => {
      if (settled) return;
      pending += chunk;
      let newline: number;
      try {
        while (!settled && (newline = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          take(line);
        }
      } catch (error) {
        finish(error);
      }
    });
    res.once("end", () => {
      try {
        if (!settled && pending !== "") take(pending);
        finish();
      } catch (error) {
        finish(error);
      }
    });
    res.once("error", (error) => (signal?.aborted ? finish() : finish(new AgentError(res.statusCode ?? 0, `GET /v1/flows: ${error.message}`))));
    res.once("close", () => {
      // The agent went away mid-stream without ending the response: the stream is over.
      if (!settled && !res.complete) finish(signal?.aborted ? undefined : new AgentError(res.statusCode ?? 0, "GET /v1/flows: the agent closed the stream"));
    });
  });
}

/** An error answer as an {@link AgentError}: the agent's `{ error: { code, message } }` when it sent one. */
function errorAnswer(status: number, text: string): AgentError {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (body.error && typeof body.error.message === "string") {
      return new AgentError(status, body.error.message, typeof body.error.code === "string" ? body.error.code : undefined);
    }
  } catch {
    // Not JSON: report the text.
  }
  return new AgentError(status, `HTTP ${status}${text.trim() ? `: ${text.trim().slice(0, 120)}` : ""}`);
}
