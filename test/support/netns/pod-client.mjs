// The plain TCP and UDP client of test/endpoint-e2e.test.ts (and the UDP
// client of test/agent-e2e.test.ts), run inside a network namespace:
//
//   ip netns exec <ns> node test/support/netns/pod-client.mjs
//
// Plain TCP and UDP (pod-server.mjs, and server.mjs's UDP echo), one
// attempt after the other; HTTP through held connections is
// src/demo/client.mjs. One JSON request per stdin line, one JSON answer per
// stdout line, in order (src/demo/json-lines.mjs):
//
//   { op: "tcp", host, port, count, firstLocalPort, timeoutMs }
//       `count` TCP connections one after the other, from local ports
//       firstLocalPort, firstLocalPort + 1, ... (fixed flows, hence a
//       deterministic backend choice), each read to its end
//       → { results: [{ answer?, localPort, error? }] }
//   { op: "udp", host, port, count, firstLocalPort, timeoutMs }
//       `count` datagrams, each from its own socket and local port (a new
//       flow), each waiting for its echo → same shape
//
// `answer` is what the server sent (TCP: "<name> <addr> <port>"; UDP:
// "<name> <payload>"); every connection and datagram has its own deadline,
// and a failure is reported per attempt, never thrown. Exits when stdin closes.
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { answerJsonLines } from "../../../src/demo/json-lines.mjs";

function tcpOnce(host, port, localPort, timeoutMs) {
  return new Promise((resolve) => {
    const socket = connect({ host, port, localPort });
    let data = "";
    const done = (result) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ localPort, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
    socket.on("data", (chunk) => { data += chunk.toString("utf8"); });
    socket.on("end", () => done({ localPort, answer: data.trim() }));
    socket.on("error", (error) => done({ localPort, error: error.code ?? error.message }));
  });
}

function udpOnce(host, port, localPort, timeoutMs, payload) {
  return new Promise((resolve) => {
    const socket = createSocket("udp4");
    const done = (result) => {
      clearTimeout(timer);
      socket.close();
      resolve(result);
    };
    const timer = setTimeout(() => done({ localPort, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
    socket.on("error", (error) => done({ localPort, error: error.code ?? error.message }));
    socket.on("message", (msg) => done({ localPort, answer: msg.toString("utf8") }));
    socket.bind(localPort, () => socket.send(payload, port, host));
  });
}

const ops = {
  async tcp({ host, port, count, firstLocalPort, timeoutMs }) {
    const results = [];
    for (let i = 0; i < count; i++) results.push(await tcpOnce(host, port, firstLocalPort + i, timeoutMs));
    return { results };
  },
  async udp({ host, port, count, firstLocalPort, timeoutMs }) {
    const results = [];
    for (let i = 0; i < count; i++) results.push(await udpOnce(host, port, firstLocalPort + i, timeoutMs, `ping ${i}`));
    return { results };
  },
};

await answerJsonLines(ops);
process.exit(0);
