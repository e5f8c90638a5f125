// Events as the API serves them: publishing, history pages, look-ups and the live stream.

import type { Principal } from '../auth/keys.js';
import { checkPublishableTypes } from '../auth/service.js';
import type { Bus } from '../bus/bus.js';
import { fromEventMessage } from '../bus/codecs.js';
import { busIterator } from '../bus/subscription.js';
import { badInput } from '../errors.js';
import { isUuid } from '../ids.js';
import {
  type Connection,
  decodeCursor,
  encodeCursor,
  type PageRules,
  pageSize,
  seqOf,
  toConnection,
} from '../pagination.js';
import type { BroadcastLog } from './broadcast-log.js';
import { type BroadcastPlace, decodeEventCursor, type EventCursor, encodeEventCursor, ordinalOf } from './cursor.js';
import type { Ingestion, PublishResult } from './ingest.js';
import { type EventType, isStorableTime, type PublishEventInput, type StoredEvent } from './model.js';
import type { EventStore } from './store.js';

export interface EventPageArgs {
  first?: number | null;
  after?: string | null;
  types?: EventType[] | null;
  since?: Date | null;
  until?: Date | null;
}

export interface EventServiceOptions {
  store: EventStore;
  ingestion: Ingestion;
  bus: Bus;
  pages: PageRules;
  /** Messages waiting for a slow subscriber before its subscription ends with OVERLOADED (SUBSCRIPTION_BUFFER). */
  subscriptionBuffer: number;
  broadcasts: BroadcastLog;
  /** This database's name in cursors (redis-namespace.ts): a cursor from another database is refused. */
  database: string;
  /** Most events one resume may replay (MAX_REPLAY_EVENTS). */
  maxReplay: number;
  /** How often a resume after an event not yet broadcast looks again (PROCESSOR_POLL_MS). */
  pollMs: number;
}

// Inside, a cursor is the (timestamp, seq) key the history is ordered by.
const CURSOR_KEY = /^(-?\d{1,15}):(\d{1,19})$/;

export function eventCursor(event: StoredEvent): string {
  return encodeCursor(`${event.timestamp.getTime()}:${event.seq}`);
}

/** The (timestamp, seq) in a cursor's key, or null when no stored event can have it. */
function positionOf([, time, digits]: RegExpExecArray): { timestamp: Date; seq: bigint } | null {
  const ms = Number(time);
  const seq = seqOf(digits as string);
  return isStorableTime(ms) && seq !== null ? { timestamp: new Date(ms), seq } : null;
}

/** Whom a publish is charged to: the API key (the field's scope makes sure there is one). */
function ownerOf(principal: Principal | null): string {
  return principal?.keyId ?? 'anonymous';
}

export class EventService {
  constructor(private readonly options: EventServiceOptions) {}

  /**
   * Validates the whole batch, then stores it in one statement; resolves once it is committed. A publisher whose key
   * is limited to some event types has the whole batch refused if it holds another; the key is charged for the new
   * series the batch starts.
   */
  async publish(inputs: PublishEventInput[], publisher: Principal | null): Promise<PublishResult> {
    checkPublishableTypes(publisher, inputs);
    return this.options.ingestion.publish(inputs, { owner: ownerOf(publisher) });
  }

  /** Publishes one event and answers it as stored (a repeated id answers the event stored first). */
  async publishOne(input: PublishEventInput, publisher: Principal | null): Promise<StoredEvent> {
    const { ids } = await this.publish([input], publisher);
    const [event] = await this.options.store.findByIds(ids);
    if (!event) throw new Error(`event ${ids[0]} was acknowledged but cannot be read back`);
    return event;
  }

  /** History, newest first (by timestamp, then arrival). */
  async page(args: EventPageArgs): Promise<Connection<StoredEvent>> {
    const size = pageSize(args.first, this.options.pages);
    const after = args.after ? decodeCursor(args.after, CURSOR_KEY, positionOf) : null;
    for (const [name, time] of [
      ['since', args.since],
      ['until', args.until],
    ] as const) {
      if (time && !isStorableTime(time.getTime()))
        throw badInput(`${name}: ${time.toISOString()} is outside the years 1 to 9999`);
    }
    const rows = await this.options.store.page({
      first: size + 1,
      after,
      types: args.types,
      since: args.since,
      until: args.until,
    });
    return toConnection(rows, size, (event) => ({ cursor: eventCursor(event), node: event }));
  }

  /** The stored events among `ids`, in no particular order; ids that are not UUIDs match nothing. */
  findByIds(ids: readonly string[]): Promise<StoredEvent[]> {
    return this.options.store.findByIds(ids.filter(isUuid).map((id) => id.toLowerCase()));
  }

