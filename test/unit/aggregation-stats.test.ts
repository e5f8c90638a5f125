import { DDSketch } from '@datadog/sketches-js';
import { assert, describe, expect, it } from 'vitest';
import {
  addValue,
  type BucketStats,
  emptyStats,
  finalize,
  mergeInto,
  SKETCH_RELATIVE_ACCURACY,
  sketchBin,
  sketchBinValue,
  sketchQuantiles,
  ZERO_BIN,
} from '../../src/aggregation/stats.js';
import { NO_SAMPLES } from '../helpers/aggregates.js';
import { random } from '../helpers/random.js';

function statsOf(values: number[]): BucketStats {
  const stats = emptyStats();
  for (const value of values) addValue(stats, value);
  return stats;
}

function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))] ?? Number.NaN;
}

function populationStddev(values: number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
}

const at = Date.UTC(2025, 0, 1);

describe('bucket statistics', () => {
  it('should keep count, sum, mean, min and max', () => {
    const stats = statsOf([3, -1, 0, 7.5, 0]);
    expect(stats).toMatchObject({ count: 5, sum: 9.5, mean: 1.9, min: -1, max: 7.5 });
  });

  it('should report the population standard deviation', () => {
    expect(finalize('m', 'M1', 0, at, statsOf([2, 4, 4, 4, 5, 5, 7, 9])).stddev).toBe(2);
  });

  it('should merge buckets into exactly what one bucket of all the values holds', () => {
    const next = random(1);
    const values = Array.from({ length: 1_000 }, () => next() * 200 - 50);
    const merged = emptyStats();
    for (let i = 0; i < values.length; i += 37) mergeInto(merged, statsOf(values.slice(i, i + 37)));
    mergeInto(merged, emptyStats());
    const whole = statsOf(values);
    expect(merged.count).toBe(whole.count);
    expect(merged.min).toBe(whole.min);
    expect(merged.max).toBe(whole.max);
    expect(merged.sum).toBeCloseTo(whole.sum, 9);
    expect(merged.mean).toBeCloseTo(whole.mean, 12);
    expect(merged.m2 / whole.m2).toBeCloseTo(1, 12);
    expect(merged.bins).toEqual(whole.bins);
  });

  it('should keep the deviation of large values with small spread accurate (no sum of squares)', () => {
    const next = random(2);
    const values = Array.from({ length: 10_000 }, () => 1e9 + next());
    const merged = emptyStats();
    for (let i = 0; i < values.length; i += 100) mergeInto(merged, statsOf(values.slice(i, i + 100)));
    const stddev = finalize('m', 'H1', 0, at, merged).stddev ?? Number.NaN;
    // The values themselves carry ~1e-7 absolute rounding; a sum of squares (~1e18) would lose the spread entirely.
    expect(Math.abs(stddev / populationStddev(values) - 1)).toBeLessThan(1e-7);
  });

  it('should report nulls and zero sums for an empty window', () => {
    expect(finalize('m', 'M5', 1_000, 2_000, emptyStats())).toEqual({
      metric: 'm',
      window: 'M5',
      labels: [],
      from: new Date(1_000),
      to: new Date(2_000),
      ...NO_SAMPLES,
    });
  });

  it('should saturate rather than answer Infinity or NaN when sums overflow', () => {
    const finite = (stats: BucketStats) => {
      const { sum, avg, stddev, min, max } = finalize('m', 'M5', 0, 1, stats);
      for (const value of [sum, avg, stddev]) expect(Number.isFinite(value), `${value}`).toBe(true);
      return { sum, avg, stddev, min, max };
    };
    // Two huge values: the sum overflows to Infinity and M2 with it.
    expect(finite(statsOf([1.7e308, 1.7e308]))).toEqual({
      sum: Number.MAX_VALUE,
      avg: 1.7e308,
      stddev: 0,
      min: 1.7e308,
      max: 1.7e308,
    });
    const spread = finite(statsOf([-1.7e308, 1.7e308, 1.7e308]));
    expect(spread.avg).toBeGreaterThan(0);
    expect(spread.stddev).toBeLessThanOrEqual(1.7e308);
    // As read back from Redis, where an overflowed sum is stored as "inf" and reads as NaN.
    const fromRedis = { ...statsOf([1.7e308, 1.7e308]), sum: Number.NaN, m2: Number.NaN };
    expect(finite(fromRedis).sum).toBe(Number.MAX_VALUE);
  });

  it('should report percentiles within the extremes', () => {
    const aggregate = finalize('m', 'M1', 0, at, statsOf([100, 100, 100]));
    expect([aggregate.p50, aggregate.p95, aggregate.p99]).toEqual([100, 100, 100]);
  });
});

