// The stream processor: takes committed events from the Postgres outbox, broadcasts them on the bus, applies
// them to the shared aggregates exactly once, and tells listeners which metrics changed. The outbox is split into
// partitions (partitions.ts), each with its own lease, fence and record of its last applied batch: the instances
// share them out (each holds its fair share, partition-leases.ts), and each partition held runs its own loop here
// (PartitionWorker), so partitions are processed side by side, in one process and across instances. The alert
// engine's leadership is a lease of its own, held by one instance whoever processes the partitions.

import { createHash } from 'node:crypto';
import { type Span, SpanKind } from '@opentelemetry/api';
import { runsWithinFields } from '../aggregation/apply-cost.js';
import { isLabelledSeries, splitSeries } from '../aggregation/labels.js';
import { EVENTS_RECEIVED_METRIC, eventToSamples } from '../aggregation/samples.js';
import {
  type AggregateStore,
  type AppliedBatch,
  batchOfRecord,
  type MetricSample,
  recordOf,
  StaleStateError,
} from '../aggregation/types.js';
import { AGGREGATION_HORIZON_MS, isAggregatable } from '../aggregation/windows.js';
import type { Bus, Unsubscribe } from '../bus/bus.js';
import { toEventMessage } from '../bus/codecs.js';
import type { EventMessage } from '../bus/topics.js';
import { FencedError, type Lease } from '../lease.js';
import type { Logger } from '../observability/logger.js';
import { ATTR, inSpan, linksTo, SPAN, traceparentOf } from '../observability/tracing.js';
import type { BroadcastLog } from './broadcast-log.js';
import type { StoredEvent } from './model.js';
import { type HeldPartition, type PartitionLeases, partitionsOfMember } from './partition-leases.js';
import { planPartitions } from './partitions.js';
import type { AppliedRecord, EventStore, OutboxEvent, OutboxPartition } from './store.js';

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
  /** The partitions' leases and the live processors; their count is the aggregate store's. */
  leases: PartitionLeases;
  /** The alert engine's lease: `isServing` while held (and every partition has its state). */
  alertLease: Lease;
  logger: Logger;
  hooks?: ProcessorHooks;
  batchSize: number;
  /** Most hash fields one apply may write (apply-cost.ts): a batch that would write more is applied in runs. */
  maxFieldsPerApply: number;
  pollMs: number;
  /**
   * How often leases are renewed, this processor announced and the partitions rebalanced (a third of the lease's TTL),
   * also in the middle of a long pass or rebuild.
   */
  leaseRenewMs: number;
  /** Largest number of events in one bus message, so no single message grows unbounded. */
  broadcastChunk?: number; // default 500
  /**
   * Most events a partition reads and broadcasts ahead of its applies (a read, or a look behind, may add a batch more): live events
   * reach subscribers while the batches before them are applied, rather than after. Default 4 × batchSize.
   */
  readAhead?: number;
  now?: () => number;
}

export class StreamProcessor {
  /** Started: partitions taken run loops of their own (before, only `drain` processes them). */
  private started = false;
  private stopped = false;
  private stopListening: Unsubscribe | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private readonly workers = new Map<number, PartitionWorker>();
  /** Workers being stopped (and their leases given up), which `stop` waits for. */
  private readonly stopping = new Set<Promise<void>>();
  private balancing: Promise<void> = Promise.resolve();
  private alertLeader = false;
  private wasServing = false;
  /** Partition counts of other members already warned of. */
  private readonly otherCounts = new Set<number>();
  /** Whether every partition had its state at the last look (none lost or being rebuilt, on any instance). */
  private complete = false;
  /** Rebuilds announced (aggregates:replaced): a look at every partition's state that one overtook is not used. */
  private replacements = 0;

  constructor(private readonly options: StreamProcessorOptions) {}

  /** Whether this processor holds at least one partition (it processes; otherwise it stands by). */
  get isLeader(): boolean {
    return this.workers.size > 0;
  }

  /** The partitions this processor holds, in order. */
  get heldPartitions(): number[] {
    return [...this.workers.keys()].sort((a, b) => a - b);
  }

