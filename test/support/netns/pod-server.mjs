// A backend pod of test/endpoint-e2e.test.ts, run inside the pod's network
// namespace:
//
//   ip netns exec <ns> node test/support/netns/pod-server.mjs <name> <tcp port> <udp port>
//
// TCP: every connection is answered with `<name> <client address> <client
// port>\n` (as this pod sees the client: east-west translation rewrites only
// the destination, so that is the client pod itself), then closed. UDP: an
// echo, each datagram answered with `<name> <its payload>`. Both listen on
// every address of the namespace. Prints `ready <name>` once both listen;
// exits on SIGTERM or when stdin closes (its parent died).
import { createSocket } from "node:dgram";
import { createServer } from "node:net";

const [name, tcpText, udpText] = process.argv.slice(2);
const tcpPort = Number(tcpText);
const udpPort = Number(udpText);
if (!name || !Number.isInteger(tcpPort) || !Number.isInteger(udpPort)) {
  process.stderr.write("usage: pod-server.mjs <name> <tcp port> <udp port>\n");
  process.exit(2);
}

const fail = (what) => (error) => {
  process.stderr.write(`pod-server ${name}: ${what}: ${error.message}\n`);
  process.exit(1);
};

let listening = 0;
const ready = () => {
  listening += 1;
  if (listening === 2) process.stdout.write(`ready ${name}\n`);
};

const tcp = createServer((socket) => {
  socket.on("error", () => {});
  socket.end(`${name} ${socket.remoteAddress} ${socket.remotePort}\n`);
});
tcp.on("error", fail(`tcp ${tcpPort}`));
tcp.listen({ port: tcpPort, host: "0.0.0.0" }, ready);

const udp = createSocket("udp4");
udp.on("error", fail(`udp ${udpPort}`));
udp.on("message", (msg, rinfo) => udp.send(`${name} ${msg.toString("utf8")}`, rinfo.port, rinfo.address));
udp.bind(udpPort, "0.0.0.0", ready);

const shutdown = () => {
  tcp.close();
  udp.close();
  setTimeout(() => process.exit(0), 100).unref();
};
process.on("SIGTERM", shutdown);
process.stdin.on("end", shutdown);
process.stdin.on("error", shutdown);
process.stdin.resume();
