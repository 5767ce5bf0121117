/**
 * Tests of the policy parsers (src/policy/parse): every input kind and rule
 * feature against the expected normalized rules, the Cilium and Kubernetes
 * documentation examples (test/fixtures/policy), and every rejected input
 * with the path of the offending field.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { parse } from "yaml";
import { InvalidInputError, type ErrorCode } from "../src/errors.js";
import type { NormalizedRule, PeerRule, PortMatch, Requirement, Selector } from "../src/policy/model.js";
import { parseCiliumRules, parsePolicyObject, policyNameOf, referencedCidrs } from "../src/policy/parse/index.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/policy/", import.meta.url));

function fixture(name: string): unknown {
  return parse(readFileSync(`${FIXTURES}${name}`, "utf8"));
}

// ---- builders of expected values ------------------------------------------------------

const NS = "k8s:io.kubernetes.pod.namespace";
const NSL = "k8s:io.cilium.k8s.namespace.labels.";
const In = (key: string, ...values: string[]): Requirement => ({ key, operator: "In", values });
const NotIn = (key: string, ...values: string[]): Requirement => ({ key, operator: "NotIn", values });
const Exists = (key: string): Requirement => ({ key, operator: "Exists", values: [] });
const DNE = (key: string): Requirement => ({ key, operator: "DoesNotExist", values: [] });
const sel = (...requirements: Requirement[]): Selector => ({ requirements });
const ex = (key: string): Selector => sel(Exists(key));
const reserved = (name: string): Selector => ex(`reserved:${name}`);
const WORLD = [reserved("world"), reserved("world-ipv4"), reserved("world-ipv6")];
const port = (protocol: PortMatch["protocol"], p: number, endPort = p): PortMatch => ({ protocol, port: p, endPort });
const named = (protocol: PortMatch["protocol"], name: string): PortMatch => ({ protocol, port: 0, endPort: 0, name });

interface PeerSpec {
  section?: PeerRule["origin"]["section"];
  index?: number;
  rule?: number;
  policy?: string;
  peers?: Selector[] | null;
  ports?: PortMatch[] | null;
  proxy?: boolean;
}

/** An expected peer rule; direction and deny follow from the section. */
function pr(spec: PeerSpec): PeerRule {
  const section = spec.section ?? "ingress";
  return {
    direction: section.startsWith("ingress") ? "ingress" : "egress",
    deny: section.endsWith("Deny"),
    peers: spec.peers === undefined ? null : spec.peers,
    ports: spec.ports === undefined ? null : spec.ports,
    proxy: spec.proxy ?? false,
    origin: { policy: spec.policy ?? "p", rule: spec.rule ?? 0, section, index: spec.index ?? 0 },
  };
}

function rule(
  policy: string,
  index: number,
  subject: Selector,
  enforces: [boolean, boolean],
  peerRules: PeerRule[],
): NormalizedRule {
  return { subject, enforces: { ingress: enforces[0], egress: enforces[1] }, peerRules, policy, index };
}

// ---- shortcuts to parse one rule -------------------------------------------------------

/** One raw Cilium rule, parsed as policy "p". */
function raw(r: unknown): NormalizedRule {
  return parseCiliumRules("p", [r])[0]!;
}

function cnp(spec: unknown, namespace: string | undefined = "ns1"): NormalizedRule {
  const metadata: Record<string, unknown> = { name: "pol" };
  if (namespace !== undefined) metadata["namespace"] = namespace;
  return parsePolicyObject({ apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata, spec }).rules[0]!;
}

function ccnp(spec: unknown): NormalizedRule {
  return parsePolicyObject({ apiVersion: "cilium.io/v2", kind: "CiliumClusterwideNetworkPolicy", metadata: { name: "pol" }, spec }).rules[0]!;
}

function knp(spec: unknown, namespace: string | undefined = "ns1"): NormalizedRule {
  const metadata: Record<string, unknown> = { name: "pol" };
  if (namespace !== undefined) metadata["namespace"] = namespace;
  return parsePolicyObject({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata, spec }).rules[0]!;
}

/** Asserts that `run` throws an InvalidInputError for `field` with `code`, and returns it. */
function rejects(run: () => unknown, field: string, code: ErrorCode = "INVALID_POLICY", message?: RegExp): InvalidInputError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof InvalidInputError, `an InvalidInputError, got ${String(error)}`);
    assert.equal(error.field, field, `field of: ${error.message}`);
    assert.equal(error.code, code, `code of: ${error.message}`);
    assert.doesNotMatch(error.message, /\n/, "one line");
    assert.ok(error.message.startsWith(`${field}: `), "the message starts with the field");
    if (message) assert.match(error.message, message);
    return error;
  }
  assert.fail(`expected an error at ${field}`);
}

// ---- documentation examples ------------------------------------------------------------

describe("Cilium documentation examples", () => {
  const d = "cnp/default/";
  const cases: Array<[string, string, NormalizedRule[]]> = [
    ["cnp-l3-simple.yaml", `${d}l3-rule`, [
      rule(`${d}l3-rule`, 0, sel(In("any:role", "backend"), In(NS, "default")), [true, false], [
        pr({ policy: `${d}l3-rule`, peers: [sel(In("any:role", "frontend"), In(NS, "default"))] }),
      ]),
    ]],
    ["cnp-ingress-allow-all.yaml", `${d}allow-all-to-victim`, [
      rule(`${d}allow-all-to-victim`, 0, sel(In("any:role", "victim"), In(NS, "default")), [true, false], [
        pr({ policy: `${d}allow-all-to-victim`, peers: [sel(In(NS, "default"))] }),
      ]),
    ]],
    ["cnp-egress-allow-all.yaml", `${d}allow-all-from-frontend`, [
      rule(`${d}allow-all-from-frontend`, 0, sel(In("any:role", "frontend"), In(NS, "default")), [false, true], [
        pr({ policy: `${d}allow-all-from-frontend`, section: "egress", peers: [sel(In(NS, "default"))] }),
      ]),
    ]],
    ["cnp-egress-default-deny.yaml", `${d}deny-all-egress`, [
      rule(`${d}deny-all-egress`, 0, sel(In("any:role", "restricted"), In(NS, "default")), [false, true], []),
    ]],
    ["cnp-l4.yaml", `${d}l4-rule`, [
      rule(`${d}l4-rule`, 0, sel(In("any:app", "myService"), In(NS, "default")), [false, true], [
        pr({ policy: `${d}l4-rule`, section: "egress", ports: [port("TCP", 80)] }),
      ]),
    ]],
    ["cnp-l4-port-range.yaml", `${d}l4-port-range-rule`, [
      rule(`${d}l4-port-range-rule`, 0, sel(In("any:app", "myService"), In(NS, "default")), [false, true], [
        pr({ policy: `${d}l4-port-range-rule`, section: "egress", ports: [port("TCP", 80, 444)] }),
      ]),
    ]],
    ["cnp-l3-l4-combined.yaml", `${d}l4-rule`, [
      rule(`${d}l4-rule`, 0, sel(In("any:role", "backend"), In(NS, "default")), [true, false], [
        pr({ policy: `${d}l4-rule`, peers: [sel(In("any:role", "frontend"), In(NS, "default"))], ports: [port("TCP", 80)] }),
      ]),
    ]],
    ["cnp-cidr-l4-combined.yaml", `${d}cidr-l4-rule`, [
      rule(`${d}cidr-l4-rule`, 0, sel(In("any:role", "crawler"), In(NS, "default")), [false, true], [
        pr({ policy: `${d}cidr-l4-rule`, section: "egress", peers: [ex("cidr:192.0.2.0/24")], ports: [port("TCP", 80)] }),
      ]),
    ]],
    ["cnp-icmp.yaml", `${d}icmp-rule`, [
      rule(`${d}icmp-rule`, 0, sel(In("any:app", "myService"), In(NS, "default")), [false, true], [
        pr({ policy: `${d}icmp-rule`, section: "egress", ports: [port("ICMP", 8), port("ICMPv6", 128)] }),
      ]),
    ]],
    ["cnp-cidr.yaml", `${d}cidr-rule`, [
      rule(`${d}cidr-rule`, 0, sel(In("any:app", "myService"), In(NS, "default")), [false, true], [
        pr({ policy: `${d}cidr-rule`, section: "egress", peers: [ex("cidr:20.1.1.1/32")] }),
        pr({ policy: `${d}cidr-rule`, section: "egress", index: 1, peers: [sel(Exists("cidr:10.0.0.0/8"), DNE("cidr:10.96.0.0/12"))] }),
      ]),
    ]],
    ["cnp-entities-world.yaml", `${d}from-world-to-role-public`, [
      rule(`${d}from-world-to-role-public`, 0, sel(In("any:role", "public"), In(NS, "default")), [true, false], [
        pr({ policy: `${d}from-world-to-role-public`, peers: WORLD }),
      ]),
    ]],
    ["cnp-entities-host.yaml", `${d}dev-to-host`, [
      rule(`${d}dev-to-host`, 0, sel(In("any:env", "dev"), In(NS, "default")), [false, true], [
        pr({ policy: `${d}dev-to-host`, section: "egress", peers: [reserved("host")] }),
      ]),
    ]],
    ["cnp-entities-apiserver.yaml", `${d}dev-to-kube-apiserver`, [
      rule(`${d}dev-to-kube-apiserver`, 0, sel(In("any:env", "dev"), In(NS, "default")), [false, true], [
        pr({ policy: `${d}dev-to-kube-apiserver`, section: "egress", peers: [reserved("kube-apiserver")] }),
      ]),
    ]],
    ["cnp-entities-nodes.yaml", `${d}to-dev-from-nodes-in-cluster`, [
      rule(`${d}to-dev-from-nodes-in-cluster`, 0, sel(In("any:env", "dev"), In(NS, "default")), [true, false], [
        pr({ policy: `${d}to-dev-from-nodes-in-cluster`, peers: [reserved("host"), reserved("remote-node")] }),
      ]),
    ]],
    ["ccnp-external-lockdown.yaml", "ccnp/external-lockdown", [
      rule("ccnp/external-lockdown", 0, sel(), [true, false], [
        pr({ policy: "ccnp/external-lockdown", peers: null }),
        pr({ policy: "ccnp/external-lockdown", section: "ingressDeny", peers: WORLD }),
      ]),
    ]],
    ["cnp-egress-deny.yaml", `${d}deny-egress-example`, [
      rule(`${d}deny-egress-example`, 0, sel(In("any:role", "frontend"), In(NS, "default")), [false, true], [
        pr({ policy: `${d}deny-egress-example`, section: "egress", peers: null }),
        pr({ policy: `${d}deny-egress-example`, section: "egressDeny", peers: [sel(In("any:role", "backend"), In(NS, "default"))] }),
      ]),
    ]],
    ["cnp-match-expressions.yaml", `${d}and-or-statement-policy`, [
      rule(`${d}and-or-statement-policy`, 0, sel(In(NS, "default")), [true, false], [
        pr({
          policy: `${d}and-or-statement-policy`,
          peers: [sel(In(NS, "production"), In("k8s:cilium.example.com/policy", "strict"))],
        }),
      ]),
      rule(`${d}and-or-statement-policy`, 1, sel(In(NS, "default")), [true, false], [
        pr({
          policy: `${d}and-or-statement-policy`,
          rule: 1,
          // The second selector does not name the namespace: it gets the policy's.
          peers: [sel(In(NS, "production")), sel(In(NS, "default"), In("k8s:cilium.example.com/policy", "strict"))],
        }),
      ]),
    ]],
    ["ccnp-init.yaml", "ccnp/init", [
      rule("ccnp/init", 0, sel(In("reserved:init", "")), [true, true], [
        pr({ policy: "ccnp/init", peers: [reserved("host")] }),
        pr({ policy: "ccnp/init", section: "egress", peers: null, ports: [port("UDP", 53)] }),
      ]),
    ]],
    ["cnp-from-init.yaml", `${d}from-init`, [
      rule(`${d}from-init`, 0, sel(In("any:app", "myService"), In(NS, "default")), [true, false], [
        pr({ policy: `${d}from-init`, peers: [reserved("init")] }),
        pr({ policy: `${d}from-init`, index: 1, ports: [port("UDP", 53)] }),
      ]),
    ]],
    ["ccnp-intercept-all-dns.yaml", "ccnp/intercept-all-dns", [
      rule(
        "ccnp/intercept-all-dns",
        0,
        sel(NotIn("any:io.kubernetes.pod.namespace", "kube-system"), NotIn("any:k8s-app", "kube-dns")),
        [false, false],
        [
          pr({
            policy: "ccnp/intercept-all-dns",
            section: "egress",
            // The selector names the namespace (source any): no Exists is added.
            peers: [sel(In("any:io.kubernetes.pod.namespace", "kube-system"), In("any:k8s-app", "kube-dns"))],
            ports: [port("TCP", 53), port("UDP", 53)],
            proxy: true,
          }),
        ],
      ),
    ]],
    ["cnp-l7-http.yaml", `${d}rule1`, [
      rule(`${d}rule1`, 0, sel(In("any:app", "service"), In(NS, "default")), [true, false], [
        pr({ policy: `${d}rule1`, peers: [sel(In("any:env", "prod"), In(NS, "default"))] }),
        pr({ policy: `${d}rule1`, index: 1, ports: [port("TCP", 80)], proxy: true }),
      ]),
    ]],
  ];
  for (const [file, name, rules] of cases) {
    test(file, () => {
      const parsed = parsePolicyObject(fixture(file));
      assert.equal(parsed.name, name);
      assert.deepEqual(parsed.rules, rules);
      assert.equal(policyNameOf(fixture(file)), name);
    });
  }

  test("raw rules (cilium policy import) are not scoped to a namespace; rule labels are ignored", () => {
    const rules = parseCiliumRules("import-1", fixture("raw-rules.yaml") as unknown[]);
    assert.deepEqual(rules, [
      rule("import-1", 0, sel(In("any:role", "restricted")), [false, true], []),
      rule("import-1", 1, sel(In("k8s:app", "web")), [true, false], [
        pr({ policy: "import-1", rule: 1, peers: [sel(In("k8s:role", "frontend"))], ports: [named("ANY", "http")] }),
        pr({ policy: "import-1", rule: 1, section: "ingressDeny", peers: [ex("cidr:192.0.2.7/32")] }),
      ]),
    ]);
  });
});

