/**
 * Summary statistics of timing samples.
 *
 * Why the median (with the quartiles beside it): the bench runs on a shared
 * 2-core machine where other work, GC pauses and JIT tier-ups produce long
 * outliers; the median ignores them and the quartile spread says how noisy a
 * number was.
 */

/** A summary of one set of samples, all in milliseconds. */
export interface Summary {
  readonly reps: number;
  readonly median: number;
  readonly p25: number;
  readonly p75: number;
  readonly min: number;
  readonly max: number;
}

/** Quantile q (0..1) of ascending `sorted`, interpolating between neighbours. */
function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error("no samples to summarize");
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    reps: sorted.length,
    median: quantile(sorted, 0.5),
    p25: quantile(sorted, 0.25),
    p75: quantile(sorted, 0.75),
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
  };
}

/** How many repetitions one timing round takes, and for how long. */
export interface RepPolicy {
  readonly minReps: number;
  readonly maxReps: number;
  /** Stop after this much measured time once `minReps` are in. */
  readonly budgetMs: number;
}

/**
 * Times `fn` repeatedly under `policy`; returns each call's milliseconds.
 * The same policy is sent to the native program so every column samples alike.
 */
export function sample(fn: () => void, policy: RepPolicy): number[] {
  const samples: number[] = [];
  let spent = 0;
  while (samples.length < policy.maxReps && (samples.length < policy.minReps || spent < policy.budgetMs)) {
    const t0 = performance.now();
    fn();
    const dt = performance.now() - t0;
    samples.push(dt);
    spent += dt;
  }
  return samples;
}

/** Runs `fn` for at least `reps` calls and `ms` milliseconds, untimed (JIT and wasm tier-up). */
export function warmUp(fn: () => void, reps: number, ms: number): void {
  const start = performance.now();
  for (let i = 0; i < reps || performance.now() - start < ms; i++) fn();
}
