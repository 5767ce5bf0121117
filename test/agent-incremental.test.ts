/**
 * The agent's incremental path against a fresh full read: after a seeded
 * sequence of random changes to a state folder (files added, rewritten,
 * removed, moved between subfolders; objects changed, made invalid or
 * duplicated), reading only the files each change named (StateReader with
 * the paths the watch would report), computing the desired state with the
 * agent's memo, and applying only the differences (services by upsert and
 * removal, cluster objects by apply and delete in the agent's order) ends in
 * exactly what a fresh read, translation and cluster view of the same
 * folder give: the same validated state, services, backends, rejections,
 * policy maps and ipcache. No root needed: this is the part of the agent
 * that decides what to write.
 */
import { strict as assert } from "node:assert";
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync, renameSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { stringify } from "yaml";
import { createCluster, type Cluster } from "../src/cluster/cluster.js";
import { DesiredMemo, desiredFromState, type KeyedObject } from "../src/agent/desired.js";
import { diffObjects, diffServices } from "../src/agent/diff.js";
import type { LbService } from "../src/lb/services.js";
import { endpointText } from "../src/state/backend-ids.js";
import { StateReader, loadKubeState } from "../src/state/read.js";
import { applyStatePolicy } from "../src/state/policy.js";
import { benchDenyObject, podObject, sliceObject, writeState } from "../bench/agent/state.js";
import { seededRandom } from "./support/seeded-random.js";

const root = mkdtempSync(join(tmpdir(), "wp-incremental-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** A seeded generator, so a failure replays. */
const rng = seededRandom;

const PODS = 60;
const SERVICES = 40;
const APPLY_ORDER = ["Namespace", "CiliumClusterwideNetworkPolicy", "CiliumNetworkPolicy", "NetworkPolicy", "Pod"];
const order = (a: KeyedObject, b: KeyedObject) =>
  APPLY_ORDER.indexOf(a.kind) - APPLY_ORDER.indexOf(b.kind) || (a.namespace ?? "").localeCompare(b.namespace ?? "") || a.name.localeCompare(b.name);

/** One random change; returns the paths it touched (what the watch would name). */
function change(dir: string, random: () => number): string[] {
  const pick = (n: number) => Math.floor(random() * n);
  const write = (path: string, objects: object[]) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, objects.map((o) => stringify(o)).join("---\n"));
    return [path];
  };
  switch (pick(9)) {
    case 0: { // a slice with a random subset of pods, some not ready
      const s = pick(SERVICES);
      const pods = [0, 1, 2, 3].map(() => pick(PODS)).slice(0, pick(4) + 1);
      return write(join(dir, "slices", `svc-${s}.yaml`), [sliceObject(s, pods)]);
    }
    case 1: { // relabel a pod, or give it a weight
      const p = pick(PODS);
      const pod = podObject(p, random() < 0.5 ? { quarantine: "true" } : { tier: `t${pick(3)}` }) as { metadata: Record<string, unknown> };
      if (random() < 0.3) pod.metadata.annotations = { "wasmplane.io/lb-weight": String(pick(5)) };
      return write(join(dir, "pods", `pod-${String(p).padStart(4, "0")}.yaml`), [pod]);
    }
    case 2: { // the deny policy comes or goes
      const file = join(dir, "policies", "extra-deny.yaml");
      if (existsSync(file)) {
        unlinkSync(file);
        return [file];
      }
      return write(file, [benchDenyObject()]);
    }
    case 3: { // a pod removed
      const file = join(dir, "pods", `pod-${String(pick(PODS)).padStart(4, "0")}.yaml`);
      if (existsSync(file)) unlinkSync(file);
      return [file];
    }
    case 4: { // an invalid object next to a valid one
      return write(join(dir, "extra", `bad-${pick(3)}.yaml`), [
        { apiVersion: "v1", kind: "Service", metadata: { name: `bad-${pick(3)}`, namespace: "ns-1" }, spec: { ports: [{ port: 99999 }] } },
        { apiVersion: "v1", kind: "Namespace", metadata: { name: `extra-${pick(3)}`, labels: { team: "x" } } },
      ]);
    }
    case 5: { // a copy of a pod with other content elsewhere: ambiguous, every copy rejected
      const p = pick(PODS);
      return write(join(dir, "extra", `dup-${p}.yaml`), [podObject(p, { copy: "yes" })]);
    }
    case 6: { // a file that does not parse
      const file = join(dir, "extra", "broken.yaml");
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, random() < 0.5 ? "kind: [unclosed\n" : stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "fixed" } }));
      return [file];
    }
    case 7: { // a subfolder moved
      const from = join(dir, "extra");
      const to = join(dir, "extra-moved");
      if (existsSync(from)) {
        rmSync(to, { recursive: true, force: true });
        renameSync(from, to);
        return [from, to];
      }
      if (existsSync(to)) {
        renameSync(to, from);
        return [to, from];
      }
      return [];
    }
    default: { // a namespace's labels change (every pod in it gets a new identity)
      const ns = pick(10);
      return write(join(dir, "ns", `ns-${ns}.yaml`), [{ apiVersion: "v1", kind: "Namespace", metadata: { name: `ns-${ns}`, labels: { team: `team-${pick(3)}`, v: String(pick(4)) } } }]);
    }
  }
}

