// The pub/sub bus: Redis (graphql-redis-subscriptions over ioredis, separate publish and subscribe connections)
// when REDIS_URL is set, sharded channels of a Redis Cluster (REDIS_CLUSTER_NODES), else in-process. All implement
// one interface and pass the same contract tests.
import { EventEmitter } from 'node:events';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { ClusterNode, RedisTarget } from '../config.js';
import { connectCluster, connectRedis } from '../redis.js';
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
  const publisher = connectRedis(url, connection);
  // No ready check on the subscriber: after a reconnect it would send INFO on a connection already back in
  // subscriber mode, which Redis refuses ("only subscriber commands may be used").
  const subscriber = connectRedis(url, { maxRetriesPerRequest: null, enableReadyCheck: false });
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

export interface ShardedBusOptions {
  nodes: ClusterNode[];
  keyPrefix: string;
}

/**
 * The bus on a Redis Cluster, over sharded channels (Redis 7 SPUBLISH/SSUBSCRIBE): a topic's messages go through the
 * master that owns its channel's slot only, where plain PUBLISH would copy every message to every node of the
 * cluster. graphql-redis-subscriptions knows no sharded channels, so this is ioredis's cluster client directly: one
 * SSUBSCRIBE per channel while it has listeners (ioredis keeps one subscriber connection per master, and subscribes
 * again after a reconnection or a slot move).
 */
export function createShardedBus({ nodes, keyPrefix }: ShardedBusOptions): Bus {
  // As on one Redis: publishes fail after one reconnection attempt instead of queueing while Redis is down.
  const publisher = connectCluster(nodes, { connection: { maxRetriesPerRequest: 1 } });
  const subscriber = connectCluster(nodes, { connection: { maxRetriesPerRequest: null }, shardedSubscribers: true });
  const swallow = () => {}; // connection errors surface through ping() and failed publishes
  publisher.on('error', swallow);
  subscriber.on('error', swallow);
  /** Channel → its listeners and its SSUBSCRIBE, while it has listeners. */
  const channels = new Map<string, { listeners: Set<(payload: unknown) => void>; subscribed: Promise<unknown> }>();
  subscriber.on('smessage', (channel: string, message: string) => {
    const listeners = channels.get(channel)?.listeners;
    if (!listeners) return;
    const payload: unknown = JSON.parse(message);
    for (const listener of listeners) listener(payload);
  });
  const channelOf = (topic: Topic) => `${keyPrefix}bus:${topic}`;
  return {
    async publish(topic, payload) {
      await publisher.spublish(channelOf(topic), JSON.stringify(payload));
    },
    async subscribe(topic, listener) {
      const name = channelOf(topic);
      let channel = channels.get(name);
      if (!channel) {
        channel = { listeners: new Set(), subscribed: subscriber.ssubscribe(name) };
        channels.set(name, channel);
      }
      const { listeners, subscribed } = channel;
      const own = listener as (payload: unknown) => void;
      listeners.add(own);
      // Commands on one connection run in order, so an SSUBSCRIBE sent after the channel's SUNSUBSCRIBE wins.
      const unsubscribe = () => {
        if (!listeners.delete(own) || listeners.size > 0) return;
        channels.delete(name);
        subscriber.sunsubscribe(name).catch(swallow);
      };
      try {
        await subscribed;
      } catch (error) {
        unsubscribe();
        throw error;
      }
      return unsubscribe;
    },
    async ping() {
      await publisher.ping();
    },
    async close() {
      channels.clear();
      await Promise.all([publisher, subscriber].map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}

/** The bus of a deployment: through Redis when it has one, else in-process. */
export function createBus(target: RedisTarget | null, keyPrefix: string): Bus {
  if (target === null) return createMemoryBus();
  if (target.kind === 'cluster') return createShardedBus({ nodes: target.nodes, keyPrefix });
  return createRedisBus({ url: target.url, keyPrefix });
}
