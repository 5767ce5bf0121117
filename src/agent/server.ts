/**
 * The agent's local API (api.ts) as HTTP/1.1 on a Unix domain socket.
 *
 * The socket's directory is created when missing; a socket file left by
 * an agent that is gone is removed, while one another agent still answers
 * on is an error (two agents would fight over the maps). The socket is
 * made mode 0600: the API shows the node's flows and policy, so only root
 * (the agent's user) may connect.
 *
 * @module
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { dirname } from "node:path";
import { InvalidInputError, WasmplaneError } from "../errors.js";
import type { ReachabilityQuery } from "../cluster/cluster.js";
import type { FlowFilter, ObservedFlow } from "../observe/types.js";
import { parseFlowFilter } from "../observe/filter.js";
import type { AgentStatus } from "./api.js";

/** What the server asks of the agent. */
export interface ApiHandlers {
  status(): AgentStatus;
  lastFlows(n: number, filter: FlowFilter): ObservedFlow[];
  followFlows(filter: FlowFilter, listener: (flow: ObservedFlow) => void): () => void;
  policyCheck(query: ReachabilityQuery): unknown;
  policyMap(endpoint: string): unknown;
}

/** Answered with a status and `{ error: { code, message } }`. */
class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** Largest request body read (a reachability query is a few dozen bytes). */
const MAX_BODY = 64 * 1024;
/** Default `last` of `GET /v1/flows`. */
const DEFAULT_LAST = 100;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}\n`;
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function fail(res: ServerResponse, error: unknown): void {
  if (error instanceof HttpError) return send(res, error.status, { error: { code: error.code, message: error.message } });
  if (error instanceof InvalidInputError) return send(res, 400, { error: { code: error.code, message: error.message } });
  if (error instanceof WasmplaneError) return send(res, 500, { error: { code: error.code, message: error.message } });
  send(res, 500, { error: { code: "INTERNAL", message: error instanceof Error ? error.message : String(error) } });
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, "TOO_LARGE", `request body is larger than ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
  } catch {
    throw new HttpError(400, "INVALID_INPUT", "request body must be JSON");
  }
}

function flows(req: IncomingMessage, res: ServerResponse, url: URL, api: ApiHandlers): void {
  const params = new URLSearchParams(url.searchParams);
  const follow = params.get("follow");
  const lastText = params.get("last");
  params.delete("follow");
  params.delete("last");
  if (follow !== null && follow !== "1" && follow !== "0" && follow !== "true" && follow !== "false") {
    throw new InvalidInputError("follow", follow, "must be 1 or 0");
  }
  const following = follow === "1" || follow === "true";
  if (lastText !== null && !/^[0-9]{1,9}$/.test(lastText)) throw new InvalidInputError("last", lastText, "must be a non-negative integer");
  const filter = parseFlowFilter(params);
  // Without follow: the last N (default 100). With follow: the last N when asked for, then every new flow.
  const n = lastText !== null ? Number(lastText) : following ? 0 : DEFAULT_LAST;
  res.writeHead(200, { "content-type": "application/x-ndjson" });
  const write = (flow: ObservedFlow) => res.write(`${JSON.stringify(flow)}\n`);
  for (const flow of api.lastFlows(n, filter)) write(flow);
  if (!following) {
    res.end();
    return;
  }
  res.flushHeaders();
  const stop = api.followFlows(filter, write);
  const end = () => stop();
  req.on("close", end);
  res.on("close", end);
}

async function route(req: IncomingMessage, res: ServerResponse, api: ApiHandlers): Promise<void> {
  const url = new URL(req.url ?? "/", "http://agent");
  const method = req.method ?? "GET";
  const allow = (m: string) => {
    if (method !== m) throw new HttpError(405, "METHOD_NOT_ALLOWED", `${url.pathname} takes ${m}, not ${method}`);
  };
  switch (url.pathname) {
    case "/v1/status":
      allow("GET");
      return send(res, 200, api.status());
    case "/v1/flows":
      allow("GET");
      return flows(req, res, url, api);
    case "/v1/policy/check": {
      allow("POST");
      const body = await readBody(req);
      if (typeof body !== "object" || body === null || Array.isArray(body)) throw new InvalidInputError("body", body, "must be a JSON object { from, to, port, protocol }");
      return send(res, 200, api.policyCheck(body as ReachabilityQuery));
    }
    case "/v1/policy/map": {
      allow("GET");
      const endpoint = url.searchParams.get("endpoint");
      if (!endpoint) throw new InvalidInputError("endpoint", endpoint, "is required: ?endpoint=<namespace>/<pod>");
      return send(res, 200, api.policyMap(endpoint));
    }
    default:
      throw new HttpError(404, "NOT_FOUND", `no such path: ${url.pathname}`);
  }
}

/** Whether something answers on the socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once("connect", () => { socket.destroy(); resolve(true); });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Prepares `path` for listening: creates its directory (mode 0700) and
 * removes a socket nobody answers on.
 *
 * @throws {@link InvalidInputError} (field `socket`) when another agent
 *   answers there or the path is not a socket.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (!existsSync(path)) return;
  if (!lstatSync(path).isSocket()) throw new InvalidInputError("socket", path, "exists and is not a socket");
  if (await answers(path)) throw new InvalidInputError("socket", path, "is in use: another agent is running (stop it first)");
  unlinkSync(path);
}

/** The running server. */
export interface ApiServer {
  /** The socket path. */
  readonly path: string;
  /** Stops listening, ends open streams and removes the socket file. */
  close(): Promise<void>;
}

/** Serves `api` on the Unix socket `path` (call {@link prepareSocketPath} first). */
export async function serveApi(path: string, api: ApiHandlers): Promise<ApiServer> {
  const server: Server = createServer((req, res) => {
    route(req, res, api).catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else fail(res, error);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  return {
    path,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      try {
        unlinkSync(path);
      } catch {
        // Already gone (server.close removes it on some platforms).
      }
    },
  };
}
