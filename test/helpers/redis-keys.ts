// Finding and removing a prefix's keys with SCAN (never KEYS, which blocks Redis for everyone else).
import type { Redis } from 'ioredis';

export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

export async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  const keys = await scanKeys(redis, pattern);
  for (let i = 0; i < keys.length; i += 1_000) await redis.unlink(...keys.slice(i, i + 1_000));
}
