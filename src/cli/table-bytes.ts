/**
 * The on-disk form of a Maglev table: `tableSize` little-endian u32 backend
 * IDs, exactly the value bytes of a BPF array map of u32 (eBPF hosts are
 * little-endian in practice; the file format must not depend on the build
 * machine either way).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { endianness } from "node:os";

const hostIsLittleEndian = endianness() === "LE";

/** The table's bytes, little-endian whatever the host. */
export function tableToBytes(table: Uint32Array): Uint8Array {
  if (hostIsLittleEndian) return new Uint8Array(table.buffer, table.byteOffset, table.byteLength);
  const bytes = new Uint8Array(table.length * 4);
  const view = new DataView(bytes.buffer);
  table.forEach((id, i) => view.setUint32(i * 4, id, true));
  return bytes;
}

/** Reads a table file back; `undefined` when its length is not a whole number of u32s. */
export function bytesToTable(bytes: Uint8Array): Uint32Array | undefined {
  if (bytes.length % 4 !== 0) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const table = new Uint32Array(bytes.length / 4);
  for (let i = 0; i < table.length; i++) table[i] = view.getUint32(i * 4, true);
  return table;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