describe("Kubernetes NetworkPolicy documentation examples", () => {
  const cases: Array<[string, string, NormalizedRule]> = [
    ["knp-test-network-policy.yaml", "knp/default/test-network-policy",
      rule("knp/default/test-network-policy", 0, sel(In("k8s:role", "db"), In(NS, "default")), [true, true], [
        pr({
          policy: "knp/default/test-network-policy",
          peers: [
            sel(Exists("cidr:172.17.0.0/16"), DNE("cidr:172.17.1.0/24")),
            sel(Exists("ipblock:172.17.0.0/16"), DNE("ipblock:172.17.1.0/24")),
            sel(In(`${NSL}project`, "myproject")),
            sel(In("k8s:role", "frontend"), In(NS, "default")),
          ],
          ports: [port("TCP", 6379)],
        }),
        pr({
          policy: "knp/default/test-network-policy",
          section: "egress",
          peers: [ex("cidr:10.0.0.0/24"), ex("ipblock:10.0.0.0/24")],
          ports: [port("TCP", 5978)],
        }),
      ])],
    ["knp-namespace-and-pod.yaml", "knp/shop/and-or",
      rule("knp/shop/and-or", 0, sel(In("k8s:app", "db"), In(NS, "shop")), [true, false], [
        pr({ policy: "knp/shop/and-or", peers: [sel(In(`${NSL}user`, "alice"), In("k8s:role", "client"))] }),
        pr({ policy: "knp/shop/and-or", index: 1, peers: [sel(In(`${NSL}user`, "alice")), sel(In("k8s:role", "client"), In(NS, "shop"))] }),
      ])],
    ["knp-default-deny-ingress.yaml", "knp/default/default-deny-ingress",
      rule("knp/default/default-deny-ingress", 0, sel(In(NS, "default")), [true, false], [])],
    ["knp-allow-all-ingress.yaml", "knp/default/allow-all-ingress",
      rule("knp/default/allow-all-ingress", 0, sel(In(NS, "default")), [true, false], [
        pr({ policy: "knp/default/allow-all-ingress", peers: null, ports: null }),
      ])],
    ["knp-default-deny-egress.yaml", "knp/default/default-deny-egress",
      rule("knp/default/default-deny-egress", 0, sel(In(NS, "default")), [false, true], [])],
    ["knp-allow-all-egress.yaml", "knp/default/allow-all-egress",
      rule("knp/default/allow-all-egress", 0, sel(In(NS, "default")), [false, true], [
        pr({ policy: "knp/default/allow-all-egress", section: "egress", peers: null, ports: null }),
      ])],
    ["knp-default-deny-all.yaml", "knp/default/default-deny-all",
      rule("knp/default/default-deny-all", 0, sel(In(NS, "default")), [true, true], [])],
    ["knp-multi-port-egress.yaml", "knp/default/multi-port-egress",
      rule("knp/default/multi-port-egress", 0, sel(In("k8s:role", "db"), In(NS, "default")), [false, true], [
        pr({
          policy: "knp/default/multi-port-egress",
          section: "egress",
          peers: [ex("cidr:10.0.0.0/24"), ex("ipblock:10.0.0.0/24")],
          ports: [port("TCP", 32000, 32768)],
        }),
      ])],
  ];
  for (const [file, name, expected] of cases) {
    test(file, () => {
      const parsed = parsePolicyObject(fixture(file));
      assert.equal(parsed.name, name);
      assert.deepEqual(parsed.rules, [expected]);
      assert.equal(policyNameOf(fixture(file)), name);
    });
  }
});

// ---- features -------------------------------------------------------------------------

describe("selectors", () => {
  const cases: Array<[string, unknown, Requirement[]]> = [
    ["empty selector selects everything", {}, []],
    ["a key without source gets source any", { matchLabels: { app: "web" } }, [In("any:app", "web")]],
    ["k8s: source kept", { matchLabels: { "k8s:app": "web" } }, [In("k8s:app", "web")]],
    ["any: source kept", { matchLabels: { "any:app": "web" } }, [In("any:app", "web")]],
    ["reserved label (empty value)", { matchLabels: { "reserved:host": "" } }, [In("reserved:host", "")]],
    ["null value is the empty value", { matchLabels: { "reserved:host": null } }, [In("reserved:host", "")]],
    ["$host is reserved:host", { matchLabels: { $host: "" } }, [In("reserved:host", "")]],
    ["reserved.init is reserved:init", { matchLabels: { "reserved.init": "" } }, [In("reserved:init", "")]],
    ["prefixed key", { matchLabels: { "app.kubernetes.io/name": "web" } }, [In("any:app.kubernetes.io/name", "web")]],
    ["anything after = in a key is dropped (Cilium's GetExtendedKeyFrom)", { matchLabels: { "app=x": "web" } }, [In("any:app", "web")]],
    [
      "matchExpressions, every operator, after matchLabels",
      {
        matchExpressions: [
          { key: "tier", operator: "In", values: ["a", "b"] },
          { key: "k8s:env", operator: "NotIn", values: ["prod"] },
          { key: "canary", operator: "Exists" },
          { key: "legacy", operator: "DoesNotExist", values: [] },
        ],
        matchLabels: { app: "web" },
      },
      [In("any:app", "web"), In("any:tier", "a", "b"), NotIn("k8s:env", "prod"), Exists("any:canary"), DNE("any:legacy")],
    ],
  ];
  for (const [name, selector, requirements] of cases) {
    test(name, () => {
      assert.deepEqual(raw({ endpointSelector: selector, ingress: [{}] }).subject, sel(...requirements));
    });
  }
});

