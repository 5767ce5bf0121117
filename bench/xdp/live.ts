/**
 * What the live-frames rows of bench/xdp.bench.ts need besides the test run
 * itself: the far end of the veth (bench/xdp/peer.c on wp1) and the
 * kernel's per-program run-time statistics.
 *
 * Live frames (BPF_F_TEST_XDP_LIVE_FRAMES, kernel 5.18+): the kernel runs
 * the program `repeat` times on frames of a page pool filled with the input
 * packet, in batches of 64, and carries out each verdict (XDP_TX: out of the
 * context's ingress device, wp0). The load balancer sees the same packet
 * every time, hot in the caches, as on a busy NIC queue; the kernel's
 * `duration` is the mean per frame. That mean also covers what happens to a
 * frame after the program: the transmission, the peer's program, the page's
 * way back to the pool. A baseline with the same verdict (the XDP_TX no-op)
 * cancels it; the XDP_PASS no-op does not (its frames become skbs and enter
 * the stack), which is what the program run-time statistics are for.
 *
 * Pages come back to the pool with their bytes as the last user left them
 * (the kernel resets only the pointers): see peer.c for why and how the
 * peer restores the input before dropping each frame.
 *
 * Program run time (BPF_ENABLE_STATS, kernel 5.8+): while a stats file
 * descriptor is open, the kernel wraps every run of every program in two
 * sched_clock() reads and adds up run_cnt and run_time_ns per program. The
 * difference over a block is the program's own time per run, nothing around
 * it; the wrapper's clock reads are in it, equally for the no-op.
 */
import { closeSync } from "node:fs";
import { endianness } from "node:os";
import { compareLayoutWithBtf, type StructLayout } from "../../src/bpf/btf-layout.js";
import { structCodec } from "../../src/bpf/codec.js";
import type { BpfObject, BpfProgram } from "../../src/bpf/object.js";
import { attachXdp, type XdpAttachment } from "../../src/bpf/attach.js";

const LITTLE = endianness() === "LE";
const field = (offset: number, size: number) => ({ offset, size });

/** struct wpb_peer_config (peer.c). */
const PEER_CONFIG: StructLayout = {
  size: 288,
  fields: {
    strip: field(0, 4), verify: field(4, 4), expect_len: field(8, 4), vary_saddr: field(12, 2), vary_sport: field(14, 2),
    eth: field(16, 16), expect: field(32, 256),
  },
};
const MAX_FRAME = 256;
/** Slots of wpb_peer_counts (4, the new-flow counter, is the peer's own). */
const COUNT = { frames: 0, matched: 1, differed: 2, unrestored: 3, other: 5 } as const;

/** What the peer does with the frames of one side of a case. */
export interface PeerSetup {
  /** The input frame (its Ethernet header is written back). */
  input: Uint8Array;
  /** Bytes the program inserted after the Ethernet header (the outer IP header); 0 for a no-op. */
  strip: number;
  /** The output every frame must be (verify "exact"), as a repeat = 1 run returned it. */
  expect?: Uint8Array;
  /** New flows: offsets in the input of the client address's last two bytes and of the client port. */
  vary?: { saddr: number; sport: number };
}

/** Frames the peer saw while verifying. */
export interface PeerCounts {
  /** Frames of the expected length. */
  frames: number;
  matched: number;
  differed: number;
  unrestored: number;
  /** Frames of another length: the stack's own traffic. */
  other: number;
}

const u32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, LITTLE);
  return b;
};

/** bench/xdp/peer.c attached to the veth peer, and its configuration. */
export class LivePeer {
  readonly #object: BpfObject;
  readonly #attachment: XdpAttachment;
  readonly #codec = structCodec(PEER_CONFIG);

  private constructor(object: BpfObject, attachment: XdpAttachment) {
    this.#object = object;
    this.#attachment = attachment;
  }

  /**
   * Attaches the peer program of `object` (built from peer.c) to `ifindex`
   * in native mode, after checking its config layout against the BTF.
   */
  static attach(object: BpfObject, objectPath: string, ifindex: number): LivePeer {
    const differences = compareLayoutWithBtf(objectPath, "wpb_peer_config", PEER_CONFIG);
    if (differences.length > 0) throw new Error(`bench/xdp/live.ts PEER_CONFIG differs from peer.c: ${differences.join("; ")}`);
    const attachment = attachXdp(object.program("wasmplane_bench_peer"), ifindex, { mode: "native" });
    return new LivePeer(object, attachment);
  }

