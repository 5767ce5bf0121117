/**
 * Running a loaded program on a crafted packet without any interface
 * (`BPF_PROG_TEST_RUN`): the verdict, the packet as the program left it and,
 * for tc programs, the output `__sk_buff`.
 *
 * This is how packet fixtures are tested without hardware or namespaces.
 * Caveat measured on the reference machine: with `repeat > 1` the kernel runs
 * the program again over its own output, so a program that rewrites the
 * packet does not see the input again; time such programs with `repeat: 1`
 * in a loop, on a path that does not rewrite, or in live-frames mode
 * (`TEST_RUN_FLAGS.XDP_LIVE_FRAMES`, with its own caveat).
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import type { BpfProgram } from "./object.js";

/**
 * `BPF_F_TEST_*` flags of `BPF_PROG_TEST_RUN` (uapi `linux/bpf.h`), for
 * {@link TestRunInput.flags}.
 *
 * XDP_LIVE_FRAMES (kernel 5.18+, XDP programs only): the kernel runs the
 * program on frames from a page pool it fills with `data` once per page, and
 * acts on the verdict: XDP_PASS frames enter the stack of the context's
 * ingress device, XDP_TX and XDP_REDIRECT frames are transmitted (XDP_TX out
 * of the ingress device). No packet or context comes back: the result's
 * `dataOut` is empty, `ctxOut` undefined and `retval` 0; `durationNs` is the
 * mean per frame over the whole run, transmission and stack work included.
 * When a page is recycled only the packet pointers are reset, not its bytes
 * (Documentation/bpf/bpf_prog_run.rst): a program that rewrites the packet
 * may see its own output again.
 */
export const TEST_RUN_FLAGS = {
  /** BPF_F_TEST_RUN_ON_CPU: run on {@link TestRunInput.cpu} (raw tracepoints only). */
  RUN_ON_CPU: 1 << 0,
  /** BPF_F_TEST_XDP_LIVE_FRAMES. */
  XDP_LIVE_FRAMES: 1 << 1,
} as const;

/** Input of {@link testRun}. */
export interface TestRunInput {
  /** The packet, starting at the Ethernet header (XDP and tc). At least 14 bytes. */
  data: Uint8Array;
  /** Runs; the result is the last run's, `durationNs` the mean. Default 1. */
  repeat?: number;
  /**
   * Input context: `struct xdp_md` (24 bytes; ingress_ifindex, rx_queue_index) for XDP,
   * `struct __sk_buff` for tc (the kernel accepts mark, priority, tstamp, cb[], among
   * others; `len` and `queue_mapping` are rejected with EINVAL).
   */
  ctxIn?: Uint8Array;
  /** Bytes reserved for the output context. Default: the size of `ctxIn`, else none. */
  ctxOutSize?: number;
  /** Bytes reserved for the output packet. Default: input size + 256 (room for `bpf_xdp_adjust_head`/`tail`). Ignored in live-frames mode. */
  dataOutSize?: number;
  /** `BPF_F_TEST_*` flags (`TEST_RUN_FLAGS` in this module), or-ed. Default 0. */
  flags?: number;
  /** Live-frames mode: frames per batch (the kernel's default, 0, means 64; at most 256). Default 0. */
  batchSize?: number;
  /** With `BPF_F_TEST_RUN_ON_CPU`: the CPU to run on. Default 0. */
  cpu?: number;
}

/** Output of {@link testRun}. */
export interface TestRunResult {
  /** The program's return value (e.g. XDP_PASS = 2, TC_ACT_OK = 0). */
  retval: number;
  /** The packet after the program ran (a copy); empty in live-frames mode. */
  dataOut: Uint8Array;
  /** Mean run time in nanoseconds, as the kernel measured it. */
  durationNs: number;
  /** The output context, when one was requested (never in live-frames mode). */
  ctxOut: Uint8Array | undefined;
}

/**
 * Runs `program` on `input.data` in the kernel (kernel 4.12+; XDP context
 * input 5.14+). Needs CAP_BPF (or CAP_SYS_ADMIN).
 *
 * @throws {@link InvalidInputError} for an empty or short packet, or a bad repeat.
 * @throws {@link BpfError} from the kernel (EINVAL for a context field it does not accept,
 *   ENOSPC when the output did not fit `dataOutSize`).
 */
export function testRun(program: BpfProgram, input: TestRunInput): TestRunResult {
  const { data } = input;
  if (data.byteLength < 14) throw new InvalidInputError("data", `${data.byteLength} bytes`, "must hold at least an Ethernet header (14 bytes)");
  const repeat = input.repeat ?? 1;
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 0x7fffffff) throw new InvalidInputError("repeat", repeat, "must be a positive integer");
  const flags = input.flags ?? 0;
  const batchSize = input.batchSize ?? 0;
  const cpu = input.cpu ?? 0;
  for (const [field, value] of [["flags", flags], ["batchSize", batchSize], ["cpu", cpu]] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new InvalidInputError(field, value, "must be an unsigned 32-bit integer");
  }
  // Live frames: the kernel refuses data_out and ctx_out (EINVAL) and returns neither.
  const live = (flags & TEST_RUN_FLAGS.XDP_LIVE_FRAMES) !== 0;
  const dataOutSize = live ? 0 : (input.dataOutSize ?? data.byteLength + 256);
  const ctxIn = input.ctxIn;
  const ctxOutSize = live ? 0 : (input.ctxOutSize ?? ctxIn?.byteLength ?? 0);

  const lib = program.libbpf;
  const raw = lib.raw;
  // Pointers inside the options struct must stay put for the whole call:
  // native memory, copied in and out.
  const regions = {
    dataIn: data.byteLength, dataOut: dataOutSize, ctxIn: ctxIn?.byteLength ?? 0, ctxOut: ctxOutSize,
  };
  const total = regions.dataIn + regions.dataOut + regions.ctxIn + regions.ctxOut;
  const block = raw.alloc(Math.max(total, 1));
  try {
    const memory = raw.view(block, Math.max(total, 1));
    const at = { dataIn: 0, dataOut: regions.dataIn, ctxIn: regions.dataIn + regions.dataOut, ctxOut: regions.dataIn + regions.dataOut + regions.ctxIn };
    memory.set(data, at.dataIn);
    if (ctxIn) memory.set(ctxIn, at.ctxIn);
    memory.fill(0, at.ctxOut, at.ctxOut + regions.ctxOut);
    const address = (offset: number, bytes: number) => (bytes > 0 ? block + BigInt(offset) : null);
    const opts = {
      sz: 80,
      data_in: address(at.dataIn, regions.dataIn), data_out: address(at.dataOut, regions.dataOut),
      data_size_in: regions.dataIn, data_size_out: regions.dataOut,
      ctx_in: address(at.ctxIn, regions.ctxIn), ctx_out: address(at.ctxOut, regions.ctxOut),
      ctx_size_in: regions.ctxIn, ctx_size_out: regions.ctxOut,
      retval: 0, repeat, duration: 0, flags, cpu, batch_size: batchSize,
    };
    lib.check(raw.bpf_prog_test_run_opts(program.fd, opts), { operation: "test run", target: `program "${program.name}"` });
    return {
      retval: opts.retval,
      dataOut: memory.slice(at.dataOut, at.dataOut + Math.min(opts.data_size_out, regions.dataOut)),
      durationNs: opts.duration,
      ctxOut: regions.ctxOut > 0 ? memory.slice(at.ctxOut, at.ctxOut + Math.min(opts.ctx_size_out, regions.ctxOut)) : undefined,
    };
  } finally {
    raw.free(block);
  }
}
