/**
 * Struct layouts as clang compiled them, read from the BTF in a BPF object
 * file, to check TypeScript encoders against the C header that owns the bytes.
 *
 * Every map key and value is declared once, in C. The TypeScript side keeps a
 * declarative description ({@link StructLayout}) for its encoders, and a test
 * calls {@link assertLayoutMatchesBtf} so that the two can never drift apart
 * silently (katran's `balancer_structs.h`, cilium's BTF-checked headers).
 *
 * Pure TypeScript: reads the `.BTF` ELF section itself (format:
 * https://docs.kernel.org/bpf/btf.html), so it needs neither root, libbpf
 * nor bpftool, and runs in CI without a kernel.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { InvalidInputError } from "../errors.js";
import { LayoutMismatchError } from "./errors.js";

/** The TypeScript description of a struct: its size and each field's byte offset and size. */
export interface StructLayout {
  /** sizeof(struct). */
  size: number;
  /** Every named member, by name. */
  fields: Record<string, FieldLayout>;
}

/** Where a field lies in its struct. */
export interface FieldLayout {
  /** Byte offset from the start of the struct. */
  offset: number;
  /** Bytes. */
  size: number;
}

/** One member of a struct as BTF describes it. */
export interface BtfMember {
  /** Member name ("" for an anonymous member). */
  name: string;
  /** Byte offset (for a bitfield: of the byte holding its first bit, rounded down). */
  offset: number;
  /** Bytes of the member's type. */
  size: number;
  /** Bit offset from the start of the struct. */
  bitOffset: number;
  /** Width in bits of a bitfield member, 0 for an ordinary member. */
  bitfieldSize: number;
}

/** A struct or union as BTF describes it. */
export interface BtfStruct {
  /** Struct or union. */
  kind: "struct" | "union";
  /** sizeof, bytes. */
  size: number;
  /** Members in declaration order. */
  members: BtfMember[];
}

// BTF kinds (include/uapi/linux/btf.h).
const KIND = {
  INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9, CONST: 10,
  RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19,
} as const;

/** Bytes after the common 12-byte `struct btf_type` header, per kind. */
function trailingBytes(kind: number, vlen: number): number {
  switch (kind) {
    case KIND.INT: case KIND.VAR: case KIND.DECL_TAG: return 4;
    case KIND.ARRAY: return 12;
    case KIND.STRUCT: case KIND.UNION: case KIND.DATASEC: case KIND.ENUM64: return 12 * vlen;
    case KIND.ENUM: case KIND.FUNC_PROTO: return 8 * vlen;
    case KIND.PTR: case KIND.FWD: case KIND.TYPEDEF: case KIND.VOLATILE: case KIND.CONST: case KIND.RESTRICT:
    case KIND.FUNC: case KIND.FLOAT: case KIND.TYPE_TAG: return 0;
    default: throw new Error(`unknown BTF kind ${kind}`);
  }
}

interface RawType {
  name: string;
  kind: number;
  kindFlag: boolean;
  vlen: number;
  /** `size` for sized kinds, `type` for references. */
  sizeOrType: number;
  /** Offset of the trailing data in the type section. */
  at: number;
}

/** The `.BTF` section of an ELF object, or an error naming the file. */
function btfSection(file: Buffer, path: string): Buffer {
  if (file.readUInt32BE(0) !== 0x7f454c46) throw new InvalidInputError("path", path, "is not an ELF file");
  if (file[4] !== 2) throw new InvalidInputError("path", path, "is not a 64-bit ELF object (BPF objects are ELF64)");
  const little = file[5] === 1;
  const u16 = (o: number) => (little ? file.readUInt16LE(o) : file.readUInt16BE(o));
  const u32 = (o: number) => (little ? file.readUInt32LE(o) : file.readUInt32BE(o));
  const u64 = (o: number) => Number(little ? file.readBigUInt64LE(o) : file.readBigUInt64BE(o));
  const shoff = u64(0x28);
  const shentsize = u16(0x3a);
  const shnum = u16(0x3c);
  const shstrndx = u16(0x3e);
  const section = (i: number) => ({ name: u32(shoff + i * shentsize), offset: u64(shoff + i * shentsize + 24), size: u64(shoff + i * shentsize + 32) });
  const names = section(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const nameEnd = file.indexOf(0, names.offset + s.name);
    if (file.toString("latin1", names.offset + s.name, nameEnd) === ".BTF") return file.subarray(s.offset, s.offset + s.size);
  }
  throw new InvalidInputError("path", path, "has no .BTF section (compile with clang -g)");
}

/**
 * Every named struct and union in the BTF of the object file at `objPath`,
 * by name. Members are resolved through typedefs and qualifiers to their
 * sizes.
 *
 * @throws {@link InvalidInputError} when the file is not an ELF64 object with BTF.
 */
