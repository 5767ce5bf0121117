// Packing of policy map keys into one u64, the resolver's unit of diffing.
//
//   63            32 31  30     23 22          7 6      2 1 0
//  ┌───────────────┬───┬─────────┬─────────────┬────────┬───┐
//  │ peer identity │ E │ proto   │ port        │ prefix │ 0 │
//  └───────────────┴───┴─────────┴─────────────┴────────┴───┘
//
//   E       1 for egress
//   prefix  significant bits after identity and direction, as the LPM trie
//           counts them: 0 = every protocol and port, 8 = this protocol and
//           every port, 8 + k = this protocol and the top k bits of the port.
//
// The datapath's byte layout is owned by bpf/ (a later stage); this packing
// never leaves the engine except as the four words of `emitEntry`.

import { emit } from "./stream";

export const PREFIX_ANY: u32 = 0;
export const PREFIX_PROTO: u32 = 8;

// @ts-ignore: decorator
@inline
export function packKey(peer: u32, egress: bool, proto: u32, port: u32, prefix: u32): u64 {
  return (
    ((<u64>peer) << 32) |
    ((<u64>(egress ? 1 : 0)) << 31) |
    ((<u64>(proto & 0xff)) << 23) |
    ((<u64>(port & 0xffff)) << 7) |
    ((<u64>(prefix & 0x1f)) << 2)
  );
}

// @ts-ignore: decorator
@inline
export function keyPeer(key: u64): u32 {
  return <u32>(key >> 32);
}

/** Writes an entry as four words: peer, (egress | proto << 8 | prefix << 16), port, level. */
export function emitEntry(key: u64, level: u8): void {
  emit(<u32>(key >> 32));
  const egress = <u32>((key >> 31) & 1);
  const proto = <u32>((key >> 23) & 0xff);
  const prefix = <u32>((key >> 2) & 0x1f);
  emit(egress | (proto << 8) | (prefix << 16));
  emit(<u32>((key >> 7) & 0xffff));
  emit(<u32>level);
}
