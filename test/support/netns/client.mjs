// The client of test/lb-e2e.test.ts, run inside the client's network namespace:
//
//   ip netns exec <ns> node test/support/netns/client.mjs
//
// Holds TCP connections to a VIP open between requests (HTTP/1.1 keep-alive),
// each from a source port chosen by the test, so the test knows every flow's
// 5-tuple and can predict its backend. One JSON request per stdin line, one
// JSON answer per stdout line, in order:
//
//   { op: "open", vip, port, localAddress, localPorts: [..], timeoutMs }
//       connect from each local port and send GET / on it; the connection
//       stays open → { results: [{ localPort, backend?, peer?, error? }] }
//   { op: "request", localPorts: [..], timeoutMs }
//       one more GET / on each open connection → same shape
//   { op: "close", localPorts?: [..] }    end connections (default: all) → {}
//
// `backend` is the response body (the backend's name), `peer` the backend's
// `x-peer` header (client address and port as the backend saw them). Every
// connect and every request has its own deadline (`timeoutMs`); a failure is
// reported per connection, never thrown. Exits when stdin closes.
import { connect } from "node:net";
import { createInterface } from "node:readline";

/** localPort → { socket, pending, buffer, host } */
const connections = new Map();
const CONCURRENCY = 32;

function fail(conn, error) {
  const pending = conn.pending;
  conn.pending = undefined;
  pending?.reject(error);
}

/** Parses one response from conn.buffer if complete: { status, headers, body }. */
function takeResponse(conn) {
  const end = conn.buffer.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const head = conn.buffer.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(head[0].split(" ")[1]);
  const headers = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers["content-length"] ?? 0);
  if (conn.buffer.length < end + 4 + length) return undefined;
  const body = conn.buffer.subarray(end + 4, end + 4 + length).toString("utf8");
  conn.buffer = conn.buffer.subarray(end + 4 + length);
  return { status, headers, body };
}

function request(conn, timeoutMs) {
  return new Promise((resolve, reject) => {
    if (conn.socket.destroyed || !conn.socket.writable) {
      reject(new Error(conn.closedBy ?? "connection closed"));
      return;
    }
    const timer = setTimeout(() => fail(conn, new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
    conn.pending = {
      resolve: (v) => { clearTimeout(timer); resolve(v); },
      reject: (e) => { clearTimeout(timer); reject(e); },
    };
    conn.socket.write(`GET / HTTP/1.1\r\nHost: ${conn.host}\r\nConnection: keep-alive\r\n\r\n`);
  });
}

function open(vip, port, localAddress, localPort, timeoutMs) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: vip, port, localAddress, localPort, family: vip.includes(":") ? 6 : 4 });
    const conn = { socket, pending: undefined, buffer: Buffer.alloc(0), host: vip.includes(":") ? `[${vip}]` : vip, closedBy: undefined };
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setNoDelay(true);
    socket.on("connect", () => {
      clearTimeout(timer);
      connections.set(localPort, conn);
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
  return error?.code ? `${error.code}: ${error.message}` : String(error?.message ?? error);
}

async function onEach(ports, fn) {
  const results = new Array(ports.length);
  let next = 0;
  const worker = async () => {
    while (next < ports.length) {
      const i = next++;
      const localPort = ports[i];
      try {
        const response = await fn(localPort);
        results[i] = response.status === 200
          ? { localPort, backend: response.body, peer: response.headers["x-peer"] }
          : { localPort, error: `HTTP ${response.status}` };
      } catch (error) {
        results[i] = { localPort, error: describe(error) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, ports.length) }, worker));
  return results;
}

const ops = {
  async open({ vip, port, localAddress, localPorts, timeoutMs }) {
    return {
      results: await onEach(localPorts, async (localPort) => {
        const conn = await open(vip, port, localAddress, localPort, timeoutMs);
        return request(conn, timeoutMs);
      }),
    };
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
