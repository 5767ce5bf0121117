/**
 * Errors of the endpoint policy datapath's control plane.
 *
 * @module
 */
import { WasmplaneError } from "../errors.js";

/**
 * A change would need more entries than a datapath map holds. Raised before
 * the first write: nothing of the change was applied.
 */
export class MapFullError extends WasmplaneError {
  /** The map's name in the object (`wp_policy`, `wp_ipcache`, `wp_endpoints`). */
  readonly map: string;
  /** Entries the map would hold at the change's peak. */
  readonly needed: number;
  /** The map's max_entries. */
  readonly capacity: number;

  constructor(map: string, needed: number, capacity: number, what: string) {
    super("MAP_FULL", `${what}: map "${map}" would need ${needed} entries, over its max_entries of ${capacity}; nothing was applied (build with a larger size, see abi.h)`);
    this.map = map;
    this.needed = needed;
    this.capacity = capacity;
  }
}
