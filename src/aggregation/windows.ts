// Window math shared by every aggregate store: which bucket a sample falls in, which buckets a query reads,
// and when a bucket can no longer be read. Pure: no clock, no I/O.
import { WINDOW_MS, WINDOW_SIZES, type WindowSize } from './types.js';

/** Each window is answered from this many buckets, so its granularity is W/60 (the API's "no coarser than W/60"). */
export const BUCKETS_PER_WINDOW = 60;

/** Samples this old are stored but never aggregated (the API's 24 h), and no window reaches further back. */
export const AGGREGATION_HORIZON_MS = WINDOW_MS.H24;

export interface WindowBuckets {
  /** Start of the first bucket read: the span actually aggregated starts here. */
  from: number;
  /** The query time. */
  to: number;
  /** Index of the first and last bucket read (inclusive). */
  first: number;
  last: number;
  granularity: number;
}

/** A bucket a sample goes into, with the instant after which no query can read it. */
export interface SampleBucket {
  window: WindowSize;
  index: number;
  expiresAt: number;
}

export function granularityMs(window: WindowSize): number {
  return WINDOW_MS[window] / BUCKETS_PER_WINDOW;
}

export function bucketIndex(timestamp: number, granularity: number): number {
  return Math.floor(timestamp / granularity);
}

/** The buckets a query at `at` over `window` reads: the current one and the 59 before it. */
export function windowBuckets(window: WindowSize, at: number): WindowBuckets {
  const granularity = granularityMs(window);
  const last = bucketIndex(at, granularity);
  const first = last - (BUCKETS_PER_WINDOW - 1);
  return { from: first * granularity, to: at, first, last, granularity };
}

/** The first instant at which bucket `index` of `window` has left every query's span (see `windowBuckets`). */
export function bucketExpiresAt(window: WindowSize, index: number): number {
  return (index + BUCKETS_PER_WINDOW) * granularityMs(window);
}

export function isAggregatable(timestamp: number, now: number): boolean {
  return timestamp > now - AGGREGATION_HORIZON_MS;
}

/**
 * The buckets of a sample at `timestamp` that are still worth storing at `now`: none past the horizon, and only
 * those that a query up to `graceMs` in the past can still read (the grace absorbs clock skew between the writer,
 * the readers and the store). Old samples thus touch only the coarse windows that still cover them.
 */
export function sampleBuckets(timestamp: number, now: number, graceMs: number): SampleBucket[] {
  if (!isAggregatable(timestamp, now)) return [];
  const buckets: SampleBucket[] = [];
  for (const window of WINDOW_SIZES) {
    const index = bucketIndex(timestamp, granularityMs(window));
    const expiresAt = bucketExpiresAt(window, index) + graceMs;
    if (expiresAt > now) buckets.push({ window, index, expiresAt });
  }
  return buckets;
}
