/**
 * Small text formatters shared by the commands' human-readable output.
 *
 * @module
 */

/** `25.0%`; one decimal is enough to see a spread, more would be noise. */
export function percent(fraction: number, digits = 1): string {
  return `${(fraction * 100).toFixed(digits)}%`;
}

const EIGHTHS = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];

/** A bar of up to `width` cells for `fraction` ∈ [0, 1], in eighths of a cell. */
export function bar(fraction: number, width: number): string {
  const eighths = Math.round(Math.max(0, Math.min(1, fraction)) * width * 8);
  return "█".repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8];
}

/** Pads the columns of `rows` to a common width (left-aligned; right-aligned where `right[i]`). */
export function columns(rows: readonly (readonly string[])[], right: readonly boolean[] = []): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return rows.map((row) =>
    row
      .map((cell, i) => {
        const pad = " ".repeat((widths[i] ?? 0) - [...cell].length);
        if (i === row.length - 1 && !right[i]) return cell;
        return right[i] ? pad + cell : cell + pad;
      })
      .join("  ")
      .trimEnd(),
  );
}

/** A ratio such as a max/min balance, rounded so it is stable and readable. */
export function round(value: number, digits = 4): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
