// Known answers of MurmurHash3 x64 128, from the vectors published with the
// Go implementations Cilium depends on (spaolacci/murmur3 and twmb/murmur3
// test tables), and SMHasher's own verification value for the function.
import { murmur3x64_128, murmurH1, murmurH2 } from "../hash/murmur3";

function hashString(s: string, seed: u32): void {
  const buf = String.UTF8.encode(s);
  murmur3x64_128(changetype<usize>(buf), <usize>buf.byteLength, seed);
}

describe("murmur3x64_128", () => {
  test("empty input with seed 0 hashes to zero", () => {
    hashString("", 0);
    expect(murmurH1).toBe(0);
    expect(murmurH2).toBe(0);
  });

  test("published vectors, seed 0", () => {
    hashString("hello", 0);
    expect(murmurH1).toBe(0xcbd8a7b341bd9b02);
    expect(murmurH2).toBe(0x5b1e906a48ae1d19);
    hashString("hello, world", 0);
    expect(murmurH1).toBe(0x342fac623a5ebc8e);
    expect(murmurH2).toBe(0x4cdcbc079642414d);
    hashString("19 Jan 2038 at 3:14:07 AM", 0);
    expect(murmurH1).toBe(0xb89e5988b737affc);
    expect(murmurH2).toBe(0x664fc2950231b2cb);
    hashString("The quick brown fox jumps over the lazy dog.", 0);
    expect(murmurH1).toBe(0xcd99481f9ee902c9);
    expect(murmurH2).toBe(0x695da1a38987b6e7);
  });

  test("published vectors, seed 1", () => {
    hashString("", 1);
    expect(murmurH1).toBe(0x4610abe56eff5cb5);
    expect(murmurH2).toBe(0x51622daa78f83583);
    hashString("hello", 1);
    expect(murmurH1).toBe(0xa78ddff5adae8d10);
    expect(murmurH2).toBe(0x128900ef20900135);
    hashString("The quick brown fox jumps over the lazy dog.", 1);
    expect(murmurH1).toBe(0xfb3325171f9744da);
    expect(murmurH2).toBe(0xaaf8b92a5f722952);
  });

  test("published vectors, seed 0x2a", () => {
    hashString("", 0x2a);
    expect(murmurH1).toBe(0xf02aa77dfa1b8523);
    expect(murmurH2).toBe(0xd1016610da11cbb9);
    hashString("hello", 0x2a);
    expect(murmurH1).toBe(0xc4b8b3c960af6f08);
    expect(murmurH2).toBe(0x2334b875b0efbc7a);
  });

  test("every tail length from 0 to 17 bytes is covered by a vector", () => {
    // Lengths 15, 16, 17 exercise the tail of lane 2, a full block and a
    // block plus one byte; values from the MurmurHash3 x64 reference.
    hashString("123456789012345", 0);
    expect(murmurH1).toBe(0x887001aea2afcfd6);
    expect(murmurH2).toBe(0x1ec326364f0801b3);
    hashString("1234567890123456", 0);
    expect(murmurH1).toBe(0x4fbe5dc5c0e32cf8);
    expect(murmurH2).toBe(0xc0c8e96b60c322c1);
    hashString("12345678901234567", 0);
    expect(murmurH1).toBe(0x748617968026b77e);
    expect(murmurH2).toBe(0x291e6386473f7103);
  });

  test("SMHasher verification value 0x6384BA69", () => {
    // SMHasher VerificationTest: hash keys {0}, {0,1}, ... of length i with
    // seed 256 - i, concatenate the 256 16-byte results, hash that with seed
    // 0 and read the first four bytes little-endian.
    const key = new StaticArray<u8>(256);
    const hashes = new StaticArray<u8>(256 * 16);
    for (let i = 0; i < 256; i++) {
      key[i] = <u8>i;
      murmur3x64_128(changetype<usize>(key), <usize>i, <u32>(256 - i));
      store<u64>(changetype<usize>(hashes) + (<usize>i << 4), murmurH1);
      store<u64>(changetype<usize>(hashes) + (<usize>i << 4), murmurH2, 8);
    }
    murmur3x64_128(changetype<usize>(hashes), 256 * 16, 0);
    expect(<u32>(murmurH1 & 0xffffffff)).toBe(0x6384ba69);
  });
});
