// Publishing: validate the whole batch, commit it (one statement, with its outbox rows), then wake the stream
// processor. A client is told "accepted" only after the commit.
import type { Bus } from '../bus/bus.js';
import { sqlErrorOf } from '../db.js';
import { badInput, DomainError, type ErrorCode } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { type EventLimits, type PublishEventInput, validateBatch } from './model.js';
import type { EventStore } from './store.js';

export interface PublishResult {
  accepted: number;
  duplicates: number;
  /** The id of every input, in input order (generated where the client gave none). */
  ids: string[];
}

export interface IngestionOptions {
  store: EventStore;
  bus: Bus;
  limits: EventLimits;
  logger: Logger;
  /** Wakes the local stream processor without a bus round trip. */
  nudgeLocal: () => void;
  /**
   * Most events accepted but not yet committed at once (INGEST_QUEUE_SIZE). Past it a publish is answered OVERLOADED
   * at once instead of queueing for the database without bound: the client is told, nothing is dropped silently.
   */
  maxQueued: number;
  hooks?: IngestionHooks;
  now?: () => number;
}

export interface IngestionHooks {
  onPublished?(result: PublishResult): void;
  /** A publish refused as a whole, with the error code the client got (INTERNAL for a fault). */
  onRefused?(code: ErrorCode): void;
}

export class Ingestion {
  private queued = 0;
  private readonly hooks: IngestionHooks;

  constructor(private readonly options: IngestionOptions) {
    this.hooks = options.hooks ?? {};
  }

  /** Events waiting for, or in, their commit. */
  get queueSize(): number {
    return this.queued;
  }

  /**
   * `internal`: the server's own events (alert firings) are not refused when the queue is full: they are few, and
   * an alert missing from the history would be worse than a queue briefly over its bound.
   */
  async publish(inputs: PublishEventInput[], options: { internal?: boolean } = {}): Promise<PublishResult> {
    try {
      const result = await this.store(inputs, options.internal ?? false);
      this.hooks.onPublished?.(result);
      return result;
    } catch (error) {
      this.hooks.onRefused?.(error instanceof DomainError ? error.code : 'INTERNAL');
      throw error;
    }
  }

  private async store(inputs: PublishEventInput[], internal: boolean): Promise<PublishResult> {
    const { store, bus, limits, logger, nudgeLocal, maxQueued } = this.options;
    const now = this.options.now?.() ?? Date.now();
    const validation = validateBatch(inputs, now, limits, internal ? 'server' : 'client');
    if (!validation.ok) {
      const { index, metric } = validation;
      const where = index === null ? '' : `event ${index}: `;
      throw badInput(`${where}${validation.problem}; nothing was stored`, metric ? { index, metric } : { index });
    }
    const { events } = validation;
    if (!internal && this.queued + events.length > maxQueued) {
      throw new DomainError(
        'OVERLOADED',
        `the server is overloaded: ${this.queued} events are waiting to be stored; nothing was stored, retry later`,
        {
          queued: this.queued,
        },
      );
    }
    let accepted: number;
    this.queued += events.length;
    try {
      accepted = await store.insertBatch(events, new Date(now));
    } catch (error) {
      // SQLSTATE class 22 (data exception): the data itself was refused, so a retry would fail the same way.
      const refused = sqlErrorOf(error);
      if (refused?.code.startsWith('22')) {
        throw badInput(`the database refused the batch's data (${refused.message}); nothing was stored`);
      }
      logger.error({ err: error }, 'event store write failed');
      throw new DomainError('UNAVAILABLE', 'the event store is unavailable; nothing was stored, retry later');
    } finally {
      this.queued -= events.length;
    }
    nudgeLocal();
    if (accepted > 0) {
      // Another instance may hold the processor lease. If the bus is down the processor's poll still finds them.
      bus.publish('processor:nudge', {}).catch(() => {});
    }
    return { accepted, duplicates: events.length - accepted, ids: events.map((e) => e.id) };
  }
}
