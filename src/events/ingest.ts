// Publishing: validate the whole batch, commit it (one statement, with its outbox rows), then wake the stream
// processor. A client is told "accepted" only after the commit.
import {
  BUDGET_WINDOW_MS,
  type SeriesLimits,
  type SeriesRegistry,
  type SeriesVerdict,
  seriesOfBatch,
} from '../aggregation/series.js';
import type { Bus } from '../bus/bus.js';
import { sqlErrorOf } from '../db.js';
import { badInput, DomainError, type ErrorCode } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { type EventLimits, type NewEvent, type PublishEventInput, validateBatch } from './model.js';
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
  /** Where the live series are known, and the limits on new ones (MAX_NEW_SERIES_PER_MINUTE, MAX_SERIES). */
  series: { registry: SeriesRegistry; limits: SeriesLimits };
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
   * an alert missing from the history would be worse than a queue briefly over its bound. `owner`: the API key
   * publishing, charged for the new series the batch starts.
   */
  async publish(
    inputs: PublishEventInput[],
    options: { internal?: boolean; owner?: string } = {},
  ): Promise<PublishResult> {
    try {
      const result = await this.store(inputs, options.internal ?? false, options.owner ?? 'server');
      this.hooks.onPublished?.(result);
      return result;
    } catch (error) {
      this.hooks.onRefused?.(error instanceof DomainError ? error.code : 'INTERNAL');
      throw error;
    }
  }

  private async store(inputs: PublishEventInput[], internal: boolean, owner: string): Promise<PublishResult> {
    const { store, bus, limits, logger, nudgeLocal, maxQueued } = this.options;
    const now = this.options.now?.() ?? Date.now();
    const validation = validateBatch(inputs, now, limits, internal ? 'server' : 'client');
    if (!validation.ok) {
      const { index, metric, field } = validation;
      const where = index === null ? '' : `event ${index}: `;
      throw badInput(`${where}${validation.problem}; nothing was stored`, {
        index,
        ...(metric ? { metric } : {}),
        ...(field ? { field } : {}),
      });
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
    // Queued from here, the series check included, so publishes waiting on it count against the bound too.
    this.queued += events.length;
    try {
      // Admitted series count as live from here on, even if the commit then fails: a retry finds them admitted.
      if (!internal) await this.admitSeries(events, owner, now);
      accepted = await store.insertBatch(events, new Date(now)).catch((error) => {
        // SQLSTATE class 22 (data exception): the data itself was refused, so a retry would fail the same way.
        const refused = sqlErrorOf(error);
        if (refused?.code.startsWith('22')) {
          throw badInput(`the database refused the batch's data (${refused.message}); nothing was stored`);
        }
        // No partition of the log holds an event's time, or no day of "EventId" the date a UUIDv7 id carries: past
        // the retention by the clock of the instance that dropped its day, or ahead of the partitions made (their
        // maintenance has not run for days, or a client made the id with a clock days ahead).
        if (refused?.code === '23514' && /no partition/.test(refused.message)) {
          throw badInput(
            /"EventId"/.test(refused.message)
              ? `an event's id is a UUIDv7 whose time is outside the days ids are kept (older than EVENT_ID_RETENTION_DAYS, or beyond the partitions made ahead); send a current UUIDv7 or a random UUID; nothing was stored`
              : `an event's timestamp is outside the days the event log holds (older than the retention of ${limits.retentionDays} days, EVENT_RETENTION_DAYS, or beyond the partitions made ahead); nothing was stored`,
          );
        }
        logger.error({ err: error }, 'event store write failed');
        throw new DomainError('UNAVAILABLE', 'the event store is unavailable; nothing was stored, retry later');
      });
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

  /** Refuses the batch when the series it would start go past a limit; one call to the registry per batch. */
  private async admitSeries(events: NewEvent[], owner: string, now: number): Promise<void> {
    const { registry, limits } = this.options.series;
    const series = seriesOfBatch(
      events.map((e) => ({ type: e.type, timestamp: e.timestamp.getTime(), data: e.data })),
      now,
    );
    // More names than may ever be live: refused here, so the registry's call stays small.
    let verdict: SeriesVerdict;
    if (series.size > limits.maxSeries) {
      const metric = [...series.keys()][limits.maxSeries] as string;
      verdict = { ok: false, limit: 'MAX_SERIES', metric, new: series.size, used: 0 };
    } else {
      verdict = await registry.admitSeries(series, owner, limits, now).catch((error) => {
        this.options.logger.warn({ err: error }, 'series limits not checked: the registry did not answer');
        return { ok: 'unchecked' } as const;
      });
    }
    if (verdict.ok !== false) return;
    const index = series.get(verdict.metric)?.index ?? null;
    const where = `event ${index}: metric "${verdict.metric.slice(0, 128)}"`;
    if (verdict.limit === 'MAX_NEW_SERIES_PER_MINUTE') {
      const retryAfterMs = BUDGET_WINDOW_MS - (now % BUDGET_WINDOW_MS);
      throw new DomainError(
        'RATE_LIMITED',
        `${where} would start a new series past MAX_NEW_SERIES_PER_MINUTE (${limits.maxNewPerMinute}): this key started ${verdict.used} this minute and the batch starts ${verdict.new}; nothing was stored, retry in ${Math.ceil(retryAfterMs / 1000)} s`,
        { index, metric: verdict.metric, limit: verdict.limit, retryAfterMs },
      );
    }
    throw badInput(
      `${where} would start a new series past MAX_SERIES (${limits.maxSeries} live series; ${verdict.used} are live and the batch starts ${verdict.new}); nothing was stored`,
      { index, metric: verdict.metric, limit: verdict.limit },
    );
  }
}
