// The pub/sub bus: Redis (graphql-redis-subscriptions over ioredis, separate publish and subscribe connections)
// when REDIS_URL is set, else in-process. Both implement one interface and pass the same contract tests.
import { EventEmitter } from 'node:events';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Redis } from 'ioredis';
import type { Topic, Topics } from './topics.js';

export type Listener<K extends Topic> = (payload: Topics[K]) => void;
export type Unsubscribe = () => void;

export interface Bus {
  publish<K extends Topic>(topic: K, payload: Topics[K]): Promise<void>;
  /** Resolves once the subscription is live, so nothing published after it resolves is missed. */
  subscribe<K extends Topic>(topic: K, listener: Listener<K>): Promise<Unsubscribe>;
  /** Rejects when the bus cannot deliver (Redis unreachable). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function createMemoryBus(): Bus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    async publish(topic, payload) {
      // Each message on a turn of its own, as Redis delivers them: a publisher never runs subscribers inside its own
      // call, and subscribers drain one message before the next arrives rather than after a whole burst.
      setImmediate(() => emitter.emit(topic, payload));
    },
    async subscribe(topic, listener) {
      emitter.on(topic, listener as (payload: unknown) => void);
      return () => emitter.off(topic, listener as (payload: unknown) => void);
    },
    async ping() {},
    async close() {
      emitter.removeAllListeners();
    },
  };
}

export interface RedisBusOptions {
  url: string;
  keyPrefix: string;
}

export function createRedisBus({ url, keyPrefix }: RedisBusOptions): Bus {
  // Publishes fail after one reconnection attempt instead of queueing while Redis is down; callers decide what next.
  const connection = { maxRetriesPerRequest: 1 };
  const publisher = new Redis(url, connection);
  // No ready check on the subscriber: after a reconnect it would send INFO on a connection already back in
  // subscriber mode, which Redis refuses ("only subscriber commands may be used").
  const subscriber = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: false });
  const swallow = () => {}; // connection errors surface through ping() and failed publishes
  publisher.on('error', swallow);
  subscriber.on('error', swallow);
  const pubsub = new RedisPubSub({ publisher, subscriber });
  const channel = (topic: Topic) => `${keyPrefix}bus:${topic}`;
  return {
    publish: (topic, payload) => pubsub.publish(channel(topic), payload),
    async subscribe(topic, listener) {
      const id = await pubsub.subscribe(channel(topic), listener as (payload: unknown) => void);
      return () => pubsub.unsubscribe(id);
    },
    async ping() {
      await publisher.ping();
    },
    async close() {
      await pubsub.close().catch(() => {});
    },
  };
}
