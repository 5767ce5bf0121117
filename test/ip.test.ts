/**
 * Address text must be Go's `netip.Addr.String()` byte for byte, since it is
 * hashed into every backend key. Cases follow Go's netip behaviour (RFC 5952
 * output, strict parsing).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { formatIp, parseIp } from "../src/net/ip.js";

const canon = (text: string): string | undefined => {
  const ip = parseIp(text);
  return ip && formatIp(ip);
};

test("canonical text of valid addresses", () => {
  const cases: Array<[string, string]> = [
    ["10.0.0.1", "10.0.0.1"],
    ["0.0.0.0", "0.0.0.0"],
    ["255.255.255.255", "255.255.255.255"],
    ["FD00::1", "fd00::1"],
    ["fd00:0:0:0:0:0:0:1", "fd00::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of two equal runs
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero group stays
    ["2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:db8::ff00:42:8329"],
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["::ffff:10.0.0.1", "::ffff:10.0.0.1"],
    ["::ffff:a00:1", "::ffff:10.0.0.1"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"], // the longer run wins
  ];
  for (const [input, expected] of cases) assert.equal(canon(input), expected, input);
});

test("invalid addresses are rejected, as netip rejects them", () => {
  for (const bad of [
    "", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1.2.3.04", "1..2.3", "1.2.3.4 ", " 1.2.3.4", "a.b.c.d",
    "1:2:3:4:5:6:7:8:9", "1::2::3", ":::", "fd00::1%eth0", "[fd00::1]", "12345::", "1:2:3:4:5:6:7::8:9",
    "::ffff:1.2.3", "1:2:3:4:5:6:7:8::", "g::1", "localhost",
  ]) {
    assert.equal(parseIp(bad), undefined, JSON.stringify(bad));
  }
});

test("formatting then parsing returns the same bytes, and text is stable", () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 })), (bytes) => {
      const ip = { family: bytes.length === 4 ? (4 as const) : (6 as const), bytes };
      const text = formatIp(ip);
      const back = parseIp(text);
      assert.ok(back, text);
      assert.deepEqual(back.bytes, bytes);
      assert.equal(formatIp(back), text);
    }),
    { numRuns: 2000, seed: 7 },
  );
});
