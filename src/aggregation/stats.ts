// Mergeable per-bucket statistics: exact count/sum/min/max, a mean and M2 that merge without losing precision
// (Chan et al.'s parallel variance), and DDSketch bins for percentiles. Buckets merge in any order and anywhere
// (here, or inside Redis), and `finalize` turns the merge of a window's buckets into a `MetricAggregate`.
import { LogarithmicMapping } from '@datadog/sketches-js/dist/ddsketch/mapping/index.js';
import type { Label } from './labels.js';
import type { MetricAggregate, MetricPoint, WindowSize } from './types.js';

/**
 * Relative accuracy of the percentile sketch. It is part of the stored format (a bin key means a different value
 * under another accuracy), so it is a constant rather than a setting; changing it needs a rebuild. 0.5 % keeps
 * p50/p95/p99 safely inside the 1 % the API promises.
 */
export const SKETCH_RELATIVE_ACCURACY = 0.005;

/** The sketch bin of values too close to zero for the logarithmic mapping. */
export const ZERO_BIN = 'z';
const POSITIVE_BIN_PREFIX = 'p';
const NEGATIVE_BIN_PREFIX = 'n';

export const REPORTED_QUANTILES = { p50: 0.5, p95: 0.95, p99: 0.99 } as const;

const mapping = new LogarithmicMapping(SKETCH_RELATIVE_ACCURACY);

export interface BucketStats {
  count: number;
  sum: number;
  /** Mean and sum of squared deviations from it: they merge without the cancellation of a sum of squares. */
  mean: number;
  m2: number;
  min: number;
  max: number;
  /** Sketch bin → how many values fell in it. Bins are strings so that they can be Redis hash fields. */
  bins: Map<string, number>;
}

export function emptyStats(): BucketStats {
  return { count: 0, sum: 0, mean: 0, m2: 0, min: Infinity, max: -Infinity, bins: new Map() };
}

/** The sketch bin of `value`: `p<key>` for positive values, `n<key>` for negative ones, `z` around zero. */
export function sketchBin(value: number): string {
  if (value > mapping.minPossible) return POSITIVE_BIN_PREFIX + mapping.key(value);
  if (value < -mapping.minPossible) return NEGATIVE_BIN_PREFIX + mapping.key(-value);
  return ZERO_BIN;
}

/** The value a bin stands for (within the sketch's relative accuracy of every value in it). */
export function sketchBinValue(bin: string): number {
  if (bin === ZERO_BIN) return 0;
  const key = Number(bin.slice(1));
  if (bin.startsWith(POSITIVE_BIN_PREFIX)) return mapping.value(key);
  if (bin.startsWith(NEGATIVE_BIN_PREFIX)) return -mapping.value(key);
  throw new Error(`not a sketch bin: ${bin}`);
}

/** Adds one value (Welford's update). `bin` may be passed when the caller already computed it. */
export function addValue(stats: BucketStats, value: number, bin: string = sketchBin(value)): void {
  stats.count += 1;
  stats.sum += value;
  const delta = value - stats.mean;
  stats.mean += delta / stats.count;
  stats.m2 += delta * (value - stats.mean);
  if (value < stats.min) stats.min = value;
  if (value > stats.max) stats.max = value;
  stats.bins.set(bin, (stats.bins.get(bin) ?? 0) + 1);
}

/** Merges `source` into `target` (Chan's parallel combine; the Redis store's Lua mirrors it). */
export function mergeInto(target: BucketStats, source: BucketStats): void {
  if (source.count === 0) return;
  const count = target.count + source.count;
  const delta = source.mean - target.mean;
  target.mean += (delta * source.count) / count;
  target.m2 += source.m2 + (delta * delta * target.count * source.count) / count;
  target.count = count;
  target.sum += source.sum;
  target.min = Math.min(target.min, source.min);
  target.max = Math.max(target.max, source.max);
  for (const [bin, binCount] of source.bins) target.bins.set(bin, (target.bins.get(bin) ?? 0) + binCount);
}

/** A bin's key in a DDSketch's stores, as `DDSketch.accept` maps the bin's value (sign: which store). */
interface SketchKey {
  sign: 1 | 0 | -1;
  key: number;
}

/**
 * Bin → its sketch key, computed once per distinct bin (a logarithm each) rather than at every quantile asked. Bins
 * are few (values a decade apart share ~460), but a flood of odd values must not grow it without end.
 */
const sketchKeys = new Map<string, SketchKey>();
const MAX_SKETCH_KEYS = 100_000;

