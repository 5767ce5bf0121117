/**
 * The services the demo runs on until there is a kernel datapath to read
 * real ones from. Written as a services file would be, and validated like
 * one, so the demo exercises the same path as `wasmplane maglev`.
 *
 * Chosen to show the interesting cases: a plain IPv4 service, a weighted
 * one (weights average above 1, or Cilium ignores them), and an IPv6 UDP one.
 *
 * @module
 */
export const DEMO_SERVICES = {
  services: [
    {
      name: "web",
      frontend: { address: "10.96.0.10", port: 80, protocol: "TCP" },
      backends: [
        { id: 1, address: "10.244.1.11", port: 8080 },
        { id: 2, address: "10.244.1.12", port: 8080 },
        { id: 3, address: "10.244.2.13", port: 8080 },
        { id: 4, address: "10.244.2.14", port: 8080 },
      ],
    },
    {
      name: "checkout",
      frontend: { address: "10.96.0.20", port: 443, protocol: "TCP" },
      backends: [
        { id: 11, address: "10.244.3.21", port: 8443, weight: 100 },
        { id: 12, address: "10.244.3.22", port: 8443, weight: 100 },
        // A node twice the size takes twice the flows.
        { id: 13, address: "10.244.4.23", port: 8443, weight: 200 },
      ],
    },
    {
      name: "dns-v6",
      frontend: { address: "fd00:96::a", port: 53, protocol: "UDP" },
      backends: [
        { id: 21, address: "fd00:244:1::31", port: 53 },
        { id: 22, address: "fd00:244:1::32", port: 53 },
        { id: 23, address: "fd00:244:2::33", port: 53 },
        { id: 24, address: "fd00:244:2::34", port: 53 },
        { id: 25, address: "fd00:244:3::35", port: 53 },
      ],
    },
  ],
};

/** How the demo's services are named in messages (they have no file). */
export const DEMO_SOURCE = "<built-in demo services>";