export function readBtfStructs(objPath: string): Map<string, BtfStruct> {
  const btf = btfSection(readFileSync(objPath), objPath);
  const magic = btf.readUInt16LE(0);
  const little = magic === 0xeb9f;
  if (!little && btf.readUInt16BE(0) !== 0xeb9f) throw new InvalidInputError("path", objPath, "has a .BTF section with a bad magic number");
  const u32 = (o: number) => (little ? btf.readUInt32LE(o) : btf.readUInt32BE(o));
  const hdrLen = u32(4);
  const typeStart = hdrLen + u32(8);
  const typeEnd = typeStart + u32(12);
  const strStart = hdrLen + u32(16);
  const str = (off: number) => btf.toString("utf8", strStart + off, btf.indexOf(0, strStart + off));

  const types: (RawType | undefined)[] = [undefined]; // id 0 is void
  for (let at = typeStart; at < typeEnd;) {
    const info = u32(at + 4);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    types.push({ name: str(u32(at)), kind, kindFlag: (info >>> 31) === 1, vlen, sizeOrType: u32(at + 8), at: at + 12 });
    at += 12 + trailingBytes(kind, vlen);
  }

  const sizeOf = (id: number, depth = 0): number => {
    const t = types[id];
    if (!t || depth > 32) return 0;
    switch (t.kind) {
      case KIND.PTR: return 8; // BPF is a 64-bit target
      case KIND.ARRAY: return u32(t.at + 8) * sizeOf(u32(t.at), depth + 1);
      case KIND.TYPEDEF: case KIND.VOLATILE: case KIND.CONST: case KIND.RESTRICT: case KIND.TYPE_TAG: case KIND.VAR:
        return sizeOf(t.sizeOrType, depth + 1);
      case KIND.FWD: case KIND.FUNC: case KIND.FUNC_PROTO: case KIND.DECL_TAG: return 0;
      default: return t.sizeOrType;
    }
  };

  const structs = new Map<string, BtfStruct>();
  for (const t of types) {
    if (!t || (t.kind !== KIND.STRUCT && t.kind !== KIND.UNION) || t.name === "") continue;
    const members: BtfMember[] = [];
    for (let i = 0; i < t.vlen; i++) {
      const m = t.at + 12 * i;
      const raw = u32(m + 8);
      // With kind_flag set, offset packs the bitfield width in its top 8 bits.
      const bitOffset = t.kindFlag ? raw & 0xffffff : raw;
      const bitfieldSize = t.kindFlag ? raw >>> 24 : 0;
      members.push({ name: str(u32(m)), offset: Math.floor(bitOffset / 8), size: sizeOf(u32(m + 4)), bitOffset, bitfieldSize });
    }
    structs.set(t.name, { kind: t.kind === KIND.STRUCT ? "struct" : "union", size: t.sizeOrType, members });
  }
  return structs;
}

/**
 * The differences between `layout` and struct `structName` in the BTF of
 * `objPath`, one line each; empty when they agree. Every named member must
 * be described (padding members too, since the C header spells padding
 * out), at the same offset and size; bitfields never match, since encoders
 * work in bytes.
 */
export function compareLayoutWithBtf(objPath: string, structName: string, layout: StructLayout): string[] {
  const struct = readBtfStructs(objPath).get(structName);
  if (!struct) return [`struct ${structName} is not in the BTF of ${objPath}`];
  const differences: string[] = [];
  if (struct.size !== layout.size) differences.push(`size is ${struct.size} in C, ${layout.size} in TypeScript`);
  const inC = new Map(struct.members.map((m) => [m.name, m]));
  for (const m of struct.members) {
    if (m.name === "") continue;
    if (m.bitfieldSize !== 0) differences.push(`${m.name} is a ${m.bitfieldSize}-bit bitfield in C; use whole bytes`);
    const ts = layout.fields[m.name];
    if (!ts) differences.push(`${m.name} (offset ${m.offset}, ${m.size} bytes) is missing in TypeScript`);
    else if (ts.offset !== m.offset || ts.size !== m.size) {
      differences.push(`${m.name} is at offset ${m.offset}, ${m.size} bytes in C; offset ${ts.offset}, ${ts.size} bytes in TypeScript`);
    }
  }
  for (const name of Object.keys(layout.fields)) if (!inC.has(name)) differences.push(`${name} is not a member of struct ${structName} in C`);
  return differences;
}

/**
 * Throws unless `layout` describes struct `structName` exactly as clang laid
 * it out in `objPath` (see {@link compareLayoutWithBtf}).
 *
 * @throws {@link LayoutMismatchError} (code `LAYOUT_MISMATCH`) listing every difference.
 * @throws {@link InvalidInputError} when the file has no BTF.
 */
export function assertLayoutMatchesBtf(objPath: string, structName: string, layout: StructLayout): void {
  const differences = compareLayoutWithBtf(objPath, structName, layout);
  if (differences.length > 0) throw new LayoutMismatchError(`struct ${structName} in TypeScript and ${objPath}`, differences);
}