describe("entities", () => {
  const cases: Array<[string, Selector[] | null]> = [
    ["world", WORLD],
    ["world-ipv4", [reserved("world-ipv4")]],
    ["world-ipv6", [reserved("world-ipv6")]],
    ["host", [reserved("host")]],
    ["remote-node", [reserved("remote-node")]],
    ["kube-apiserver", [reserved("kube-apiserver")]],
    ["ingress", [reserved("ingress")]],
    ["init", [reserved("init")]],
    ["health", [reserved("health")]],
    ["unmanaged", [reserved("unmanaged")]],
    ["none", [reserved("none")]],
    ["cluster", [
      reserved("host"), reserved("remote-node"), reserved("init"), reserved("ingress"),
      reserved("health"), reserved("unmanaged"), reserved("kube-apiserver"), ex(NS),
    ]],
    ["all", null],
  ];
  for (const [entity, peers] of cases) {
    test(`${entity} (ingress and egressDeny)`, () => {
      const r = raw({ endpointSelector: {}, ingress: [{ fromEntities: [entity] }], egressDeny: [{ toEntities: [entity] }] });
      assert.deepEqual(r.peerRules, [pr({ peers }), pr({ section: "egressDeny", peers })]);
    });
  }

  test("entities are ORed and repeats dropped; all makes any peer", () => {
    assert.deepEqual(raw({ endpointSelector: {}, ingress: [{ fromEntities: ["host", "world", "host"] }] }).peerRules, [
      pr({ peers: [reserved("host"), ...WORLD] }),
    ]);
    assert.deepEqual(raw({ endpointSelector: {}, ingress: [{ fromEntities: ["host", "all"] }] }).peerRules, [pr({ peers: null })]);
  });

  test("entities are not scoped to a namespace", () => {
    assert.deepEqual(cnp({ endpointSelector: {}, ingress: [{ fromEntities: ["host"] }] }).peerRules, [
      pr({ policy: "cnp/ns1/pol", peers: [reserved("host")] }),
    ]);
  });
});

describe("CIDR peers", () => {
  const cases: Array<[string, string, Selector[]]> = [
    ["canonical prefix", "10.0.0.0/8", [ex("cidr:10.0.0.0/8")]],
    ["host bits are masked", "10.1.2.3/8", [ex("cidr:10.0.0.0/8")]],
    ["a bare IPv4 address is a /32", "192.0.2.7", [ex("cidr:192.0.2.7/32")]],
    ["IPv6 in canonical text", "2001:DB8:0:0::1/32", [ex("cidr:2001:db8::/32")]],
    ["IPv6 prefix", "fd00::/8", [ex("cidr:fd00::/8")]],
    ["a bare IPv6 address is a /128", "fd00::1", [ex("cidr:fd00::1/128")]],
    ["IPv4-mapped IPv6", "::ffff:10.0.0.1/128", [ex("cidr:::ffff:10.0.0.1/128")]],
    ["0.0.0.0/0 also selects the IPv4 world", "0.0.0.0/0", [reserved("world"), reserved("world-ipv4"), ex("cidr:0.0.0.0/0")]],
    ["::/0 also selects the IPv6 world", "::/0", [reserved("world"), reserved("world-ipv6"), ex("cidr:::/0")]],
  ];
  for (const [name, cidr, peers] of cases) {
    test(`fromCIDR: ${name}`, () => {
      assert.deepEqual(raw({ endpointSelector: {}, ingress: [{ fromCIDR: [cidr] }] }).peerRules, [pr({ peers })]);
    });
  }

  test("fromCIDR: entries are ORed; world is added once", () => {
    const r = raw({ endpointSelector: {}, egress: [{ toCIDR: ["0.0.0.0/0", "10.0.0.0/8", "0.0.0.0/0", "::/0"] }] });
    assert.deepEqual(r.peerRules, [
      pr({
        section: "egress",
        peers: [reserved("world"), reserved("world-ipv4"), ex("cidr:0.0.0.0/0"), ex("cidr:10.0.0.0/8"), reserved("world-ipv6"), ex("cidr:::/0")],
      }),
    ]);
  });

  test("fromCIDRSet: except becomes DoesNotExist; an except equal to the block is allowed (Cilium)", () => {
    const r = raw({
      endpointSelector: {},
      ingress: [{ fromCIDRSet: [{ cidr: "10.0.0.0/8", except: ["10.96.0.0/12", "10.1.0.0/16"] }, { cidr: "192.0.2.0/24", except: ["192.0.2.0/24"] }] }],
    });
    assert.deepEqual(r.peerRules, [
      pr({
        peers: [
          sel(Exists("cidr:10.0.0.0/8"), DNE("cidr:10.96.0.0/12"), DNE("cidr:10.1.0.0/16")),
          sel(Exists("cidr:192.0.2.0/24"), DNE("cidr:192.0.2.0/24")),
        ],
      }),
    ]);
  });

  test("fromCIDRSet: a /0 with exceptions selects the world as well", () => {
    const r = raw({ endpointSelector: {}, egressDeny: [{ toCIDRSet: [{ cidr: "0.0.0.0/0", except: ["10.0.0.0/8"] }] }] });
    assert.deepEqual(r.peerRules, [
      pr({
        section: "egressDeny",
        peers: [reserved("world"), reserved("world-ipv4"), sel(Exists("cidr:0.0.0.0/0"), DNE("cidr:10.0.0.0/8"))],
      }),
    ]);
  });

  test("CIDRs are not scoped to a namespace", () => {
    assert.deepEqual(cnp({ endpointSelector: {}, egress: [{ toCIDR: ["10.0.0.0/8"] }] }).peerRules, [
      pr({ policy: "cnp/ns1/pol", section: "egress", peers: [ex("cidr:10.0.0.0/8")] }),
    ]);
  });

  test("referencedCidrs lists every canonical prefix named, once, blocks and exceptions alike", () => {
    const rules = [
      raw({
        endpointSelector: {},
        ingress: [{ fromCIDR: ["10.1.2.3/8"] }, { fromCIDRSet: [{ cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "192.0.2.0/24"] }] }],
        egress: [{ toCIDR: ["2001:db8::1"] }],
      }),
      knp({ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: "172.16.0.0/12", except: ["172.16.1.0/24"] } }] }] }),
    ];
    assert.deepEqual(referencedCidrs(rules), ["10.0.0.0/8", "0.0.0.0/0", "192.0.2.0/24", "2001:db8::1/128", "172.16.0.0/12", "172.16.1.0/24"]);
    assert.deepEqual(referencedCidrs([raw({ endpointSelector: {}, ingress: [{ fromEntities: ["world"] }] })]), []);
  });

  test("property: canonical prefixes re-parse to themselves and contain the written address", () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (address, bits) => {
        const [prefix] = referencedCidrs([raw({ endpointSelector: {}, ingress: [{ fromCIDR: [`${address}/${bits}`] }] })]);
        assert.ok(prefix);
        assert.deepEqual(referencedCidrs([raw({ endpointSelector: {}, ingress: [{ fromCIDR: [prefix] }] })]), [prefix]);
        // The address lies in its canonical block: using it as an except is accepted.
        raw({ endpointSelector: {}, ingress: [{ fromCIDRSet: [{ cidr: prefix, except: [`${address}/32`] }] }] });
      }),
      { numRuns: 200 },
    );
  });
});