/** Everything the agent writes, from a cluster view: every pod's policy map and the ipcache. */
function policyView(cluster: Cluster, pods: Iterable<string>): unknown {
  const maps: Record<string, unknown> = {};
  for (const pod of [...pods].sort()) {
    const id = cluster.identityOf(pod);
    maps[pod] = id === undefined ? null : { id, entries: cluster.engine.policyMap(id) };
  }
  return { maps, ipcache: cluster.ipcache() };
}

async function run(seed: number, steps: number): Promise<void> {
  const dir = join(root, `seed-${seed}`);
  writeState(dir, { pods: PODS, services: SERVICES });
  const random = rng(seed);
  const reader = new StateReader(dir);
  const memo = new DesiredMemo();
  let backendIds = new Map<string, number>();
  const first = desiredFromState((await reader.read()).state, dir, { translate: { previousBackendIds: backendIds }, memo });
  let services = new Map<string, LbService>(first.translation!.services.map((s) => [s.name, s]));
  backendIds = new Map(first.translation!.backends.map((b) => [endpointText(b.address, b.port), b.id]));
  const cluster = (await applyStatePolicy(first.kube)).cluster;
  let objects = new Map(first.objects);

  for (let step = 0; step < steps; step++) {
    const paths = change(dir, random);
    const what = `seed ${seed}, step ${step} (${paths.map((p) => p.slice(dir.length + 1)).join(", ")})`;
    const desired = desiredFromState((await reader.read({ paths })).state, dir, { translate: { previousBackendIds: backendIds }, memo });
    // Services as the agent writes them: upserts and removals of the difference.
    const diff = diffServices(services, desired.translation!.services);
    const next = new Map(services);
    for (const s of diff.upserts) next.set(s.name, s);
    for (const name of diff.removals) next.delete(name);
    services = next;
    backendIds = new Map(desired.translation!.backends.map((b) => [endpointText(b.address, b.port), b.id]));
    // Cluster objects as the agent applies them.
    const od = diffObjects(objects, desired.objects);
    for (const o of [...od.deletes].sort((a, b) => -order(a, b))) cluster.delete(o.value);
    for (const o of [...od.upserts].sort(order)) cluster.apply(o.value, o.source);
    objects = new Map(desired.objects);

    // A fresh read of the same folder, translated with the IDs the datapath holds (as a restarted agent does).
    const fresh = desiredFromState(await loadKubeState(dir), dir, { translate: { previousBackendIds: backendIds } });
    assert.deepEqual(JSON.parse(JSON.stringify(desired.kube)), JSON.parse(JSON.stringify(fresh.kube)), `${what}: validated state`);
    assert.deepEqual(desired.rejected, fresh.rejected, `${what}: rejected`);
    assert.deepEqual(desired.warnings, fresh.warnings, `${what}: warnings`);
    assert.deepEqual([...services.values()].sort((a, b) => (a.name < b.name ? -1 : 1)), fresh.translation!.services, `${what}: services`);
    assert.deepEqual(desired.translation!.backends, fresh.translation!.backends, `${what}: backends`);
    assert.deepEqual([...desired.objects.keys()], [...fresh.objects.keys()], `${what}: cluster objects`);
    assert.deepEqual(desired.interfaces, fresh.interfaces, `${what}: interfaces`);
    const pods = [...desired.podAddresses.keys()];
    const full = (await applyStatePolicy(fresh.kube)).cluster;
    assert.deepEqual(policyView(cluster, pods), policyView(full, pods), `${what}: policy maps and ipcache`);
  }
}

describe("the agent's incremental path", () => {
  for (const seed of [1, 2, 3]) {
    it(`equals a fresh full read after 40 random changes (seed ${seed})`, async () => {
      await run(seed, 40);
    });
  }

  it("reads only the files named, and a full scan finds what the names missed", async () => {
    const dir = join(root, "named");
    writeState(dir, { pods: 10, services: 5 });
    const reader = new StateReader(dir);
    await reader.read();
    const pod = join(dir, "pods", "pod-0003.yaml");
    writeFileSync(pod, stringify(podObject(3, { tier: "x" })));
    const slice = join(dir, "slices", "svc-1.yaml");
    writeFileSync(slice, stringify(sliceObject(1, [4])));
    const named = await reader.read({ paths: [pod] });
    assert.equal(named.parsed, 1);
    assert.deepEqual([...named.changed], ["Pod\u0000ns-3\u0000pod-0003"]);
    const scan = await reader.read({ content: true });
    assert.equal(scan.parsed, 1, "the slice the names missed");
    assert.deepEqual([...scan.changed], ["EndpointSlice\u0000ns-1\u0000svc-1-abcde"]);
    assert.equal((await reader.read({ paths: [pod, slice] })).parsed, 0, "unchanged content is not parsed again");
  });
});
