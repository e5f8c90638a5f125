// The aggregate store of the embedded, single-process mode: the same buckets as the Redis store, in Maps.
// State lives only as long as the process, so a restarted process reports no applied batch and gets rebuilt.

import { getOrCreate } from '../maps.js';
import { ApplyCost } from './apply-cost.js';
import { splitSeries } from './labels.js';
import {
  type BatchSeries,
  budgetMinute,
  type SeriesLimits,
  type SeriesRegistry,
  type SeriesVerdict,
} from './series.js';
import { addValue, type BucketStats, emptyStats, finalize, finalizePoint, mergeInto, sketchBin } from './stats.js';
import {
  type AggregateQuery,
  type AggregateStore,
  type AppliedBatch,
  type BucketQuery,
  batchOfRecord,
  type MetricAggregate,
  type MetricPoint,
  type MetricSample,
  recordOf,
} from './types.js';
import { AGGREGATION_HORIZON_MS, sampleBuckets, windowBuckets } from './windows.js';

export interface MemoryAggregateStoreOptions {
  clock?: () => number;
  /** How long a bucket outlives the last window that reads it, for readers asking about a moment just past. */
  retentionGraceMs?: number;
  /** Least time between two sweeps for expired buckets, so a sweep's cost is spread over many applies. */
  pruneIntervalMs?: number;
  /** Partitions kept apart, as the Redis store keeps them (the embedded mode runs one). */
  partitions?: number;
}

interface StoredBucket {
  stats: BucketStats;
  expiresAt: number;
  partition: number;
}

export class MemoryAggregateStore implements AggregateStore, SeriesRegistry {
  private readonly clock: () => number;
  private readonly retentionGraceMs: number;
  private readonly pruneIntervalMs: number;
  private readonly buckets = new Map<string, StoredBucket>();
  /** Series (a metric, or a labelled series) → newest sample time, for `metricNames` and the series limits. */
  private readonly newestSample = new Map<string, number>();
  /** Metric → label part → newest sample time: each metric's label sets, for `labelSets`. */
  private readonly labelIndex = new Map<string, Map<string, number>>();
  /** `<owner>:<minute>` → new series the owner started in that minute (this minute's and the last one's only). */
  private readonly newSeries = new Map<string, number>();
  /** Each partition's last applied batch, null while its state is lost. */
  /** Each partition's record of its last applied batch (`recordOf`). */
  private readonly appliedRecords: (string | null)[];
  private nextPruneAt = -Infinity;

  constructor({
    clock = Date.now,
    retentionGraceMs = 60_000, // one minute
    pruneIntervalMs = 1_000, // one second
    partitions = 1,
  }: MemoryAggregateStoreOptions = {}) {
    this.clock = clock;
    this.retentionGraceMs = retentionGraceMs;
    this.pruneIntervalMs = pruneIntervalMs;
    this.appliedRecords = Array.from({ length: partitions }, () => null);
  }

  get partitions(): number {
    return this.appliedRecords.length;
  }

  async lastAppliedBatch(partition = 0): Promise<AppliedBatch | null> {
    return batchOfRecord(await this.lastAppliedRecord(partition));
  }

  async lastAppliedRecord(partition = 0): Promise<string | null> {
    return this.appliedRecords[partition] ?? null;
  }

  async hasState(partition: number): Promise<boolean> {
    return this.appliedRecords[partition] != null;
  }

  // A single process holds no lease, so there is no fence to check.
  applyCost(): ApplyCost {
    return new ApplyCost(this.clock(), this.retentionGraceMs);
  }

  /** `previous` is not checked: a state in this process cannot go back without the process going, and with it the state. */
  async apply(batch: AppliedBatch, samples: MetricSample[], _fence?: string, partition = 0): Promise<void> {
    this.add(partition, samples);
    this.appliedRecords[partition] = recordOf(batch);
  }

  /**
   * The partition's buckets only. The series and label sets seen are every partition's, so, as in the Redis store,
   * a rebuild leaves them to age out (24 h) rather than forget other partitions' series.
   */
  async rebuild(chunks: AsyncIterable<MetricSample[]>, _fence?: string, partition = 0): Promise<void> {
    for (const [key, bucket] of this.buckets) if (bucket.partition === partition) this.buckets.delete(key);
    this.appliedRecords[partition] = null;
    for await (const samples of chunks) this.add(partition, samples);
  }

  async read(queries: AggregateQuery[], at: number): Promise<MetricAggregate[]> {
    return queries.map(({ metric, window, labels = [], series = [metric] }) => {
      const { from, to, first, last } = windowBuckets(window, at);
      const merged = emptyStats();
      for (let index = first; index <= last; index++) this.mergeBucket(merged, series, window, index);
      return finalize(metric, window, from, to, merged, [...labels]);
    });
  }

  async readPoints({ metric, window, series = [metric] }: AggregateQuery, at: number): Promise<MetricPoint[]> {
    const { first, last, granularity } = windowBuckets(window, at);
    const points: MetricPoint[] = [];
    for (let index = first; index <= last; index++) {
      const merged = emptyStats();
      this.mergeBucket(merged, series, window, index);
      points.push(finalizePoint(index * granularity, merged));
    }
    return points;
  }

