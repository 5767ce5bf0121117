/**
 * The kernel-facing host layer: load BPF objects, read and write maps, swap
 * inner maps, attach XDP and tc programs, run programs on test packets, read
 * ring buffers, and check byte layouts against BTF.
 *
 * Importing this module loads neither koffi nor libbpf: the first call that
 * needs the kernel does (see `libbpf.ts`). Functions that may be the first
 * such call are async; methods of handles (maps, programs) are sync.
 *
 * @module
 */
export { loadObject, BpfObject, BpfProgram } from "./object.js";
export type { LoadObjectOptions } from "./object.js";
export { BpfMap, BpfBatchError, createMap } from "./map.js";
export type { MapLayout, BatchResult } from "./map.js";
export { MAP_TYPES, UPDATE_FLAGS, BPF_F_NO_PREALLOC, mapTypeName } from "./map-types.js";
export type { MapTypeName, UpdateMode } from "./map-types.js";
export { u32, u64, bytes, structCodec, TypedMap } from "./codec.js";
export type { Codec, StructValue } from "./codec.js";
export { DEFAULT_PIN_ROOT, ensurePinRoot, isOnBpffs, openPinnedMap } from "./pin.js";
export { createInnerMap, swapInnerMaps, innerMapId } from "./map-in-map.js";
export type { InnerMapSwap } from "./map-in-map.js";
export { attachXdp, detachXdp, xdpProgramId, attachTc, removeClsact, interfaceIndex } from "./attach.js";
export type { XdpMode, XdpAttachOptions, XdpAttachment, TcAttachOptions, TcAttachment } from "./attach.js";
export { testRun, TEST_RUN_FLAGS } from "./test-run.js";
export type { TestRunInput, TestRunResult } from "./test-run.js";
export { openRingBuffer, DEFAULT_MAX_RECORDS_PER_CALL } from "./ringbuf.js";
export type { RingBuffer, RingBufferSource, RingBufferOptions, RingBufferStartOptions, RecordHandler } from "./ringbuf.js";
export { canUseBpf } from "./privileges.js";
export type { BpfAvailability, BpfAvailable, BpfUnavailable } from "./privileges.js";
export { readBtfStructs, compareLayoutWithBtf, assertLayoutMatchesBtf } from "./btf-layout.js";
export type { StructLayout, FieldLayout, BtfStruct, BtfMember } from "./btf-layout.js";
export {
  BpfError, BpfLoadError, MissingPrivilegeError, KernelFeatureError, UnknownInterfaceError, LayoutMismatchError, errnoName,
} from "./errors.js";
export type { ErrnoContext } from "./errors.js";
export { WasmplaneError, InvalidInputError } from "../errors.js";
export type { ErrorCode } from "../errors.js";
export type { LibbpfMessage } from "./libbpf.js";