  /** Sets what the peer does with the next frames; `verify`: compare each with `expect` ("exact") or count ("count"). */
  configure(setup: PeerSetup, verify: "off" | "exact" | "count" = "off"): void {
    const expect = setup.expect ?? new Uint8Array(0);
    if (expect.length > MAX_FRAME) throw new Error(`expected frame of ${expect.length} bytes; peer.c compares at most ${MAX_FRAME}`);
    if (verify === "exact" && !setup.expect) throw new Error("exact verification needs the expected frame");
    const padded = (bytes: Uint8Array, size: number) => {
      const out = new Uint8Array(size);
      out.set(bytes);
      return out;
    };
    const value = new Uint8Array(PEER_CONFIG.size);
    this.#codec.encode({
      strip: setup.strip, verify: { off: 0, exact: 1, count: 2 }[verify], expect_len: expect.length,
      vary_saddr: setup.vary?.saddr ?? 0, vary_sport: setup.vary?.sport ?? 0,
      eth: padded(setup.input.subarray(0, 14), 16), expect: padded(expect, MAX_FRAME),
    }, value);
    this.#object.map("wpb_peer_config").update(u32(0), value);
  }

  resetCounts(): void {
    for (const i of Object.values(COUNT)) this.#object.map("wpb_peer_counts").update(u32(i), new Uint8Array(8));
  }

  counts(): PeerCounts {
    const read = (i: number) => Number(new DataView(this.#object.map("wpb_peer_counts").lookup(u32(i))!.buffer).getBigUint64(0, LITTLE));
    return { frames: read(COUNT.frames), matched: read(COUNT.matched), differed: read(COUNT.differed), unrestored: read(COUNT.unrestored), other: read(COUNT.other) };
  }

  /**
   * The counts once they stop changing: the peer runs in the veth's NAPI
   * poll, normally before the test run returns, but not necessarily.
   */
  async settledCounts(): Promise<PeerCounts> {
    let last = this.counts();
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      const now = this.counts();
      if (now.frames === last.frames) return now;
      last = now;
    }
    return last;
  }

  detach(): void {
    this.#attachment.detach();
  }
}

/** A program's cumulative run count and run time (bpf_prog_info, uapi offsets in kernel 6.x). */
export function programRunStats(program: BpfProgram): { runs: bigint; ns: bigint } {
  const info = new Uint8Array(232); // sizeof(struct bpf_prog_info)
  const length: [number] = [info.length];
  const lib = program.libbpf;
  lib.check(lib.raw.bpf_obj_get_info_by_fd_bytes(program.fd, info, length), { operation: "get info", target: `program "${program.name}"` });
  if (length[0] < 208) throw new Error(`bpf_prog_info of ${length[0]} bytes has no run_cnt (kernel 5.1+)`);
  const view = new DataView(info.buffer);
  return { ns: view.getBigUint64(192, LITTLE), runs: view.getBigUint64(200, LITTLE) };
}

/**
 * Runs `fn` with the kernel's run-time statistics on (BPF_ENABLE_STATS,
 * BPF_STATS_RUN_TIME) and returns `program`'s mean ns per run over it.
 * Stats are on only inside: they slow every BPF program on the machine.
 */
export function meanRunTime(program: BpfProgram, fn: () => void): { runs: number; nsPerRun: number } {
  const lib = program.libbpf;
  const fd = lib.check(lib.raw.bpf_enable_stats(0), { operation: "enable run-time stats", target: "the kernel", needs: "CAP_SYS_ADMIN" });
  try {
    const before = programRunStats(program);
    fn();
    const after = programRunStats(program);
    const runs = Number(after.runs - before.runs);
    if (runs === 0) throw new Error(`program "${program.name}" did not run`);
    return { runs, nsPerRun: Number(after.ns - before.ns) / runs };
  } finally {
    closeSync(fd);
  }
}