  /** The cursor of an event from a broadcast or a replay, without a look-up; null for others (see `cursorsOf`). */
  cursorOfBroadcast(event: StoredEvent): string | null {
    const place = event.broadcast;
    return place ? encodeEventCursor({ kind: 'broadcast', database: this.options.database, place }) : null;
  }

  /** The events' cursors, in the order of `events`: one look-up for those not from a broadcast. */
  async cursorsOf(events: readonly StoredEvent[]): Promise<string[]> {
    const { broadcasts, database } = this.options;
    const unplaced = events.filter((e) => !e.broadcast).map((e) => e.seq);
    const places = unplaced.length ? await broadcasts.placesOf(unplaced) : new Map<bigint, BroadcastPlace>();
    return events.map((event) => {
      const place = event.broadcast ?? places.get(event.seq);
      return encodeEventCursor(
        place ? { kind: 'broadcast', database, place } : { kind: 'pending', database, seq: event.seq },
      );
    });
  }

  /**
   * Events as the stream processor broadcasts them, of the given types (all when none). With `after` (a cursor), first
   * every event broadcast since it, from Postgres, then live ones: in broadcast order, none missed or repeated at the
   * seam (the order closes it, busIterator).
   */
  subscribe(types?: readonly EventType[] | null, after?: string | null): AsyncIterableIterator<StoredEvent> {
    const wanted = types?.length ? new Set<string>(types) : null;
    const isWanted = (event: StoredEvent) => !wanted || wanted.has(event.type);
    const cursor = after == null ? null : decodeEventCursor(after, this.options.database);
    let from: BroadcastPlace | null = null;
    return busIterator({
      bus: this.options.bus,
      topic: 'events:published',
      select: ({ events, position, offset = 0 }) => {
        const selected: StoredEvent[] = [];
        const at = position === undefined ? null : BigInt(position);
        for (let i = 0; i < events.length; i++) {
          const message = events[i] as (typeof events)[number];
          if (wanted && !wanted.has(message.type)) continue;
          const event: StoredEvent = fromEventMessage(message);
          if (at !== null) event.broadcast = { position: at, index: offset + i };
          selected.push(event);
        }
        return selected;
      },
      maxBuffered: this.options.subscriptionBuffer,
      ...(cursor && {
        initial: async (closed: () => boolean) => {
          from = await this.placeOf(cursor, closed);
          return from ? (await this.replay(from)).filter(isWanted) : [];
        },
        order: (event: StoredEvent) => (event.broadcast ? ordinalOf(event.broadcast) : null),
        startAfter: () => (from ? ordinalOf(from) : null),
      }),
    });
  }

  /** Events broadcast after `from`, at most MAX_REPLAY_EVENTS, or BAD_USER_INPUT saying to page the history. */
  private async replay(from: BroadcastPlace): Promise<StoredEvent[]> {
    const { broadcasts, maxReplay } = this.options;
    const events = await broadcasts.since(from, maxReplay + 1);
    if (events.length > maxReplay)
      throw badInput(
        `after: more than ${maxReplay} events were broadcast since this cursor (MAX_REPLAY_EVENTS): ` +
          'page them with the events query instead, then subscribe without after',
        { limit: 'MAX_REPLAY_EVENTS' },
      );
    return events;
  }

  /**
   * The place a cursor names, checked against the broadcast log. A pending cursor's event may not be broadcast yet:
   * then this waits for it (the subscriber is live meanwhile, and what arrives before it is dropped by the order).
   */
  private async placeOf(cursor: EventCursor, closed: () => boolean): Promise<BroadcastPlace | null> {
    const { broadcasts } = this.options;
    if (cursor.kind === 'pending') {
      while (!closed()) {
        // The outbox first: the processor records a batch's place before it clears its outbox rows, so an event gone
        // from the outbox has its place recorded, unless it was broadcast before the log began or past its retention.
        const queued = await broadcasts.isQueued(cursor.seq);
        const place = (await broadcasts.placesOf([cursor.seq])).get(cursor.seq);
        if (place) return place;
        if (!queued)
          throw badInput(
            'after: the cursor names no event the broadcast history holds (none of this database, or one older than ' +
              'the history kept): page the events query instead, then subscribe without after',
          );
        await new Promise((resolve) => setTimeout(resolve, this.options.pollMs));
      }
      return null;
    }
    const { place } = cursor;
    const { first, last, size } = await broadcasts.extent(place.position);
    if (first !== null && place.position < first)
      throw badInput(
        'after: the cursor is older than the broadcast history kept: page the events query instead, ' +
          'then subscribe without after',
      );
    if (size === null || place.index >= size || last === null || place.position > last)
      throw badInput('after: the cursor names no broadcast event of this database');
    return place;
  }
}