  /** The alert leader, with a complete aggregate state: rules may be evaluated against it. */
  get isServing(): boolean {
    if (!this.alertLeader || !this.complete) return false;
    for (const worker of this.workers.values()) if (worker.isRebuilding) return false;
    return true;
  }

  async start(): Promise<void> {
    this.started = true;
    for (const worker of this.workers.values()) worker.start();
    const { bus } = this.options;
    const stopNudges = await bus.subscribe('processor:nudge', () => this.nudge());
    const stopReplaced = await bus.subscribe('aggregates:replaced', (message) => this.heardReplaced(message));
    this.stopListening = () => {
      stopNudges();
      stopReplaced();
    };
    // `stop` may run while this awaits: it then finds no subscription and no timer to end, so none is left behind.
    if (this.stopped) {
      this.unsubscribe();
      return;
    }
    // Takes its share at once (all of them when alone), then keeps leases and shares up to date on its own clock:
    // a pass or a rebuild may outlast a lease, and a fenced write would undo it.
    await this.balance();
    if (this.stopped) return;
    this.renewTimer = setInterval(() => void this.balance(), this.options.leaseRenewMs);
  }

  /** Asks for a pass over the outbox now rather than at the next poll. */
  nudge(): void {
    for (const worker of this.workers.values()) worker.nudge();
  }

  /**
   * Finishes the batches in hand and applies what each partition read ahead (it was broadcast), then stops and gives
   * up its leases; events not yet read wait for the next holders.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    if (this.renewTimer) clearInterval(this.renewTimer);
    await this.balancing;
    for (const partition of this.heldPartitions) void this.stopWorker(partition, true);
    await Promise.all([...this.stopping]);
    const { leases, alertLease, logger } = this.options;
    await leases.leave().catch((error) => logger.warn({ err: error }, 'could not leave the processors'));
    if (this.alertLeader) await alertLease.release().catch(() => {});
    this.alertLeader = false;
  }

  private unsubscribe(): void {
    this.stopListening?.();
    this.stopListening = null;
  }

  /**
   * A partition is being rebuilt, here or on another instance (whose writes this instance would otherwise learn of
   * only at its next heartbeat, evaluating meanwhile against a half-rebuilt state): not serving until its end, and the
   * alert engine's cache dropped at both ends.
   */
  private heardReplaced({ rebuilding }: { rebuilding: boolean }): void {
    this.replacements += 1;
    if (rebuilding) this.complete = false;
    this.options.hooks?.onAggregatesReplaced?.();
    this.noticeServing();
    if (!rebuilding) void this.checkComplete();
  }

  /**
   * Processes the partitions this processor holds until their part of the outbox is empty, or the whole outbox is
   * (tests use it to wait for quiescence). Leases lost meanwhile (Redis restarted empty) are taken again first.
   */
  async drain(): Promise<void> {
    for (;;) {
      await this.balance();
      const processed = await Promise.all(
        [...this.workers.values()].map((worker) =>
          worker.pass().catch((error) => {
            // Lost meanwhile (balance again), or the state went back under the pass (the next one rebuilds it): retry.
            if (error instanceof FencedError || error instanceof StaleStateError) return 1;
            throw error;
          }),
        ),
      );
      if (processed.every((count) => count === 0) || (await this.options.events.outboxSize()) === 0) break;
    }
    // A rebuild in these passes looks at whether every partition has its state again, in the background: settled
    // here, so that `isServing` says what the drained state is.
    await this.checkComplete();
  }

  /** One at a time: the timer's and drain's would otherwise take the same partition twice. */
  private balance(): Promise<void> {
    const next = this.balancing.then(() => this.balanceOnce());
    this.balancing = next.catch(() => {});
    return next;
  }

