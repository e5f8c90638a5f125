// Turns bus messages into the async iterator a GraphQL subscription resolver returns. The buffer between the
// bus and a slow client is bounded: past `maxBuffered` items the subscription ends with an error the client sees,
// instead of growing the server's memory without limit or dropping messages silently.

import type { Span } from '@opentelemetry/api';
import { DomainError } from '../errors.js';
import { startDelivery } from '../observability/tracing.js';
import type { Bus } from './bus.js';
import type { Topic, Topics } from './topics.js';

export interface BusIteratorOptions<K extends Topic, T> {
  bus: Bus;
  topic: K;
  /** Maps one bus message to the items this subscriber should receive (often a filter). */
  select: (payload: Topics[K]) => T[];
  maxBuffered: number;
  /**
   * Items to deliver before live ones (e.g. a replay); subscribing happens first, so nothing falls between. `closed`
   * says whether the subscriber has gone meanwhile (for a replay that waits).
   */
  initial?: (closed: () => boolean) => Promise<T[]>;
  /** Deduplicates across the seam between `initial` and live items. */
  key?: (item: T) => string;
  /**
   * For a stream in a total order (a replay, then live): an item's place in it, or null when it has none. An item not
   * after the last one delivered is dropped, which closes the seam between `initial` and live items whatever arrives
   * when, and drops an item broadcast again.
   */
  order?: (item: T) => bigint | null;
  /** With `order`: the place delivery starts after, read once `initial` has run (it may be found by `initial`). */
  startAfter?: () => bigint | null;
}

/** An iterator that also says when it is live: subscribed on the bus, so nothing published from then on is missed. */
export interface LiveIterator<T> extends AsyncIterableIterator<T> {
  readonly ready: Promise<void>;
  /**
   * The span of the item handed out last, while its consumer delivers it (to a shared group's members, or to one
   * subscriber): it ends when the consumer asks for the next item. Null when the item carries no trace context.
   */
  readonly delivery: Span | null;
}

export function busIterator<K extends Topic, T>(options: BusIteratorOptions<K, T>): LiveIterator<T> {
  const { bus, topic, select, maxBuffered, initial, key, order, startAfter } = options;
  const buffer: T[] = [];
  let waiting: ((result: IteratorResult<T>) => void) | null = null;
  let failure: Error | null = null;
  let done = false;
  let unsubscribe: (() => void) | null = null;
  // Keys of the replay and of live items that arrived during it: bounded by the replay, and all a later live
  // item could duplicate (an item stored before the replay's read may still be on its way through the bus).
  const seen = key && initial ? new Set<string>() : null;
  let replaying = initial !== undefined;
  let last: bigint | null = null;

  /** `inOrder`: whether the item is checked against the order now (not while a replay is read: it is held). */
  const deliver = (item: T, inOrder = !replaying) => {
    if (done) return;
    if (order && inOrder) {
      const place = order(item);
      if (place !== null) {
        if (last !== null && place <= last) return;
        last = place;
      }
    }
    if (seen && key) {
      const k = key(item);
      if (seen.has(k)) return;
      if (replaying) seen.add(k);
    }
    if (waiting) {
      const resolve = waiting;
      waiting = null;
      resolve({ value: item, done: false });
      return;
    }
    if (buffer.length >= maxBuffered) {
      failure = new DomainError('OVERLOADED', `subscriber is too slow: more than ${maxBuffered} messages waiting`);
      finish();
      return;
    }
    buffer.push(item);
  };

  const finish = () => {
    if (done) return;
    done = true;
    unsubscribe?.();
    if (waiting && buffer.length === 0) {
      const resolve = waiting;
      waiting = null;
      resolve({ value: undefined, done: true });
    }
  };

  const ready = (async () => {
    unsubscribe = await bus.subscribe(topic, (payload) => {
      for (const item of select(payload)) deliver(item);
    });
    if (done) unsubscribe();
    if (initial) {
      let replay: T[];
      try {
        replay = await initial(() => done);
      } catch (error) {
        finish(); // the client gets the error from next(); nothing stays subscribed for it
        throw error;
      }
      // Replayed items go first: they are older than anything that arrived live meanwhile.
      const live = buffer.splice(0);
      if (seen && key) for (const item of live) seen.delete(key(item));
      last = startAfter?.() ?? null;
      for (const item of [...replay, ...live]) deliver(item, true);
      replaying = false;
    }
  })();

  let delivery: Span | null = null;
  const delivered = () => {
    delivery?.end();
    delivery = null;
  };
  const handOut = (item: T): IteratorResult<T> => {
    delivery = startDelivery(item, topic);
    return { value: item, done: false };
  };

  const iterator: LiveIterator<T> = {
    ready: ready.catch(() => {}),
    get delivery() {
      return delivery;
    },
    async next() {
      delivered();
      await ready;
      const item = buffer.shift();
      if (item !== undefined) return handOut(item);
      if (failure) {
        const error = failure;
        failure = null;
        throw error;
      }
      if (done) return { value: undefined, done: true };
      const next = await new Promise<IteratorResult<T>>((resolve) => {
        waiting = resolve;
      });
      return next.done ? next : handOut(next.value);
    },
    async return() {
      delivered();
      finish();
      buffer.length = 0;
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
