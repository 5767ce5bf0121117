/**
 * The demo's text: three short sections, one line per backend or service,
 * readable in a terminal 80 columns wide.
 *
 * @module
 */
import { bar, columns, percent } from "./format.js";
import type { DemoReport } from "./demo-report.js";

const BAR_WIDTH = 12;

export function renderDemo(report: DemoReport): string[] {
  const lines: string[] = [];
  lines.push("wasmplane demo: Maglev lookup tables, built as Cilium builds them");
  lines.push(`table size ${report.tableSize}, hash seed ${report.hashSeed}, key format ${report.keyFormat}`);

  lines.push("", "1. Spread: slots of the table each backend owns");
  for (const s of report.services) {
    const note = s.weighted ? ", weighted" : "";
    lines.push(`   ${s.name}  ${s.frontend}  (${s.backends.length} backends${note}, max/min ${s.maxMinRatio})`);
    // Bars are scaled to the largest share so small differences stay visible.
    const top = Math.max(...s.backends.map((b) => b.share));
    const rows = s.backends.map((b) => [
      `#${b.id}`,
      b.address,
      ...(s.weighted ? [`weight ${b.weight}`] : []),
      String(b.slots),
      percent(b.share),
      bar(top ? b.share / top : 0, BAR_WIDTH),
    ]);
    const right = s.weighted ? [false, false, false, true, true] : [false, false, true, true];
    for (const line of columns(rows, right)) lines.push(`     ${line}`);
  }

  lines.push("", "2. Minimal disruption: remove one backend, rebuild, count the slots that moved");
  const removal = report.services.map((s) => {
    const r = s.removal;
    return [
      s.name,
      `#${r.backend.id}`,
      `${r.changedSlots} (${percent(r.changedFraction)})`,
      String(r.removedSlots),
      `${r.changedFromRemaining} (${percent(r.changedFromRemainingFraction, 2)})`,
    ];
  });
  const header = ["service", "removed", "moved", "its own", "from backends that stayed"];
  for (const line of columns([header, ...removal], [false, false, true, true, false])) lines.push(`   ${line}`);
  lines.push("   The removed backend's own slots must move; Maglev moves few others.");

  lines.push("", "3. Determinism: the same backends in shuffled order");
  const order = report.services.map((s) => [
    s.name,
    `sha256 ${s.order.sha256.slice(0, 16)}`,
    `shuffled ${s.order.shuffledSha256.slice(0, 16)}`,
    s.order.identical ? "identical" : "DIFFERENT",
  ]);
  for (const line of columns(order)) lines.push(`   ${line}`);
  return lines;
}
