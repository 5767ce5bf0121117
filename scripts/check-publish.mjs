// Refuses to publish a package without the prebuilt datapath objects.
//
// `npm run build` skips dist/bpf/ (with one line) on a machine without clang
// or the libbpf headers, which is right for a checkout but would publish a
// package whose datapath cannot load without clang. `prepublishOnly` runs
// this after `prepack` has built.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dist = fileURLToPath(new URL("../dist/bpf/", import.meta.url));
const required = ["xdp_lb.o", "tc_endpoint.o", "demo/xdp_pass.o", "demo/xdp_decap.o"];
const missing = required.filter((file) => !existsSync(dist + file));
if (missing.length > 0) {
  process.stderr.write(`refusing to publish: dist/bpf/ lacks ${missing.join(", ")}; build on a machine with clang and libbpf-dev (npm run build)\n`);
  process.exit(1);
}