  async readBuckets(buckets: readonly BucketQuery[]): Promise<BucketStats[]> {
    return buckets.map(({ window, series, index }) => {
      if (series.length === 1 && this.partitions === 1) {
        // As stored (a copy): merged by the reader into an empty statistic, as `read` merges it.
        const stored = this.buckets.get(bucketKey(0, series[0] as string, window, index))?.stats;
        return stored ? { ...stored, bins: new Map(stored.bins) } : emptyStats();
      }
      const merged = emptyStats();
      this.mergeBucket(merged, series, window, index);
      return merged;
    });
  }

  async metricNames(at: number): Promise<string[]> {
    const since = at - AGGREGATION_HORIZON_MS;
    return [...this.newestSample]
      .filter(([series, newest]) => newest > since && splitSeries(series).labelPart === null)
      .map(([metric]) => metric)
      .sort();
  }

  async labelSets(metric: string, at: number): Promise<string[]> {
    const since = at - AGGREGATION_HORIZON_MS;
    return [...(this.labelIndex.get(metric) ?? [])]
      .filter(([, newest]) => newest > since)
      .map(([labelPart]) => labelPart)
      .sort();
  }
  // The same rules as the Redis store's script; one process, so no other publisher can come in between.
  async admitSeries(
    series: Map<string, BatchSeries>,
    owner: string,
    { maxNewPerMinute, maxSeries }: SeriesLimits,
    at: number,
  ): Promise<SeriesVerdict> {
    const cutoff = at - AGGREGATION_HORIZON_MS;
    const fresh = [...series].filter(([metric]) => (this.newestSample.get(metric) ?? -Infinity) <= cutoff);
    if (fresh.length === 0) return { ok: true, new: 0 };
    const minute = budgetMinute(at);
    for (const key of this.newSeries.keys())
      if (Number(key.slice(key.lastIndexOf(':') + 1)) < minute) this.newSeries.delete(key);
    const budgetKey = `${owner}:${minute}`;
    const used = this.newSeries.get(budgetKey) ?? 0;
    if (used + fresh.length > maxNewPerMinute) {
      const metric = (fresh[Math.max(0, maxNewPerMinute - used)] as [string, BatchSeries])[0];
      return { ok: false, limit: 'MAX_NEW_SERIES_PER_MINUTE', metric, new: fresh.length, used };
    }
    let live = 0;
    for (const newest of this.newestSample.values()) if (newest > cutoff) live += 1;
    if (live + fresh.length > maxSeries) {
      const metric = (fresh[Math.max(0, maxSeries - live)] as [string, BatchSeries])[0];
      return { ok: false, limit: 'MAX_SERIES', metric, new: fresh.length, used: live };
    }
    this.newSeries.set(budgetKey, used + fresh.length);
    for (const [metric, { newest }] of fresh) this.newestSample.set(metric, newest);
    return { ok: true, new: fresh.length };
  }

  /** Buckets held in memory: it grows with metrics × time covered, never with the number of samples. */
  bucketCount(): number {
    return this.buckets.size;
  }

  async close(): Promise<void> {
    this.buckets.clear();
    this.newestSample.clear();
    this.labelIndex.clear();
  }

  private mergeBucket(into: BucketStats, series: readonly string[], window: string, index: number): void {
    for (let partition = 0; partition < this.partitions; partition++) {
      for (const name of series) {
        const bucket = this.buckets.get(bucketKey(partition, name, window, index));
        if (bucket) mergeInto(into, bucket.stats);
      }
    }
  }

  private add(partition: number, samples: MetricSample[]): void {
    const now = this.clock();
    for (const { metric, value, timestamp } of samples) {
      const bucketsOfSample = sampleBuckets(timestamp, now, this.retentionGraceMs);
      if (bucketsOfSample.length === 0) continue;
      const bin = sketchBin(value);
      for (const { window, index, expiresAt } of bucketsOfSample) {
        addValue(this.bucketAt(partition, bucketKey(partition, metric, window, index), expiresAt), value, bin);
      }
      this.newestSample.set(metric, Math.max(timestamp, this.newestSample.get(metric) ?? -Infinity));
      const { metric: base, labelPart } = splitSeries(metric);
      if (labelPart !== null) {
        const sets = getOrCreate(this.labelIndex, base, () => new Map<string, number>());
        sets.set(labelPart, Math.max(timestamp, sets.get(labelPart) ?? -Infinity));
      }
    }
    this.pruneIfDue(now);
  }

  private bucketAt(partition: number, key: string, expiresAt: number): BucketStats {
    const existing = this.buckets.get(key);
    if (existing) return existing.stats;
    const stats = emptyStats();
    this.buckets.set(key, { stats, expiresAt, partition });
    return stats;
  }

  private pruneIfDue(now: number): void {
    if (now < this.nextPruneAt) return;
    this.nextPruneAt = now + this.pruneIntervalMs;
    for (const [key, bucket] of this.buckets) if (bucket.expiresAt <= now) this.buckets.delete(key);
    const since = now - AGGREGATION_HORIZON_MS;
    for (const [metric, newest] of this.newestSample) if (newest <= since) this.newestSample.delete(metric);
    for (const [metric, sets] of this.labelIndex) {
      for (const [labelPart, newest] of sets) if (newest <= since) sets.delete(labelPart);
      if (sets.size === 0) this.labelIndex.delete(metric);
    }
  }
}

function bucketKey(partition: number, metric: string, window: string, index: number): string {
  return `${partition}:${window}:${index}:${metric}`;
}