describe('sketch bins', () => {
  it('should put zero in the zero bin and tell positive from negative values', () => {
    expect(sketchBin(0)).toBe(ZERO_BIN);
    expect(sketchBin(-0)).toBe(ZERO_BIN);
    expect(sketchBin(12)).toMatch(/^p-?\d+$/);
    expect(sketchBin(-12)).toMatch(/^n-?\d+$/);
    expect(sketchBinValue(sketchBin(-12))).toBeLessThan(0);
  });

  it('should stand for every value in the bin within the sketch accuracy', () => {
    for (const value of [1e-9, 0.001, 0.5, 1, 3.3, 1_000, 123_456.789, 1e12, -7, -1e-3]) {
      const relativeError = Math.abs(sketchBinValue(sketchBin(value)) - value) / Math.abs(value);
      expect(relativeError).toBeLessThanOrEqual(SKETCH_RELATIVE_ACCURACY * (1 + 1e-9));
    }
  });

  it('should reject a field that is not a bin', () => {
    expect(() => sketchBinValue('count')).toThrow(/not a sketch bin/);
  });
});

describe('percentiles', () => {
  const distributions: Record<string, (next: () => number) => number> = {
    uniform: (next) => next() * 1_000,
    'log-normal latencies': (next) =>
      Math.exp(4 + 1.5 * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next())),
    'mixed signs with zeros': (next) => (next() < 0.2 ? 0 : (next() - 0.6) * 10 ** (next() * 6)),
    'few distinct values': (next) => [0, 1, 5, 5, 5, 80][Math.floor(next() * 6)] ?? Number.NaN,
    'all negative': (next) => -1 - next() * 500,
  };

  it.each(Object.entries(distributions))('should be within one percent of the exact percentiles for %s', (_, draw) => {
    const next = random(42);
    for (const size of [1, 2, 7, 100, 5_000]) {
      const values = Array.from({ length: size }, () => draw(next));
      const merged = emptyStats();
      for (let i = 0; i < values.length; i += 13) mergeInto(merged, statsOf(values.slice(i, i + 13)));
      const aggregate = finalize('m', 'M1', 0, at, merged);
      const sorted = [...values].sort((a, b) => a - b);
      for (const [q, reported] of [
        [0.5, aggregate.p50],
        [0.95, aggregate.p95],
        [0.99, aggregate.p99],
      ] as const) {
        const exact = exactQuantile(sorted, q);
        assert.isNotNull(reported);
        expect(Math.abs(reported - exact)).toBeLessThanOrEqual(0.01 * Math.abs(exact));
      }
    }
  });
});

describe('sketchQuantiles', () => {
  // What the percentiles were before: a DDSketch given each bin's value with its count.
  function byDDSketch(bins: Map<string, number>, quantiles: number[]): number[] {
    const sketch = new DDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY });
    for (const [bin, count] of bins) sketch.accept(sketchBinValue(bin), count);
    return quantiles.map((q) => sketch.getValueAtQuantile(q));
  }

  it('should answer exactly what a DDSketch of the same bins answers, over random bins and quantiles', () => {
    const next = random(7);
    const draws = [
      () => next() * 1_000,
      () => -next() * 1_000,
      () => (next() < 0.3 ? 0 : (next() - 0.5) * 10 ** (next() * 8 - 2)),
      () => [1e-300, -1e-300, 0, 3, 3e12][Math.floor(next() * 5)] as number,
    ];
    const quantiles = [0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1];
    for (let round = 0; round < 300; round++) {
      const draw = draws[round % draws.length] as () => number;
      const bins = new Map<string, number>();
      for (let i = 0; i < 1 + Math.floor(next() * 300); i++) {
        const bin = sketchBin(draw());
        bins.set(bin, (bins.get(bin) ?? 0) + 1 + Math.floor(next() * (next() < 0.1 ? 100_000 : 5)));
      }
      const asked = [...quantiles, next()];
      expect({ round, quantiles: sketchQuantiles(bins, asked) }).toEqual({ round, quantiles: byDDSketch(bins, asked) });
    }
  });

  it('should answer NaN with no values, as a sketch does', () => {
    expect(sketchQuantiles(new Map(), [0.5])).toEqual([Number.NaN]);
  });
});
