// The client of `wasmplane demo`, run inside a network namespace of the demo
// (the outside client, or a pod):
//
//   node client.mjs
//
// One JSON request per stdin line, one JSON answer per stdout line, in order:
//
//   { op: "open", host, port, localPorts: [..], timeoutMs }
//       a TCP connection from each local port, and `GET /` on it; the
//       connection stays open (HTTP keep-alive)
//       → { results: [{ localPort, backend?, error? }] }
//   { op: "request", localPorts: [..], timeoutMs }
//       one more `GET /` on each open connection → the same shape
//   { op: "close" }     ends every open connection → {}
//   { op: "once", host, port, timeoutMs }
//       one connection from any port, one request, closed → { backend?, error? }
//
// `backend` is the response body: the name of the server that answered.
// Fixed local ports make fixed flows, so the load balancer's choices are the
// same on every run. Every connect and request has its own deadline; a
// failure is reported per connection, never thrown. Exits when stdin closes.
import { connect } from "node:net";
import { createInterface } from "node:readline";

/** localPort → { socket, pending, buffer, host, closedBy } */
const connections = new Map();
const CONCURRENCY = 32;

function fail(conn, error) {
  const pending = conn.pending;
  conn.pending = undefined;
  pending?.reject(error);
}

/** One complete response from conn.buffer, or undefined: { status, body }. */
function takeResponse(conn) {
  const end = conn.buffer.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const head = conn.buffer.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(head[0].split(" ")[1]);
  const lengthLine = head.find((line) => line.toLowerCase().startsWith("content-length:"));
  const length = lengthLine ? Number(lengthLine.slice(lengthLine.indexOf(":") + 1)) : 0;
  if (conn.buffer.length < end + 4 + length) return undefined;
  const body = conn.buffer.subarray(end + 4, end + 4 + length).toString("utf8");
  conn.buffer = conn.buffer.subarray(end + 4 + length);
  return { status, body };
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

function open(host, port, localPort, timeoutMs) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ...(localPort ? { localPort } : {}) });
    const conn = { socket, pending: undefined, buffer: Buffer.alloc(0), host, closedBy: undefined };
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
  return response.status === 200 ? { backend: response.body } : { error: `HTTP ${response.status}` };
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
  async open({ host, port, localPorts, timeoutMs }) {
    return { results: await onEach(localPorts, async (localPort) => request(await open(host, port, localPort, timeoutMs), timeoutMs)) };
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
  async close() {
    for (const conn of connections.values()) conn.socket.destroy();
    connections.clear();
    return {};
  },
  async once({ host, port, timeoutMs }) {
    let conn;
    try {
      conn = await open(host, port, 0, timeoutMs);
      return outcome(await request(conn, timeoutMs));
    } catch (error) {
      return { error: describe(error) };
    } finally {
      conn?.socket.destroy();
    }
  },
};

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer;
  try {
    const req = JSON.parse(line);
    const op = ops[req.op];
    if (!op) throw new Error(`unknown op ${JSON.stringify(req.op)}`);
    answer = { ok: true, ...(await op(req)) };
  } catch (error) {
    answer = { ok: false, error: describe(error) };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
for (const conn of connections.values()) conn.socket.destroy();
process.exit(0);
