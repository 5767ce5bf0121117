/**
 * Where the compiled XDP load balancer (xdp_lb.o) comes from: the order
 * (an explicit path, a source checkout's bpf/build/, the package's prebuilt
 * dist/bpf/) is decided in src/bpf/object-file.ts, shared with the
 * endpoint programs.
 *
 * The table size M is a build-time constant of the object
 * (WASMPLANE_MAGLEV_M): the default M is bpf/build/xdp_lb.o (what `npm run
 * build:bpf` makes) or the prebuilt dist/bpf/xdp_lb.o; any other M is
 * bpf/build/m<M>/xdp_lb.o, compiled on demand from the sources.
 *
 * @module
 */
import { locateBpfObject, type ObjectRequest } from "../bpf/object-file.js";
import { DEFAULT_TABLE_SIZE } from "../maglev/config.js";

/** What {@link locateBpfObject} is asked for a datapath object (xdp_lb.c, tc_endpoint.c) of table size `tableSize`. */
export function datapathObjectRequest(source: string, object: string | undefined, tableSize: number = DEFAULT_TABLE_SIZE): ObjectRequest {
  const variant = tableSize === DEFAULT_TABLE_SIZE ? undefined : { dir: `m${tableSize}`, defines: [`WASMPLANE_MAGLEV_M=${tableSize}`] };
  return { source, object, variant };
}

/**
 * The path of an xdp_lb.o for table size `tableSize` (default 16381):
 * `object` when given, else the checkout's bpf/build/ ((re)built when
 * missing or stale: clang and the libbpf headers, no privilege), else the
 * package's prebuilt object (default size only).
 *
 * @throws {@link InvalidInputError} when `object` does not exist, or none is
 *   given and no place has one.
 * @throws {@link KernelFeatureError} (feature `clang`) when the build fails,
 *   with clang's output.
 */
export function locateObject(options: { object?: string; tableSize?: number } = {}): Promise<string> {
  return locateBpfObject(datapathObjectRequest("xdp_lb.c", options.object, options.tableSize));
}
