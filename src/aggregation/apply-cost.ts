// What applying samples costs the aggregate store, in the unit Redis's time grows with: hash fields written. Each
// bucket a sample lands in gets its six statistics (count, mean, m2, sum, min, max) and one field per sketch bin. An
// apply is one atomic Lua call that blocks Redis while it runs (2.5-4 ms per 1,000 fields on this project's machine,
// `npm run bench:redis-calls`), so the stream processor cuts batches to stay within a budget of fields.
import { getOrCreate } from '../maps.js';
import { sketchBin } from './stats.js';
import type { MetricSample, WindowSize } from './types.js';
import { sampleBuckets } from './windows.js';

const STAT_FIELDS = 6;

/**
 * Counts the fields a growing set of samples writes. The buckets follow the store's own mapping (sampleBuckets), kept
 * as nested maps with numeric keys, as the store pre-merges them: this runs for every event the processor applies.
 */
export class ApplyCost {
  /** metric → window → bucket index → sketch bins written there. */
  private readonly buckets = new Map<string, Map<WindowSize, Map<number, Set<string>>>>();
  private count = 0;

  /** `now` and `graceMs` as the store applies with them: they decide which buckets a sample still lands in. */
  constructor(
    private readonly now: number,
    private readonly graceMs: number,
  ) {}

  /** Fields the samples taken in so far write. */
  get fields(): number {
    return this.count;
  }

  /**
   * Takes the samples in unless that would take the fields past `maxFields`; an empty cost takes any (a run holds at
   * least one event). Says whether it took them.
   */
  addWithin(samples: readonly MetricSample[], maxFields: number): boolean {
    const placed: { metric: string; window: WindowSize; index: number; bin: string }[] = [];
    let extra = 0; // an upper bound: a bucket or bin the samples name twice is counted twice here
    for (const { metric, value, timestamp } of samples) {
      const bin = sketchBin(value);
      const byWindow = this.buckets.get(metric);
      for (const { window, index } of sampleBuckets(timestamp, this.now, this.graceMs)) {
        const bins = byWindow?.get(window)?.get(index);
        if (!bins) extra += STAT_FIELDS + 1;
        else if (!bins.has(bin)) extra += 1;
        placed.push({ metric, window, index, bin });
      }
    }
    if (this.count > 0 && this.count + extra > maxFields) return false;
    for (const { metric, window, index, bin } of placed) {
      const byWindow = getOrCreate(this.buckets, metric, () => new Map<WindowSize, Map<number, Set<string>>>());
      const byIndex = getOrCreate(byWindow, window, () => new Map<number, Set<string>>());
      let bins = byIndex.get(index);
      if (!bins) {
        bins = new Set();
        byIndex.set(index, bins);
        this.count += STAT_FIELDS;
      }
      if (!bins.has(bin)) {
        bins.add(bin);
        this.count += 1;
      }
    }
    return true;
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
    if (!cost.addWithin(samples, maxFields)) {
      runs.push(run);
      run = [];
      cost = newCost();
      cost.addWithin(samples, maxFields);
    }
    run.push(item);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}
