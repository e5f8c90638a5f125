// The series registry, one contract for both aggregate stores (in-process, and Redis for real): new series per owner
// per minute and live series in all, admitted all or none. And the Redis store's reads, split into short calls.
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAggregateStore } from '../../src/aggregation/memory-store.js';
import { RedisAggregateStore } from '../../src/aggregation/redis-store.js';
import type { BatchSeries, SeriesRegistry } from '../../src/aggregation/series.js';
import type { AggregateStore } from '../../src/aggregation/types.js';
import { AGGREGATION_HORIZON_MS } from '../../src/aggregation/windows.js';
import { type LocalRedisCluster, startRedisCluster } from '../helpers/redis-cluster.js';
import { deleteKeys } from '../helpers/redis-keys.js';
import { REDIS_URL, redisKeyPrefix } from '../helpers/services.js';

const filePrefix = redisKeyPrefix();
let redis: Redis;
let stores = 0;

// The Redis store again on a local 3-master Redis Cluster: the admission script's keys must share one hash slot.
let cluster: LocalRedisCluster;
let clusterClient: Cluster;

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  await redis.ping(); // connected: a registry that cannot reach Redis at once leaves the batch unchecked
  cluster = await startRedisCluster();
  clusterClient = new Cluster(cluster.nodes);
  await clusterClient.ping();
});

afterAll(async () => {
  await deleteKeys(redis, `${filePrefix}*`);
  await redis.quit();
  await clusterClient?.quit();
  await cluster?.stop();
});

const backends: { name: string; create: () => AggregateStore & SeriesRegistry }[] = [
  { name: 'MemoryAggregateStore', create: () => new MemoryAggregateStore() },
  {
    name: 'RedisAggregateStore',
    create: () => new RedisAggregateStore({ redis, keyPrefix: `${filePrefix}${++stores}:` }),
  },
  {
    name: 'RedisAggregateStore on a Redis Cluster',
    create: () => new RedisAggregateStore({ redis: clusterClient, keyPrefix: `${filePrefix}${++stores}:` }),
  },
];

// A minute boundary, so a test's calls all fall in one budget minute.
const now = Math.floor(Date.now() / 60_000) * 60_000 + 1_000;
const limits = { maxNewPerMinute: 3, maxSeries: 5 };
/** A batch's series, its newest samples a second before `at`. */
const batchAt = (at: number, ...names: string[]) =>
  new Map<string, BatchSeries>(names.map((name, index) => [name, { newest: at - 1_000, index }]));
const batch = (...names: string[]) => batchAt(now, ...names);

describe.each(backends)('$name as the series registry', ({ create }) => {
  it('should admit new series, charge them to the owner, and count them as live from then on', async () => {
    const store = create();
    expect(await store.admitSeries(batch('a', 'b'), 'key-1', limits, now)).toEqual({ ok: true, new: 2 });
    expect(await store.metricNames(now)).toEqual(['a', 'b']);
    // Live now: no longer new, so free.
    expect(await store.admitSeries(batch('a', 'b', 'c'), 'key-1', limits, now)).toEqual({ ok: true, new: 1 });
  });

  it('should refuse a batch past the per-minute budget whole, naming the first series past it', async () => {
    const store = create();
    await store.admitSeries(batch('a', 'b'), 'key-1', limits, now);
    expect(await store.admitSeries(batch('a', 'c', 'd', 'e'), 'key-1', limits, now)).toEqual({
      ok: false,
      limit: 'MAX_NEW_SERIES_PER_MINUTE',
      metric: 'd',
      new: 3,
      used: 2,
    });
    expect(await store.metricNames(now)).toEqual(['a', 'b']);
    // Another key has its own budget; the next minute the first key has a new one.
    expect(await store.admitSeries(batch('c', 'd'), 'key-2', limits, now)).toEqual({ ok: true, new: 2 });
    const nextMinute = now + 60_000;
    expect(await store.admitSeries(batchAt(nextMinute, 'e'), 'key-1', limits, nextMinute)).toEqual({
      ok: true,
      new: 1,
    });
  });

  it('should refuse series past the live total, and not count series older than 24 h as live', async () => {
    const store = create();
    await store.admitSeries(batch('a', 'b', 'c'), 'key-1', limits, now);
    await store.admitSeries(batch('d', 'e'), 'key-2', limits, now);
    expect(await store.admitSeries(batch('f'), 'key-3', limits, now)).toEqual({
      ok: false,
      limit: 'MAX_SERIES',
      metric: 'f',
      new: 1,
      used: 5,
    });
    const dayLater = now + AGGREGATION_HORIZON_MS;
    expect(await store.admitSeries(batchAt(dayLater, 'f'), 'key-3', limits, dayLater)).toEqual({ ok: true, new: 1 });
    expect(await store.metricNames(dayLater)).toEqual(['f']);
  });
});

