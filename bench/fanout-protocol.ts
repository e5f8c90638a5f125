// What the fan-out benchmark's processes share: the clock every latency is read on, the subscription and the event
// every server sends, the graphql-transport-ws messages the raw clients and the floor server speak, the latency
// histogram the load generators fill and the orchestrator merges, and the messages between them.

/** The subscription every client holds, on every server. */
export const SUBSCRIPTION = 'subscription { eventPublished(types: [ANOMALY_DETECTED]) { id type timestamp data } }';
/** The one operation id each client uses, so the floor server can build one frame for all of them. */
export const SUBSCRIPTION_ID = '1';
export const GRAPHQL_TRANSPORT_WS = 'graphql-transport-ws';

/** graphql-transport-ws message types, as in graphql-ws's `MessageType`. */
export enum MessageType {
  ConnectionInit = 'connection_init',
  ConnectionAck = 'connection_ack',
  Ping = 'ping',
  Pong = 'pong',
  Subscribe = 'subscribe',
  Next = 'next',
  Error = 'error',
  Complete = 'complete',
}

/**
 * Wall-clock milliseconds with sub-millisecond precision. Every process of the benchmark runs on this machine, so a
 * time stamped in one (the publisher, or the floor server) and read in another (a load generator) share one clock.
 */
export const wallClock = (): number => performance.timeOrigin + performance.now();

/** Probe events make a socket count as subscribed; they are never timed. */
export const PROBE_SEQ = -1;

/** The `data` of every event: a realistic anomaly, plus the sequence number and the send time the clients read. */
export function eventData(seq: number, sentAt: number): Record<string, unknown> {
  return {
    metric_name: 'api_response_time',
    value: 1_284.5,
    expected: 120,
    deviation: 9.7,
    severity: 'HIGH',
    source: 'fanout-bench',
    bench_seq: seq,
    sent_at: sentAt,
  };
}

/** The Event a plain or floor server sends (ours fills id, timestamp and receivedAt itself). */
export interface FanoutEvent {
  id: string;
  type: 'ANOMALY_DETECTED';
  timestamp: string;
  receivedAt: string;
  data: Record<string, unknown>;
}

const SEQ_KEY = '"bench_seq":';
const SENT_KEY = '"sent_at":';

/** The sequence number and send time of a `next` frame carrying a benchmark event, read without parsing it all. */
export function readStamp(text: string): { seq: number; sentAt: number } | null {
  const seqAt = text.indexOf(SEQ_KEY);
  const sentAt = text.indexOf(SENT_KEY);
  if (seqAt === -1 || sentAt === -1) return null;
  return {
    seq: Number.parseFloat(text.slice(seqAt + SEQ_KEY.length, seqAt + SEQ_KEY.length + 24)),
    sentAt: Number.parseFloat(text.slice(sentAt + SENT_KEY.length, sentAt + SENT_KEY.length + 32)),
  };
}

/**
 * Latencies in buckets 1 % wide (from 0.01 ms up), so a load generator keeps millions of deliveries in a few
 * kilobytes and the orchestrator merges generators exactly; quantiles are the bucket's upper bound (≤ 1 % high).
 */
export class LatencyHistogram {
  private static readonly MIN_MS = 0.01;
  private static readonly LOG_RATIO = Math.log(1.01);
  readonly buckets = new Map<number, number>();
  count = 0;
  max = 0;

  record(latencyMs: number): void {
    const index =
      latencyMs <= LatencyHistogram.MIN_MS
        ? 0
        : Math.ceil(Math.log(latencyMs / LatencyHistogram.MIN_MS) / LatencyHistogram.LOG_RATIO);
    this.buckets.set(index, (this.buckets.get(index) ?? 0) + 1);
    this.count++;
    if (latencyMs > this.max) this.max = latencyMs;
  }

  merge(other: HistogramData): void {
    for (const [index, n] of other.buckets) this.buckets.set(index, (this.buckets.get(index) ?? 0) + n);
    this.count += other.count;
    this.max = Math.max(this.max, other.max);
  }

  /**
   * The q-quantile of `total` deliveries (by default those recorded). With `total` the deliveries expected, those
   * never received rank above every latency, and a quantile that falls among them is Infinity.
   */
  quantile(q: number, total = this.count): number {
    if (total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * total));
    if (rank > this.count) return Number.POSITIVE_INFINITY;
    let seen = 0;
    for (const index of [...this.buckets.keys()].sort((a, b) => a - b)) {
      seen += this.buckets.get(index) ?? 0;
      if (seen >= rank)
        return Math.min(this.max, LatencyHistogram.MIN_MS * Math.exp(index * LatencyHistogram.LOG_RATIO));
    }
    return this.max;
  }

  toData(): HistogramData {
    return { buckets: [...this.buckets], count: this.count, max: this.max };
  }
}

export interface HistogramData {
  buckets: [number, number][];
  count: number;
  max: number;
}

// Orchestrator → load generator.
export type GeneratorCommand =
  | { cmd: 'connect'; url: string; keys: string[]; indices: number[]; concurrency: number }
  /** Times deliveries of events `from`..`to` (sequence numbers) from now on, forgetting the last window. */
  | { cmd: 'window'; from: number; to: number }
  | { cmd: 'status' }
  | { cmd: 'collect' }
  | { cmd: 'close' };

export interface ConnectResult {
  type: 'connected';
  acked: number;
  failed: number;
  /** Wall-clock time the last of this generator's sockets had its connection_ack (and sent its subscribe). */
  lastAckAt: number;
  failures: Record<string, number>;
}

export interface StatusResult {
  type: 'status';
  open: number;
  live: number;
  /** Events of any kind received since connecting, probes included (the benchmark waits for it to stand still). */
  received: number;
  /** Wall-clock time every open socket of this generator had received an event, or null. */
  allLiveAt: number | null;
  delivered: number;
  lastReceiveAt: number;
}

export interface CollectResult {
  type: 'collected';
  histogram: HistogramData;
  delivered: number;
  firstReceiveAt: number;
  lastReceiveAt: number;
  /** Deliveries of events outside the window (late ones of an earlier window). */
  outside: number;
  /** `error` messages and `next` results with errors. */
  errors: number;
  /** Sockets the server closed after they were acknowledged, by close code. */
  closedByServer: Record<string, number>;
  /** Each timed event's deliveries here: [seq, deliveries, fastest ms, slowest ms]. */
  perEvent: EventDeliveries[];
}

/** One event's deliveries in one load generator: its sequence number, how many, the fastest and the slowest (ms). */
export type EventDeliveries = [seq: number, count: number, fastest: number, slowest: number];

/** Merges load generators' EventDeliveries by sequence number. */
export function mergeEventDeliveries(parts: EventDeliveries[][]): Map<number, EventDeliveries> {
  const merged = new Map<number, EventDeliveries>();
  for (const part of parts)
    for (const [seq, count, fastest, slowest] of part) {
      const seen = merged.get(seq);
      merged.set(
        seq,
        seen
          ? [seq, seen[1] + count, Math.min(seen[2], fastest), Math.max(seen[3], slowest)]
          : [seq, count, fastest, slowest],
      );
    }
  return merged;
}

export type GeneratorReply = ConnectResult | StatusResult | CollectResult | { type: 'closed' };
