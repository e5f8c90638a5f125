import { describe, expect, it } from 'vitest';
import { WINDOW_MS, WINDOW_SIZES } from '../../src/aggregation/types.js';
import {
  AGGREGATION_HORIZON_MS,
  bucketExpiresAt,
  bucketIndex,
  granularityMs,
  isAggregatable,
  sampleBuckets,
  windowBuckets,
} from '../../src/aggregation/windows.js';

const at = Date.UTC(2025, 5, 1, 10, 30, 12, 345);

describe('window math', () => {
  it('should use a sixtieth of the window as granularity', () => {
    expect(WINDOW_SIZES.map(granularityMs)).toEqual([1_000, 5_000, 15_000, 60_000, 360_000, 1_440_000]);
  });

  it('should index buckets by floor(timestamp / granularity)', () => {
    expect(bucketIndex(999, 1_000)).toBe(0);
    expect(bucketIndex(1_000, 1_000)).toBe(1);
    expect(bucketIndex(at, 60_000)).toBe(Math.floor(at / 60_000));
  });

  it('should read the current bucket and the 59 before it, from the start of the first to the query time', () => {
    const span = windowBuckets('M1', at);
    const current = Math.floor(at / 1_000);
    expect(span).toEqual({
      first: current - 59,
      last: current,
      from: (current - 59) * 1_000,
      to: at,
      granularity: 1_000,
    });
  });

  it.each(WINDOW_SIZES)('should cover (at − W, at] to within one bucket for %s', (window) => {
    for (const offset of [0, 1, 999, 123_457, 86_399_999]) {
      const { from, to, granularity } = windowBuckets(window, at + offset);
      expect(to).toBe(at + offset);
      expect(from).toBeGreaterThan(to - WINDOW_MS[window]);
      expect(from).toBeLessThanOrEqual(to - WINDOW_MS[window] + granularity);
    }
  });

  it.each(WINDOW_SIZES)('should expire a %s bucket exactly when no query reads it any more', (window) => {
    const index = bucketIndex(at, granularityMs(window));
    const expiresAt = bucketExpiresAt(window, index);
    expect(windowBuckets(window, expiresAt - 1).first).toBeLessThanOrEqual(index);
    expect(windowBuckets(window, expiresAt).first).toBeGreaterThan(index);
  });

  it('should aggregate only samples younger than 24 h', () => {
    expect(isAggregatable(at - AGGREGATION_HORIZON_MS, at)).toBe(false);
    expect(isAggregatable(at - AGGREGATION_HORIZON_MS + 1, at)).toBe(true);
    expect(isAggregatable(at + 60_000, at)).toBe(true);
  });

  describe('sampleBuckets', () => {
    const grace = 60_000;

    it('should put a fresh sample in one bucket of every window', () => {
      const buckets = sampleBuckets(at, at, grace);
      expect(buckets.map((b) => b.window)).toEqual([...WINDOW_SIZES]);
      for (const { window, index, expiresAt } of buckets) {
        expect(index).toBe(bucketIndex(at, granularityMs(window)));
        expect(expiresAt).toBe(bucketExpiresAt(window, index) + grace);
      }
    });

    it('should skip buckets that no window reads any more', () => {
      expect(sampleBuckets(at - 2 * 3_600_000, at, grace).map((b) => b.window)).toEqual(['H6', 'H24']);
      expect(sampleBuckets(at - 90_000, at, 0).map((b) => b.window)).toEqual(['M5', 'M15', 'H1', 'H6', 'H24']);
      expect(sampleBuckets(at - 90_000, at, grace).map((b) => b.window)).toEqual([...WINDOW_SIZES]);
    });

    it('should store nothing of a sample past the horizon', () => {
      expect(sampleBuckets(at - AGGREGATION_HORIZON_MS, at, grace)).toEqual([]);
    });
  });
});
