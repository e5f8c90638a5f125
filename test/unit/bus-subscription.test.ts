// busIterator (src/bus/subscription.ts) on the in-process bus: what a subscription resolver's client receives, in
// which order, and how the iterator ends (bounded buffer, return(), a failed replay).
import { afterEach, describe, expect, it } from 'vitest';
import { type Bus, createMemoryBus } from '../../src/bus/bus.js';
import { busIterator } from '../../src/bus/subscription.js';
import type { EventMessage, Topics } from '../../src/bus/topics.js';
import { DomainError } from '../../src/errors.js';
import { type ObservedBus, observeBus } from '../helpers/observed-bus.js';
import { deferred, Recording } from '../helpers/waits.js';

const TOPIC = 'events:published';
type Payload = Topics[typeof TOPIC];

const opened: { bus: Bus; iterators: AsyncIterator<unknown>[] }[] = [];

afterEach(async () => {
  for (const { bus, iterators } of opened.splice(0)) {
    for (const iterator of iterators) await iterator.return?.();
    await bus.close();
  }
});

type Setup = ObservedBus & { inner: Bus; iterators: AsyncIterator<unknown>[] };

/** A fresh in-process bus, observed, closed after the test with every iterator made on it. */
function setup(): Setup {
  const inner = createMemoryBus();
  const iterators: AsyncIterator<unknown>[] = [];
  opened.push({ bus: inner, iterators });
  return { ...observeBus(inner), inner, iterators };
}

function event(id: string, type = 'ANOMALY_DETECTED'): EventMessage {
  const at = new Date(0).toISOString();
  return { id, seq: id, type, timestamp: at, receivedAt: at, data: {} };
}

const message = (...ids: string[]): Payload => ({ events: ids.map((id) => event(id)) });
const ids = (payload: Payload) => payload.events.map((e) => e.id);

/**
 * Subscribes after the iterator's own subscription is live: the in-process bus calls listeners in the order they
 * subscribed, so once this probe has seen a message, the iterator has seen it too.
 */
async function probeAfterIterator(setup: Setup): Promise<Recording<Payload>> {
  await setup.subscribed.until((topics) => topics.includes(TOPIC));
  const probe = new Recording<Payload>();
  await setup.inner.subscribe(TOPIC, probe.push);
  return probe;
}

