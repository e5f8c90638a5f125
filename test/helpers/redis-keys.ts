// Finding and removing a prefix's keys with SCAN (never KEYS, which blocks Redis for everyone else), on every master
// of a Redis Cluster.
import { type RedisClient, scanEachMaster } from '../../src/redis.js';

export async function scanKeys(redis: RedisClient, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  await scanEachMaster(redis, pattern, 1_000, async (found) => {
    keys.push(...found);
  });
  return keys;
}

export async function deleteKeys(redis: RedisClient, pattern: string): Promise<void> {
  await scanEachMaster(redis, pattern, 1_000, async (found, node) => {
    // One key a command: on a cluster, one UNLINK of keys in several slots is refused (CROSSSLOT).
    const unlinks = node.pipeline();
    for (const key of found) unlinks.unlink(key);
    await unlinks.exec();
  });
}