  /**
   * Announces this processor, renews what it holds, releases what is beyond its fair share and takes free partitions
   * up to it; then the alert lease, and whether every partition has its state.
   */
  private async balanceOnce(): Promise<void> {
    if (this.stopped) return;
    const { leases, alertLease, aggregates, logger } = this.options;
    try {
      const members = await leases.heartbeat();
      this.warnOfOtherCounts(members);
      for (const [partition, worker] of this.workers) {
        if (await leases.renew(partition, worker.held)) continue;
        // Lapsed and perhaps taken: its writes are fenced from now on, so stop it.
        logger.warn({ partition }, 'stream processor lost the lease of a partition');
        void this.stopWorker(partition, false);
      }
      const plan = planPartitions({
        members,
        self: leases.self,
        partitions: leases.partitions,
        held: this.workers.keys(),
      });
      for (const partition of plan.release) void this.stopWorker(partition, true);
      for (const partition of plan.candidates) {
        if (this.workers.size >= plan.share || this.stopped) break;
        const held = await leases.take(partition);
        if (held) this.startWorker(partition, held);
      }
      this.alertLeader = await alertLease.hold();
      await this.lookWhetherComplete(aggregates);
    } catch (error) {
      // Whether every partition has its state is unknown: the engine does not evaluate until it is known again.
      this.complete = false;
      this.noticeServing();
      logger.warn({ err: error }, 'stream processor could not renew or balance its partitions');
    }
  }

  /**
   * Instances running another PROCESSOR_PARTITIONS would process the same outbox into aggregates of their own count,
   * which reads here never merge: said loudly (once per count seen), since only the operator can fix it.
   */
  private warnOfOtherCounts(members: string[]): void {
    const { leases, logger } = this.options;
    for (const member of members) {
      const count = partitionsOfMember(member);
      if (count === null || count === leases.partitions || this.otherCounts.has(count)) continue;
      this.otherCounts.add(count);
      logger.error(
        { partitions: leases.partitions, other: count },
        'another instance runs with a different PROCESSOR_PARTITIONS: give every instance the same value (see "Running at scale")',
      );
    }
  }

  /**
   * Coming to serve (taking the alert lease, or every partition's state back after a rebuild anywhere), the alert
   * engine's view of the aggregates may be stale: other processes wrote them meanwhile.
   */
  private noticeServing(): void {
    const serving = this.isServing;
    if (serving && !this.wasServing) this.options.hooks?.onAggregatesReplaced?.();
    this.wasServing = serving;
  }

  private async checkComplete(): Promise<void> {
    try {
      await this.lookWhetherComplete(this.options.aggregates);
    } catch (error) {
      this.complete = false;
      this.noticeServing();
      this.options.logger.warn({ err: error }, 'could not read whether every partition has its state');
    }
  }

  private async lookWhetherComplete(aggregates: AggregateStore): Promise<void> {
    const replacements = this.replacements;
    const complete = this.alertLeader && (await this.allPartitionsHaveState(aggregates));
    // A rebuild announced meanwhile may have begun after this look: the announcement's own look decides.
    if (replacements === this.replacements) this.complete = complete;
    this.noticeServing();
  }

  private async allPartitionsHaveState(aggregates: AggregateStore): Promise<boolean> {
    for (let partition = 0; partition < aggregates.partitions; partition++)
      if (!(await aggregates.hasState(partition))) return false;
    return true;
  }

  private startWorker(partition: number, held: HeldPartition): void {
    // A rebuild done here may complete the state the alert engine waits for: look again at once, not at the next beat.
    const worker = new PartitionWorker(this.options, partition, held, () => void this.checkComplete());
    this.workers.set(partition, worker);
    if (this.started) worker.start();
    this.options.logger.info(
      { partition, partitions: this.options.leases.partitions },
      'stream processor took a partition',
    );
  }

  /**
   * Stops the partition's loop after its batch in hand and its reads, then, if `release` (the lease is still held),
   * applies what it read ahead and gives the lease up. In the background: the heartbeat must not wait for a long batch
   * or rebuild, or the other partitions' leases lapse.
   */
  private stopWorker(partition: number, release: boolean): Promise<void> {
    const worker = this.workers.get(partition);
    if (!worker) return Promise.resolve();
    this.workers.delete(partition);
    const renewing = release ? this.renewWhileStopping(partition, worker) : undefined;
    const stopped = worker
      .stop(release)
      .then(() => (release ? this.options.leases.release(partition, worker.held) : undefined))
      .catch((error) => this.options.logger.warn({ err: error, partition }, 'could not give a partition up'))
      .finally(() => {
        clearInterval(renewing);
        this.stopping.delete(stopped);
      });
    this.stopping.add(stopped);
    return stopped;
  }

