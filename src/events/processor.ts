// The stream processor: takes committed events from the Postgres outbox, broadcasts them on the bus, applies
// them to the shared aggregates exactly once, and tells listeners which metrics changed. One instance at a time
// holds the lease and does this work; the others stand by and take over when its lease lapses.

import { SpanKind } from '@opentelemetry/api';
import { runsWithinFields } from '../aggregation/apply-cost.js';
import { isLabelledSeries, splitSeries } from '../aggregation/labels.js';
import { EVENTS_RECEIVED_METRIC, eventToSamples } from '../aggregation/samples.js';
import type { AggregateStore, AppliedBatch, MetricSample } from '../aggregation/types.js';
import { AGGREGATION_HORIZON_MS, isAggregatable } from '../aggregation/windows.js';
import type { Bus, Unsubscribe } from '../bus/bus.js';
import { toEventMessage } from '../bus/codecs.js';
import type { EventMessage } from '../bus/topics.js';
import type { Lease } from '../lease.js';
import type { Logger } from '../observability/logger.js';
import { ATTR, inSpan, linksTo, SPAN, traceparentOf } from '../observability/tracing.js';
import type { BroadcastLog } from './broadcast-log.js';
import type { StoredEvent } from './model.js';
import type { EventStore, OutboxEvent } from './store.js';

export interface ProcessorHooks {
  /**
   * Called after each applied batch with the metrics it changed (the alert engine evaluates rules here) and, for
   * each, the oldest sample time it wrote (epoch ms; its label sets' samples included).
   */
  onMetricsChanged?(metrics: string[], since: ReadonlyMap<string, number>): void;
  /**
   * The aggregates were written other than through the batches told of above: rebuilt, or possibly written by
   * another instance's processor while this one did not lead.
   */
  onAggregatesReplaced?(): void;
  /** Counts events that were too old to aggregate and values that were not numbers. */
  onLateEvents?(count: number): void;
  onProcessed?(events: StoredEvent[], latencyMs: number[]): void;
}

export interface StreamProcessorOptions {
  events: EventStore;
  /** Where each batch's broadcast position is recorded before it is broadcast (the events' cursors). */
  broadcasts: BroadcastLog;
  aggregates: AggregateStore;
  bus: Bus;
  lease: Lease;
  logger: Logger;
  hooks?: ProcessorHooks;
  batchSize: number;
  /** Most hash fields one apply may write (apply-cost.ts): a batch that would write more is applied in runs. */
  maxFieldsPerApply: number;
  pollMs: number;
  /** How often the lease is renewed while held, also in the middle of a long pass or rebuild (a third of its TTL). */
  leaseRenewMs: number;
  /** Largest number of events in one bus message, so no single message grows unbounded. */
  broadcastChunk?: number; // default 500
  now?: () => number;
}

export class StreamProcessor {
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private nudged = false;
  private stopNudges: Unsubscribe | null = null;
  private readonly now: () => number;
  private leader = false;
  private rebuilding = false;
  private renewTimer: NodeJS.Timeout | null = null;
  private passing: Promise<void> = Promise.resolve();
  /**
   * The store's record of the last applied batch as this processor last checked it (or wrote it) and removed its
   * seqs from the outbox: a record that differs was written elsewhere, and is checked against the log before use.
   */
  private lastTrusted = '';
  private readonly hooks: ProcessorHooks;

