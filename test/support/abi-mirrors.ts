/**
 * Which TypeScript module mirrors each struct of
 * bpf/include/wasmplane/abi.h. Every struct there must have exactly one
 * mirror, and test/lb-layouts.test.ts checks this list against the header;
 * each owning module's own test checks its layouts against the BTF of the
 * object that uses them.
 */
import type { StructLayout } from "../../src/bpf/btf-layout.js";
import { ENDPOINT_LAYOUTS } from "../../src/endpoint/layouts.js";
import { FLOW_EVENT_LAYOUT } from "../../src/events/flow-event.js";
import { LAYOUTS as LB_LAYOUTS } from "../../src/lb/layouts.js";
import { REV_NAT_VALUE_LAYOUT } from "../../src/lb/nat.js";

/** Mirror modules by name, each a record of struct name → layout. */
export const ABI_MIRRORS: Record<string, Readonly<Record<string, StructLayout>>> = {
  "src/lb/layouts.ts": LB_LAYOUTS,
  "src/lb/nat.ts": { wp_rev_nat_value: REV_NAT_VALUE_LAYOUT },
  "src/events/flow-event.ts": { wp_flow_event: FLOW_EVENT_LAYOUT },
  "src/endpoint/layouts.ts": ENDPOINT_LAYOUTS,
};

/** Structs of abi.h mirrored through a size-dependent function instead of a fixed layout. */
export const SIZED_BY_BUILD = ["wp_maglev_table"];
