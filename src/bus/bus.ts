// The pub/sub bus: Redis (graphql-redis-subscriptions over ioredis, separate publish and subscribe connections)
// when REDIS_URL is set, sharded channels of a Redis Cluster (REDIS_CLUSTER_NODES), else in-process. All implement
// one interface and pass the same contract tests.
import { EventEmitter } from 'node:events';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Redis } from 'ioredis';
import type { ClusterNode, RedisTarget } from '../config.js';
import { getOrCreate } from '../maps.js';
import { connectCluster, connectNode, connectRedis, keySlot } from '../redis.js';
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
  /** How long a publish may wait for Redis's answer (BUS_PUBLISH_TIMEOUT_MS): a half-open connection fails it then. */
  publishTimeoutMs?: number;
}

const PUBLISH_TIMEOUT_MS = 2_000;

export function createRedisBus({ url, keyPrefix, publishTimeoutMs = PUBLISH_TIMEOUT_MS }: RedisBusOptions): Bus {
  // Publishes fail after one reconnection attempt instead of queueing while Redis is down, and after the timeout on a
  // connection that stopped answering (half-open); callers decide what next.
  const connection = { maxRetriesPerRequest: 1, commandTimeout: publishTimeoutMs };
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
  publishTimeoutMs?: number;
  /** How often the slot table is read again, so a channel whose slot moved follows it (ioredis reads it otherwise only
   *  on a MOVED reply, which a process that only subscribes never gets). */
  slotsRefreshMs?: number;
}

/**
 * The bus on a Redis Cluster, over sharded channels (Redis 7 SPUBLISH/SSUBSCRIBE): a topic's messages go through the
 * master that owns its channel's slot only, where plain PUBLISH would copy every message to every node of the
 * cluster. graphql-redis-subscriptions knows no sharded channels, so this is ioredis directly: publishing through the
 * cluster client, and one subscriber connection per master holding channels, one SSUBSCRIBE per channel while it has
 * listeners. (Not ioredis's own `shardedSubscribers`: in 5.11 it can lose every subscription for good when the whole
 * cluster restarts.) A connection to a master that restarts subscribes again on reconnecting (ioredis); a channel
 * whose slot moved to another master (a failover, a resharding) follows it when the cluster client's slot table
 * changes.
 */