describe("ports", () => {
  const cases: Array<[string, unknown[], PortMatch[]]> = [
    ["numeric port, protocol defaults to ANY", [{ port: "80" }], [port("ANY", 80)]],
    ["protocols are case-insensitive", [{ port: "53", protocol: "udp" }, { port: "9", protocol: "Sctp" }], [port("UDP", 53), port("SCTP", 9)]],
    ["port 0 is every port", [{ port: "0", protocol: "TCP" }], [port("TCP", 0, 0)]],
    ["empty protocol is ANY", [{ port: "1", protocol: "" }], [port("ANY", 1)]],
    ["named port, lower-cased", [{ port: "HTTP-Alt", protocol: "TCP" }], [named("TCP", "http-alt")]],
    ["a name may start with digits", [{ port: "8080-web" }], [named("ANY", "8080-web")]],
    ["range", [{ port: "8000", endPort: 8080, protocol: "TCP" }], [port("TCP", 8000, 8080)]],
    ["endPort equal to port", [{ port: "443", endPort: 443 }], [port("ANY", 443)]],
    ["endPort 0 is no range (Go omitempty)", [{ port: "443", endPort: 0 }], [port("ANY", 443)]],
    ["highest port", [{ port: "65535" }], [port("ANY", 65535)]],
  ];
  for (const [name, ports, expected] of cases) {
    test(name, () => {
      assert.deepEqual(raw({ endpointSelector: {}, ingress: [{ toPorts: [{ ports }] }] }).peerRules, [pr({ ports: expected })]);
    });
  }

  test("port rules of one element are ORed; entries with L7 rules split off into a proxied peer rule", () => {
    const r = raw({
      endpointSelector: {},
      egress: [{
        toEndpoints: [{ matchLabels: { app: "api" } }],
        toPorts: [
          { ports: [{ port: "8080", protocol: "TCP" }], rules: { http: [{ method: "GET", path: "/v1" }] } },
          { ports: [{ port: "9090", protocol: "TCP" }] },
          { ports: [{ port: "53", protocol: "UDP" }], rules: { dns: [{ matchPattern: "*" }] } },
          { ports: [{ port: "9091", protocol: "TCP" }], rules: {} },
        ],
      }],
    });
    const peers = [sel(In("any:app", "api"))];
    assert.deepEqual(r.peerRules, [
      pr({ section: "egress", peers, ports: [port("TCP", 8080), port("UDP", 53)], proxy: true }),
      pr({ section: "egress", peers, ports: [port("TCP", 9090), port("TCP", 9091)] }),
    ]);
  });

  const l7: Array<[string, unknown, boolean]> = [
    ["http rules", { http: [{ method: "GET", path: "/public", headers: ["X-My-Header: true"] }] }, true],
    ["an empty http list is an L7 allow-all, still proxied", { http: [] }, true],
    ["kafka rules", { kafka: [{ role: "produce", topic: "empire-announce" }] }, true],
    ["l7proto with l7 rules", { l7proto: "r2d2", l7: [{ cmd: "READ" }] }, true],
    ["l7proto alone has no rules (Cilium: IsEmpty)", { l7proto: "r2d2" }, false],
    ["an empty rules object", {}, false],
  ];
  for (const [name, rules, proxy] of l7) {
    test(`L7: ${name}`, () => {
      const r = raw({ endpointSelector: {}, ingress: [{ toPorts: [{ ports: [{ port: "80", protocol: "TCP" }], rules }] }] });
      assert.deepEqual(r.peerRules, [pr({ ports: [port("TCP", 80)], proxy })]);
    });
  }

  test("L7: DNS rules may use UDP and ANY on egress", () => {
    const r = raw({
      endpointSelector: {},
      egress: [{ toPorts: [{ ports: [{ port: "53", protocol: "ANY" }], rules: { dns: [{ matchName: "cilium.io" }] } }] }],
    });
    assert.deepEqual(r.peerRules, [pr({ section: "egress", ports: [port("ANY", 53)], proxy: true })]);
  });

  test("a port rule without ports matches nothing: no peer rule", () => {
    const r = raw({ endpointSelector: {}, ingress: [{ fromEntities: ["host"], toPorts: [{}, { ports: [] }] }] });
    assert.deepEqual(r.peerRules, []);
    assert.equal(r.enforces.ingress, true);
  });

  test("an empty toPorts list is no L4 part", () => {
    const r = raw({ endpointSelector: {}, ingress: [{ fromEntities: ["host"], toPorts: [] }] });
    assert.deepEqual(r.peerRules, [pr({ peers: [reserved("host")] })]);
  });

  const icmp: Array<[string, unknown[], PortMatch[]]> = [
    ["numeric type, IPv4 by default", [{ type: 8 }], [port("ICMP", 8)]],
    ["numeric string type", [{ type: "0" }, { type: "255", family: "IPv6" }], [port("ICMP", 0), port("ICMPv6", 255)]],
    ["IPv4 names", [{ type: "EchoRequest" }, { type: "Echo" }, { type: "DestinationUnreachable", family: "IPv4" }], [port("ICMP", 8), port("ICMP", 8), port("ICMP", 3)]],
    ["IPv6 names", [{ type: "EchoRequest", family: "IPv6" }, { type: "NeighborSolicitation", family: "IPv6" }], [port("ICMPv6", 128), port("ICMPv6", 135)]],
    ["empty family is IPv4", [{ type: "TimeExceeded", family: "" }], [port("ICMP", 11)]],
  ];
  for (const [name, fields, expected] of icmp) {
    test(`ICMP: ${name}`, () => {
      const r = raw({ endpointSelector: {}, ingressDeny: [{ fromEntities: ["world"], icmps: [{ fields }] }] });
      assert.deepEqual(r.peerRules, [pr({ section: "ingressDeny", peers: WORLD, ports: expected })]);
    });
  }

  test("ICMP: several icmps entries are ORed", () => {
    const r = raw({ endpointSelector: {}, egress: [{ icmps: [{ fields: [{ type: 8 }] }, { fields: [{ type: 128, family: "IPv6" }] }] }] });
    assert.deepEqual(r.peerRules, [pr({ section: "egress", ports: [port("ICMP", 8), port("ICMPv6", 128)] })]);
  });

  test("deny port rules", () => {
    const r = raw({ endpointSelector: {}, ingressDeny: [{ toPorts: [{ ports: [{ port: "22", protocol: "TCP" }, { port: "ssh" }] }] }] });
    assert.deepEqual(r.peerRules, [pr({ section: "ingressDeny", ports: [port("TCP", 22), named("ANY", "ssh")] })]);
  });
});

describe("default deny (enforces)", () => {
  const cases: Array<[string, Record<string, unknown>, [boolean, boolean], number]> = [
    ["ingress: [{}] enforces ingress and allows nothing", { ingress: [{}] }, [true, false], 0],
    ["egress: [{}] enforces egress", { egress: [{}] }, [false, true], 0],
    ["a deny section alone enforces its direction", { ingressDeny: [{ fromEntities: ["world"] }] }, [true, false], 1],
    ["an empty list next to a non-empty one enforces nothing", { ingress: [], egressDeny: [{}] }, [false, true], 0],
    ["enableDefaultDeny.ingress false", { ingress: [{ fromEntities: ["host"] }], egress: [{}], enableDefaultDeny: { ingress: false } }, [false, true], 1],
    ["enableDefaultDeny.egress false", { ingress: [{}], egress: [{}], enableDefaultDeny: { egress: false } }, [true, false], 0],
    ["enableDefaultDeny true does not enforce a direction without elements", { ingress: [{}], enableDefaultDeny: { ingress: true, egress: true } }, [true, false], 0],
    ["null sections are absent (Go's decoder)", { ingress: [{}], egress: null }, [true, false], 0],
    ["an element with only an L4 part allows from any peer", { ingress: [{ toPorts: [{ ports: [{ port: "80" }] }] }] }, [true, false], 1],
  ];
  for (const [name, sections, enforces, peerRules] of cases) {
    test(name, () => {
      const r = raw({ endpointSelector: {}, ...sections });
      assert.deepEqual(r.enforces, { ingress: enforces[0], egress: enforces[1] });
      assert.equal(r.peerRules.length, peerRules);
    });
  }

  test("description, labels and log are accepted and ignored", () => {
    const r = raw({
      endpointSelector: {},
      ingress: [{}],
      description: "d",
      labels: [{ key: "name", value: "x" }, "k8s:team=a"],
      log: { value: "my-policy" },
    });
    assert.deepEqual(r, rule("p", 0, sel(), [true, false], []));
  });
});

describe("namespace scoping", () => {
  const cnpCases: Array<[string, unknown, Requirement[]]> = [
    ["empty selector: every pod of the namespace", {}, [In(NS, "ns1")]],
    ["labels get the policy's namespace", { matchLabels: { app: "db" } }, [In("any:app", "db"), In(NS, "ns1")]],
    ["k8s: namespace label kept", { matchLabels: { "k8s:io.kubernetes.pod.namespace": "other" } }, [In(NS, "other")]],
    ["any-source namespace label kept", { matchLabels: { "io.kubernetes.pod.namespace": "other" } }, [In("any:io.kubernetes.pod.namespace", "other")]],
    ["namespace label in an expression kept", { matchExpressions: [{ key: "k8s:io.kubernetes.pod.namespace", operator: "NotIn", values: ["x"] }] }, [NotIn(NS, "x")]],
    ["namespace labels select namespaces: none added", { matchLabels: { "k8s:io.cilium.k8s.namespace.labels.team": "a" } }, [In(`${NSL}team`, "a")]],
    ["any-source namespace labels too", { matchLabels: { "io.cilium.k8s.namespace.labels.team": "a" } }, [In("any:io.cilium.k8s.namespace.labels.team", "a")]],
    ["reserved labels are not scoped", { matchLabels: { "reserved:host": "" } }, [In("reserved:host", "")]],
    ["other sources of the namespace key are scoped", { matchLabels: { "container:io.kubernetes.pod.namespace": "x" } }, [In("container:io.kubernetes.pod.namespace", "x"), In(NS, "ns1")]],
  ];
  for (const [name, selector, requirements] of cnpCases) {
    test(`CiliumNetworkPolicy peer: ${name}`, () => {
      const r = cnp({ endpointSelector: {}, ingress: [{ fromEndpoints: [selector] }], egressDeny: [{ toEndpoints: [selector] }] });
      assert.deepEqual(r.peerRules, [
        pr({ policy: "cnp/ns1/pol", peers: [sel(...requirements)] }),
        pr({ policy: "cnp/ns1/pol", section: "egressDeny", peers: [sel(...requirements)] }),
      ]);
    });
  }

  const ccnpCases: Array<[string, unknown, Requirement[]]> = [
    ["empty selector: any pod", {}, [Exists(NS)]],
    ["labels are limited to pods", { matchLabels: { app: "db" } }, [In("any:app", "db"), Exists(NS)]],
    ["namespace label kept", { matchLabels: { "k8s:io.kubernetes.pod.namespace": "kube-system" } }, [In(NS, "kube-system")]],
    ["namespace labels still limited to pods", { matchLabels: { "k8s:io.cilium.k8s.namespace.labels.team": "a" } }, [In(`${NSL}team`, "a"), Exists(NS)]],
    ["reserved labels are not scoped", { matchExpressions: [{ key: "reserved:health", operator: "Exists" }] }, [Exists("reserved:health")]],
  ];
  for (const [name, selector, requirements] of ccnpCases) {
    test(`CiliumClusterwideNetworkPolicy peer: ${name}`, () => {
      assert.deepEqual(ccnp({ endpointSelector: {}, egress: [{ toEndpoints: [selector] }] }).peerRules, [
        pr({ policy: "ccnp/pol", section: "egress", peers: [sel(...requirements)] }),
      ]);
    });
  }

  test("CiliumClusterwideNetworkPolicy: peers of a rule for initializing endpoints are not limited to pods", () => {
    const r = ccnp({ endpointSelector: { matchLabels: { "reserved:init": "" } }, egress: [{ toEndpoints: [{ matchLabels: { app: "dns" } }] }] });
    assert.deepEqual(r.subject, sel(In("reserved:init", "")));
    assert.deepEqual(r.peerRules[0]!.peers, [sel(In("any:app", "dns"))]);
  });

  test("CiliumNetworkPolicy: a rule for initializing endpoints is still scoped (only clusterwide policies make the exception)", () => {
    const r = cnp({ endpointSelector: { matchLabels: { "reserved:init": "" } }, egress: [{ toEndpoints: [{ matchLabels: { app: "dns" } }] }] });
    assert.deepEqual(r.subject, sel(In("reserved:init", ""), In(NS, "ns1")));
    assert.deepEqual(r.peerRules[0]!.peers, [sel(In("any:app", "dns"), In(NS, "ns1"))]);
  });

  test("CiliumNetworkPolicy subject: the policy's namespace replaces a k8s: namespace match, ANDs with others", () => {
    assert.deepEqual(cnp({ endpointSelector: { matchLabels: { "k8s:io.kubernetes.pod.namespace": "other", app: "x" } }, ingress: [{}] }).subject,
      sel(In(NS, "ns1"), In("any:app", "x")));
    assert.deepEqual(cnp({ endpointSelector: { matchLabels: { "io.kubernetes.pod.namespace": "other" } }, ingress: [{}] }).subject,
      sel(In("any:io.kubernetes.pod.namespace", "other"), In(NS, "ns1")));
    assert.deepEqual(cnp({ endpointSelector: { matchExpressions: [{ key: "app", operator: "Exists" }] }, ingress: [{}] }).subject,
      sel(In(NS, "ns1"), Exists("any:app")));
  });

  test("CiliumNetworkPolicy without a namespace is in default", () => {
    const parsed = parsePolicyObject({ apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name: "pol" }, spec: { endpointSelector: {}, ingress: [{}] } });
    assert.equal(parsed.name, "cnp/default/pol");
    assert.deepEqual(parsed.rules[0]!.subject, sel(In(NS, "default")));
  });

  test("raw rules are not scoped", () => {
    assert.deepEqual(raw({ endpointSelector: { matchLabels: { app: "x" } }, ingress: [{ fromEndpoints: [{}] }] }),
      rule("p", 0, sel(In("any:app", "x")), [true, false], [pr({ peers: [sel()] })]));
  });

  test("spec and specs together: spec is rule 0", () => {
    const parsed = parsePolicyObject({
      apiVersion: "cilium.io/v2",
      kind: "CiliumClusterwideNetworkPolicy",
      metadata: { name: "both", namespace: "ignored" },
      spec: { endpointSelector: {}, ingress: [{}] },
      specs: [{ endpointSelector: {}, egress: [{}] }, { endpointSelector: {}, egress: [{ toEntities: ["world"] }] }],
      status: { anything: true },
    });
    assert.equal(parsed.name, "ccnp/both");
    assert.deepEqual(parsed.rules.map((r) => [r.index, r.enforces.ingress, r.enforces.egress]), [[0, true, false], [1, false, true], [2, false, true]]);
    assert.deepEqual(parsed.rules[2]!.peerRules, [pr({ policy: "ccnp/both", rule: 2, section: "egress", peers: WORLD })]);
  });
});

