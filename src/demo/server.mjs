// A server of `wasmplane demo`, run inside a network namespace of the demo
// (a backend of the load-balanced service, or a pod):
//
//   node server.mjs <name> <address>[,<address>...] <port>
//
// HTTP/1.1 with keep-alive on each address; every request is answered with
// this server's name as the body and `x-peer: <address> <port>`, the client
// as the server sees it. Prints `ready <name>` once every address listens.
// Exits on SIGTERM, or when its stdin closes (the demo that started it is
// gone), so an interrupted demo never leaves one behind.
import { createServer } from "node:http";

const [name, addresses, portText] = process.argv.slice(2);
const port = Number(portText);
if (!name || !addresses || !Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write("usage: server.mjs <name> <address>[,<address>...] <port>\n");
  process.exit(2);
}

const servers = addresses.split(",").map((address) => {
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
  // Held connections stay idle while the demo changes the state; it closes them itself.
  server.keepAliveTimeout = 5 * 60 * 1000;
  server.headersTimeout = 60 * 1000;
  server.requestTimeout = 60 * 1000;
  return { address, server };
});

let listening = 0;
for (const { address, server } of servers) {
  server.on("error", (error) => {
    process.stderr.write(`server ${name}: ${address}:${port}: ${error.message}\n`);
    process.exit(1);
  });
  server.listen({ host: address, port, backlog: 1024 }, () => {
    listening += 1;
    if (listening === servers.length) process.stdout.write(`ready ${name}\n`);
  });
}

const shutdown = () => {
  for (const { server } of servers) {
    server.closeAllConnections();
    server.close();
  }
  setTimeout(() => process.exit(0), 100).unref();
};
process.on("SIGTERM", shutdown);
process.stdin.on("end", shutdown);
process.stdin.on("error", shutdown);
process.stdin.resume();