export function createShardedBus({
  nodes,
  keyPrefix,
  slotsRefreshMs = 5_000, // a moved channel is silent for at most about this long
  publishTimeoutMs = PUBLISH_TIMEOUT_MS,
}: ShardedBusOptions): Bus {
  // As on one Redis: publishes fail after one reconnection attempt instead of queueing while a node is down, and after
  // the timeout on a node that stopped answering. maxRetriesPerRequest and commandTimeout are a node connection's: a
  // command the cluster client itself holds while the whole cluster is down (reconnecting, retried for ever) would wait
  // in its offline queue unbounded, so the cluster client keeps none: a publish waits for the cluster at most the
  // timeout itself (`ready`). The slot table comes from this client too, kept current by ioredis (MOVED replies, and a
  // refresh every slotsRefreshMs).
  const publisher = connectCluster(nodes, {
    connection: { maxRetriesPerRequest: 1, commandTimeout: publishTimeoutMs },
    cluster: { slotsRefreshInterval: slotsRefreshMs, enableOfflineQueue: false },
  });
  const swallow = () => {}; // connection errors surface through ping() and failed publishes
  publisher.on('error', swallow);
  /** Master ("host:port", as ioredis names nodes) → the connection subscribed there. */
  const subscribers = new Map<string, Redis>();
  /** Channel → its listeners and the master it is subscribed at, while it has listeners. */
  const channels = new Map<string, ShardedChannel>();
  const deliver = (channel: string, message: string) => {
    const listeners = channels.get(channel)?.listeners;
    if (!listeners) return;
    const payload: unknown = JSON.parse(message);
    for (const listener of listeners) listener(payload);
  };
  const subscriberAt = (nodeKey: string) =>
    getOrCreate(subscribers, nodeKey, () => {
      const at = nodeKey.lastIndexOf(':');
      // No ready check: after a reconnect it would send INFO on a connection already back in subscriber mode.
      const connection = connectNode(
        { host: nodeKey.slice(0, at), port: Number(nodeKey.slice(at + 1)) },
        { maxRetriesPerRequest: null, enableReadyCheck: false },
      );
      connection.on('error', swallow);
      connection.on('smessage', deliver);
      return connection;
    });
  const ownerOf = (channel: string): string | undefined => publisher.slots[keySlot(channel)]?.[0];
  const place = async (name: string, channel: ShardedChannel) => {
    // Until the cluster client has its slot table (whatever errors it meets meanwhile).
    if (publisher.status !== 'ready') await new Promise((resolve) => publisher.once('ready', resolve));
    const owner = ownerOf(name);
    if (!owner) throw new Error(`no master serves the slot of channel ${name}`);
    await subscriberAt(owner).ssubscribe(name);
    channel.node = owner;
  };
  // A slot moved: its channels are subscribed at the new owner, then dropped at the old one (which may have dropped
  // them already). One that fails waits for the next refresh.
  publisher.on('refresh', () => {
    for (const [name, channel] of channels) {
      const owner = ownerOf(name);
      const previous = channel.node;
      if (!owner || previous === null || owner === previous) continue;
      channel.node = owner;
      subscriberAt(owner)
        .ssubscribe(name)
        .then(() => subscribers.get(previous)?.sunsubscribe(name))
        .catch(() => {
          channel.node = previous;
        });
    }
  });
  const channelOf = (topic: Topic) => `${keyPrefix}bus:${topic}`;
  /** Resolves once the cluster client is ready (connected, the slot table read), or fails after the timeout. */
  const ready = async () => {
    if (publisher.status === 'ready') return;
    let timer: NodeJS.Timeout | undefined;
    let onReady: () => void = () => {};
    try {
      await new Promise<void>((resolve, reject) => {
        onReady = resolve;
        publisher.once('ready', onReady);
        timer = setTimeout(
          () => reject(new Error(`the Redis Cluster was not ready within ${publishTimeoutMs} ms`)),
          publishTimeoutMs,
        );
      });
    } finally {
      clearTimeout(timer);
      publisher.off('ready', onReady);
    }
  };
  return {
    async publish(topic, payload) {
      await ready();
      await publisher.spublish(channelOf(topic), JSON.stringify(payload));
    },
    async subscribe(topic, listener) {
      const name = channelOf(topic);
      let channel = channels.get(name);
      if (!channel) {
        const created: ShardedChannel = { listeners: new Set(), node: null, subscribed: Promise.resolve() };
        created.subscribed = place(name, created);
        channels.set(name, created);
        channel = created;
      }
      const { listeners, subscribed } = channel;
      const own = listener as (payload: unknown) => void;
      listeners.add(own);
      const leaving = channel;
      const unsubscribe = () => {
        if (!listeners.delete(own) || listeners.size > 0) return;
        channels.delete(name);
        // Commands on one connection run in order, so an SSUBSCRIBE sent after this SUNSUBSCRIBE wins.
        if (leaving.node !== null) subscribers.get(leaving.node)?.sunsubscribe(name).catch(swallow);
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
      await ready();
      await publisher.ping();
    },
    async close() {
      channels.clear();
      const connections = [publisher, ...subscribers.values()];
      await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}

interface ShardedChannel {
  listeners: Set<(payload: unknown) => void>;
  /** The master it is subscribed at (null until its first SSUBSCRIBE is answered). */
  node: string | null;
  subscribed: Promise<void>;
}

/** The bus of a deployment: through Redis when it has one, else in-process. */
export function createBus(target: RedisTarget | null, keyPrefix: string, publishTimeoutMs?: number): Bus {
  if (target === null) return createMemoryBus();
  if (target.kind === 'cluster') return createShardedBus({ nodes: target.nodes, keyPrefix, publishTimeoutMs });
  return createRedisBus({ url: target.url, keyPrefix, publishTimeoutMs });
}
