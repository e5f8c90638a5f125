// Every Redis connection the server opens comes from here: one Redis (REDIS_URL) or a Redis Cluster
// (REDIS_CLUSTER_NODES), behind the commands both clients share. On a cluster a script or transaction may only touch
// keys of one hash slot, so every multi-key layout puts its keys under one hash tag (`{…}`), and anything that walks
// the key space walks every master (scanEachMaster), as SCAN on a cluster client reaches one node only.
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { ClusterNode, RedisTarget } from './config.js';

/** A connection to one Redis or to a cluster: the commands, scripts and pipelines used here work on both. */
export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  /** Options of each connection (of each node's, on a cluster). */
  connection?: RedisOptions;
  /** On a cluster: the cluster client's own options. */
  cluster?: Omit<ClusterOptions, 'redisOptions'>;
}

export function createRedisClient(target: RedisTarget, options: RedisClientOptions = {}): RedisClient {
  return target.kind === 'single'
    ? connectRedis(target.url, options.connection)
    : connectCluster(target.nodes, options);
}

/** One Redis. */
export function connectRedis(url: string, connection: RedisOptions = {}): Redis {
  return new Redis(url, connection);
}

/** One node of a cluster, by itself (a sharded subscriber's connection to the master owning its channels). */
export function connectNode({ host, port }: ClusterNode, connection: RedisOptions = {}): Redis {
  return new Redis({ ...connection, host, port });
}

/** A Redis Cluster from its seed nodes; the other nodes and the slots are discovered (CLUSTER SLOTS). */
export function connectCluster(
  nodes: ClusterNode[],
  { connection = {}, cluster = {} }: RedisClientOptions = {},
): Cluster {
  return new Cluster(nodes, { ...cluster, redisOptions: connection });
}

export function isCluster(redis: RedisClient): redis is Cluster {
  return redis instanceof Cluster;
}

/**
 * Calls `onKeys` with the keys matching `pattern`, a SCAN step at a time, on every master of a cluster (or on the one
 * Redis), together with the connection of the node that holds them. SCAN, never KEYS, which blocks Redis for everyone.
 */
export async function scanEachMaster(
  redis: RedisClient,
  pattern: string,
  count: number,
  onKeys: (keys: string[], node: Redis) => Promise<void>,
): Promise<void> {
  // A cluster client knows its masters once it has read the slot table.
  if (isCluster(redis) && redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  const nodes = isCluster(redis) ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      if (found.length > 0) await onKeys(found, node);
      cursor = next;
    } while (cursor !== '0');
  }
}

/** `text` as a literal inside a SCAN MATCH pattern. */
export function escapeGlob(text: string): string {
  return text.replace(/[\\*?[\]]/g, '\\$&');
}

const SLOTS = 16_384;

/** CRC16/XMODEM, the checksum Redis Cluster hashes keys with. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The hash slot of a key or shard channel: of its hash tag (the first non-empty `{…}`) if it has one. */
export function keySlot(key: string): number {
  const bytes = new TextEncoder().encode(key);
  const open = bytes.indexOf(0x7b); // {
  const close = open === -1 ? -1 : bytes.indexOf(0x7d, open + 1); // }
  const hashed = close > open + 1 ? bytes.subarray(open + 1, close) : bytes;
  return crc16(hashed) % SLOTS;
}