describe("Kubernetes NetworkPolicy", () => {
  const enforcement: Array<[string, Record<string, unknown>, [boolean, boolean]]> = [
    ["no policyTypes, no rules: ingress", {}, [true, false]],
    ["no policyTypes, egress rules: both", { egress: [{}] }, [true, true]],
    ["no policyTypes, empty egress list: ingress only", { egress: [] }, [true, false]],
    ["policyTypes Ingress", { policyTypes: ["Ingress"] }, [true, false]],
    ["policyTypes Egress", { policyTypes: ["Egress"] }, [false, true]],
    ["policyTypes both", { policyTypes: ["Ingress", "Egress"] }, [true, true]],
    // Cilium applies rules of a direction that policyTypes leaves out, and so enforces it.
    ["policyTypes Egress with ingress rules (Cilium)", { policyTypes: ["Egress"], ingress: [{}] }, [true, true]],
    ["policyTypes Ingress with egress rules (Cilium)", { policyTypes: ["Ingress"], egress: [{}] }, [true, true]],
  ];
  for (const [name, spec, enforces] of enforcement) {
    test(`enforcement: ${name}`, () => {
      assert.deepEqual(knp({ podSelector: {}, ...spec }).enforces, { ingress: enforces[0], egress: enforces[1] });
    });
  }

  const peers: Array<[string, unknown, Selector[]]> = [
    ["podSelector: pods of the policy's namespace", { podSelector: { matchLabels: { role: "fe" } } }, [sel(In("k8s:role", "fe"), In(NS, "ns1"))]],
    ["empty podSelector: every pod of the namespace", { podSelector: {} }, [sel(In(NS, "ns1"))]],
    ["podSelector keys are k8s: as written", { podSelector: { matchExpressions: [{ key: "app.kubernetes.io/name", operator: "In", values: ["a", "b"] }] } },
      [sel(In(NS, "ns1"), In("k8s:app.kubernetes.io/name", "a", "b"))]],
    ["podSelector naming the namespace label is overridden", { podSelector: { matchLabels: { "io.kubernetes.pod.namespace": "x" } } }, [sel(In(NS, "ns1"))]],
    ["empty namespaceSelector: every namespace", { namespaceSelector: {} }, [sel(Exists(NS))]],
    ["empty namespaceSelector with podSelector", { namespaceSelector: {}, podSelector: { matchLabels: { app: "a" } } }, [sel(In("k8s:app", "a"), Exists(NS))]],
    ["namespaceSelector expressions keep their operators", {
      namespaceSelector: {
        matchLabels: { "kubernetes.io/metadata.name": "prod" },
        matchExpressions: [{ key: "team", operator: "NotIn", values: ["x"] }, { key: "tier", operator: "Exists" }],
      },
    }, [sel(In(`${NSL}kubernetes.io/metadata.name`, "prod"), NotIn(`${NSL}team`, "x"), Exists(`${NSL}tier`))]],
    ["namespaceSelector and podSelector: ANDed, labels first", {
      namespaceSelector: { matchExpressions: [{ key: "env", operator: "In", values: ["prod"] }] },
      podSelector: { matchLabels: { app: "a" }, matchExpressions: [{ key: "canary", operator: "DoesNotExist" }] },
    }, [sel(In("k8s:app", "a"), In(`${NSL}env`, "prod"), DNE("k8s:canary"))]],
    ["ipBlock: CIDR and ipblock labels", { ipBlock: { cidr: "192.168.1.7/24", except: ["192.168.1.128/25"] } }, [
      sel(Exists("cidr:192.168.1.0/24"), DNE("cidr:192.168.1.128/25")),
      sel(Exists("ipblock:192.168.1.0/24"), DNE("ipblock:192.168.1.128/25")),
    ]],
    ["ipBlock /0 also selects the world", { ipBlock: { cidr: "::/0", except: ["fd00::/8"] } }, [
      reserved("world"), reserved("world-ipv6"),
      sel(Exists("cidr:::/0"), DNE("cidr:fd00::/8")),
      sel(Exists("ipblock:::/0"), DNE("ipblock:fd00::/8")),
    ]],
  ];
  for (const [name, peer, expected] of peers) {
    test(`peer: ${name}`, () => {
      const r = knp({ podSelector: {}, ingress: [{ from: [peer] }], egress: [{ to: [peer] }] });
      assert.deepEqual(r.peerRules, [
        pr({ policy: "knp/ns1/pol", peers: expected }),
        pr({ policy: "knp/ns1/pol", section: "egress", peers: expected }),
      ]);
    });
  }

  const ports: Array<[string, unknown[], PortMatch[]]> = [
    ["protocol defaults to TCP", [{ port: 80 }], [port("TCP", 80)]],
    ["no port: every port of the protocol", [{ protocol: "UDP" }], [port("UDP", 0, 0)]],
    ["named port", [{ port: "metrics", protocol: "SCTP" }], [named("SCTP", "metrics")]],
    ["range", [{ port: 32000, endPort: 32768 }], [port("TCP", 32000, 32768)]],
    ["several ports are ORed", [{ port: 53, protocol: "UDP" }, { port: 53 }], [port("UDP", 53), port("TCP", 53)]],
  ];
  for (const [name, list, expected] of ports) {
    test(`ports: ${name}`, () => {
      assert.deepEqual(knp({ podSelector: {}, ingress: [{ ports: list }] }).peerRules, [pr({ policy: "knp/ns1/pol", ports: expected })]);
    });
  }

  test("empty from and ports lists are everything", () => {
    assert.deepEqual(knp({ podSelector: {}, ingress: [{ from: [], ports: [] }] }).peerRules, [pr({ policy: "knp/ns1/pol" })]);
  });

  test("without a namespace the policy is in default", () => {
    const parsed = parsePolicyObject({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "x" }, spec: { podSelector: {} } });
    assert.equal(parsed.name, "knp/default/x");
    assert.deepEqual(parsed.rules[0]!.subject, sel(In(NS, "default")));
  });

  test("status and extra metadata are ignored", () => {
    const parsed = parsePolicyObject({
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "x", namespace: "a", labels: { team: "t" }, resourceVersion: "7", uid: "u" },
      spec: { podSelector: {} },
      status: {},
    });
    assert.equal(parsed.name, "knp/a/x");
  });
});

// ---- rejected input -------------------------------------------------------------------

type Case = [name: string, run: () => unknown, field: string, code?: ErrorCode, message?: RegExp];

/** A raw rule with one ingress element. */
const rIn = (element: unknown, extra: Record<string, unknown> = {}) => () => raw({ endpointSelector: {}, ingress: [element], ...extra });
const rEg = (element: unknown) => () => raw({ endpointSelector: {}, egress: [element] });
/** A raw rule with one egress element whose toPorts is `portRule`. */
const rPorts = (portRule: unknown, section = "egress") => () => raw({ endpointSelector: {}, [section]: [{ toPorts: [portRule] }] });
const P = "rules[0].egress[0].toPorts[0]";