  /**
   * The heartbeat renews only the workers running: a stopping one, applying what it read ahead, keeps its lease on a
   * timer of its own until it gives it up. Lost meanwhile, it applies no more (its writes would be fenced anyway).
   */
  private renewWhileStopping(partition: number, worker: PartitionWorker): NodeJS.Timeout {
    const { leases, leaseRenewMs, logger } = this.options;
    return setInterval(() => {
      leases.renew(partition, worker.held).then(
        (held) => {
          if (!held) worker.abandon();
        },
        (error) => logger.warn({ err: error, partition }, 'could not renew the lease of a stopping partition'),
      );
    }, leaseRenewMs);
  }
}

/** One partition's processing, while this processor holds its lease. */
class PartitionWorker {
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private nudged = false;
  private readonly now: () => number;
  private rebuilding = false;
  private passing: Promise<unknown> = Promise.resolve();
  /**
   * Events read from the outbox and broadcast, not yet applied: each read takes the seqs above the last one's, so they
   * are in seq order but for stragglers (below). The loop applies from the front; reads go on meanwhile, so an event
   * committed during an apply of thousands is broadcast at once rather than after it.
   */
  private ahead: OutboxEvent[] = [];
  private readonly aheadSeqs = new Set<bigint>();
  /** Bumped when `ahead` is given up: a read begun before keeps nothing it read (it is read, and broadcast, again). */
  private aheadEpoch = 0;
  /** Reads run one at a time (each reads after the last one's events), and never beside a state check. */
  private reading: Promise<unknown> = Promise.resolve();
  private readonly readAhead: number;
  private stopped = false;
  /** Stopping with the lease still held: what was read ahead is applied before the lease is given up. */
  private finishing = false;
  /** The loop's last pass failed. */
  private lastPassFailed = false;
  /** A background read is queued and has not begun: another nudge needs no other. */
  private readWaiting = false;
  /** When stragglers were last looked for (at most once a poll interval: each look reads the seqs waiting). */
  private strayLookAt = Number.NEGATIVE_INFINITY;
  /** The seqs applied while a look for stragglers runs: gone from `ahead`, but perhaps in what the look read. */
  private appliedDuringLook: Set<bigint> | null = null;
  /**
   * The store's record of the partition's last applied batch as this worker last checked it (or wrote it) and removed
   * its seqs from the outbox: a record that differs was written elsewhere, and is checked against the log before use.
   */
  private lastTrusted = '';
  private readonly hooks: ProcessorHooks;
  private readonly outbox: OutboxPartition;
  private readonly fence: string | undefined;

  constructor(
    private readonly options: StreamProcessorOptions,
    private readonly partition: number,
    readonly held: HeldPartition,
    private readonly onRebuilt: () => void,
  ) {
    this.now = options.now ?? Date.now;
    this.hooks = options.hooks ?? {};
    this.outbox = { index: partition, count: options.leases.partitions };
    this.fence = held.token;
    this.readAhead = options.readAhead ?? 4 * options.batchSize;
  }