  constructor(private readonly options: StreamProcessorOptions) {
    this.now = options.now ?? Date.now;
    this.hooks = options.hooks ?? {};
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /** Leader with a complete aggregate state: rules may be evaluated against it. */
  get isServing(): boolean {
    return this.leader && !this.rebuilding;
  }

  async start(): Promise<void> {
    this.running = true;
    this.stopNudges = await this.options.bus.subscribe('processor:nudge', () => this.nudge());
    // Renewal runs on its own clock: a pass or a rebuild may outlast the lease, and a fenced write would undo it.
    this.renewTimer = setInterval(() => void this.renewLease(), this.options.leaseRenewMs);
    this.loop = this.run();
  }

  /** Asks for a pass over the outbox now rather than at the next poll. */
  nudge(): void {
    this.nudged = true;
    this.wake?.();
  }

  /** Finishes the batch in hand, then stops; events still in the outbox wait for the next leader. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopNudges?.();
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.wake?.();
    await this.loop;
    if (this.leader) await this.options.lease.release().catch(() => {});
    this.leader = false;
  }

  /** Processes until the outbox is empty (tests and shutdown use it to wait for quiescence). */
  async drain(): Promise<void> {
    while ((await this.options.events.outboxSize()) > 0) await this.pass();
  }

  private async renewLease(): Promise<void> {
    if (!this.leader) return;
    try {
      this.leader = await this.options.lease.hold();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'stream processor lease renewal failed');
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        await this.pass();
        if (failures > 0) this.options.logger.info({ failures }, 'stream processor recovered');
        failures = 0;
      } catch (error) {
        // One line when a dependency goes away, not one per poll while it stays away.
        if (failures === 0) this.options.logger.warn({ err: error }, 'stream processor pass failed; retrying');
        failures += 1;
      }
      if (!this.running) break;
      // While failing, wait longer between tries (up to 8 polls) instead of hammering what is down; a nudge
      // still wakes the loop at once.
      if (!this.nudged) await this.sleep(this.options.pollMs * 2 ** Math.min(failures, 3));
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** Passes never overlap (the loop and `drain` may both ask): two would apply the same batch twice. */
  private pass(): Promise<void> {
    const next = this.passing.then(() => this.passOnce());
    this.passing = next.catch(() => {});
    return next;
  }

  /** One pass: hold the lease, then apply batches until the outbox is empty. */
  private async passOnce(): Promise<void> {
    this.nudged = false;
    const led = this.leader;
    this.leader = await this.options.lease.hold();
    if (!this.leader) return;
    if (!led) this.hooks.onAggregatesReplaced?.();
    const { events, aggregates, logger } = this.options;
    const applied = await aggregates.lastAppliedBatch();
    if (applied === null) {
      await this.rebuild();
    } else if (JSON.stringify(applied) !== this.lastTrusted) {
      // Written by another pass (here or on another instance), or by a processor of another database sharing this
      // Redis state (a restored or replaced database, a second deployment): trusted only once the log confirms it.
      this.hooks.onAggregatesReplaced?.();
      if (await this.isOfThisDatabase(applied)) {
        // Applied but perhaps still queued: a pass died between apply and delete.
        await events.deleteFromOutbox(applied.seqs);
        this.lastTrusted = JSON.stringify(applied);
      } else {
        logger.warn(
          { lastBatch: { events: applied.seqs.length, firstSeq: applied.seqs[0], lastSeq: applied.seqs.at(-1) } },
          "the aggregate state in Redis is not this database's (its last applied batch is not among these events): rebuilding it from Postgres",
        );
        await this.rebuild();
      }
    }
    for (;;) {
      const batch = await events.readOutbox(this.options.batchSize);
      if (batch.length === 0) return;
      await this.processBatch(batch);
      if (batch.length < this.options.batchSize || !this.running) return;
    }
  }

  /**
   * Broadcasts a batch, then applies it in runs that each stay within the apply budget (one atomic call each, which
   * blocks Redis while it runs), each run's outbox rows deleted once it is applied. The batch is a span of a trace of
   * its own (it holds many publishes), linked to the commit of each of its events; the broadcast carries its context
   * on to the deliveries.
   */
  private processBatch(batch: OutboxEvent[]): Promise<void> {
    const attributes = {
      [ATTR.events]: batch.length,
      [ATTR.firstSeq]: batch[0]?.seq.toString() ?? '',
      [ATTR.lastSeq]: batch.at(-1)?.seq.toString() ?? '',
    };
    const links = linksTo(batch.map((event) => event.traceparent));
    return inSpan(SPAN.process, { kind: SpanKind.CONSUMER, parent: null, attributes, links }, (span) =>
      this.applyBatch(batch, traceparentOf(span)),
    );
  }

  private async applyBatch(batch: OutboxEvent[], traceparent: string | undefined): Promise<void> {
    const { bus, broadcasts } = this.options;
    // Recorded first, in one insert per batch: a subscriber resumes from the position before it was told of it.
    const position = (await broadcasts.record(batch.map((event) => event.seq))).toString();
    // Broadcast before applying: if we die in between, the events are broadcast again (at least once) rather
    // than never. The whole batch at once, so no event waits for the applies of those before it.
    const chunk = this.options.broadcastChunk ?? 500;
    const messages: { events: EventMessage[]; position: string; offset: number }[] = [];
    for (let i = 0; i < batch.length; i += chunk)
      messages.push({
        events: batch.slice(i, i + chunk).map((event) => toEventMessage(event, traceparent)),
        position,
        offset: i,
      });
    // All at once: Redis pipelines them, and a busy event loop is waited on once, not once per chunk.
    await Promise.all(messages.map((message) => bus.publish('events:published', message)));
    const now = this.now();
    // Applied in event-time order: a run then covers a slice of time, so runs share few buckets and the batch costs
    // Redis about what one call would. A run need not be contiguous in the outbox: its record names its own events.
    const mapped = byEventTime(batch).map((event) => ({ event, ...this.samplesOf(event, now) }));
    const { aggregates, maxFieldsPerApply } = this.options;
    for (const run of runsWithinFields(
      mapped,
      (m) => m.samples,
      maxFieldsPerApply,
      () => aggregates.applyCost(),
    ))
      await this.applyRun(run);
  }

  private async applyRun(run: { event: StoredEvent; samples: MetricSample[]; late: boolean }[]): Promise<void> {
    const { events, aggregates, bus, lease } = this.options;
    const { hooks } = this;
    const batch = run.map((m) => m.event);
    const samples = run.flatMap((m) => m.samples);
    const late = run.filter((m) => m.late).length;
    const applied = batchOf(batch);
    await aggregates.apply(applied, samples, lease.token);
    await events.deleteFromOutbox(applied.seqs);
    this.lastTrusted = JSON.stringify(applied);
    const processedAt = this.now();
    hooks.onProcessed?.(
      batch,
      batch.map((e) => processedAt - e.receivedAt.getTime()),
    );
    if (late > 0) hooks.onLateEvents?.(late);
    // Metric names only: a labelled sample comes with its metric's total, so listeners of the metric hear of it.
    const since = oldestSampleOf(samples);
    const metrics = [...since.keys()].sort();
    if (metrics.length > 0) {
      // Told first: the alert engine's window cache must hear of every write, even if the bus is down.
      hooks.onMetricsChanged?.(metrics, since);
      await bus.publish('metrics:changed', { metrics });
    }
  }

  /** An event's samples: its count in `events_received` always, its metrics unless it is too old to aggregate. */
  private samplesOf(event: StoredEvent, now: number): { samples: MetricSample[]; late: boolean } {
    const samples: MetricSample[] = [
      { metric: EVENTS_RECEIVED_METRIC, value: 1, timestamp: event.receivedAt.getTime() },
    ];
    const timestamp = event.timestamp.getTime();
    if (!isAggregatable(timestamp, now)) return { samples, late: true };
    for (const sample of eventToSamples({ type: event.type, timestamp, data: event.data }).samples)
      samples.push(sample);
    return { samples, late: false };
  }

  /**
   * Whether a batch the store recorded is this database's: its events are in the log, seq and id alike. A record of
   * no batch comes from a rebuild that found nothing to load, so it holds only while that is still so here.
   */
  private async isOfThisDatabase(applied: AppliedBatch): Promise<boolean> {
    const { events } = this.options;
    if (applied.seqs.length === 0)
      return !(await events.anyProcessedSince(new Date(this.now() - AGGREGATION_HORIZON_MS)));
    return events.holdsBatch(applied);
  }

  /**
   * The store lost its state (Redis restarted, or this process is new) or holds another database's: rebuild the last
   * 24 h from Postgres. The newest event loaded is then recorded as the applied batch, so the next processor can
   * check the rebuilt state against its own log like any other.
   */
  private async rebuild(): Promise<void> {
    const { events, aggregates, lease, logger } = this.options;
    const started = this.now();
    const { maxFieldsPerApply } = this.options;
    const now = () => this.now();
    let newest: StoredEvent[] = [];
    this.rebuilding = true;
    this.hooks.onAggregatesReplaced?.();
    try {
      await events.processedSince(new Date(started - AGGREGATION_HORIZON_MS), this.options.batchSize, async (pages) => {
        const samplesOf = this.samplesOf.bind(this);
        async function* samples(): AsyncGenerator<MetricSample[]> {
          for await (const page of pages) {
            newest = page.slice(-1);
            // Each call within the apply budget, as in a pass: a rebuild must not block Redis for everyone either.
            const at = now();
            const mapped = byEventTime(page).map((event) => samplesOf(event, at).samples);
            const runs = runsWithinFields(
              mapped,
              (samples) => samples,
              maxFieldsPerApply,
              () => aggregates.applyCost(),
            );
            for (const run of runs) yield run.flat();
          }
        }
        await aggregates.rebuild(samples(), lease.token);
      });
      const applied = batchOf(newest);
      await aggregates.apply(applied, [], lease.token);
      this.lastTrusted = JSON.stringify(applied);
    } finally {
      this.rebuilding = false;
      this.hooks.onAggregatesReplaced?.();
    }
    logger.info({ ms: this.now() - started }, 'aggregates rebuilt from the event log');
  }
}

/** Each metric's oldest sample time, its label sets' samples counted as the metric's. */
function oldestSampleOf(samples: readonly MetricSample[]): Map<string, number> {
  const bySeries = new Map<string, number>();
  for (const { metric, timestamp } of samples) {
    const oldest = bySeries.get(metric);
    if (oldest === undefined || timestamp < oldest) bySeries.set(metric, timestamp);
  }
  const byMetric = new Map<string, number>();
  for (const [series, oldest] of bySeries) {
    const metric = isLabelledSeries(series) ? splitSeries(series).metric : series;
    byMetric.set(metric, Math.min(oldest, byMetric.get(metric) ?? Infinity));
  }
  return byMetric;
}

function byEventTime(events: readonly StoredEvent[]): StoredEvent[] {
  return [...events].sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime());
}

function batchOf(events: StoredEvent[]): AppliedBatch {
  return { seqs: events.map((e) => e.seq.toString()), ids: events.map((e) => e.id) };
}