function sketchKeyOf(bin: string): SketchKey {
  let known = sketchKeys.get(bin);
  if (!known) {
    const value = sketchBinValue(bin);
    if (value > mapping.minPossible) known = { sign: 1, key: mapping.key(value) };
    else if (value < -mapping.minPossible) known = { sign: -1, key: mapping.key(-value) };
    else known = { sign: 0, key: 0 };
    if (sketchKeys.size >= MAX_SKETCH_KEYS) sketchKeys.clear();
    sketchKeys.set(bin, known);
  }
  return known;
}

/** DenseStore.keyAtRank over the store's non-empty bins in key order (empty bins never end the walk). */
function keyAtRank(bins: readonly [number, number][], rank: number, lower: boolean): number {
  let running = 0;
  for (const [key, count] of bins) {
    running += count;
    if ((lower && running > rank) || (!lower && running >= rank + 1)) return key;
  }
  return (bins.at(-1) as [number, number])[0];
}

/**
 * The value at quantile `q` of the values in `bins`, with the sketch's relative accuracy: exactly what a DDSketch
 * given each bin's value with its count answers (the unit test compares them), without building one, which cost
 * most of a window's finalize (and a backtest finalizes at every step).
 */
export function sketchQuantiles(bins: Map<string, number>, quantiles: readonly number[]): number[] {
  const positive: [number, number][] = [];
  const negative: [number, number][] = [];
  let zero = 0;
  let count = 0;
  for (const [bin, weight] of bins) {
    if (weight <= 0) throw Error('Weight must be a positive number');
    const { sign, key } = sketchKeyOf(bin);
    if (sign > 0) positive.push([key, weight]);
    else if (sign < 0) negative.push([key, weight]);
    else zero += weight;
    count += weight;
  }
  positive.sort((a, b) => a[0] - b[0]);
  negative.sort((a, b) => a[0] - b[0]);
  let negativeCount = 0;
  for (const [, weight] of negative) negativeCount += weight;
  return quantiles.map((q) => {
    if (q < 0 || q > 1 || count === 0) return Number.NaN;
    const rank = q * (count - 1);
    if (rank < negativeCount) return -mapping.value(keyAtRank(negative, negativeCount - rank - 1, false));
    if (rank < zero + negativeCount) return 0;
    return mapping.value(keyAtRank(positive, rank - zero - negativeCount, true));
  });
}

/** The aggregate of one window from the merge of its buckets. `from`/`to` are epoch ms. */
export function finalize(
  metric: string,
  window: WindowSize,
  from: number,
  to: number,
  stats: BucketStats,
  labels: Label[] = [],
): MetricAggregate {
  const span = { metric, window, labels, from: new Date(from), to: new Date(to) };
  if (stats.count === 0) {
    return {
      ...span,
      count: 0,
      sum: 0,
      avg: null,
      min: null,
      max: null,
      stddev: null,
      p50: null,
      p95: null,
      p99: null,
    };
  }
  const { p50, p95, p99 } = REPORTED_QUANTILES;
  // A bin's representative value may lie just outside the exact extremes; the true quantile never does.
  const [q50, q95, q99] = sketchQuantiles(stats.bins, [p50, p95, p99]).map((v) => clamp(v, stats.min, stats.max));
  const { count, min, max } = stats;
  // Every value is finite, so min and max are; sums of huge values may not be (Infinity, or NaN once Redis wrote
  // "inf" and it was read back), and GraphQL cannot send either. Each statistic saturates within what it must be.
  const avg = stats.sum / count;
  const halfRange = max / 2 - min / 2; // a population stddev is never more than half the range
  const stddev = Math.sqrt(stats.m2 / count);
  return {
    ...span,
    count,
    sum: saturate(Number.isNaN(stats.sum) ? stats.mean * count : stats.sum),
    avg: clamp(Number.isFinite(avg) ? avg : stats.mean, min, max),
    min,
    max,
    // Population standard deviation (divides by count): the window holds every value, not a sample of them.
    stddev: Number.isNaN(stddev) ? halfRange : clamp(stddev, 0, halfRange),
    p50: q50 ?? null,
    p95: q95 ?? null,
    p99: q99 ?? null,
  };
}

/** One point of a series (a bucket starting at `at`, epoch ms), with the statistics a chart draws. */
export function finalizePoint(at: number, stats: BucketStats): MetricPoint {
  const { count, sum, min, max, avg, p50, p95, p99 } = finalize('', 'M1', at, at, stats);
  return { at, count, sum, min, max, avg, p50, p95, p99 };
}

/** `value` within the finite doubles. */
export function saturate(value: number): number {
  return clamp(value, -Number.MAX_VALUE, Number.MAX_VALUE);
}

/** `value` within [min, max]; NaN becomes the middle of the range. */
function clamp(value: number, min: number, max: number): number {
  if (Number.isNaN(value)) return min / 2 + max / 2;
  return Math.min(max, Math.max(min, value));
}