describe("rejected raw Cilium rules", () => {
  const cases: Case[] = [
    ["not a list", () => parseCiliumRules("p", "x" as unknown as unknown[]), "rules"],
    ["a rule that is not an object", () => parseCiliumRules("p", [{ endpointSelector: {}, ingress: [{}] }, 7]), "rules[1]"],
    ["missing endpointSelector", () => raw({ ingress: [{}] }), "rules[0].endpointSelector", "INVALID_POLICY", /is required/],
    ["nodeSelector", () => raw({ nodeSelector: {}, ingress: [{}] }), "rules[0].nodeSelector", "UNSUPPORTED_FIELD", /host policies/],
    ["unknown rule field", () => raw({ endpointSelector: {}, ingres: [{}] }), "rules[0].ingres", "INVALID_POLICY", /unknown field/],
    ["a field in the wrong case", () => raw({ endpointSelector: {}, Ingress: [{}] }), "rules[0].Ingress", "INVALID_POLICY", /did you mean ingress/],
    ["no section", () => raw({ endpointSelector: {} }), "rules[0]", "INVALID_POLICY", /at least one non-empty/],
    ["only empty sections", () => raw({ endpointSelector: {}, ingress: [], egressDeny: [] }), "rules[0]", "INVALID_POLICY", /at least one non-empty/],
    ["a section that is not a list", () => raw({ endpointSelector: {}, ingress: {} }), "rules[0].ingress", "INVALID_POLICY", /must be a list/],
    ["an element that is not an object", () => raw({ endpointSelector: {}, ingress: [null] }), "rules[0].ingress[0]"],
    ["description not a string", () => raw({ endpointSelector: {}, ingress: [{}], description: 3 }), "rules[0].description"],
    ["labels not a list", () => raw({ endpointSelector: {}, ingress: [{}], labels: { a: "b" } }), "rules[0].labels"],
    ["enableDefaultDeny not an object", rIn({}, { enableDefaultDeny: true }), "rules[0].enableDefaultDeny"],
    ["enableDefaultDeny value", rIn({}, { enableDefaultDeny: { ingress: "no" } }), "rules[0].enableDefaultDeny.ingress", "INVALID_POLICY", /true or false/],
    ["enableDefaultDeny unknown field", rIn({}, { enableDefaultDeny: { ingres: false } }), "rules[0].enableDefaultDeny.ingres"],

    // peers
    ["fromRequires", rIn({ fromRequires: [{}] }), "rules[0].ingress[0].fromRequires", "UNSUPPORTED_FIELD"],
    ["fromGroups", rIn({ fromGroups: [{}] }), "rules[0].ingress[0].fromGroups", "UNSUPPORTED_FIELD"],
    ["fromNodes", rIn({ fromNodes: [{}] }), "rules[0].ingress[0].fromNodes", "UNSUPPORTED_FIELD"],
    ["authentication", rIn({ authentication: { mode: "required" } }), "rules[0].ingress[0].authentication", "UNSUPPORTED_FIELD"],
    ["toFQDNs", rEg({ toFQDNs: [{ matchName: "cilium.io" }] }), "rules[0].egress[0].toFQDNs", "UNSUPPORTED_FIELD", /toFQDNs/],
    ["toServices", rEg({ toServices: [{}] }), "rules[0].egress[0].toServices", "UNSUPPORTED_FIELD"],
    ["toGroups", rEg({ toGroups: [{}] }), "rules[0].egress[0].toGroups", "UNSUPPORTED_FIELD"],
    ["toNodes", rEg({ toNodes: [{}] }), "rules[0].egress[0].toNodes", "UNSUPPORTED_FIELD"],
    ["toRequires", rEg({ toRequires: [{}] }), "rules[0].egress[0].toRequires", "UNSUPPORTED_FIELD"],
    ["toServices in a deny section", () => raw({ endpointSelector: {}, egressDeny: [{ toServices: [{}] }] }), "rules[0].egressDeny[0].toServices", "UNSUPPORTED_FIELD"],
    ["authentication in a deny section is unknown", () => raw({ endpointSelector: {}, ingressDeny: [{ authentication: {} }] }), "rules[0].ingressDeny[0].authentication"],
    ["an ingress field in egress", rEg({ fromEndpoints: [{}] }), "rules[0].egress[0].fromEndpoints", "INVALID_POLICY", /unknown field/],
    ["an explicitly empty peer list", rIn({ fromEndpoints: [] }), "rules[0].ingress[0].fromEndpoints", "INVALID_POLICY", /must not be empty/],
    ["an explicitly empty CIDR list", rEg({ toCIDR: [], toPorts: [{ ports: [{ port: "80" }] }] }), "rules[0].egress[0].toCIDR"],
    ["two kinds of L3 field in one element", rIn({ fromEndpoints: [{}], fromCIDR: ["10.0.0.0/8"] }), "rules[0].ingress[0]", "INVALID_POLICY", /combines fromEndpoints and fromCIDR/],
    ["fromCIDR with fromCIDRSet", rEg({ toCIDR: ["10.0.0.0/8"], toCIDRSet: [{ cidr: "10.0.0.0/8" }] }), "rules[0].egress[0]", "INVALID_POLICY", /combines toCIDR and toCIDRSet/],
    ["entities with endpoints", rEg({ toEntities: ["world"], toEndpoints: [{}] }), "rules[0].egress[0]", "INVALID_POLICY", /combines/],
    ["a null peer selector", rIn({ fromEndpoints: [null] }), "rules[0].ingress[0].fromEndpoints[0]"],
    ["unknown entity", rIn({ fromEntities: ["host", "internet"] }), "rules[0].ingress[0].fromEntities[1]", "INVALID_POLICY", /internet|is not an entity/],
    ["entity not a string", rIn({ fromEntities: [1] }), "rules[0].ingress[0].fromEntities[0]"],

    // CIDRs
    ["prefix length too long", rIn({ fromCIDR: ["10.0.0.0/33"] }), "rules[0].ingress[0].fromCIDR[0]", "INVALID_POLICY", /at most 32/],
    ["leading zero in the length", rIn({ fromCIDR: ["10.0.0.0/08"] }), "rules[0].ingress[0].fromCIDR[0]"],
    ["bad address", rIn({ fromCIDR: ["10.0.0.256/8"] }), "rules[0].ingress[0].fromCIDR[0]"],
    ["leading zero in an octet", rIn({ fromCIDR: ["10.0.0.01/32"] }), "rules[0].ingress[0].fromCIDR[0]"],
    ["zone", rIn({ fromCIDR: ["fe80::1%eth0/64"] }), "rules[0].ingress[0].fromCIDR[0]"],
    ["not a string", rIn({ fromCIDR: [10] }), "rules[0].ingress[0].fromCIDR[0]"],
    ["CIDR set without cidr", rIn({ fromCIDRSet: [{ except: ["10.0.0.0/8"] }] }), "rules[0].ingress[0].fromCIDRSet[0].cidr", "INVALID_POLICY", /is required/],
    ["CIDR set needs a prefix, not an address", rIn({ fromCIDRSet: [{ cidr: "10.0.0.1" }] }), "rules[0].ingress[0].fromCIDRSet[0].cidr"],
    ["except outside the block", rIn({ fromCIDRSet: [{ cidr: "10.0.0.0/8", except: ["10.96.0.0/12", "11.0.0.0/16"] }] }), "rules[0].ingress[0].fromCIDRSet[0].except[1]", "INVALID_POLICY", /inside 10\.0\.0\.0\/8/],
    ["except larger than the block", rIn({ fromCIDRSet: [{ cidr: "10.0.0.0/8", except: ["10.0.0.0/7"] }] }), "rules[0].ingress[0].fromCIDRSet[0].except[0]"],
    ["except of the other family", rIn({ fromCIDRSet: [{ cidr: "0.0.0.0/0", except: ["::/1"] }] }), "rules[0].ingress[0].fromCIDRSet[0].except[0]"],
    ["except not a prefix", rIn({ fromCIDRSet: [{ cidr: "10.0.0.0/8", except: ["10.1.1.1"] }] }), "rules[0].ingress[0].fromCIDRSet[0].except[0]"],
    ["cidrGroupRef", rIn({ fromCIDRSet: [{ cidrGroupRef: "g" }] }), "rules[0].ingress[0].fromCIDRSet[0].cidrGroupRef", "UNSUPPORTED_FIELD"],
    ["cidrGroupSelector", rIn({ fromCIDRSet: [{ cidrGroupSelector: {} }] }), "rules[0].ingress[0].fromCIDRSet[0].cidrGroupSelector", "UNSUPPORTED_FIELD"],

    // ports
    ["toPorts with icmps", rEg({ toPorts: [{ ports: [{ port: "80" }] }], icmps: [{ fields: [{ type: 8 }] }] }), "rules[0].egress[0]", "INVALID_POLICY", /not both/],
    ["a port number written as a number", rPorts({ ports: [{ port: 80 }] }), `${P}.ports[0].port`, "INVALID_POLICY", /write "80"/],
    ["missing port", rPorts({ ports: [{ protocol: "TCP" }] }), `${P}.ports[0].port`, "INVALID_POLICY", /is required/],
    ["port out of range", rPorts({ ports: [{ port: "65536" }] }), `${P}.ports[0].port`],
    ["port with a leading zero", rPorts({ ports: [{ port: "080" }] }), `${P}.ports[0].port`, "INVALID_POLICY", /octal/],
    ["negative port", rPorts({ ports: [{ port: "-1" }] }), `${P}.ports[0].port`],
    ["port name with an underscore", rPorts({ ports: [{ port: "my_port" }] }), `${P}.ports[0].port`],
    ["port name too long", rPorts({ ports: [{ port: "abcdefghijklmnop" }] }), `${P}.ports[0].port`],
    ["port name with a double dash", rPorts({ ports: [{ port: "a--b" }] }), `${P}.ports[0].port`],
    ["empty port", rPorts({ ports: [{ port: "" }] }), `${P}.ports[0].port`],
    ["bad protocol", rPorts({ ports: [{ port: "80" }, { port: "80", protocol: "HTTP" }] }), `${P}.ports[1].protocol`, "INVALID_POLICY", /TCP, UDP, SCTP or ANY/],
    ["ICMP as a port protocol", rPorts({ ports: [{ port: "8", protocol: "ICMP" }] }), `${P}.ports[0].protocol`, "INVALID_POLICY", /icmps/],
    ["endPort below port", rPorts({ ports: [{ port: "80", endPort: 79 }] }), `${P}.ports[0].endPort`, "INVALID_POLICY", /at least port/],
    ["endPort with a named port", rPorts({ ports: [{ port: "http", endPort: 90 }] }), `${P}.ports[0].endPort`, "INVALID_POLICY", /numeric port/],
    ["endPort with port 0", rPorts({ ports: [{ port: "0", endPort: 90 }] }), `${P}.ports[0].endPort`],
    ["endPort too large", rPorts({ ports: [{ port: "80", endPort: 65536 }] }), `${P}.ports[0].endPort`],
    ["endPort not a number", rPorts({ ports: [{ port: "80", endPort: "90" }] }), `${P}.ports[0].endPort`],
    ["unknown port field", rPorts({ ports: [{ port: "80", proto: "TCP" }] }), `${P}.ports[0].proto`],
    ["more than 40 ports", rPorts({ ports: Array.from({ length: 41 }, (_, i) => ({ port: String(i + 1) })) }), `${P}.ports`, "INVALID_POLICY", /40/],
    ["terminatingTLS", rPorts({ ports: [{ port: "443" }], terminatingTLS: {} }), `${P}.terminatingTLS`, "UNSUPPORTED_FIELD"],
    ["originatingTLS", rPorts({ ports: [{ port: "443" }], originatingTLS: {} }), `${P}.originatingTLS`, "UNSUPPORTED_FIELD"],
    ["serverNames", rPorts({ ports: [{ port: "443" }], serverNames: ["one.one.one.one"] }), `${P}.serverNames`, "UNSUPPORTED_FIELD"],
    ["listener", rPorts({ ports: [{ port: "443" }], listener: { name: "l" } }), `${P}.listener`, "UNSUPPORTED_FIELD"],

    // L7
    ["L7 rules in a deny section", rPorts({ ports: [{ port: "80", protocol: "TCP" }], rules: { http: [{}] } }, "egressDeny"),
      "rules[0].egressDeny[0].toPorts[0].rules", "INVALID_POLICY", /deny rules cannot have L7/],
    ["TLS in a deny section is unknown", rPorts({ ports: [{ port: "443" }], terminatingTLS: {} }, "ingressDeny"), "rules[0].ingressDeny[0].toPorts[0].terminatingTLS"],
    ["DNS rules on ingress", rPorts({ ports: [{ port: "53", protocol: "UDP" }], rules: { dns: [{ matchName: "a.b" }] } }, "ingress"),
      "rules[0].ingress[0].toPorts[0].rules.dns", "INVALID_POLICY", /not allowed on ingress/],
    ["HTTP rules on a port of any protocol", rPorts({ ports: [{ port: "80" }], rules: { http: [{ path: "/" }] } }), `${P}.ports[0].protocol`, "INVALID_POLICY", /only to TCP/],
    ["HTTP rules on UDP", rPorts({ ports: [{ port: "80", protocol: "TCP" }, { port: "81", protocol: "UDP" }], rules: { http: [] } }), `${P}.ports[1].protocol`],
    ["L7 rules on port 0", rPorts({ ports: [{ port: "0", protocol: "TCP" }], rules: { http: [] } }), `${P}.ports[0].port`, "INVALID_POLICY", /port 0/],
    ["DNS rules without ports", rPorts({ rules: { dns: [{ matchPattern: "*" }] } }), `${P}.ports`, "INVALID_POLICY", /ports listed/],
    ["DNS rules on a range", rPorts({ ports: [{ port: "53", endPort: 54, protocol: "UDP" }], rules: { dns: [{ matchPattern: "*" }] } }), `${P}.ports[0].port`, "INVALID_POLICY", /ranges/],
    ["two L7 protocols", rPorts({ ports: [{ port: "80", protocol: "TCP" }], rules: { http: [], kafka: [] } }), `${P}.rules`, "INVALID_POLICY", /one L7 protocol/],
    ["l7 without l7proto", rPorts({ ports: [{ port: "80", protocol: "TCP" }], rules: { l7: [{ a: "b" }] } }), `${P}.rules.l7`, "INVALID_POLICY", /l7proto/],
    ["unknown HTTP rule field", rPorts({ ports: [{ port: "80", protocol: "TCP" }], rules: { http: [{ method: "GET" }, { paths: "/" }] } }), `${P}.rules.http[1].paths`, "INVALID_POLICY", /unknown field/],
    ["HTTP header not a string", rPorts({ ports: [{ port: "80", protocol: "TCP" }], rules: { http: [{ headers: ["a", 1] }] } }), `${P}.rules.http[0].headers[1]`],
    ["DNS rule field", rPorts({ ports: [{ port: "53", protocol: "UDP" }], rules: { dns: [{ matchName: 5 }] } }), `${P}.rules.dns[0].matchName`],
    ["HTTP written HTTP (Cilium docs' http.yaml)", rPorts({ ports: [{ port: "80", protocol: "TCP" }], rules: { HTTP: [{ method: "GET" }] } }), `${P}.rules.HTTP`, "INVALID_POLICY", /did you mean http/],
    ["rules not an object", rPorts({ ports: [{ port: "80", protocol: "TCP" }], rules: [] }), `${P}.rules`],

    // ICMP
    ["ICMP type out of range", rEg({ icmps: [{ fields: [{ type: 256 }] }] }), "rules[0].egress[0].icmps[0].fields[0].type"],
    ["ICMP type missing", rEg({ icmps: [{ fields: [{ family: "IPv4" }] }] }), "rules[0].egress[0].icmps[0].fields[0].type", "INVALID_POLICY", /is required/],
    ["IPv4 name for IPv6", rEg({ icmps: [{ fields: [{ type: "Echo", family: "IPv6" }] }] }), "rules[0].egress[0].icmps[0].fields[0].type", "INVALID_POLICY", /ICMPv6 type name/],
    ["unknown ICMP name", rEg({ icmps: [{ fields: [{ type: "Ping" }] }] }), "rules[0].egress[0].icmps[0].fields[0].type"],
    ["ICMP type with a leading zero", rEg({ icmps: [{ fields: [{ type: "08" }] }] }), "rules[0].egress[0].icmps[0].fields[0].type"],
    ["ICMP family", rEg({ icmps: [{ fields: [{ type: 8, family: "ipv4" }] }] }), "rules[0].egress[0].icmps[0].fields[0].family", "INVALID_POLICY", /IPv4 or IPv6/],
    ["unknown ICMP rule field", rEg({ icmps: [{ field: [] }] }), "rules[0].egress[0].icmps[0].field"],
    ["more than 40 ICMP types", rEg({ icmps: [{ fields: Array.from({ length: 41 }, () => ({ type: 8 })) }] }), "rules[0].egress[0].icmps[0].fields"],

    // selectors
    ["selector not an object", () => raw({ endpointSelector: "app=web", ingress: [{}] }), "rules[0].endpointSelector"],
    ["unknown selector field", () => raw({ endpointSelector: { matchLabel: {} }, ingress: [{}] }), "rules[0].endpointSelector.matchLabel", "INVALID_POLICY", /unknown field/],
    ["label value not a string", () => raw({ endpointSelector: { matchLabels: { port: 80 } }, ingress: [{}] }), "rules[0].endpointSelector.matchLabels.port", "INVALID_POLICY", /must be a string/],
    ["bad label value", () => raw({ endpointSelector: { matchLabels: { app: "web server" } }, ingress: [{}] }), "rules[0].endpointSelector.matchLabels.app"],
    ["label value too long", () => raw({ endpointSelector: { matchLabels: { app: "a".repeat(64) } }, ingress: [{}] }), "rules[0].endpointSelector.matchLabels.app", "INVALID_POLICY", /63/],
    ["bad label key", rIn({ fromEndpoints: [{ matchLabels: { "app!": "x" } }] }), 'rules[0].ingress[0].fromEndpoints[0].matchLabels["app!"]'],
    ["label key ending in a dash", rIn({ fromEndpoints: [{ matchLabels: { "app-": "x" } }] }), 'rules[0].ingress[0].fromEndpoints[0].matchLabels["app-"]'],
    ["bad key prefix", rIn({ fromEndpoints: [{ matchLabels: { "Example.COM/app": "x" } }] }), 'rules[0].ingress[0].fromEndpoints[0].matchLabels["Example.COM/app"]'],
    ["two keys naming one label", () => raw({ endpointSelector: { matchLabels: { app: "a", "any:app": "b" } }, ingress: [{}] }),
      'rules[0].endpointSelector.matchLabels["any:app"]', "INVALID_POLICY", /same label/],
    ["lower-case operator (Cilium docs' match-expressions examples)", rIn({ fromEndpoints: [{ matchExpressions: [{ key: "a", operator: "in", values: ["x"] }] }] }),
      "rules[0].ingress[0].fromEndpoints[0].matchExpressions[0].operator", "INVALID_POLICY", /In, NotIn, Exists, DoesNotExist/],
    ["In without values", rIn({ fromEndpoints: [{ matchExpressions: [{ key: "a", operator: "In" }] }] }),
      "rules[0].ingress[0].fromEndpoints[0].matchExpressions[0].values", "INVALID_POLICY", /at least one value/],
    ["Exists with values", rIn({ fromEndpoints: [{ matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] }] }),
      "rules[0].ingress[0].fromEndpoints[0].matchExpressions[0].values", "INVALID_POLICY", /must be empty/],
    ["expression without key", rIn({ fromEndpoints: [{ matchExpressions: [{ operator: "Exists" }] }] }), "rules[0].ingress[0].fromEndpoints[0].matchExpressions[0].key"],
    ["expression value not a string", rIn({ fromEndpoints: [{ matchExpressions: [{ key: "a", operator: "In", values: [true] }] }] }),
      "rules[0].ingress[0].fromEndpoints[0].matchExpressions[0].values[0]"],
    ["matchExpressions not a list", rIn({ fromEndpoints: [{ matchExpressions: {} }] }), "rules[0].ingress[0].fromEndpoints[0].matchExpressions"],
  ];
  for (const [name, run, field, code, message] of cases) test(name, () => void rejects(run, field, code, message));

  test("the first bad rule of several is named", () => {
    rejects(() => parseCiliumRules("p", [
      { endpointSelector: {}, ingress: [{}] },
      { endpointSelector: {}, ingress: [{}] },
      { endpointSelector: {}, egress: [{ toPorts: [{ ports: [{ port: "80" }, { port: "x_y" }] }] }] },
    ]), "rules[2].egress[0].toPorts[0].ports[1].port");
  });
});

