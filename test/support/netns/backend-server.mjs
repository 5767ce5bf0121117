// A load-balanced backend for test/lb-e2e.test.ts, run inside the backend's
// network namespace:
//
//   ip netns exec <ns> node test/support/netns/backend-server.mjs <name> <vip>[,<vip>...] <port>
//
// Serves HTTP/1.1 with keep-alive on each VIP (configured on the namespace's
// lo; the load balancer's packets reach it once decapsulated) and answers
// every request with its own name as the body, plus `x-peer: <address> <port>`
// (the client address and port as this backend sees them: with direct server
// return nothing rewrites them). Prints one line, `ready <name>`, once every
// VIP listens; exits on SIGTERM or when its stdin closes (its parent died).
import { createServer } from "node:http";

const [name, vips, portText] = process.argv.slice(2);
const port = Number(portText);
if (!name || !vips || !Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write("usage: backend-server.mjs <name> <vip>[,<vip>...] <port>\n");
  process.exit(2);
}

const servers = vips.split(",").map((vip) => {
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
  // Idle keep-alive connections must outlive the test's pause around the
  // backend removal; the test ends them itself.
  server.keepAliveTimeout = 10 * 60 * 1000;
  server.headersTimeout = 60 * 1000;
  server.requestTimeout = 60 * 1000;
  return { vip, server };
});

let listening = 0;
for (const { vip, server } of servers) {
  server.on("error", (error) => {
    process.stderr.write(`backend ${name}: ${vip}:${port}: ${error.message}\n`);
    process.exit(1);
  });
  server.listen({ host: vip, port, backlog: 1024 }, () => {
    listening += 1;
    if (listening === servers.length) process.stdout.write(`ready ${name}\n`);
  });
}

const shutdown = () => {
  for (const { server } of servers) {
    server.closeAllConnections?.();
    server.close();
  }
  setTimeout(() => process.exit(0), 200).unref();
};
process.on("SIGTERM", shutdown);
process.stdin.on("end", shutdown);
process.stdin.on("error", shutdown);
process.stdin.resume();
