// Batches cut into runs by the fields their applies write (the real store's writes are checked against ApplyCost in
// test/integration/aggregate-store.test.ts).
import { describe, expect, it } from 'vitest';
import { ApplyCost, runsWithinFields } from '../../src/aggregation/apply-cost.js';
import type { MetricSample } from '../../src/aggregation/types.js';
import { WINDOW_SIZES } from '../../src/aggregation/types.js';

const now = 1_800_000_000_000;
const sample = (metric: string, value: number, agoMs = 0): MetricSample => ({ metric, value, timestamp: now - agoMs });
const newCost = () => new ApplyCost(now, 60_000);
const fieldsOf = (samples: MetricSample[]) => {
  const cost = newCost();
  cost.addWithin(samples, Number.POSITIVE_INFINITY);
  return cost.fields;
};

describe('ApplyCost', () => {
  it('should count six statistics per bucket and one field per sketch bin in it', () => {
    expect(fieldsOf([sample('a', 1)])).toBe(WINDOW_SIZES.length * 7);
    expect(fieldsOf([sample('a', 1), sample('a', 1)])).toBe(WINDOW_SIZES.length * 7); // same buckets, same bin
    expect(fieldsOf([sample('a', 1), sample('a', 1000)])).toBe(WINDOW_SIZES.length * 8); // a new bin in each
    expect(fieldsOf([sample('a', 1), sample('b', 1)])).toBe(WINDOW_SIZES.length * 14); // new buckets
  });

  it('should count nothing for a sample older than every window', () => {
    expect(fieldsOf([sample('a', 1, 25 * 3_600_000)])).toBe(0);
  });

  it('should refuse samples that would pass the budget, unless it holds nothing yet', () => {
    const cost = newCost();
    expect(cost.addWithin([sample('a', 1)], 10)).toBe(true); // 42 fields: the first samples are always taken
    expect(cost.addWithin([sample('a', 1)], 42)).toBe(true); // nothing new
    expect(cost.addWithin([sample('b', 1)], 60)).toBe(false);
    expect(cost.fields).toBe(WINDOW_SIZES.length * 7);
  });
});

describe('runsWithinFields', () => {
  it('should keep the order, take every item once, and keep each run within the budget', () => {
    const items = Array.from({ length: 50 }, (_, i) => [sample(`m${i % 7}`, i, i * 3_000)]);
    const runs = runsWithinFields(items, (samples) => samples, 200, newCost);
    expect(runs.flat()).toEqual(items);
    expect(runs.length).toBeGreaterThan(1);
    for (const run of runs) expect(fieldsOf(run.flat())).toBeLessThanOrEqual(200);
  });

  it('should give an item over the budget a run of its own rather than drop or split it', () => {
    const heavy = Array.from({ length: 30 }, (_, m) => sample(`h${m}`, m));
    const runs = runsWithinFields([[sample('a', 1)], heavy, [sample('b', 2)]], (samples) => samples, 50, newCost);
    expect(runs).toEqual([[[sample('a', 1)]], [heavy], [[sample('b', 2)]]]);
  });
});
