// What applying samples costs the aggregate store, in the unit Redis's time grows with: hash fields written. Each
// bucket a sample lands in gets its six statistics (count, mean, m2, sum, min, max) and one field per sketch bin. An
// apply is one atomic Lua call that blocks Redis while it runs (about 2.5 ms per 1,000 fields on this project's
// machine, `npm run bench:redis-calls`), so the stream processor cuts batches to stay within a budget of fields.
import { sketchBin } from './stats.js';
import type { MetricSample } from './types.js';
import { sampleBuckets } from './windows.js';

const STAT_FIELDS = 6;

/** Counts the fields a growing set of samples writes; the buckets and bins follow the store's own (sampleBuckets). */
export class ApplyCost {
  private readonly buckets = new Set<string>();
  private readonly bins = new Set<string>();

  /** `now` and `graceMs` as the store applies with them: they decide which buckets a sample still lands in. */
  constructor(
    private readonly now: number,
    private readonly graceMs: number,
  ) {}

  /** Fields the samples so far write, with these added. */
  with(samples: readonly MetricSample[]): number {
    const newBuckets = new Set<string>();
    const newBins = new Set<string>();
    for (const [bucket, bin] of fieldsOf(samples, this.now, this.graceMs)) {
      if (!this.buckets.has(bucket)) newBuckets.add(bucket);
      if (!this.bins.has(bin)) newBins.add(bin);
    }
    return (this.buckets.size + newBuckets.size) * STAT_FIELDS + this.bins.size + newBins.size;
  }

  /** Takes the samples in. */
  add(samples: readonly MetricSample[]): void {
    for (const [bucket, bin] of fieldsOf(samples, this.now, this.graceMs)) {
      this.buckets.add(bucket);
      this.bins.add(bin);
    }
  }
}

/** Each bucket a sample lands in, and its sketch bin there. */
function* fieldsOf(
  samples: readonly MetricSample[],
  now: number,
  graceMs: number,
): Generator<[bucket: string, bin: string]> {
  for (const { metric, value, timestamp } of samples) {
    const bin = sketchBin(value);
    for (const { window, index } of sampleBuckets(timestamp, now, graceMs)) {
      const bucket = `${metric}\u0000${window}\u0000${index}`;
      yield [bucket, `${bucket}\u0000${bin}`];
    }
  }
}

/**
 * Cuts items (events, in order) into consecutive runs whose samples write at most `maxFields` fields each, so that
 * no apply blocks Redis past its budget. A run holds at least one item, however costly.
 */
export function runsWithinFields<T>(
  items: readonly T[],
  samplesOf: (item: T) => readonly MetricSample[],
  maxFields: number,
  newCost: () => ApplyCost,
): T[][] {
  const runs: T[][] = [];
  let run: T[] = [];
  let cost = newCost();
  for (const item of items) {
    const samples = samplesOf(item);
    if (run.length > 0 && cost.with(samples) > maxFields) {
      runs.push(run);
      run = [];
      cost = newCost();
    }
    run.push(item);
    cost.add(samples);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}
