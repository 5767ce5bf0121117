/**
 * Flow filters and the observe line format: known answers on canned flows,
 * properties on random flows and filters (either side matches, filters
 * combine as AND, a filter survives the query round trip), one-line errors
 * naming the parameter, and the exact text of each line.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { flowFilterToQuery, matchesFlow, parseFlowFilter } from "../src/observe/filter.js";
import { formatFlow, formatPeer } from "../src/observe/format.js";
import { serviceOfFrontend } from "../src/agent/flows.js";
import type { FlowFilter, ObservedFlow, ObservedPeer } from "../src/observe/types.js";
import { InvalidInputError } from "../src/errors.js";
import { FLOW_LINES, FLOWS } from "./support/observed-flows.js";

const kept = (filter: FlowFilter) => FLOWS.flatMap((f, i) => (matchesFlow(f, filter) ? [i] : []));

test("filters on the canned flows: either side for namespace, pod, port and identity", () => {
  assert.deepEqual(kept({}), [0, 1, 2, 3, 4]);
  assert.deepEqual(kept({ namespace: "tools" }), [1]);
  assert.deepEqual(kept({ namespace: "shop" }), [0, 1, 2, 4]);
  assert.deepEqual(kept({ pod: "shop/db" }), [0, 2]);
  assert.deepEqual(kept({ pod: "web" }), [0, 1, 2, 4]);
  assert.deepEqual(kept({ pod: "debug", namespace: "tools" }), [1]);
  assert.deepEqual(kept({ pod: "web", namespace: "tools" }), [], "a bare pod is taken in the filter's namespace: there is no tools/web");
  assert.deepEqual(kept({ pod: "tools/web" }), []);
  assert.deepEqual(kept({ verdict: "DROPPED" }), [1, 3]);
  assert.deepEqual(kept({ port: 5432 }), [0, 2]);
  assert.deepEqual(kept({ port: 0 }), [4]);
  assert.deepEqual(kept({ protocol: "udp" }), [3]);
  assert.deepEqual(kept({ protocol: "icmp" }), [4], "case-insensitive");
  assert.deepEqual(kept({ identity: 2 }), [3, 4]);
  assert.deepEqual(kept({ identity: 1001, verdict: "FORWARDED", protocol: "TCP" }), [0, 2]);
  assert.deepEqual(kept({ namespace: "kube-system", port: 53, verdict: "DROPPED" }), [3]);
});

test("parseFlowFilter reads query parameters and records, ignoring other keys", () => {
  assert.deepEqual(parseFlowFilter(new URLSearchParams("namespace=shop&verdict=dropped&port=80&identity=1001&follow=1&last=5")), {
    namespace: "shop",
    verdict: "DROPPED",
    port: 80,
    identity: 1001,
  });
  assert.deepEqual(parseFlowFilter({ pod: "shop/db", protocol: "TCP", namespace: undefined }), { pod: "shop/db", protocol: "TCP" });
  assert.deepEqual(parseFlowFilter(new URLSearchParams("")), {});
});

test("parseFlowFilter refuses bad values, naming the parameter", () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ port: "65536" }, "port"],
    [{ port: "80x" }, "port"],
    [{ port: "" }, "port"],
    [{ port: "-1" }, "port"],
    [{ port: "0x50" }, "port"],
    [{ verdict: "ALLOWED" }, "verdict"],
    [{ identity: "4294967296" }, "identity"],
    [{ identity: "1.5" }, "identity"],
    [{ namespace: "" }, "namespace"],
    [{ pod: "a/b/c" }, "pod"],
    [{ pod: "/db" }, "pod"],
    [{ protocol: " " }, "protocol"],
  ];
  for (const [query, field] of cases) {
    assert.throws(
      () => parseFlowFilter(query),
      (e: unknown) => e instanceof InvalidInputError && e.field === field && e.message.startsWith(`${field}: `) && !e.message.includes("\n"),
      JSON.stringify(query),
    );
  }
});

// ---- Properties -----------------------------------------------------------------
// Few distinct names, ports and identities, so random filters often hit.

const NAMESPACES = ["shop", "tools", "kube-system"];
const PODS = ["web", "db", "dns"];

const peerArb: fc.Arbitrary<ObservedPeer> = fc.record(
  {
    ip: fc.constantFrom("10.0.0.1", "10.0.0.2", "fd00::1"),
    port: fc.constantFrom(0, 53, 80, 5432),
    identity: fc.constantFrom(2, 1001, 1002),
    namespace: fc.constantFrom(...NAMESPACES),
    pod: fc.constantFrom(...PODS),
  },
  { requiredKeys: ["ip", "port", "identity"] },
);

const flowArb: fc.Arbitrary<ObservedFlow> = fc.record({
  time: fc.constant("2024-05-01T12:00:00.000Z"),
  verdict: fc.constantFrom("FORWARDED" as const, "DROPPED" as const),
  direction: fc.constantFrom("ingress" as const, "egress" as const),
  protocol: fc.constantFrom("TCP", "UDP", "ICMP"),
  source: peerArb,
  destination: peerArb,
  tcpFlags: fc.constantFrom("", "SYN"),
  reply: fc.boolean(),
  interface: fc.constant("lxc0"),
});

const filterArb: fc.Arbitrary<FlowFilter> = fc.record(
  {
    namespace: fc.constantFrom(...NAMESPACES),
    pod: fc.oneof(fc.constantFrom(...PODS), fc.tuple(fc.constantFrom(...NAMESPACES), fc.constantFrom(...PODS)).map(([n, p]) => `${n}/${p}`)),
    verdict: fc.constantFrom("FORWARDED" as const, "DROPPED" as const),
    port: fc.constantFrom(0, 53, 80, 5432),
    protocol: fc.constantFrom("TCP", "udp", "Icmp"),
    identity: fc.constantFrom(2, 1001, 1002),
  },
  { requiredKeys: [] },
);

/** The semantics written out plainly, one field at a time, as the reference. */
function reference(flow: ObservedFlow, filter: FlowFilter): boolean {
  const sides = [flow.source, flow.destination];
  const checks: boolean[] = [];
  if (filter.namespace !== undefined) checks.push(sides.some((s) => s.namespace === filter.namespace));
  if (filter.pod !== undefined) {
    const [ns, name] = filter.pod.includes("/") ? filter.pod.split("/") : [filter.namespace, filter.pod];
    checks.push(sides.some((s) => s.pod === name && (ns === undefined || s.namespace === ns)));
  }
  if (filter.verdict !== undefined) checks.push(flow.verdict === filter.verdict);
  if (filter.port !== undefined) checks.push(sides.some((s) => s.port === filter.port));
  if (filter.protocol !== undefined) checks.push(flow.protocol.toUpperCase() === filter.protocol.toUpperCase());
  if (filter.identity !== undefined) checks.push(sides.some((s) => s.identity === filter.identity));
  return checks.every(Boolean);
}

