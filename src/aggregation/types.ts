// The shapes shared by the event pipeline, the aggregate stores and the alert engine.
import type { ApplyCost } from './apply-cost.js';
import type { Label } from './labels.js';
import type { BucketStats } from './stats.js';

/** An apply refused because the state no longer holds the batch the writer applied last (AggregateStore.apply). */
export class StaleStateError extends Error {
  constructor() {
    super('the aggregate state is not the one last applied (it went back, e.g. a failover to a lagging replica)');
    this.name = 'StaleStateError';
  }
}

/** Redis's error reply code for StaleStateError. */
export const STALE_CODE = 'STALE';

export const WINDOW_SIZES = ['M1', 'M5', 'M15', 'H1', 'H6', 'H24'] as const;
export type WindowSize = (typeof WINDOW_SIZES)[number];

export const AGGREGATIONS = ['COUNT', 'SUM', 'AVG', 'MIN', 'MAX', 'P50', 'P95', 'P99', 'STDDEV'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export const WINDOW_MS: Record<WindowSize, number> = {
  M1: 60_000,
  M5: 5 * 60_000,
  M15: 15 * 60_000,
  H1: 60 * 60_000,
  H6: 6 * 60 * 60_000,
  H24: 24 * 60 * 60_000,
};

/** One numeric observation of a metric at event time (epoch milliseconds). */
export interface MetricSample {
  metric: string;
  value: number;
  timestamp: number;
}

export interface AggregateQuery {
  metric: string;
  window: WindowSize;
  /** The labels the answer is for (its `labels`); a store reads `series` for them, never looks at these. */
  labels?: readonly Label[];
  /**
   * The stored series merged into the answer (the label sets the labels match, labels.ts); absent: the metric's
   * total, `[metric]`. Empty: nothing matched, an empty window.
   */
  series?: readonly string[];
}

/** One bucket of a window: bucket `index` of `window`, merged over `series` (stored series names, labels.ts). */
export interface BucketQuery {
  window: WindowSize;
  series: readonly string[];
  index: number;
}

/** What `MetricAggregate` in the GraphQL contract carries; statistics are null when count is 0. */
export interface MetricAggregate {
  metric: string;
  window: WindowSize;
  /** The labels it is for, sorted by name; none for the metric's total. */
  labels: Label[];
  from: Date;
  to: Date;
  count: number;
  sum: number;
  avg: number | null;
  min: number | null;
  max: number | null;
  stddev: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** One bucket of a window (one of its 60 points): `at` is the bucket's start, epoch ms. */
export interface MetricPoint {
  at: number;
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  avg: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/**
 * The last batch applied to an aggregate store: its outbox seqs and, in the same order, its event ids. The ids tell
 * this database's events from another database's under the same seqs (a Redis that served another database, or a
 * database restored from a dump), so the record is checked against the event log before it is trusted.
 */
export interface AppliedBatch {
  seqs: string[];
  ids: string[];
}

/** A batch as the stores record it: the exact text applies compare (`previous`) and the processor trusts. */
export function recordOf({ seqs, ids }: AppliedBatch): string {
  return JSON.stringify({ seqs, ids });
}

/**
 * The batch a record names, or null for a record not as `recordOf` writes it (edited by hand, or written by something
 * else): its state is then taken for lost and rebuilt, since every apply, which compares the exact text, would refuse.
 */
export function batchOfRecord(record: string | null): AppliedBatch | null {
  if (record === null) return null;
  try {
    const { seqs, ids } = JSON.parse(record) as AppliedBatch;
    const batch = { seqs, ids };
    return recordOf(batch) === record ? batch : null;
  } catch {
    return null;
  }
}

/**
 * Shared, exactly-once aggregate state, kept per partition of the outbox (src/events/partitions.ts). Each partition
 * has exactly one writer (its lease holder) and a state of its own: buckets, label indexes and the record of its last
 * applied batch. Any instance reads, merging the partitions.
 *
 * Exactly-once protocol, driven by each partition's stream processor against its part of the Postgres outbox:
 *   1. `lastAppliedRecord(p)` → the last batch applied (unless it is the one this processor wrote last, the record is
 *      read as a batch); none means the store lost its state (e.g. Redis restarted) and must be rebuilt first. A batch whose seqs and ids are not events of this database means the state is
 *      another database's: rebuilt too; so is one older than the last batch Postgres recorded as applied (step 4),
 *      whose seqs have left the outbox (a failover to a lagging replica). Otherwise its seqs are deleted from the
 *      outbox (idempotent);
 *   2. read the next outbox batch, map its events to samples;
 *   3. `apply(batch, samples, fence)` applies the samples AND records the batch as the last applied atomically;
 *   4. delete the batch's seqs from the outbox, recording it as the partition's last applied in the same statement.
 * A crash between 3 and 4 is repaired by step 1 on the next run, so no event is counted twice or lost.
 */
export interface AggregateStore {
  /** The partitions the state is kept in (PROCESSOR_PARTITIONS; 1 embedded). */
  readonly partitions: number;
  /** The partition's last applied batch (partition 0 when not given). */
  lastAppliedBatch(partition?: number): Promise<AppliedBatch | null>;
  /** The same as its record (`recordOf`), read as stored: what the stream processor compares on every pass. */
  lastAppliedRecord(partition?: number): Promise<string | null>;
  /** Whether the partition has a state (its last applied batch is recorded): false while lost or being rebuilt. */
  hasState(partition: number): Promise<boolean>;
  /**
   * Applies samples to the partition's state and records the batch atomically. Rejects with FencedError (lease.ts)
   * when `fence` no longer holds the partition's lease, and with StaleStateError, applying nothing, when `previous`
   * (a record as `lastAppliedRecord` answers it) is given and is not the state's record: the state went back, e.g. a
   * Redis failed over to a replica that had not yet received the last applies.
   */
  apply(
    batch: AppliedBatch,
    samples: MetricSample[],
    fence?: string,
    partition?: number,
    previous?: string,
  ): Promise<void>;
  /** Counts what an apply made now would write, as samples are added: the stream processor budgets applies by it. */
  applyCost(): ApplyCost;
  /**
   * Drops the partition's state, then loads `samples` into it. The state stays marked as lost (no applied batch) until
   * the next `apply` records one, so a rebuild cut short is started again. Other partitions are untouched.
   */
  rebuild(samples: AsyncIterable<MetricSample[]>, fence?: string, partition?: number): Promise<void>;
  /** Answers every query over the window ending at `at` (epoch ms), merging the partitions' buckets. */
  read(queries: AggregateQuery[], at: number): Promise<MetricAggregate[]>;
  /** The window's 60 buckets (its points), oldest first, each the merge of the query's series. */
  readPoints(query: AggregateQuery, at: number): Promise<MetricPoint[]>;
  /**
   * Each bucket's statistics as stored (with several series, their merge in the order given; an absent bucket is
   * empty), in as few round trips as the store's read budget allows. For readers that keep buckets and merge them
   * in bucket order themselves, as `read` does (window-cache.ts), so only buckets that changed are read again.
   */
  readBuckets(buckets: readonly BucketQuery[]): Promise<BucketStats[]>;
  /** Metric names that have samples in the last 24 h, sorted (labelled series are not metric names). */
  metricNames(at: number): Promise<string[]>;
  /** The label parts (labels.ts) of the metric's label sets with samples in the last 24 h, sorted. */
  labelSets(metric: string, at: number): Promise<string[]>;
  close(): Promise<void>;
}
