// Window aggregates for a reader that asks for the same windows again and again (the alert engine, after every
// applied batch and every interval), reading from the store only the buckets that changed since it last asked.
//
// It keeps each window's buckets as stored and the merge of all but its last bucket (the "fold"), so an evaluation
// whose applies touched only the current buckets reads one bucket per window, and a window that slid to its next
// bucket merges the buckets it holds, reading none. Its answers are those of `AggregateStore.read` at the same
// instant: the buckets are merged into an empty statistic in bucket order, as the stores merge them (for a query of
// several label sets, each bucket is first the merge of its sets, as `readPoints` merges them).
//
// The cache is only as fresh as what it is told: whoever writes the store must `invalidate` the metrics each write
// touched (from the oldest sample time written), and `clear` when the store was written by someone it was not told
// about (a rebuild, another instance's processor). Reads that were in flight when that happened answer their caller
// but are not kept.
import { getOrCreate } from '../maps.js';
import { type BucketStats, emptyStats, finalize, mergeInto } from './stats.js';
import type { AggregateQuery, AggregateStore, BucketQuery, MetricAggregate, WindowSize } from './types.js';
import { bucketIndex, granularityMs, windowBuckets } from './windows.js';

/** A window kept this long without being asked for is dropped (a rule deleted, a condition changed). */
const IDLE_MS = 10 * 60_000;

interface CachedWindow {
  window: WindowSize;
  series: readonly string[];
  /** Bucket index → its statistics as stored, as last read (or known unchanged since). */
  buckets: Map<number, BucketStats>;
  /** The merge of the buckets before `last` in the window ending in bucket `last`. */
  fold: { last: number; stats: BucketStats } | null;
  usedAt: number;
}

export class WindowCache {
  /** Metric → `<window> <series…>` → its cached window. Keyed by metric, which is what writers name. */
  private readonly byMetric = new Map<string, Map<string, CachedWindow>>();
  /** Bumped by `clear`, and per metric by `invalidate`: a read that saw a bump meanwhile keeps nothing. */
  private generation = 0;
  private readonly metricGenerations = new Map<string, number>();
  private lastSweep = -Infinity;

  constructor(private readonly store: Pick<AggregateStore, 'readBuckets'>) {}

  /** Writes touched `metric` (or its label sets) at sample times from `since` (epoch ms; all of it by default). */
  invalidate(metric: string, since = -Infinity): void {
    this.metricGenerations.set(metric, (this.metricGenerations.get(metric) ?? 0) + 1);
    for (const cached of this.byMetric.get(metric)?.values() ?? []) {
      const from = bucketIndex(since, granularityMs(cached.window));
      for (const index of cached.buckets.keys()) if (!(index < from)) cached.buckets.delete(index);
      if (cached.fold && !(from >= cached.fold.last)) cached.fold = null;
    }
  }

  /** Forgets everything: the store was written behind the cache's back. */
  clear(): void {
    this.generation += 1;
    this.byMetric.clear();
    this.metricGenerations.clear();
  }

  /** Windows cached (for tests and metrics). */
  size(): number {
    let size = 0;
    for (const windows of this.byMetric.values()) size += windows.size;
    return size;
  }

  /** Every query over the window ending at `at`, as `AggregateStore.read` answers it; each bucket read once. */
  async read(queries: readonly AggregateQuery[], at: number): Promise<MetricAggregate[]> {
    this.sweep(at);
    const generation = this.generation;
    const metricGenerations = new Map(queries.map((q) => [q.metric, this.metricGenerations.get(q.metric) ?? 0]));
    const plans = queries.map((query) => {
      const series = query.series ?? [query.metric];
      const windows = getOrCreate(this.byMetric, query.metric, () => new Map());
      const cached = getOrCreate(windows, `${query.window} ${series.join(' ')}`, () => ({
        window: query.window,
        series,
        buckets: new Map(),
        fold: null,
        usedAt: at,
      }));
      cached.usedAt = at;
      return { query, cached, ...windowBuckets(query.window, at) };
    });

    // What the cache holds now (an invalidation during the read must not take it from under this answer), and the
    // buckets missing, each read once however many queries share its window.
    const missing = new Map<CachedWindow, Set<number>>();
    const held = plans.map(({ cached, first, last }) => {
      for (const index of cached.buckets.keys()) if (index < first) cached.buckets.delete(index);
      const wanted = getOrCreate(missing, cached, () => new Set());
      const fold = cached.fold?.last === last ? cached.fold.stats : null;
      const buckets = new Map<number, BucketStats>();
      for (let index = fold ? last : first; index <= last; index++) {
        const bucket = cached.buckets.get(index);
        if (bucket) buckets.set(index, bucket);
        else wanted.add(index);
      }
      return { fold, buckets };
    });
    const asked: { cached: CachedWindow; index: number }[] = [];
    for (const [cached, indexes] of missing) for (const index of indexes) asked.push({ cached, index });
    const stats =
      asked.length === 0
        ? []
        : await this.store.readBuckets(
            asked.map(({ cached: { window, series }, index }): BucketQuery => ({ window, series, index })),
          );

    // Kept only if nothing was invalidated while the read ran; answered from either way.
    const fresh = (metric: string) =>
      this.generation === generation && (this.metricGenerations.get(metric) ?? 0) === metricGenerations.get(metric);
    const read = new Map<CachedWindow, Map<number, BucketStats>>();
    asked.forEach(({ cached, index }, i) => {
      getOrCreate(read, cached, () => new Map()).set(index, stats[i] as BucketStats);
    });
    return plans.map(({ query, cached, first, last, from, to }, q) => {
      const keep = fresh(query.metric);
      const got = read.get(cached);
      if (keep && got) for (const [index, bucket] of got) cached.buckets.set(index, bucket);
      const { buckets } = held[q] as (typeof held)[number];
      const bucket = (index: number) => got?.get(index) ?? buckets.get(index);
      let fold = (held[q] as (typeof held)[number]).fold;
      if (!fold) {
        fold = emptyStats();
        for (let index = first; index < last; index++) {
          const stored = bucket(index);
          if (stored) mergeInto(fold, stored);
        }
        if (keep) cached.fold = { last, stats: fold };
      }
      const merged = { ...fold, bins: new Map(fold.bins) };
      const current = bucket(last);
      if (current) mergeInto(merged, current);
      return finalize(query.metric, query.window, from, to, merged, [...(query.labels ?? [])]);
    });
  }

  /**
   * Drops windows nobody asked for in IDLE_MS, at most once a minute, and the generations of metrics with no window
   * (every metric written is invalidated, read or not, so they would grow without bound).
   */
  private sweep(at: number): void {
    if (at - this.lastSweep < 60_000) return;
    this.lastSweep = at;
    for (const [metric, windows] of this.byMetric) {
      for (const [key, cached] of windows) if (at - cached.usedAt > IDLE_MS) windows.delete(key);
      if (windows.size === 0) this.byMetric.delete(metric);
    }
    let dropped = false;
    for (const metric of this.metricGenerations.keys()) {
      if (this.byMetric.has(metric)) continue;
      this.metricGenerations.delete(metric);
      dropped = true;
    }
    // A generation dropped starts again from 0 and could come back to the value a read in flight saw: keep none.
    if (dropped) this.generation += 1;
  }

  /** Metrics whose invalidations are counted (for tests). */
  trackedMetrics(): number {
    return this.metricGenerations.size;
  }
}