const cnpObject = (spec: unknown, extra: Record<string, unknown> = {}) =>
  () => parsePolicyObject({ apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name: "p", namespace: "n" }, spec, ...extra });
const knpObject = (spec: unknown) =>
  () => parsePolicyObject({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "p", namespace: "n" }, spec });

describe("rejected policy objects", () => {
  const cases: Case[] = [
    ["not an object", () => parsePolicyObject("x"), "policy"],
    ["a list of rules", () => parsePolicyObject([]), "policy", "INVALID_POLICY", /parseCiliumRules/],
    ["no kind", () => parsePolicyObject({ apiVersion: "cilium.io/v2" }), "kind", "INVALID_POLICY", /is required/],
    ["unknown kind", () => parsePolicyObject({ kind: "CiliumNetworkPolicies" }), "kind", "INVALID_POLICY", /CiliumNetworkPolicy/],
    ["wrong apiVersion", () => parsePolicyObject({ apiVersion: "cilium.io/v1", kind: "CiliumNetworkPolicy", metadata: { name: "p" }, spec: {} }), "apiVersion"],
    ["no metadata", () => parsePolicyObject({ apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", spec: {} }), "metadata"],
    ["no name", () => parsePolicyObject({ apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: {}, spec: {} }), "metadata.name", "INVALID_POLICY", /is required/],
    ["bad name", () => parsePolicyObject({ apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name: "My_Policy" }, spec: {} }), "metadata.name"],
    ["bad namespace", () => parsePolicyObject({ apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name: "p", namespace: "a.b" }, spec: {} }), "metadata.namespace"],
    ["unknown top-level field (Cilium docs put description there)", cnpObject({ endpointSelector: {}, ingress: [{}] }, { description: "d" }), "description", "INVALID_POLICY", /unknown field/],
    ["neither spec nor specs", () => parsePolicyObject({ apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name: "p" } }), "spec", "INVALID_POLICY", /spec or specs/],
    ["empty specs", cnpObject(undefined, { specs: [] }), "specs"],
    ["specs not a list", cnpObject(undefined, { specs: {} }), "specs"],
    ["spec not an object", cnpObject([]), "spec"],
    ["a port out of range, named by its full path", cnpObject({ endpointSelector: {}, ingress: [{ toPorts: [{ ports: [{ port: "80" }, { port: "99999" }] }] }] }),
      "spec.ingress[0].toPorts[0].ports[1].port"],
    ["an error in specs", cnpObject({ endpointSelector: {}, ingress: [{}] }, { specs: [{ endpointSelector: {}, egress: [{}] }, { endpointSelector: {}, egress: [{ toEntities: ["x"] }] }] }),
      "specs[1].egress[0].toEntities[0]"],
    ["nodeSelector in a clusterwide policy", () => parsePolicyObject({
      apiVersion: "cilium.io/v2", kind: "CiliumClusterwideNetworkPolicy", metadata: { name: "host" }, spec: { nodeSelector: {}, ingress: [{}] },
    }), "spec.nodeSelector", "UNSUPPORTED_FIELD"],
    ["fromRequires (Cilium docs' requires.yaml)", () => parsePolicyObject({
      apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name: "requires-rule" },
      specs: [{ endpointSelector: { matchLabels: { env: "prod" } }, ingress: [{ fromRequires: [{ matchLabels: { env: "prod" } }] }] }],
    }), "specs[0].ingress[0].fromRequires", "UNSUPPORTED_FIELD"],

    // Kubernetes NetworkPolicy
    ["KNP apiVersion", () => parsePolicyObject({ apiVersion: "networking.k8s.io/v1beta1", kind: "NetworkPolicy", metadata: { name: "p" }, spec: { podSelector: {} } }), "apiVersion"],
    ["KNP without spec", () => parsePolicyObject({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "p" } }), "spec"],
    ["KNP without podSelector", knpObject({ ingress: [] }), "spec.podSelector", "INVALID_POLICY", /is required/],
    ["KNP unknown spec field", knpObject({ podSelector: {}, ingres: [] }), "spec.ingres"],
    ["KNP policy type", knpObject({ podSelector: {}, policyTypes: ["ingress"] }), "spec.policyTypes[0]", "INVALID_POLICY", /Ingress or Egress/],
    ["KNP three policy types", knpObject({ podSelector: {}, policyTypes: ["Ingress", "Egress", "Ingress"] }), "spec.policyTypes"],
    ["KNP to in an ingress rule", knpObject({ podSelector: {}, ingress: [{ to: [] }] }), "spec.ingress[0].to", "INVALID_POLICY", /unknown field/],
    ["KNP empty peer", knpObject({ podSelector: {}, ingress: [{ from: [{}] }] }), "spec.ingress[0].from[0]", "INVALID_POLICY", /podSelector, namespaceSelector or ipBlock/],
    ["KNP ipBlock with a selector", knpObject({ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/8" }, podSelector: {} }] }] }),
      "spec.egress[0].to[0].ipBlock", "INVALID_POLICY", /cannot be combined/],
    ["KNP ipBlock except equal to the block", knpObject({ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["10.0.0.0/8"] } }] }] }),
      "spec.egress[0].to[0].ipBlock.except[0]", "INVALID_POLICY", /smaller/],
    ["KNP ipBlock cidr", knpObject({ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0" } }] }] }), "spec.egress[0].to[0].ipBlock.cidr"],
    ["KNP unknown ipBlock field", knpObject({ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/8", exclude: [] } }] }] }), "spec.egress[0].to[0].ipBlock.exclude"],
    ["KNP bad namespaceSelector", knpObject({ podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: "a", operator: "Equals" }] } }] }] }),
      "spec.ingress[0].from[0].namespaceSelector.matchExpressions[0].operator"],
    ["KNP bad podSelector key", knpObject({ podSelector: { matchLabels: { "k8s:app": "x" } } }), 'spec.podSelector.matchLabels["k8s:app"]'],
    ["KNP port 0", knpObject({ podSelector: {}, ingress: [{ ports: [{ port: 0 }] }] }), "spec.ingress[0].ports[0].port"],
    ["KNP numeric string port", knpObject({ podSelector: {}, ingress: [{ ports: [{ port: "80" }] }] }), "spec.ingress[0].ports[0].port"],
    ["KNP upper-case port name", knpObject({ podSelector: {}, ingress: [{ ports: [{ port: "HTTP" }] }] }), "spec.ingress[0].ports[0].port"],
    ["KNP protocol case", knpObject({ podSelector: {}, ingress: [{ ports: [{ protocol: "tcp", port: 80 }] }] }), "spec.ingress[0].ports[0].protocol", "INVALID_POLICY", /TCP, UDP or SCTP/],
    ["KNP protocol ANY", knpObject({ podSelector: {}, ingress: [{ ports: [{ protocol: "ANY", port: 80 }] }] }), "spec.ingress[0].ports[0].protocol"],
    ["KNP endPort without port", knpObject({ podSelector: {}, egress: [{ ports: [{ endPort: 90 }] }] }), "spec.egress[0].ports[0].endPort", "INVALID_POLICY", /numeric port/],
    ["KNP endPort with a named port", knpObject({ podSelector: {}, egress: [{ ports: [{ port: "web", endPort: 90 }] }] }), "spec.egress[0].ports[0].endPort"],
    ["KNP endPort below port", knpObject({ podSelector: {}, egress: [{ ports: [{ port: 100, endPort: 90 }] }] }), "spec.egress[0].ports[0].endPort", "INVALID_POLICY", /at least port/],
    ["KNP unknown port field", knpObject({ podSelector: {}, egress: [{ ports: [{ port: 80, name: "x" }] }] }), "spec.egress[0].ports[0].name"],
  ];
  for (const [name, run, field, code, message] of cases) test(name, () => void rejects(run, field, code, message));
});

describe("policyNameOf", () => {
  test("names a policy from kind and metadata without reading its spec", () => {
    assert.equal(policyNameOf({ kind: "CiliumNetworkPolicy", metadata: { name: "a", namespace: "b" }, spec: "broken" }), "cnp/b/a");
    assert.equal(policyNameOf({ kind: "CiliumClusterwideNetworkPolicy", metadata: { name: "a", namespace: "b" } }), "ccnp/a");
    assert.equal(policyNameOf({ kind: "NetworkPolicy", metadata: { name: "a" } }), "knp/default/a");
  });

  test("rejects objects it cannot name", () => {
    rejects(() => policyNameOf({ kind: "Pod", metadata: { name: "a" } }), "kind");
    rejects(() => policyNameOf({ kind: "NetworkPolicy", metadata: {} }), "metadata.name");
    rejects(() => policyNameOf(null), "policy");
  });
});