describe('RedisAggregateStore series admission', () => {
  it('should refuse a batch whose unsent names are still new when another batch admits some of those it sent', async () => {
    const keyPrefix = `${filePrefix}${++stores}:`;
    const other = new RedisAggregateStore({ redis, keyPrefix });
    // Another key's batch lands between this batch's read of which names are new and its atomic check.
    const racing = new Redis(REDIS_URL);
    await racing.ping(); // ready: a store does not check names on a connection that is not
    const zmscore = racing.zmscore.bind(racing) as (...args: unknown[]) => Promise<(string | null)[]>;
    Object.assign(racing, {
      async zmscore(...args: unknown[]) {
        const scores = await zmscore(...args);
        expect(await other.admitSeries(batch('n0', 'n1', 'n2'), 'key-2', limits, now)).toEqual({ ok: true, new: 3 });
        return scores;
      },
    });
    try {
      const store = new RedisAggregateStore({ redis: racing, keyPrefix });
      const names = Array.from({ length: 10 }, (_, i) => `n${i}`);
      const verdict = await store.admitSeries(batch(...names), 'key-1', { ...limits, maxSeries: 100 }, now);
      expect(verdict).toMatchObject({ ok: false, limit: 'MAX_NEW_SERIES_PER_MINUTE' });
      expect(await store.metricNames(now)).toEqual(['n0', 'n1', 'n2']);
    } finally {
      await racing.quit();
    }
  });
});

describe('RedisAggregateStore reads', () => {
  it('should split a large read into calls of AGGREGATE_READ_CHUNK queries, answering the same', async () => {
    const keyPrefix = `${filePrefix}${++stores}:`;
    const whole = new RedisAggregateStore({ redis, keyPrefix, readChunk: 1_000 });
    const chunked = new RedisAggregateStore({ redis, keyPrefix, readChunk: 4 });
    const samples = Array.from({ length: 10 }, (_, i) => ({ metric: `m${i}`, value: i, timestamp: now - 500 }));
    await whole.apply({ seqs: ['1'], ids: ['read-split'] }, samples);
    const queries = samples.flatMap(({ metric }) => (['M1', 'H1'] as const).map((window) => ({ metric, window })));
    // Both stores define their script on the one connection: count the calls made through it.
    const keysPerCall: number[] = [];
    const commands = redis as unknown as { jackdawAggregateRead: (n: number, ...rest: unknown[]) => Promise<unknown> };
    const read = commands.jackdawAggregateRead;
    commands.jackdawAggregateRead = (keyCount, ...rest) => {
      keysPerCall.push(keyCount);
      return read.call(redis, keyCount, ...rest);
    };
    try {
      const answers = await chunked.read(queries, now);
      expect(keysPerCall).toEqual([240, 240, 240, 240, 240]); // 20 queries, 4 a call, 60 buckets each
      expect(answers).toEqual(await whole.read(queries, now));
      expect(answers.map((a) => a.count)).toEqual(queries.map(() => 1));
    } finally {
      commands.jackdawAggregateRead = read;
    }
  });
});
