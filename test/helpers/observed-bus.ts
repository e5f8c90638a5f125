// A real bus seen from the outside: how many listeners each topic has and what was published, for tests of the
// components that subscribe and publish. Every call goes to the real bus underneath.
import type { Bus, Listener } from '../../src/bus/bus.js';
import type { Topic, Topics } from '../../src/bus/topics.js';
import { Recording } from './waits.js';

export interface ObservedBus {
  bus: Bus;
  /** Live subscriptions of `topic` made through `bus` and not yet unsubscribed. */
  listeners(topic: Topic): number;
  /** Each topic once its subscription through `bus` is live, in order. */
  subscribed: Recording<Topic>;
  /** Every publish made through `bus`, in call order. */
  published: Recording<{ topic: Topic; payload: unknown }>;
  /** The payloads published on `topic` so far. */
  publishedOn<K extends Topic>(topic: K): Topics[K][];
}

export function observeBus(inner: Bus): ObservedBus {
  const counts = new Map<Topic, number>();
  const subscribed = new Recording<Topic>();
  const published = new Recording<{ topic: Topic; payload: unknown }>();
  const bus: Bus = {
    async publish(topic, payload) {
      published.push({ topic, payload });
      await inner.publish(topic, payload);
    },
    async subscribe<K extends Topic>(topic: K, listener: Listener<K>) {
      const unsubscribe = await inner.subscribe(topic, listener);
      counts.set(topic, (counts.get(topic) ?? 0) + 1);
      subscribed.push(topic);
      let live = true;
      return () => {
        if (live) counts.set(topic, (counts.get(topic) ?? 1) - 1);
        live = false;
        unsubscribe();
      };
    },
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
  return {
    bus,
    listeners: (topic) => counts.get(topic) ?? 0,
    subscribed,
    published,
    publishedOn: <K extends Topic>(topic: K) =>
      published.items.filter((p) => p.topic === topic).map((p) => p.payload as Topics[K]),
  };
}