  get isRebuilding(): boolean {
    return this.rebuilding;
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  nudge(): void {
    this.nudged = true;
    this.wake?.();
    // What was just committed goes out now, even while the loop applies a batch; not before the first pass has checked
    // the state, which would give up what was read.
    if (this.running && this.lastTrusted !== '') this.readInBackground();
  }

  /**
   * Stops reading, finishes the batch in hand and, if `finish` (the lease is still held), applies what was read ahead:
   * it was broadcast, and the next holder would broadcast it again (a handover between instances, or a shutdown,
   * would send subscribers those events twice). That is up to PROCESSOR_READ_AHEAD events, a batch and the stragglers
   * a look found. Not finishing (the lease lost, `abandon`, a failed pass, or a stored record that changed, which
   * the next holder checks), what waits is given up, and the next holder broadcasts and applies it.
   */
  async stop(finish: boolean): Promise<void> {
    this.running = false;
    this.stopped = true;
    this.finishing = finish;
    this.wake?.();
    await this.loop;
    // A read begun while the loop slept adds to what waits, which a pass of its own then applies; not after the loop's
    // last pass failed (a dependency is down, or the lease was lost: a second try would meet the same).
    await this.readsSettled();
    if (this.finishing && !this.lastPassFailed && this.ahead.length > 0)
      await this.pass().catch((error) =>
        this.options.logger.warn(
          { err: error, partition: this.partition },
          'stopping, the stream processor could not apply what it had read ahead; the next holder broadcasts it again',
        ),
      );
    this.dropAhead();
  }

  /** The lease was lost while stopping: what is read ahead is given up after the batch in hand. */
  abandon(): void {
    this.finishing = false;
  }

  /** Until no read or look is left: one may have queued another while it ran. */
  private async readsSettled(): Promise<void> {
    for (let tail = this.reading; ; tail = this.reading) {
      await tail;
      if (tail === this.reading) break;
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        this.lastPassFailed = false;
        await this.pass();
        if (failures > 0)
          this.options.logger.info({ failures, partition: this.partition }, 'stream processor recovered');
        failures = 0;
      } catch (error) {
        this.lastPassFailed = true;
        if (!this.running) {
          this.options.logger.warn(
            { err: error, partition: this.partition },
            'stream processor pass failed while stopping; the next holder takes the partition on from the outbox',
          );
          break;
        }
        // One line when a dependency goes away, not one per poll while it stays away.
        if (failures === 0)
          this.options.logger.warn({ err: error, partition: this.partition }, 'stream processor pass failed; retrying');
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

  /**
   * Passes never overlap (the loop and `drain` may both ask): two would apply the same batch twice. Resolves to the
   * number of events processed.
   */
  pass(): Promise<number> {
    const next = this.passing.then(() => this.passOnce());
    this.passing = next.catch(() => {});
    return next;
  }

  /** A lost announcement costs what it cost before there were any: the alert leader's heartbeat sees the state. */
  private async announceRebuild(rebuilding: boolean): Promise<void> {
    await this.options.bus
      .publish('aggregates:replaced', { partition: this.partition, rebuilding })
      .catch((error) =>
        this.options.logger.warn({ err: error, partition: this.partition }, 'could not announce a rebuild'),
      );
  }

  /** One pass: apply the partition's batches until its part of the outbox is empty. */
  private async passOnce(): Promise<number> {
    this.nudged = false;
    const { aggregates, batchSize } = this.options;
    // The record as stored, compared as text: on most passes it is the one this worker wrote, and is not parsed.
    const record = await aggregates.lastAppliedRecord(this.partition);
    // Not beside a read: the check may delete a batch applied but still queued, which a read would take again. What
    // was read ahead is given up first, as it may hold that batch. Stopping, the check (perhaps a rebuild) is left to
    // the next holder.
    if (record !== this.lastTrusted && this.stopped) {
      this.dropAhead();
      return 0;
    }
    if (record !== this.lastTrusted)
      await this.exclusiveOfReads(() => {
        this.dropAhead();
        return this.takeState(record);
      });
    let processed = 0;
    for (;;) {
      // Stopping: nothing more is read; what was read (and broadcast) is applied while the lease is renewed (`stop`).
      if (this.stopped) {
        await this.readsSettled();
        if (!this.finishing) {
          this.dropAhead();
          return processed;
        }
      }
      if (this.ahead.length === 0) {
        await this.read(false);
        if (this.ahead.length === 0) return processed;
      }
      const batch = this.ahead.slice(0, batchSize);
      // Room is made as this batch applies: keep reading meanwhile.
      if (this.running) this.readInBackground();
      // A failure keeps what waits: each run left it once deleted (applyRun), and a run applied but not deleted changes
      // the stored record, so the next pass's check gives everything up and reads from the outbox's head again.
      await this.processBatch(batch);
      processed += batch.length;
      if (this.ahead.length > 0) this.lookForStragglers();
    }
  }

  /** By seq, not by place: stragglers may have been put in front meanwhile. */
  private removeApplied(batch: readonly StoredEvent[]): void {
    for (const event of batch) {
      this.aheadSeqs.delete(event.seq);
      this.appliedDuringLook?.add(event.seq);
    }
    this.ahead = this.ahead.filter((event) => this.aheadSeqs.has(event.seq));
  }

  private exclusiveOfReads<T>(work: () => Promise<T>): Promise<T> {
    const next = this.reading.then(work);
    this.reading = next.catch(() => {});
    return next;
  }

  private dropAhead(): void {
    this.ahead = [];
    this.aheadSeqs.clear();
    this.aheadEpoch += 1;
  }

  /**
   * Reads ahead until the outbox or the room runs out; a failure is the next pass's to meet. One such read waits at a
   * time: the nudges of a thousand publishes ask for one read, not a thousand.
   */
  private readInBackground(): void {
    if (this.readWaiting) return;
    this.readWaiting = true;
    this.read(true, () => {
      this.readWaiting = false;
    }).catch((error) =>
      this.options.logger.debug(
        { err: error, partition: this.partition },
        'reading ahead failed; the pass reads again',
      ),
    );
  }

  /**
   * Reads the events after those read ahead (from the outbox's head when none are), broadcasts them and adds them to
   * `ahead`: once, or (`more`) while full batches come and there is room.
   */
  private read(more: boolean, started?: () => void): Promise<void> {
    return this.exclusiveOfReads(async () => {
      started?.();
      const { events, batchSize } = this.options;
      do {
        if (this.ahead.length >= this.readAhead || this.stopped) return;
        const after = this.ahead.at(-1)?.seq;
        // Reading after what waits, something may have committed behind it: looked for next, after this read.
        if (after !== undefined) this.lookForStragglers();
        const epoch = this.aheadEpoch;
        const batch = await events.readOutbox(batchSize, this.outbox, after);
        if (batch.length === 0) return;
        await this.broadcast(batch);
        if (epoch !== this.aheadEpoch) return;
        this.take(batch);
        if (batch.length < batchSize) return;
      } while (more && this.running);
    });
  }

  private take(batch: readonly OutboxEvent[]): void {
    for (const event of batch) {
      this.ahead.push(event);
      this.aheadSeqs.add(event.seq);
    }
  }

  /**
   * Reading after the last seq read misses an event that took its seq before that one but committed after it was
   * read (publishes overlap). A read from the head finds it once nothing waits, but under steady load something always
   * does: so after each batch applied, the queue up to the last seq read is compared with what waits, and what is
   * missing is read, broadcast and queued too.
   */
  private lookForStragglers(): void {
    // Wall time, not `now` (which may be an event clock that stands still).
    if (performance.now() - this.strayLookAt < this.options.pollMs) return;
    this.strayLookAt = performance.now();
    this.exclusiveOfReads(async () => {
      const through = this.ahead.at(-1)?.seq;
      if (through === undefined || this.stopped) return;
      const { events, batchSize } = this.options;
      const epoch = this.aheadEpoch;
      const applied = new Set<bigint>();
      this.appliedDuringLook = applied;
      try {
        // One more than waits: a straggler, if any, is among them.
        const queued = await events.outboxSeqsThrough(through, this.ahead.length + 1, this.outbox);
        const missing = (seq: bigint) => seq <= through && !this.aheadSeqs.has(seq) && !applied.has(seq);
        const first = queued.find(missing);
        if (first === undefined) return;
        const stragglers = (await events.readOutbox(batchSize, this.outbox, first - 1n)).filter((event) =>
          missing(event.seq),
        );
        if (stragglers.length === 0 || epoch !== this.aheadEpoch) return;
        await this.broadcast(stragglers);
        if (epoch !== this.aheadEpoch) return;
        // In front: the oldest waiting.
        this.ahead = [...stragglers, ...this.ahead];
        for (const event of stragglers) this.aheadSeqs.add(event.seq);
      } finally {
        this.appliedDuringLook = null;
      }
    }).catch((error) =>
      this.options.logger.debug({ err: error, partition: this.partition }, 'looking for stragglers failed'),
    );
  }

  /**
   * Trusts the partition's state, whose record (`record`) this worker did not write, once the log confirms it, or
   * rebuilds it. Written by another pass (here or on another instance), or by a processor of another database sharing
   * this Redis state (a restored or replaced database, a second deployment), or an older state of this one (a failover
   * to a lagging replica, a restore from an older snapshot); none (lost), or not as this server writes it.
   */
  private async takeState(record: string | null): Promise<void> {
    const { events, logger } = this.options;
    const applied = batchOfRecord(record);
    if (record === null || applied === null) {
      if (record !== null)
        logger.warn(
          { partition: this.partition },
          "the aggregate state's record in Redis is not as this server writes it: rebuilding it from Postgres",
        );
      await this.rebuild();
      return;
    }
    this.hooks.onAggregatesReplaced?.();
    const lastBatch = { events: applied.seqs.length, firstSeq: applied.seqs[0], lastSeq: applied.seqs.at(-1) };
    if (!(await this.isOfThisDatabase(applied))) {
      logger.warn(
        { partition: this.partition, lastBatch },
        "the aggregate state in Redis is not this database's (its last applied batch is not among these events): rebuilding it from Postgres",
      );
      await this.rebuild();
      return;
    }
    const { recorded, queued, superseded } = await events.appliedState(this.outbox, applied.seqs);
    // A record that differs from Postgres's and whose batch has left the outbox was followed by applies the state has
    // lost; one still queued was applied but not yet deleted (the pass died in between). No record yet (the first
    // batch after the upgrade that added them) compares with nothing. A state of this partition count that others
    // have applied after (PROCESSOR_PARTITIONS changed, then back) lacks what they applied.
    if (recorded !== null && (superseded || (recorded !== digestOf(record) && !queued))) {
      logger.warn(
        { partition: this.partition, lastBatch },
        'the aggregate state in Redis is older than this database says it applied (a failover to a lagging replica, a restore from an older snapshot, or PROCESSOR_PARTITIONS changed and back): rebuilding it from Postgres',
      );
      await this.rebuild();
      return;
    }
    await events.deleteFromOutbox(applied.seqs, this.appliedRecord(record, recorded === null));
    this.lastTrusted = record;
  }

  /**
   * The batch's span and links: a trace of its own (it holds many publishes), linked to the commit of each of its
   * events. The broadcast's carries its context on to the deliveries.
   */
  private inBatchSpan(
    name: string,
    kind: SpanKind,
    batch: readonly OutboxEvent[],
    work: (span: Span) => Promise<void>,
  ): Promise<void> {
    const attributes = {
      [ATTR.events]: batch.length,
      [ATTR.firstSeq]: batch[0]?.seq.toString() ?? '',
      [ATTR.lastSeq]: batch.at(-1)?.seq.toString() ?? '',
    };
    const links = linksTo(batch.map((event) => event.traceparent));
    return inSpan(name, { kind, parent: null, attributes, links }, work);
  }

  /**
   * Records a batch read, then broadcasts it: before it is applied, so that if we die in between the events are
   * broadcast again (at least once) rather than never.
   */
  private broadcast(batch: readonly OutboxEvent[]): Promise<void> {
    return this.inBatchSpan(SPAN.process, SpanKind.CONSUMER, batch, async (span) => {
      const { bus, broadcasts } = this.options;
      const traceparent = traceparentOf(span);
      const chunk = this.options.broadcastChunk ?? 500;
      const chunks: EventMessage[][] = [];
      for (let i = 0; i < batch.length; i += chunk)
        chunks.push(batch.slice(i, i + chunk).map((event) => toEventMessage(event, traceparent)));
      // Recorded first, in one insert per batch: a subscriber resumes from the position before it was told of it;
      // and broadcast before any other partition's batch is recorded, so positions reach subscribers in order.
      await broadcasts.recordAndBroadcast(
        batch.map((event) => event.seq),
        async (at) => {
          const position = at.toString();
          // All at once: Redis pipelines them, and a busy event loop is waited on once, not once per chunk.
          await Promise.all(
            chunks.map((events, i) => bus.publish('events:published', { events, position, offset: i * chunk })),
          );
        },
      );
    });
  }

  /**
   * Applies a batch already broadcast, in runs that each stay within the apply budget (one atomic call each, which
   * blocks Redis while it runs), each run's outbox rows deleted once it is applied.
   */
  private processBatch(batch: OutboxEvent[]): Promise<void> {
    return this.inBatchSpan(SPAN.apply, SpanKind.INTERNAL, batch, () => this.applyBatch(batch));
  }

  private async applyBatch(batch: OutboxEvent[]): Promise<void> {
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
    const { events, aggregates, bus } = this.options;
    const { hooks } = this;
    const batch = run.map((m) => m.event);
    const samples = run.flatMap((m) => m.samples);
    const late = run.filter((m) => m.late).length;
    const applied = batchOf(batch);
    const record = recordOf(applied);
    // Onto the state this worker trusted last only: one that went back meanwhile (a failover to a lagging replica) is
    // refused, and the next pass's check rebuilds it.
    await aggregates.apply(applied, samples, this.fence, this.partition, this.lastTrusted);
    await events.deleteFromOutbox(applied.seqs, this.appliedRecord(record));
    this.lastTrusted = record;
    // Out of what waits as soon as it is out of the outbox: whatever fails after, it is not applied again.
    this.removeApplied(batch);
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
      await bus.publish('metrics:changed', { metrics, since: Object.fromEntries(since) });
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

  /** What Postgres keeps of the store's record of a batch applied (ProcessorApplied), with its delete. */
  private appliedRecord(record: string, always = false): AppliedRecord {
    return { partition: this.outbox, digest: digestOf(record), always };
  }

  /**
   * Whether a batch the store recorded is this database's: its events are in the log, seq and id alike. A record of
   * no batch comes from a rebuild that found nothing to load, so it holds only while that is still so here.
   */
  private async isOfThisDatabase(applied: AppliedBatch): Promise<boolean> {
    const { events } = this.options;
    if (applied.seqs.length === 0)
      return !(await events.anyProcessedSince(new Date(this.now() - AGGREGATION_HORIZON_MS), this.outbox));
    return events.holdsBatch(applied);
  }

  /**
   * The store lost its state (Redis restarted, or this process is new) or holds another database's: rebuild the last
   * 24 h from Postgres. The newest event loaded is then recorded as the applied batch, so the next processor can
   * check the rebuilt state against its own log like any other.
   */
  private async rebuild(): Promise<void> {
    const { events, aggregates, logger } = this.options;
    const { fence, partition } = this;
    const started = this.now();
    const { maxFieldsPerApply } = this.options;
    const now = () => this.now();
    let newest: StoredEvent[] = [];
    this.rebuilding = true;
    this.hooks.onAggregatesReplaced?.();
    // Published before the state is deleted, so the alert leader (wherever it runs) stops trusting it about then,
    // rather than at its next heartbeat.
    await this.announceRebuild(true);
    try {
      await events.processedSince(
        new Date(started - AGGREGATION_HORIZON_MS),
        this.options.batchSize,
        async (pages) => {
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
          await aggregates.rebuild(samples(), fence, partition);
        },
        this.outbox,
      );
      const applied = batchOf(newest);
      const record = recordOf(applied);
      await aggregates.apply(applied, [], fence, partition);
      // Trusted before Postgres hears of it: should that write fail, the next apply records the partition anyway,
      // rather than the next pass taking the state for one that went back and rebuilding it again.
      this.lastTrusted = record;
      await events.deleteFromOutbox([], this.appliedRecord(record, true));
    } finally {
      this.rebuilding = false;
      this.hooks.onAggregatesReplaced?.();
      await this.announceRebuild(false);
    }
    this.onRebuilt();
    logger.info({ ms: this.now() - started, partition }, "a partition's aggregates rebuilt from the event log");
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

/** What ProcessorApplied keeps of a store's record of its last batch (which, for a big batch, runs to 200 KB). */
function digestOf(record: string): string {
  return createHash('sha256').update(record).digest('base64');
}

function batchOf(events: StoredEvent[]): AppliedBatch {
  return { seqs: events.map((e) => e.seq.toString()), ids: events.map((e) => e.id) };
}
