// Batches cut into runs by the fields their applies write (the real store's writes are checked against ApplyCost in
// test/integration/aggregate-store.test.ts).
import { describe, expect, it } from 'vitest';
import { ApplyCost, runsWithinFields } from '../../src/aggregation/apply-cost.js';
import type { MetricSample } from '../../src/aggregation/types.js';
import { WINDOW_SIZES } from '../../src/aggregation/types.js';

const now = 1_800_000_000_000;
const sample = (metric: string, value: number, agoMs = 0): MetricSample => ({ metric, value, timestamp: now - agoMs });
const newCost = () => new ApplyCost(now, 60_000);

describe('ApplyCost', () => {
  it('should count six statistics per bucket and one field per sketch bin in it', () => {
    const cost = newCost();
    expect(cost.with([sample('a', 1)])).toBe(WINDOW_SIZES.length * 7);
    cost.add([sample('a', 1)]);
    expect(cost.with([sample('a', 1)])).toBe(WINDOW_SIZES.length * 7); // same buckets, same bin
    expect(cost.with([sample('a', 1000)])).toBe(WINDOW_SIZES.length * 8); // a new bin in each
    expect(cost.with([sample('b', 1)])).toBe(WINDOW_SIZES.length * 14); // new buckets
  });

  it('should count nothing for a sample older than every window', () => {
    expect(newCost().with([sample('a', 1, 25 * 3_600_000)])).toBe(0);
  });
});

describe('runsWithinFields', () => {
  it('should keep the order, take every item once, and keep each run within the budget', () => {
    const items = Array.from({ length: 50 }, (_, i) => [sample(`m${i % 7}`, i, i * 3_000)]);
    const runs = runsWithinFields(items, (samples) => samples, 200, newCost);
    expect(runs.flat()).toEqual(items);
    expect(runs.length).toBeGreaterThan(1);
    for (const run of runs) expect(newCost().with(run.flat())).toBeLessThanOrEqual(200);
  });

  it('should give an item over the budget a run of its own rather than drop or split it', () => {
    const heavy = Array.from({ length: 30 }, (_, m) => sample(`h${m}`, m));
    const runs = runsWithinFields([[sample('a', 1)], heavy, [sample('b', 2)]], (samples) => samples, 50, newCost);
    expect(runs).toEqual([[[sample('a', 1)]], [heavy], [[sample('b', 2)]]]);
  });
});
