/**
 * Cilium deny semantics conformance (test/conformance/data/cilium-deny):
 * pod matrices plus single flows with verdict reasons, proxy flags and the
 * rules that decided.
 */
import { registerConformanceSuites } from "./support/suite.js";

registerConformanceSuites("cilium-deny");
