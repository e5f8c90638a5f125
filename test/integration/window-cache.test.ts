// The alert engine's window cache (src/aggregation/window-cache.ts) over both aggregate stores (Redis: real Redis):
// told of every write, it answers exactly what the store's own read answers, while reading only the buckets that
// writes touched.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAggregateStore } from '../../src/aggregation/memory-store.js';
import { RedisAggregateStore } from '../../src/aggregation/redis-store.js';
import {
  type AggregateQuery,
  type AggregateStore,
  type BucketQuery,
  type MetricSample,
  WINDOW_SIZES,
} from '../../src/aggregation/types.js';
import { WindowCache } from '../../src/aggregation/window-cache.js';
import { random } from '../helpers/random.js';
import { deleteKeys } from '../helpers/redis-keys.js';
import { REDIS_URL, redisKeyPrefix } from '../helpers/services.js';
import { deferred } from '../helpers/waits.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const METRICS = ['latency', 'errors', 'queue'];
// Now (to the minute): Redis expires bucket keys by its own clock.
const START = Math.floor(Date.now() / MINUTE) * MINUTE;

const filePrefix = redisKeyPrefix();
let redis: Redis;
let subjects = 0;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  await deleteKeys(redis, `${filePrefix}*`);
  await redis.quit();
});

const backends = [
  {
    name: 'MemoryAggregateStore',
    create: (clock: () => number): AggregateStore => new MemoryAggregateStore({ clock }),
  },
  {
    name: 'RedisAggregateStore',
    create: (clock: () => number): AggregateStore =>
      new RedisAggregateStore({ redis, keyPrefix: `${filePrefix}${++subjects}:`, clock, readChunk: 3 }),
  },
];

/** Watches the buckets a store is asked for. */
function watched(store: AggregateStore) {
  const reads: BucketQuery[][] = [];
  let gate: Promise<void> | null = null;
  const reader = {
    async readBuckets(buckets: readonly BucketQuery[]) {
      reads.push([...buckets]);
      const waitFor = gate;
      if (waitFor) await waitFor;
      return store.readBuckets(buckets);
    },
  };
  return {
    reader,
    reads,
    hold(until: Promise<void> | null) {
      gate = until;
    },
  };
}

const queries: AggregateQuery[] = METRICS.flatMap((metric) => WINDOW_SIZES.map((window) => ({ metric, window })));

describe.each(backends)('window cache over $name', ({ create }) => {
  it('should answer as the store reads, over random writes told to it, at moving times', async () => {
    let now = START;
    const store = create(() => now);
    const cache = new WindowCache(store);
    const next = random(12);
    let seq = 0;
    for (let step = 0; step < 60; step++) {
      // Mostly seconds, sometimes minutes: windows slide by one bucket or many.
      now += next() < 0.15 ? Math.floor(next() * 20 * MINUTE) : Math.floor(next() * 8 * SECOND);
      const samples: MetricSample[] = Array.from({ length: Math.floor(next() * 40) }, () => ({
        metric: METRICS[Math.floor(next() * METRICS.length)] as string,
        value: Math.round((next() - 0.2) * 1_000 * 100) / 100,
        // Most near now, some late (up to two hours), a few slightly ahead of the clock.
        timestamp: now - (next() < 0.2 ? Math.floor(next() * 120 * MINUTE) : Math.floor(next() * 5 * SECOND) - 500),
      }));
      seq += 1;
      await store.apply({ seqs: [String(seq)], ids: [`event-${seq}`] }, samples);
      for (const metric of METRICS) {
        const times = samples.filter((s) => s.metric === metric).map((s) => s.timestamp);
        if (times.length > 0) cache.invalidate(metric, Math.min(...times));
      }
      // Not every step reads: several writes may come between two evaluations.
      if (next() < 0.3) continue;
      const at = now;
      expect(await cache.read(queries, at), `step ${step}`).toEqual(await store.read(queries, at));
    }
  });

  it('should read only the buckets written since, one per window for a write at the current time', async () => {
    let now = START + 30 * SECOND;
    const store = create(() => now);
    const { reader, reads } = watched(store);
    const cache = new WindowCache(reader);
    await store.apply({ seqs: ['1'], ids: ['e1'] }, [{ metric: 'latency', value: 5, timestamp: now - 10 * MINUTE }]);
    const latency = queries.filter((q) => q.metric === 'latency');
    await cache.read(latency, now);
    expect(reads.at(-1)).toHaveLength(6 * 60); // cold: every bucket of every window

    now += 100;
    await store.apply({ seqs: ['2'], ids: ['e2'] }, [{ metric: 'latency', value: 7, timestamp: now }]);
    cache.invalidate('latency', now);
    const answer = await cache.read(latency, now);
    expect(reads.at(-1)?.map((b) => b.window)).toEqual([...WINDOW_SIZES]); // the current bucket of each window
    expect(answer).toEqual(await store.read(latency, now));
    expect(answer.find((a) => a.window === 'H1')).toMatchObject({ count: 2, max: 7 });

    // Nothing written: nothing read, the same answer.
    const before = reads.length;
    expect(await cache.read(latency, now)).toEqual(answer);
    expect(reads).toHaveLength(before);

    // Unannounced, a write stays unseen: being told is what makes the cache read again.
    await store.apply({ seqs: ['3'], ids: ['e3'] }, [{ metric: 'latency', value: 9, timestamp: now }]);
    expect(await cache.read(latency, now)).toEqual(answer);
    cache.clear();
    expect(await cache.read(latency, now)).toEqual(await store.read(latency, now));
  });

  it('should not keep what it read while a write it was told of came in between', async () => {
    const now = START + 30 * SECOND;
    const store = create(() => now);
    const { reader, hold } = watched(store);
    const cache = new WindowCache(reader);
    const m1: AggregateQuery[] = [{ metric: 'latency', window: 'M1' }];
    await store.apply({ seqs: ['1'], ids: ['e1'] }, [{ metric: 'latency', value: 5, timestamp: now }]);
    await cache.read(m1, now);

    await store.apply({ seqs: ['2'], ids: ['e2'] }, [{ metric: 'latency', value: 6, timestamp: now }]);
    cache.invalidate('latency', now);
    const slow = deferred();
    hold(slow.promise);
    const reading = cache.read(m1, now);
    // Written and told while that read waits: its answer may predate the write, so it must not be kept.
    await store.apply({ seqs: ['3'], ids: ['e3'] }, [{ metric: 'latency', value: 7, timestamp: now }]);
    cache.invalidate('latency', now);
    slow.resolve();
    hold(null);
    await reading;
    expect(await cache.read(m1, now)).toEqual(await store.read(m1, now));
    expect((await cache.read(m1, now))[0]).toMatchObject({ count: 3, max: 7 });
  });

  it('should forget the invalidations of metrics it holds no window of, at a sweep and on clear', async () => {
    let now = START + 30 * SECOND;
    const store = create(() => now);
    const cache = new WindowCache(store);
    const m1: AggregateQuery[] = [{ metric: 'latency', window: 'M1' }];
    await cache.read(m1, now);
    // Every metric written is told, read or not.
    for (let i = 0; i < 200; i++) cache.invalidate(`unread-${i}`, now);
    cache.invalidate('latency', now);
    expect(cache.trackedMetrics()).toBe(201);
    now += 61 * SECOND;
    await cache.read(m1, now);
    expect(cache.trackedMetrics()).toBe(1); // only the metric with a window
    cache.clear();
    expect(cache.trackedMetrics()).toBe(0);
  });
});