async function take<T>(iterator: AsyncIterator<T>, count: number): Promise<T[]> {
  const values: T[] = [];
  for (let i = 0; i < count; i++) {
    const result = await iterator.next();
    if (result.done) throw new Error(`the iterator ended after ${values.length} item(s)`);
    values.push(result.value);
  }
  return values;
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

describe('busIterator', () => {
  it('should deliver only the items select picks, in the order they were published', async () => {
    const s = setup();
    const iterator = busIterator({
      bus: s.bus,
      topic: TOPIC,
      select: (payload) => payload.events.filter((e) => e.type === 'INSIGHT_GENERATED').map((e) => e.id),
      maxBuffered: 100,
    });
    s.iterators.push(iterator);
    await probeAfterIterator(s);
    await s.bus.publish(TOPIC, {
      events: [event('a', 'INSIGHT_GENERATED'), event('x'), event('b', 'INSIGHT_GENERATED')],
    });
    await s.bus.publish(TOPIC, { events: [event('y')] });
    await s.bus.publish(TOPIC, { events: [event('c', 'INSIGHT_GENERATED'), event('d', 'INSIGHT_GENERATED')] });
    expect(await take(iterator, 4)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('should keep up to maxBuffered waiting items and deliver them all', async () => {
    const s = setup();
    const iterator = busIterator({ bus: s.bus, topic: TOPIC, select: ids, maxBuffered: 3 });
    s.iterators.push(iterator);
    const probe = await probeAfterIterator(s);
    await s.bus.publish(TOPIC, message('1', '2', '3'));
    await probe.atLeast(1);
    expect(await take(iterator, 3)).toEqual(['1', '2', '3']);
    // Still subscribed: a later item comes through.
    await s.bus.publish(TOPIC, message('4'));
    expect(await take(iterator, 1)).toEqual(['4']);
    expect(s.listeners(TOPIC)).toBe(1);
  });

  it('should end with an OVERLOADED error once more than maxBuffered items wait, after the buffered ones', async () => {
    const s = setup();
    const iterator = busIterator({ bus: s.bus, topic: TOPIC, select: ids, maxBuffered: 3 });
    s.iterators.push(iterator);
    const probe = await probeAfterIterator(s);
    await s.bus.publish(TOPIC, message('1', '2'));
    await s.bus.publish(TOPIC, message('3', '4'));
    await s.bus.publish(TOPIC, message('5'));
    await probe.atLeast(3);
    // The subscriber gave up its bus subscription the moment it overflowed: it holds no listener from then on.
    expect(s.listeners(TOPIC)).toBe(0);
    expect(await take(iterator, 3)).toEqual(['1', '2', '3']);
    const error = await errorOf(iterator.next());
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: 'OVERLOADED' });
    expect(String((error as Error).message)).toContain('more than 3 messages waiting');
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('should unsubscribe on return() and ignore what is published afterwards', async () => {
    const s = setup();
    const iterator = busIterator({ bus: s.bus, topic: TOPIC, select: ids, maxBuffered: 10 });
    s.iterators.push(iterator);
    const probe = await probeAfterIterator(s);
    await s.bus.publish(TOPIC, message('before'));
    expect(await take(iterator, 1)).toEqual(['before']);
    // A client waiting for the next item is released when the subscription is stopped.
    const waiting = iterator.next();
    expect(await iterator.return?.()).toEqual({ value: undefined, done: true });
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(s.listeners(TOPIC)).toBe(0);
    await s.bus.publish(TOPIC, message('after'));
    await probe.atLeast(2);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('should drop buffered items on return()', async () => {
    const s = setup();
    const iterator = busIterator({ bus: s.bus, topic: TOPIC, select: ids, maxBuffered: 10 });
    s.iterators.push(iterator);
    const probe = await probeAfterIterator(s);
    await s.bus.publish(TOPIC, message('1', '2'));
    await probe.atLeast(1);
    await iterator.return?.();
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    expect(s.listeners(TOPIC)).toBe(0);
  });

  it('should unsubscribe when return() came before the bus subscription was live', async () => {
    const s = setup();
    const gate = deferred();
    const slowBus: Bus = {
      ...s.bus,
      subscribe: async (topic, listener) => {
        await gate.promise;
        return s.bus.subscribe(topic, listener);
      },
    };
    const iterator = busIterator({ bus: slowBus, topic: TOPIC, select: ids, maxBuffered: 10 });
    s.iterators.push(iterator);
    await iterator.return?.();
    gate.resolve();
    await s.subscribed.until((topics) => topics.includes(TOPIC));
    // The unsubscribe runs right after the subscription resolves, in the same turn as `next` sees it.
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    expect(s.listeners(TOPIC)).toBe(0);
  });

  it('should deliver the initial replay before live items, without repeating items across the seam', async () => {
    const s = setup();
    const replay = deferred<string[]>();
    let listenersWhenReplayStarted = -1;
    const iterator = busIterator({
      bus: s.bus,
      topic: TOPIC,
      select: ids,
      maxBuffered: 10,
      initial: () => {
        listenersWhenReplayStarted = s.listeners(TOPIC);
        return replay.promise;
      },
      key: (id) => id,
    });
    s.iterators.push(iterator);
    const probe = await probeAfterIterator(s);
    // While the replay is read, live items arrive: one the replay also holds (stored before its read), one new.
    await s.bus.publish(TOPIC, message('c', 'd'));
    await probe.atLeast(1);
    replay.resolve(['a', 'b', 'c']);
    expect(await take(iterator, 4)).toEqual(['a', 'b', 'c', 'd']);
    // A replayed item still on its way through the bus is not delivered twice; a new one is.
    await s.bus.publish(TOPIC, message('b', 'e'));
    await s.bus.publish(TOPIC, message('f'));
    expect(await take(iterator, 2)).toEqual(['e', 'f']);
    // Subscribed before the replay was read, so nothing stored meanwhile could fall between the two.
    expect(listenersWhenReplayStarted).toBe(1);
  });

  it('should deliver an ordered stream from where the replay started, dropping what is not after the last delivered', async () => {
    const s = setup();
    const replay = deferred<string[]>();
    // Ids are places in the order ("3" comes after "2"); the replay finds that it starts after 2.
    let start: bigint | null = null;
    const iterator = busIterator({
      bus: s.bus,
      topic: TOPIC,
      select: ids,
      maxBuffered: 10,
      initial: async () => {
        const items = await replay.promise;
        start = 2n;
        return items;
      },
      order: (id) => BigInt(id),
      startAfter: () => start,
    });
    s.iterators.push(iterator);
    const probe = await probeAfterIterator(s);
    // Live while the replay is read: items before the start, items the replay holds, and a new one.
    await s.bus.publish(TOPIC, message('1', '2', '3', '4', '5'));
    await probe.atLeast(1);
    replay.resolve(['3', '4']);
    expect(await take(iterator, 3)).toEqual(['3', '4', '5']);
    // The rest of a batch the replay already covered (broadcast again, or still on its way) is dropped.
    await s.bus.publish(TOPIC, message('4', '5', '6'));
    await s.bus.publish(TOPIC, message('7'));
    expect(await take(iterator, 2)).toEqual(['6', '7']);
  });

  it('should end with the replay error when initial rejects, and unsubscribe', async () => {
    const s = setup();
    const failure = new Error('replay failed: the database is down');
    const replay = deferred<string[]>();
    const iterator = busIterator({
      bus: s.bus,
      topic: TOPIC,
      select: ids,
      maxBuffered: 10,
      initial: () => replay.promise,
      key: (id) => id,
    });
    s.iterators.push(iterator);
    const probe = await probeAfterIterator(s);
    await s.bus.publish(TOPIC, message('live'));
    await probe.atLeast(1);
    replay.reject(failure);
    expect(await errorOf(iterator.next())).toBe(failure);
    expect(s.listeners(TOPIC)).toBe(0);
  });
});
