/**
 * Kubernetes NetworkPolicy e2e conformance: the upstream suite's cases
 * (test/conformance/data/k8s-netpol), each run on a fresh cluster, every
 * step probed over the full 9 x 9 pod matrix.
 */
import { registerConformanceSuites } from "./support/suite.js";

registerConformanceSuites("k8s-netpol");