test("property: matchesFlow agrees with the field-by-field reference", () => {
  fc.assert(
    fc.property(flowArb, filterArb, (flow, filter) => {
      assert.equal(matchesFlow(flow, filter), reference(flow, filter));
    }),
    { numRuns: 2000, seed: 42 },
  );
});

test("property: swapping source and destination never changes the answer", () => {
  fc.assert(
    fc.property(flowArb, filterArb, (flow, filter) => {
      const swapped = { ...flow, source: flow.destination, destination: flow.source };
      assert.equal(matchesFlow(swapped, filter), matchesFlow(flow, filter));
    }),
    { numRuns: 1000, seed: 7 },
  );
});

test("property: fields combine as AND; the empty filter keeps every flow", () => {
  fc.assert(
    fc.property(flowArb, filterArb, (flow, filter) => {
      assert.equal(matchesFlow(flow, {}), true);
      // Each field alone (pod keeps the namespace it is read in).
      const parts = Object.keys(filter).map((key) =>
        key === "pod" && filter.namespace !== undefined ? { pod: filter.pod, namespace: filter.namespace } : { [key]: filter[key as keyof FlowFilter] },
      );
      assert.equal(matchesFlow(flow, filter), parts.every((p) => matchesFlow(flow, p as FlowFilter)));
    }),
    { numRuns: 1000, seed: 3 },
  );
});

