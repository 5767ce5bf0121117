/**
 * The ways bench/xdp.bench.ts times a program with BPF_PROG_TEST_RUN.
 *
 * The kernel times runs itself: bpf_test_run() reads ktime_get_ns() before
 * the first run and after the last and reports the mean per run (`duration`).
 * That excludes the syscall, the copies in and out, and everything on the
 * JavaScript side.
 *
 * "repeat=N": one call runs the program N times over the same buffer and the
 *   kernel's mean is one sample. Valid only when the program leaves the
 *   packet as it found it: with repeat > 1 every run after the first sees the
 *   previous run's output (PLATFORM.md). Used for the XDP_PASS and XDP_DROP
 *   paths, which do not rewrite; the bench checks that on every case before
 *   timing it.
 *
 * "repeat=1 loop": many calls with repeat = 1, each on the original packet;
 *   each call's kernel duration is one sample. Needed for the encapsulating
 *   paths (XDP_TX rewrites the packet in place). A single run's duration
 *   still includes fixed work around the program (the clock reads, BH
 *   disable/enable, run-context setup), which is why the no-op is timed the
 *   same way and subtracted. The wall-clock time of each call (syscall, FFI,
 *   copies) is recorded too, for the JSON only: it is microseconds of
 *   overhead whose jitter exceeds the differences being measured.
 *
 * "live frames": one call with BPF_F_TEST_XDP_LIVE_FRAMES runs the program
 *   over `repeat` frames that all start as the input packet, received on a
 *   real device (the context's ingress_ifindex), and carries out each
 *   verdict (bench/xdp/live.ts). Valid for the rewriting XDP_TX paths: every
 *   run starts from the input, hot in the caches. The kernel's mean per
 *   frame includes what the verdict costs after the program (transmission,
 *   the peer), so the baseline is the no-op with the same verdict.
 *
 * "program run time": the same live-frames calls, but each sample is the
 *   program's own mean run time from the kernel's statistics
 *   (BPF_ENABLE_STATS): nothing outside the program, so any no-op is a fair
 *   baseline, the XDP_PASS one included.
 */
import { endianness } from "node:os";
import type { BpfProgram } from "../../src/bpf/object.js";
import { TEST_RUN_FLAGS, testRun } from "../../src/bpf/test-run.js";
import { meanRunTime } from "./live.js";

export type Method = "repeatN" | "loop1" | "live" | "liveStats";

/** One timed side (the load balancer or the no-op) of a case. */
export interface Target {
  program: BpfProgram;
  /** Packets, used in turn. */
  frames: readonly Uint8Array[];
  /** XDP context (`struct xdp_md`), e.g. to set ingress_ifindex. */
  ctxIn?: Uint8Array;
  /** Called after each repeat=1 run with the frame's index (outside any timed region). */
  after?: (frameIndex: number) => void;
  /** Live frames: called before each call (outside the timed region), e.g. to set up the peer. */
  before?: () => void;
}

/** Samples of one block: kernel ns per run, and (repeat=1, live) wall-clock ns per call or per frame. */
export interface Block {
  kernelNs: number[];
  wallNs: number[];
}

function input(t: Target, i: number, repeat: number) {
  const data = t.frames[i % t.frames.length]!;
  return t.ctxIn ? { data, repeat, ctxIn: t.ctxIn } : { data, repeat };
}

/** `calls` calls of `repeat` runs each, over the first frame; one kernel mean per call. */
export function repeatNBlock(t: Target, repeat: number, calls: number): Block {
  const kernelNs: number[] = [];
  for (let i = 0; i < calls; i++) kernelNs.push(testRun(t.program, input(t, 0, repeat)).durationNs);
  return { kernelNs, wallNs: [] };
}

/** `calls` calls with repeat = 1, cycling through the frames from `start`. */
export function loop1Block(t: Target, calls: number, start = 0): Block {
  const kernelNs: number[] = [];
  const wallNs: number[] = [];
  for (let k = 0; k < calls; k++) {
    const i = (start + k) % t.frames.length;
    const t0 = performance.now();
    const r = testRun(t.program, input(t, i, 1));
    wallNs.push((performance.now() - t0) * 1e6);
    kernelNs.push(r.durationNs);
    t.after?.(i);
  }
  return { kernelNs, wallNs };
}

/**
 * `calls` live-frames calls of `repeat` frames each, over the first frame.
 * One sample per call: the kernel's mean ns per frame (`stats` false; the
 * wall-clock time per frame goes to wallNs) or the program's mean run time
 * from the kernel's statistics (`stats` true).
 */
export function liveBlock(t: Target, repeat: number, calls: number, stats: boolean): Block {
  if (!t.ctxIn) throw new Error(`live frames need an XDP context naming the ingress device (program "${t.program.name}")`);
  const kernelNs: number[] = [];
  const wallNs: number[] = [];
  const data = t.frames[0]!;
  const run = () => testRun(t.program, { data, ctxIn: t.ctxIn!, repeat, flags: TEST_RUN_FLAGS.XDP_LIVE_FRAMES });
  for (let k = 0; k < calls; k++) {
    t.before?.();
    if (stats) {
      kernelNs.push(meanRunTime(t.program, run).nsPerRun);
    } else {
      const t0 = performance.now();
      const r = run();
      wallNs.push(((performance.now() - t0) * 1e6) / repeat);
      kernelNs.push(r.durationNs);
    }
  }
  return { kernelNs, wallNs };
}

/** An XDP context (`struct xdp_md`, 24 bytes) for a `frameLength`-byte packet received on `ifindex`. */
export function xdpContext(frameLength: number, ifindex: number): Uint8Array {
  const ctx = new Uint8Array(24); // data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex
  const view = new DataView(ctx.buffer);
  const little = endianness() === "LE";
  view.setUint32(4, frameLength, little); // data_end must equal the packet size
  view.setUint32(12, ifindex, little);
  return ctx;
}
