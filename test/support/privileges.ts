/**
 * Gates for tests that need the kernel or system tools.
 *
 * Locally a test without what it needs is skipped with the reason. In CI
 * (`CI=true`) the same absence fails the test: CI runs as root with CAP_BPF,
 * CAP_NET_ADMIN and CAP_SYS_ADMIN and installs clang, bpftool and iproute2,
 * so a skip there would hide a broken setup behind a green run.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import type { TestContext } from "node:test";
import { canUseBpf, type BpfAvailability } from "../../src/bpf/privileges.js";

/** Whether missing requirements fail (CI) instead of skipping. */
export const strict = process.env.CI === "true";

/** Skips the test with `reason` locally, fails it in CI. Returns false so callers can `return`. */
export function skipOrFail(t: TestContext, reason: string): false {
  if (strict) assert.fail(`${reason} (CI=true: this requirement must be met in CI)`);
  t.skip(reason);
  return false;
}

let availability: Promise<BpfAvailability> | undefined;

/** True when this process can create BPF maps and load programs; otherwise skip (locally) or fail (CI). */
export async function requireBpf(t: TestContext): Promise<boolean> {
  availability ??= canUseBpf();
  const result = await availability;
  if (result.ok) return true;
  return skipOrFail(t, `needs eBPF (root or CAP_BPF, libbpf.so.1, koffi): ${result.reason}`);
}

const toolCache = new Map<string, boolean>();

/** True when every command in `tools` is on PATH; otherwise skip (locally) or fail (CI). */
export function requireTools(t: TestContext, ...tools: string[]): boolean {
  const missing = tools.filter((tool) => {
    if (!toolCache.has(tool)) toolCache.set(tool, spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status === 0);
    return !toolCache.get(tool);
  });
  if (missing.length === 0) return true;
  return skipOrFail(t, `needs ${missing.join(", ")} on PATH (Debian: apt-get install clang bpftool iproute2)`);
}

/**
 * True when BPF objects can be built from this checkout's C sources and
 * loaded: eBPF usable, clang on PATH, the libbpf headers installed;
 * otherwise skip (locally) or fail (CI).
 */
export async function requireBpfBuild(t: TestContext): Promise<boolean> {
  if (!(await requireBpf(t)) || !requireTools(t, "clang")) return false;
  if (!existsSync("/usr/include/bpf/bpf_helpers.h")) return skipOrFail(t, "needs the libbpf headers (Debian: apt-get install libbpf-dev)");
  return true;
}

/**
 * True on Linux x86_64, the ABI the libbpf struct probe is compiled for.
 * Another architecture is not a broken setup, so this skips even in CI.
 */
export function requireX86_64(t: TestContext): boolean {
  if (process.platform === "linux" && process.arch === "x64") return true;
  t.skip(`the libbpf struct layout probe is x86_64 Linux only (this is ${process.platform}/${process.arch})`);
  return false;
}
