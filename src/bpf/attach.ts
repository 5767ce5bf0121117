/**
 * Attaching programs to network interfaces: XDP (driver mode, falling back
 * to generic mode) and tc (clsact ingress/egress), and interface names to
 * indexes.
 *
 * Attachments go through netlink (libbpf's `bpf_xdp_attach`, `bpf_tc_attach`),
 * not bpf links: they outlive the process, so the datapath keeps forwarding
 * while the agent restarts. Detaching is explicit, and XDP detach names the
 * program it expects so that it never removes somebody else's.
 *
 * Network namespaces: everything here acts in the namespace of the calling
 * thread. Interface names resolve with `if_nametoindex`, not /sys/class/net,
 * whose view depends on which namespace mounted /sys.
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";
import { ERRNO, UnknownInterfaceError } from "./errors.js";
import { loadLibbpf, type Libbpf } from "./libbpf.js";
import type { BpfProgram } from "./object.js";

// XDP_FLAGS_* from linux/if_link.h.
const XDP_FLAGS = { UPDATE_IF_NOEXIST: 1, SKB_MODE: 2, DRV_MODE: 4, REPLACE: 16 } as const;
// enum bpf_tc_attach_point from libbpf.h.
const TC_POINT = { ingress: 1, egress: 2 } as const;

/** XDP attach modes: driver (native) or generic (skb, any device, slower). */
export type XdpMode = "native" | "generic";

/** Interface names: at most 15 bytes (IFNAMSIZ - 1), no '/' and no whitespace. */
const IFNAME = /^[^/\s]{1,15}$/;

/**
 * The index of `iface` in the calling thread's network namespace (an index
 * is checked to exist and returned as is). Sync; for modules that hold the
 * binding already. See {@link interfaceIndex}.
 *
 * @throws {@link InvalidInputError} for a malformed name or index.
 * @throws {@link UnknownInterfaceError} (code `UNKNOWN_INTERFACE`) when there is no such interface.
 */
export function resolveInterface(lib: Libbpf, iface: string | number): number {
  if (typeof iface === "number") {
    if (!Number.isInteger(iface) || iface <= 0 || iface > 0x7fffffff) throw new InvalidInputError("interface", iface, "must be a positive interface index or a name");
    if (lib.raw.if_indextoname(iface, new Uint8Array(16)) === null) throw new UnknownInterfaceError(iface);
    return iface;
  }
  if (!IFNAME.test(iface)) throw new InvalidInputError("interface", iface, "must be an interface name of 1 to 15 characters without '/' or spaces");
  const index = lib.raw.if_nametoindex(iface);
  if (index === 0) throw new UnknownInterfaceError(iface);
  return index;
}

/**
 * The index of network interface `iface` (`if_nametoindex`), loading libbpf's
 * binding if needed. No privilege needed.
 *
 * @throws {@link InvalidInputError} for a malformed name or index.
 * @throws {@link UnknownInterfaceError} (code `UNKNOWN_INTERFACE`) when there is no such interface.
 * @throws {@link KernelFeatureError} when koffi or libbpf cannot be loaded.
 */
export async function interfaceIndex(iface: string | number): Promise<number> {
  return resolveInterface(await loadLibbpf(), iface);
}

function describeInterface(iface: string | number, ifindex: number): string {
  return typeof iface === "string" ? `interface ${iface} (index ${ifindex})` : `interface index ${ifindex}`;
}

/** Options of {@link attachXdp}. */
export interface XdpAttachOptions {
  /**
   * `native` or `generic` to insist on one mode; by default driver mode is
   * tried first and generic mode used when the driver lacks XDP support
   * (EOPNOTSUPP) or refuses the program (EINVAL).
   */
  mode?: XdpMode;
  /** Replace a program already attached (otherwise EBUSY). Default false. */
  replace?: boolean;
  /** Told when the fallback to generic mode happens, and why. */
  onWarning?: (message: string) => void;
}

/** An XDP program attached to an interface. */
export interface XdpAttachment {
  /** The interface's index. */
  readonly ifindex: number;
  /** The mode it ended up in (generic after a fallback). */
  readonly mode: XdpMode;
  /**
   * Detaches, only if this program is still the one attached there
   * (`XDP_FLAGS_REPLACE` with the expected fd). Idempotent.
   *
   * @throws {@link BpfError} when the kernel refuses (e.g. another program replaced it: EEXIST).
   */
  detach(): void;
}

