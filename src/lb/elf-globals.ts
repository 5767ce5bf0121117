/**
 * Global variables of a BPF object file: where each one's initial bytes lie
 * in the ELF, and a copy of the file with some of them replaced.
 *
 * Why: the datapath's load-time knobs are `const volatile` globals in
 * `.rodata` (bpf/lib/config.h). libbpf builds the `.rodata` map from that
 * section's bytes when it opens the object, and the verifier then treats
 * the values as constants. A skeleton would write them through
 * `bpf_map__initial_value()`; wasmplane's binding does not expose that call,
 * so the loader patches the section bytes of a private copy of the object
 * before libbpf opens it, which is equivalent.
 *
 * Offsets come from the ELF symbol table (`st_value` is the offset within
 * the section for a relocatable object): the BTF DATASEC of a clang object
 * carries zero offsets until libbpf fixes them up.
 *
 * Pure module (ELF64 spec: System V gABI, "Sections" and "Symbol Table").
 *
 * @module
 */
import { InvalidInputError } from "../errors.js";

/** A global variable's place in the object. */
export interface ElfGlobal {
  /** Section it lives in, e.g. `.rodata`. */
  section: string;
  /** File offset of its first byte. */
  fileOffset: number;
  /** Bytes. */
  size: number;
}

const SHT_SYMTAB = 2;
const STT_OBJECT = 1;
const SYM_SIZE = 24;

/**
 * Every object symbol (`STT_OBJECT`) with its section and file offset, by
 * name. Symbols in sections without file bytes (`.bss`) are left out.
 *
 * @throws {@link InvalidInputError} when `file` is not a 64-bit ELF object with a symbol table.
 */
export function readElfGlobals(file: Uint8Array, path = "object"): Map<string, ElfGlobal> {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (buf.byteLength < 64 || buf.readUInt32BE(0) !== 0x7f454c46) throw new InvalidInputError("object", path, "is not an ELF file");
  if (buf[4] !== 2) throw new InvalidInputError("object", path, "is not a 64-bit ELF object (BPF objects are ELF64)");
  const le = buf[5] === 1;
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const u64 = (o: number) => Number(le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o));
  const shoff = u64(0x28);
  const shentsize = u16(0x3a);
  const shnum = u16(0x3c);
  const shstrndx = u16(0x3e);
  const header = (i: number) => {
    const at = shoff + i * shentsize;
    return { name: u32(at), type: u32(at + 4), offset: u64(at + 24), size: u64(at + 32), link: u32(at + 40) };
  };
  const cstring = (offset: number) => buf.toString("latin1", offset, buf.indexOf(0, offset));
  const names = header(shstrndx);
  const sections = Array.from({ length: shnum }, (_, i) => {
    const h = header(i);
    return { ...h, label: cstring(names.offset + h.name) };
  });
  const symtab = sections.find((s) => s.type === SHT_SYMTAB);
  if (!symtab) throw new InvalidInputError("object", path, "has no symbol table");
  const strtab = sections[symtab.link];
  if (!strtab) throw new InvalidInputError("object", path, "has a symbol table without a string table");

  const globals = new Map<string, ElfGlobal>();
  for (let at = symtab.offset; at + SYM_SIZE <= symtab.offset + symtab.size; at += SYM_SIZE) {
    if ((buf[at + 4]! & 0xf) !== STT_OBJECT) continue;
    const section = sections[u16(at + 6)];
    // SHT_NOBITS (.bss) has no bytes in the file to patch.
    if (!section || section.type === 8) continue;
    const value = u64(at + 8);
    const size = u64(at + 16);
    if (value + size > section.size) continue;
    globals.set(cstring(strtab.offset + u32(at)), { section: section.label, fileOffset: section.offset + value, size });
  }
  return globals;
}

/**
 * A copy of the object `file` in which each global named in `values` starts
 * with the given bytes (which must be exactly the variable's size).
 *
 * @throws {@link InvalidInputError} naming the variable when it does not
 *   exist, lies outside `section`, or has another size.
 */
export function withGlobals(file: Uint8Array, values: Readonly<Record<string, Uint8Array>>, section = ".rodata", path = "object"): Buffer {
  const globals = readElfGlobals(file, path);
  const out = Buffer.from(file);
  for (const [name, bytes] of Object.entries(values)) {
    const g = globals.get(name);
    if (!g || g.section !== section) throw new InvalidInputError(`globals.${name}`, name, `is not a variable in ${section} of ${path}`);
    if (g.size !== bytes.byteLength) throw new InvalidInputError(`globals.${name}`, `${bytes.byteLength} bytes`, `must be ${g.size} bytes (its size in ${path})`);
    out.set(bytes, g.fileOffset);
  }
  return out;
}
