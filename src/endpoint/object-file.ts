/**
 * Where the compiled endpoint policy programs (tc_endpoint.o) come from, in
 * the order src/bpf/object-file.ts decides for every object: an explicit
 * path, a source checkout's bpf/build/ (built when stale), the package's
 * prebuilt dist/bpf/.
 *
 * The object declares the load balancer's maps (service translation reads
 * them), whose Maglev table size M is a build-time constant: an object that
 * shares a load balancer's pins must be built with that load balancer's M.
 * Any M but the default is bpf/build/m<M>/tc_endpoint.o, compiled from the
 * sources, as for xdp_lb.o (src/lb/object-file.ts).
 *
 * @module
 */
import { locateBpfObject } from "../bpf/object-file.js";
import { DEFAULT_TABLE_SIZE } from "../maglev/config.js";
import { datapathObjectRequest } from "../lb/object-file.js";

/**
 * The path of a tc_endpoint.o for Maglev tables of `tableSize` slots
 * (default 16381): `object` when given, else the checkout's bpf/build/
 * ((re)built when missing or stale: clang and the libbpf headers, no
 * privilege), else the package's prebuilt object (default size only).
 *
 * @throws {@link InvalidInputError} when `object` does not exist, or none is given and no place has one.
 * @throws {@link KernelFeatureError} (feature `clang`) when the build fails, with clang's output.
 */
export function locateEndpointObject(object?: string, tableSize: number = DEFAULT_TABLE_SIZE): Promise<string> {
  return locateBpfObject(datapathObjectRequest("tc_endpoint.c", object, tableSize));
}
