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

  /** Events as the stream processor broadcasts them, of the given types (all when none). */
  subscribe(types?: readonly EventType[] | null): AsyncIterableIterator<StoredEvent> {
    const wanted = types?.length ? new Set<string>(types) : null;
    return busIterator({
      bus: this.options.bus,
      topic: 'events:published',
      select: ({ events }) => events.filter((e) => !wanted || wanted.has(e.type)).map(fromEventMessage),
      maxBuffered: this.options.subscriptionBuffer,
    });
  }
}
