// The aggregate store of the embedded, single-process mode: the same buckets as the Redis store, in Maps.
// State lives only as long as the process, so a restarted process reports no applied batch and gets rebuilt.
import { addValue, type BucketStats, emptyStats, finalize, mergeInto, sketchBin } from './stats.js';
import type { AggregateQuery, AggregateStore, AppliedBatch, MetricAggregate, MetricSample } from './types.js';
import { AGGREGATION_HORIZON_MS, sampleBuckets, windowBuckets } from './windows.js';

export interface MemoryAggregateStoreOptions {
  clock?: () => number;
  /** How long a bucket outlives the last window that reads it, for readers asking about a moment just past. */
  retentionGraceMs?: number;
  /** Least time between two sweeps for expired buckets, so a sweep's cost is spread over many applies. */
  pruneIntervalMs?: number;
}

interface StoredBucket {
  stats: BucketStats;
  expiresAt: number;
}

export class MemoryAggregateStore implements AggregateStore {
  private readonly clock: () => number;
  private readonly retentionGraceMs: number;
  private readonly pruneIntervalMs: number;
  private readonly buckets = new Map<string, StoredBucket>();
  /** Metric → newest sample time, for `metricNames`. */
  private readonly newestSample = new Map<string, number>();
  private appliedBatch: AppliedBatch | null = null;
  private nextPruneAt = -Infinity;

  constructor({
    clock = Date.now,
    retentionGraceMs = 60_000, // one minute
    pruneIntervalMs = 1_000, // one second
  }: MemoryAggregateStoreOptions = {}) {
    this.clock = clock;
    this.retentionGraceMs = retentionGraceMs;
    this.pruneIntervalMs = pruneIntervalMs;
  }

  async lastAppliedBatch(): Promise<AppliedBatch | null> {
    return this.appliedBatch && copyOf(this.appliedBatch);
  }

  // A single process holds no lease, so there is no fence to check.
  async apply(batch: AppliedBatch, samples: MetricSample[]): Promise<void> {
    this.add(samples);
    this.appliedBatch = copyOf(batch);
  }

  async rebuild(chunks: AsyncIterable<MetricSample[]>): Promise<void> {
    this.buckets.clear();
    this.newestSample.clear();
    this.appliedBatch = null;
    for await (const samples of chunks) this.add(samples);
  }

  async read(queries: AggregateQuery[], at: number): Promise<MetricAggregate[]> {
    return queries.map(({ metric, window }) => {
      const { from, to, first, last } = windowBuckets(window, at);
      const merged = emptyStats();
      for (let index = first; index <= last; index++) {
        const bucket = this.buckets.get(bucketKey(metric, window, index));
        if (bucket) mergeInto(merged, bucket.stats);
      }
      return finalize(metric, window, from, to, merged);
    });
  }

  async metricNames(at: number): Promise<string[]> {
    const since = at - AGGREGATION_HORIZON_MS;
    return [...this.newestSample]
      .filter(([, newest]) => newest > since)
      .map(([metric]) => metric)
      .sort();
  }

  /** Buckets held in memory: it grows with metrics × time covered, never with the number of samples. */
  bucketCount(): number {
    return this.buckets.size;
  }

  async close(): Promise<void> {
    this.buckets.clear();
    this.newestSample.clear();
  }

  private add(samples: MetricSample[]): void {
    const now = this.clock();
    for (const { metric, value, timestamp } of samples) {
      const bucketsOfSample = sampleBuckets(timestamp, now, this.retentionGraceMs);
      if (bucketsOfSample.length === 0) continue;
      const bin = sketchBin(value);
      for (const { window, index, expiresAt } of bucketsOfSample) {
        addValue(this.bucketAt(bucketKey(metric, window, index), expiresAt), value, bin);
      }
      this.newestSample.set(metric, Math.max(timestamp, this.newestSample.get(metric) ?? -Infinity));
    }
    this.pruneIfDue(now);
  }

  private bucketAt(key: string, expiresAt: number): BucketStats {
    const existing = this.buckets.get(key);
    if (existing) return existing.stats;
    const stats = emptyStats();
    this.buckets.set(key, { stats, expiresAt });
    return stats;
  }

  private pruneIfDue(now: number): void {
    if (now < this.nextPruneAt) return;
    this.nextPruneAt = now + this.pruneIntervalMs;
    for (const [key, bucket] of this.buckets) if (bucket.expiresAt <= now) this.buckets.delete(key);
    const since = now - AGGREGATION_HORIZON_MS;
    for (const [metric, newest] of this.newestSample) if (newest <= since) this.newestSample.delete(metric);
  }
}

function bucketKey(metric: string, window: string, index: number): string {
  return `${window}:${index}:${metric}`;
}

function copyOf({ seqs, ids }: AppliedBatch): AppliedBatch {
  return { seqs: [...seqs], ids: [...ids] };
}