test("property: a filter made from one side of a flow keeps it", () => {
  fc.assert(
    fc.property(flowArb, fc.boolean(), (flow, useSource) => {
      const side = useSource ? flow.source : flow.destination;
      const filter: FlowFilter = {
        verdict: flow.verdict,
        protocol: flow.protocol.toLowerCase(),
        port: side.port,
        identity: side.identity,
        ...(side.namespace !== undefined ? { namespace: side.namespace } : {}),
        ...(side.pod !== undefined && side.namespace !== undefined ? { pod: `${side.namespace}/${side.pod}` } : {}),
      };
      assert.equal(matchesFlow(flow, filter), true);
    }),
    { numRuns: 500, seed: 5 },
  );
});

test("property: parseFlowFilter(flowFilterToQuery(f)) is f", () => {
  fc.assert(
    fc.property(filterArb, (filter) => {
      const query = flowFilterToQuery(filter);
      assert.deepEqual(parseFlowFilter(query), { ...filter });
      assert.deepEqual(parseFlowFilter(new URLSearchParams(query.toString())), { ...filter });
    }),
    { numRuns: 500, seed: 9 },
  );
});

// ---- Lines ------------------------------------------------------------------------

test("one line per flow: names, ports, arrow, verdict, reason, protocol and flags, service", () => {
  assert.deepEqual(FLOWS.map(formatFlow), FLOW_LINES);
});

test("a peer without a pod is its address; IPv6 with a port in brackets; port 0 left out", () => {
  assert.equal(formatPeer({ ip: "10.0.0.1", port: 80, identity: 2 }), "10.0.0.1:80");
  assert.equal(formatPeer({ ip: "fd00::1", port: 80, identity: 2 }), "[fd00::1]:80");
  assert.equal(formatPeer({ ip: "fd00::1", port: 0, identity: 2 }), "fd00::1");
  assert.equal(formatPeer({ ip: "10.0.0.1", port: 0, identity: 2, namespace: "a", pod: "b" }), "a/b");
  assert.equal(formatPeer({ ip: "10.0.0.1", port: 9, identity: 2, pod: "b" }), "b:9");
  const unnamed = { ...FLOWS[0]!, service: { id: 12 } };
  assert.match(formatFlow(unnamed), / service #12$/);
  const noReason: ObservedFlow = { ...FLOWS[1]!, reason: undefined };
  assert.match(formatFlow(noReason), / DROPPED \(unknown\) /);
});

test("property: a line depends on the flow alone and is one line", () => {
  fc.assert(
    fc.property(flowArb, (flow) => {
      const line = formatFlow(flow);
      assert.equal(formatFlow(structuredClone(flow)), line);
      assert.ok(!line.includes("\n"));
      assert.ok(line.startsWith(`${flow.time} `));
      assert.ok(line.includes(flow.reply ? " <- " : " -> "));
    }),
    { numRuns: 300, seed: 1 },
  );
});

test("a flow's service is the Service's namespace/name, taken from the load balancer's frontend name", () => {
  assert.equal(serviceOfFrontend("shop/web:http/cluster-ip/10.96.0.10"), "shop/web");
  assert.equal(serviceOfFrontend("shop/web:80/node-port/[fd00::1]"), "shop/web");
  // Names that are not frontend names of the state model stay as they are.
  assert.equal(serviceOfFrontend("web4"), "web4");
  assert.equal(serviceOfFrontend("192.0.2.1:80/TCP"), "192.0.2.1:80/TCP");
});