/**
 * Attaches the XDP program `program` to `iface` (kernel 5.x; needs
 * CAP_NET_ADMIN). The attachment survives the process; keep the returned
 * handle, or call {@link detachXdp}, to remove it.
 *
 * @throws {@link UnknownInterfaceError} for an unknown interface.
 * @throws {@link MissingPrivilegeError} without CAP_NET_ADMIN.
 * @throws {@link BpfError} EBUSY when a program is attached and `replace` is not set; others from netlink,
 *   with libbpf's extack text in `libbpfMessages`.
 */
export function attachXdp(program: BpfProgram, iface: string | number, options: XdpAttachOptions = {}): XdpAttachment {
  const lib = program.libbpf;
  const ifindex = resolveInterface(lib, iface);
  const target = describeInterface(iface, ifindex);
  const base = options.replace ? 0 : XDP_FLAGS.UPDATE_IF_NOEXIST;
  const tryMode = (mode: XdpMode) => {
    const flags = base | (mode === "native" ? XDP_FLAGS.DRV_MODE : XDP_FLAGS.SKB_MODE);
    const { value, messages } = lib.collect(() => lib.raw.bpf_xdp_attach(ifindex, program.fd, flags, null));
    return { ret: value, messages: messages.map((m) => m.text) };
  };
  const context = (mode: XdpMode) => ({ operation: `xdp attach (${mode}) of program "${program.name}"`, target, needs: "CAP_NET_ADMIN" });

  let mode: XdpMode = options.mode ?? "native";
  let attempt = tryMode(mode);
  if (attempt.ret < 0 && options.mode === undefined && (attempt.ret === -ERRNO.EOPNOTSUPP || attempt.ret === -ERRNO.EINVAL)) {
    const why = lib.error(-attempt.ret, context("native"), attempt.messages);
    options.onWarning?.(`native XDP is not available on ${target}; attaching in generic (skb) mode, which is slower: ${why.message}`);
    mode = "generic";
    attempt = tryMode(mode);
  }
  if (attempt.ret < 0) {
    const detail = attempt.ret === -ERRNO.EBUSY || attempt.ret === -ERRNO.EEXIST ? "another XDP program is attached; pass replace: true to replace it" : undefined;
    throw lib.error(-attempt.ret, { ...context(mode), ...(detail ? { detail } : {}) }, attempt.messages);
  }
  let attached = true;
  return {
    ifindex,
    mode,
    detach() {
      if (!attached) return;
      detachXdp(program, ifindex, mode);
      attached = false;
    },
  };
}

/**
 * Removes `program` from `iface` in `mode`, only if it is the program attached
 * there. Needs CAP_NET_ADMIN.
 *
 * @throws {@link BpfError} EEXIST when another program is attached instead.
 */
export function detachXdp(program: BpfProgram, iface: string | number, mode: XdpMode): void {
  const lib = program.libbpf;
  const ifindex = resolveInterface(lib, iface);
  const flags = XDP_FLAGS.REPLACE | (mode === "native" ? XDP_FLAGS.DRV_MODE : XDP_FLAGS.SKB_MODE);
  const { value, messages } = lib.collect(() => lib.raw.bpf_xdp_detach(ifindex, flags, { sz: 16, old_prog_fd: program.fd }));
  lib.check(value, { operation: `xdp detach (${mode}) of program "${program.name}"`, target: describeInterface(iface, ifindex), needs: "CAP_NET_ADMIN" }, messages.map((m) => m.text));
}

/**
 * The id of the XDP program attached to `iface` in `mode`, or 0 when none.
 *
 * @throws {@link UnknownInterfaceError} for an unknown interface.
 */
export async function xdpProgramId(iface: string | number, mode: XdpMode): Promise<number> {
  const lib = await loadLibbpf();
  const ifindex = resolveInterface(lib, iface);
  const id: [number] = [0];
  lib.check(lib.raw.bpf_xdp_query_id(ifindex, mode === "native" ? XDP_FLAGS.DRV_MODE : XDP_FLAGS.SKB_MODE, id), {
    operation: "xdp query", target: describeInterface(iface, ifindex),
  });
  return id[0];
}

