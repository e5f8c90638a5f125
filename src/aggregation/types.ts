// The shapes shared by the event pipeline, the aggregate stores and the alert engine.

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
}

/** What `MetricAggregate` in the GraphQL contract carries; statistics are null when count is 0. */
export interface MetricAggregate {
  metric: string;
  window: WindowSize;
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

/**
 * Shared, exactly-once aggregate state. Exactly one stream processor (the lease holder) writes; any instance reads.
 *
 * Exactly-once protocol, driven by the stream processor against the Postgres outbox:
 *   1. `lastAppliedBatch()` → the outbox seqs of the last batch applied (delete them from the outbox: idempotent);
 *      `null` means the store lost its state (e.g. Redis restarted) and must be rebuilt first.
 *   2. read the next outbox batch, map its events to samples;
 *   3. `apply(seqs, samples, fence)` applies the samples AND records `seqs` as the last applied batch atomically;
 *   4. delete `seqs` from the outbox.
 * A crash between 3 and 4 is repaired by step 1 on the next run, so no event is counted twice or lost.
 */
export interface AggregateStore {
  lastAppliedBatch(): Promise<string[] | null>;
  /**
   * Applies samples and records the batch atomically. Rejects with FencedError (lease.ts) when `fence` no longer
   * holds the lease.
   */
  apply(seqs: string[], samples: MetricSample[], fence?: string): Promise<void>;
  /**
   * Drops all state, then loads `samples` and records `appliedSeqs` as the last applied batch (marks the state as
   * present).
   */
  rebuild(samples: AsyncIterable<MetricSample[]>, appliedSeqs: string[], fence?: string): Promise<void>;
  /** Answers every query over the window ending at `at` (epoch ms), in one round trip to the store. */
  read(queries: AggregateQuery[], at: number): Promise<MetricAggregate[]>;
  /** Metric names that have samples in the last 24 h, sorted. */
  metricNames(at: number): Promise<string[]>;
  close(): Promise<void>;
}
