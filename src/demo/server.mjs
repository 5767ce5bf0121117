// A server of `wasmplane demo`, run inside a network namespace of the demo
// (a backend of the load-balanced service, or a pod), and of the
// network-namespace tests (test/lb-e2e.test.ts, test/agent-e2e.test.ts):
//
//   node server.mjs <name> <address>[,<address>...] <port> [<udp port>]
//
// HTTP/1.1 with keep-alive on each address; every request is answered with
// this server's name as the body and `x-peer: <address> <port>`, the client
// as the server sees it (client.mjs reads both). With a UDP port, also a
// UDP echo on each address: every datagram is answered with `<name>
// <payload>`. Bound to each address rather than to 0.0.0.0, so a UDP answer
// leaves from the address the datagram was sent to (the service address
// for direct server return, the backend's own for east-west translation).
// Prints `ready <name>` once everything listens. Exits on SIGTERM, or when
// its stdin closes (whoever started it is gone), so an interrupted run never
// leaves one behind.
import { createSocket } from "node:dgram";
import { createServer } from "node:http";

const [name, addressList, portText, udpText] = process.argv.slice(2);
const port = Number(portText);
const udpPort = udpText === undefined ? 0 : Number(udpText);
const validPort = (p) => Number.isInteger(p) && p > 0 && p <= 65535;
if (!name || !addressList || !validPort(port) || (udpText !== undefined && !validPort(udpPort))) {
  process.stderr.write("usage: server.mjs <name> <address>[,<address>...] <port> [<udp port>]\n");
  process.exit(2);
}
const addresses = addressList.split(",");

const expected = addresses.length * (udpPort > 0 ? 2 : 1);
let listening = 0;
const ready = () => {
  listening += 1;
  if (listening === expected) process.stdout.write(`ready ${name}\n`);
};
const fail = (what) => (error) => {
  process.stderr.write(`server ${name}: ${what}: ${error.message}\n`);
  process.exit(1);
};

const servers = [];
const sockets = [];
for (const address of addresses) {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, {
        "content-type": "text/plain",
        "content-length": Buffer.byteLength(name),
        "x-peer": `${req.socket.remoteAddress} ${req.socket.remotePort}`,
      });
      res.end(name);
    });
  });
  // Held connections stay idle while the state changes (and, in the tests,
  // across an agent restart); whoever holds them closes them.
  server.keepAliveTimeout = 10 * 60 * 1000;
  server.headersTimeout = 60 * 1000;
  server.requestTimeout = 60 * 1000;
  server.on("error", fail(`${address}:${port}`));
  server.listen({ host: address, port, backlog: 1024 }, ready);
  servers.push(server);
  if (udpPort > 0) {
    const udp = createSocket(address.includes(":") ? "udp6" : "udp4");
    udp.on("error", fail(`udp ${address}:${udpPort}`));
    udp.on("message", (msg, rinfo) => udp.send(`${name} ${msg.toString("utf8")}`, rinfo.port, rinfo.address));
    udp.bind(udpPort, address, ready);
    sockets.push(udp);
  }
}

const shutdown = () => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  for (const udp of sockets) udp.close();
  setTimeout(() => process.exit(0), 100).unref();
};
process.on("SIGTERM", shutdown);
process.stdin.on("end", shutdown);
process.stdin.on("error", shutdown);
process.stdin.resume();