/** Options of {@link attachTc}. */
export interface TcAttachOptions {
  /** Filter priority (1..65535); 0 lets the kernel choose. Default 0. */
  priority?: number;
  /** Filter handle; 0 lets the kernel choose. Default 0. */
  handle?: number;
  /** Replace a filter at the same handle and priority. Default false. */
  replace?: boolean;
}

/** A tc filter installed by {@link attachTc}. */
export interface TcAttachment {
  /** The interface's index. */
  readonly ifindex: number;
  /** Which side of the clsact qdisc. */
  readonly direction: "ingress" | "egress";
  /** Filter handle the kernel assigned (detach needs it). */
  readonly handle: number;
  /** Filter priority the kernel assigned (detach needs it). */
  readonly priority: number;
  /** Id of the attached program. */
  readonly programId: number;
  /**
   * Removes this filter (the clsact qdisc stays: other filters may use it;
   * see {@link removeClsact}). Idempotent.
   */
  detach(): void;
}

/**
 * Attaches the tc (`sched_cls`, direct-action) program `program` to
 * `iface`'s clsact qdisc on `direction`, creating the qdisc if needed
 * (kernel 4.5+ for clsact; needs CAP_NET_ADMIN).
 *
 * @throws {@link UnknownInterfaceError} for an unknown interface.
 * @throws {@link MissingPrivilegeError} without CAP_NET_ADMIN.
 * @throws {@link BpfError} from netlink, with libbpf's extack text in `libbpfMessages`.
 */
export function attachTc(program: BpfProgram, iface: string | number, direction: "ingress" | "egress", options: TcAttachOptions = {}): TcAttachment {
  const lib = program.libbpf;
  const ifindex = resolveInterface(lib, iface);
  const target = describeInterface(iface, ifindex);
  for (const field of ["priority", "handle"] as const) {
    const v = options[field] ?? 0;
    if (!Number.isInteger(v) || v < 0 || v > (field === "priority" ? 0xffff : 0xffffffff)) throw new InvalidInputError(field, v, "is out of range");
  }
  const hook = { sz: 24, ifindex, attach_point: TC_POINT[direction], parent: 0 };
  const created = lib.collect(() => lib.raw.bpf_tc_hook_create(hook));
  // EEXIST: the clsact qdisc is already there, which is what we want.
  if (created.value < 0 && created.value !== -ERRNO.EEXIST) {
    lib.check(created.value, { operation: "create clsact qdisc", target, needs: "CAP_NET_ADMIN" }, created.messages.map((m) => m.text));
  }
  const opts = { sz: 32, prog_fd: program.fd, flags: options.replace ? 1 : 0, prog_id: 0, handle: options.handle ?? 0, priority: options.priority ?? 0 };
  const attached = lib.collect(() => lib.raw.bpf_tc_attach(hook, opts));
  lib.check(attached.value, { operation: `tc attach (${direction}) of program "${program.name}"`, target, needs: "CAP_NET_ADMIN" }, attached.messages.map((m) => m.text));
  let live = true;
  return {
    ifindex,
    direction,
    handle: opts.handle,
    priority: opts.priority,
    programId: opts.prog_id,
    detach() {
      if (!live) return;
      const detachOpts = { sz: 32, prog_fd: 0, flags: 0, prog_id: 0, handle: opts.handle, priority: opts.priority };
      const done = lib.collect(() => lib.raw.bpf_tc_detach(hook, detachOpts));
      lib.check(done.value, { operation: `tc detach (${direction}) of program "${program.name}"`, target, needs: "CAP_NET_ADMIN" }, done.messages.map((m) => m.text));
      live = false;
    },
  };
}

/**
 * Deletes `iface`'s clsact qdisc and with it every tc filter on ingress and
 * egress, ours or not. For cleanup of interfaces wasmplane owns.
 *
 * @throws {@link BpfError} from netlink (ENOENT when there is no clsact qdisc).
 */
export async function removeClsact(iface: string | number): Promise<void> {
  const lib = await loadLibbpf();
  const ifindex = resolveInterface(lib, iface);
  const hook = { sz: 24, ifindex, attach_point: TC_POINT.ingress | TC_POINT.egress, parent: 0 };
  const done = lib.collect(() => lib.raw.bpf_tc_hook_destroy(hook));
  lib.check(done.value, { operation: "remove clsact qdisc", target: describeInterface(iface, ifindex), needs: "CAP_NET_ADMIN" }, done.messages.map((m) => m.text));
}
