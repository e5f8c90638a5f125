// Walking the key space (src/redis.ts scanEachMaster, as the aggregate store's rebuild and the tests' clean-up do) on
// a Redis Cluster reaches the keys of every master, where SCAN through the cluster client would reach one node's.
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySlot } from '../../src/redis.js';
import { type LocalRedisCluster, startRedisCluster } from '../helpers/redis-cluster.js';
import { deleteKeys, scanKeys } from '../helpers/redis-keys.js';

let cluster: LocalRedisCluster;

beforeAll(async () => {
  cluster = await startRedisCluster();
});

afterAll(async () => {
  await cluster?.stop();
});

describe('scanning a Redis Cluster', () => {
  it('should find and delete the keys of every master, from a client that has not connected yet', async () => {
    const writer = new Cluster(cluster.nodes);
    const keys = Array.from({ length: 300 }, (_, i) => `scan:${i}`);
    const other = 'other:1';
    try {
      for (const key of [...keys, other]) await writer.set(key, '1');
      // Spread over the three masters' slot ranges (the harness splits the slots evenly).
      const masters = new Set(keys.map((key) => Math.floor(keySlot(key) / Math.ceil(16_384 / 3))));
      expect(masters.size).toBe(3);

      const fresh = new Cluster(cluster.nodes);
      try {
        expect((await scanKeys(fresh, 'scan:*')).sort()).toEqual([...keys].sort());
      } finally {
        await fresh.quit();
      }
      const another = new Cluster(cluster.nodes);
      try {
        await deleteKeys(another, 'scan:*');
      } finally {
        await another.quit();
      }
      expect(await scanKeys(writer, 'scan:*')).toEqual([]);
      expect(await writer.get(other)).toBe('1');
    } finally {
      await writer.quit();
    }
  });
});
