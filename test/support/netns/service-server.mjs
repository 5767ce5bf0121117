// A server of test/agent-e2e.test.ts (a backend of the service, or a pod),
// run inside its network namespace:
//
//   nsenter --net=/run/netns/<ns> node test/support/netns/service-server.mjs <name> <addr>[,<addr>...] <tcp port> [<udp port>]
//
// TCP: HTTP/1.1 with keep-alive on each address; every request is answered
// with the server's name as the body and `x-peer: <address> <port>` (the
// client as this server sees it), the shape client.mjs reads. UDP (when a
// port is given): an echo on each address, each datagram answered with
// `<name> <payload>` (the shape pod-client.mjs reads). Bound to each address
// rather than to 0.0.0.0, so a UDP answer leaves from the address the
// datagram was sent to (the LoadBalancer address for direct server return,
// the backend's own for east-west translation). Prints `ready <name>` once
// everything listens; exits on SIGTERM or when stdin closes.
import { createSocket } from "node:dgram";
import { createServer } from "node:http";

const [name, addressList, tcpText, udpText] = process.argv.slice(2);
const tcpPort = Number(tcpText);
const udpPort = udpText === undefined ? 0 : Number(udpText);
if (!name || !addressList || !Number.isInteger(tcpPort) || tcpPort <= 0 || !Number.isInteger(udpPort)) {
  process.stderr.write("usage: service-server.mjs <name> <addr>[,<addr>...] <tcp port> [<udp port>]\n");
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
  process.stderr.write(`service-server ${name}: ${what}: ${error.message}\n`);
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
  // Held connections must outlive the test's pauses (an agent restart); the test ends them.
  server.keepAliveTimeout = 10 * 60 * 1000;
  server.headersTimeout = 60 * 1000;
  server.requestTimeout = 60 * 1000;
  server.on("error", fail(`tcp ${address}:${tcpPort}`));
  server.listen({ host: address, port: tcpPort, backlog: 1024 }, ready);
  servers.push(server);
  if (udpPort > 0) {
    const udp = createSocket("udp4");
    udp.on("error", fail(`udp ${address}:${udpPort}`));
    udp.on("message", (msg, rinfo) => udp.send(`${name} ${msg.toString("utf8")}`, rinfo.port, rinfo.address));
    udp.bind(udpPort, address, ready);
    sockets.push(udp);
  }
}

const shutdown = () => {
  for (const server of servers) {
    server.closeAllConnections?.();
    server.close();
  }
  for (const udp of sockets) udp.close();
  setTimeout(() => process.exit(0), 100).unref();
};
process.on("SIGTERM", shutdown);
process.stdin.on("end", shutdown);
process.stdin.on("error", shutdown);
process.stdin.resume();
