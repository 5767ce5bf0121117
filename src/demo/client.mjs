// The client of `wasmplane demo`, run inside a network namespace of the demo
// (the outside client, or a pod), and of the network-namespace tests
// (test/lb-e2e.test.ts, test/agent-e2e.test.ts):
//
//   node client.mjs
//
// One JSON request per stdin line, one JSON answer per stdout line, in order
// (json-lines.mjs):
//
//   { op: "open", host, port, localAddress?, localPorts: [..], timeoutMs }
//       a TCP connection from each local port (and address, when given),
//       and `GET /` on it; the connection stays open (HTTP keep-alive)
//       → { results: [{ localPort, backend?, peer?, error? }] }
//   { op: "request", localPorts: [..], timeoutMs }
//       one more `GET /` on each open connection → the same shape
//   { op: "close", localPorts?: [..] }
//       ends the open connections from those ports (default: all) → {}
//   { op: "once", host, port, timeoutMs }
//       one connection from any port, one request, closed → { backend?, peer?, error? }
//
// `backend` is the response body: the name of the server that answered
// (server.mjs); `peer` its `x-peer` header, the client's address and port
// as the server saw them. `host` is an IPv4 or IPv6 address. Fixed local
// ports make fixed flows, so the load balancer's choices are the same on
// every run. Every connect and request has its own deadline; a failure is
// reported per connection, never thrown. Exits when stdin closes.
import { connect, isIPv6 } from "node:net";
import { answerJsonLines } from "./json-lines.mjs";

/** localPort → { socket, pending, buffer, host, closedBy } */
const connections = new Map();
const CONCURRENCY = 32;

function fail(conn, error) {
  const pending = conn.pending;
  conn.pending = undefined;
  pending?.reject(error);
}

/** One complete response from conn.buffer, or undefined: { status, peer, body }. */
function takeResponse(conn) {
  const end = conn.buffer.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const head = conn.buffer.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(head[0].split(" ")[1]);
  const header = (name) => {
    const line = head.find((l) => l.toLowerCase().startsWith(`${name}:`));
    return line?.slice(line.indexOf(":") + 1).trim();
  };
  const length = Number(header("content-length") ?? 0);
  if (conn.buffer.length < end + 4 + length) return undefined;
  const body = conn.buffer.subarray(end + 4, end + 4 + length).toString("utf8");
  conn.buffer = conn.buffer.subarray(end + 4 + length);
  return { status, peer: header("x-peer"), body };
}

function request(conn, timeoutMs) {
  return new Promise((resolve, reject) => {
    if (conn.socket.destroyed || !conn.socket.writable) {
      reject(new Error(conn.closedBy ?? "connection closed"));
      return;
    }
    const timer = setTimeout(() => fail(conn, new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    conn.pending = {
      resolve: (v) => { clearTimeout(timer); resolve(v); },
      reject: (e) => { clearTimeout(timer); reject(e); },
    };
    conn.socket.write(`GET / HTTP/1.1\r\nHost: ${conn.host}\r\nConnection: keep-alive\r\n\r\n`);
  });
}

function open(host, port, localAddress, localPort, timeoutMs) {
  return new Promise((resolve, reject) => {
    const family = isIPv6(host) ? 6 : 4;
    const socket = connect({ host, port, family, ...(localAddress ? { localAddress } : {}), ...(localPort ? { localPort } : {}) });
    const conn = { socket, pending: undefined, buffer: Buffer.alloc(0), host: family === 6 ? `[${host}]` : host, closedBy: undefined };
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setNoDelay(true);
    socket.on("connect", () => {
      clearTimeout(timer);
      if (localPort) connections.set(localPort, conn);
      resolve(conn);
    });
    socket.on("data", (chunk) => {
      conn.buffer = Buffer.concat([conn.buffer, chunk]);
      const response = takeResponse(conn);
      if (response && conn.pending) {
        const pending = conn.pending;
        conn.pending = undefined;
        pending.resolve(response);
      }
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      conn.closedBy = error.code ?? error.message;
      fail(conn, error);
      reject(error);
    });
    socket.on("close", () => {
      conn.closedBy ??= "closed by the peer";
      fail(conn, new Error(conn.closedBy));
    });
  });
}

function describe(error) {
  return error?.code ?? String(error?.message ?? error);
}

function outcome(response) {
  return response.status === 200 ? { backend: response.body, peer: response.peer } : { error: `HTTP ${response.status}` };
}

async function onEach(ports, fn) {
  const results = new Array(ports.length);
  let next = 0;
  const worker = async () => {
    while (next < ports.length) {
      const i = next++;
      const localPort = ports[i];
      try {
        results[i] = { localPort, ...outcome(await fn(localPort)) };
      } catch (error) {
        results[i] = { localPort, error: describe(error) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, ports.length) }, worker));
  return results;
}

const ops = {
  async open({ host, port, localAddress, localPorts, timeoutMs }) {
    return { results: await onEach(localPorts, async (localPort) => request(await open(host, port, localAddress, localPort, timeoutMs), timeoutMs)) };
  },
  async request({ localPorts, timeoutMs }) {
    return {
      results: await onEach(localPorts, async (localPort) => {
        const conn = connections.get(localPort);
        if (!conn) throw new Error("no open connection from this port");
        return request(conn, timeoutMs);
      }),
    };
  },
  async close({ localPorts }) {
    for (const localPort of localPorts ?? [...connections.keys()]) {
      connections.get(localPort)?.socket.destroy();
      connections.delete(localPort);
    }
    return {};
  },
  async once({ host, port, timeoutMs }) {
    let conn;
    try {
      conn = await open(host, port, undefined, 0, timeoutMs);
      return outcome(await request(conn, timeoutMs));
    } catch (error) {
      return { error: describe(error) };
    } finally {
      conn?.socket.destroy();
    }
  },
};

await answerJsonLines(ops, describe);
for (const conn of connections.values()) conn.socket.destroy();
process.exit(0);
