// One contract, two stores: the in-process store of the embedded mode and the Redis store (real Redis).
import { Cluster, Redis } from 'ioredis';
import { afterAll, assert, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAggregateStore } from '../../src/aggregation/memory-store.js';
import { RedisAggregateStore } from '../../src/aggregation/redis-store.js';
import {
  type AggregateStore,
  type AppliedBatch,
  type MetricAggregate,
  type MetricSample,
  StaleStateError,
  WINDOW_SIZES,
  type WindowSize,
} from '../../src/aggregation/types.js';
import {
  AGGREGATION_HORIZON_MS,
  bucketExpiresAt,
  bucketIndex,
  granularityMs,
  windowBuckets,
} from '../../src/aggregation/windows.js';
import { FencedError, leaseKey, redisLease } from '../../src/lease.js';
import type { RedisClient } from '../../src/redis.js';
import { random } from '../helpers/random.js';
import { type LocalRedisCluster, startRedisCluster } from '../helpers/redis-cluster.js';
import { deleteKeys, scanKeys } from '../helpers/redis-keys.js';
import { REDIS_URL, redisKeyPrefix } from '../helpers/services.js';

const RETENTION_GRACE_MS = 60_000;

/** A batch record with made-up event ids (the stores keep them as given). */
const batch = (...seqs: string[]): AppliedBatch => ({ seqs, ids: seqs.map((seq) => `event-${seq}`) });
const HOUR = 3_600_000;

interface Subject {
  store: AggregateStore;
  /** Bucket entries or keys held right now. */
  storedBuckets(): Promise<number>;
  /** Loses the state the way a deployment can (Redis flushed, process restarted); returns the store to use next. */
  loseState(): Promise<AggregateStore>;
}

interface Backend {
  name: string;
  /** `now` is the store's clock: fixed, so what a test expects does not drift while it runs. */
  create(now: number): Subject;
}

const filePrefix = redisKeyPrefix();
let redis: Redis;
let subjectCount = 0;
// The Redis store again on a local 3-master Redis Cluster: its scripts' keys must all share one hash slot.
let cluster: LocalRedisCluster;
let clusterClient: Cluster;

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  cluster = await startRedisCluster();
  clusterClient = new Cluster(cluster.nodes);
});

afterAll(async () => {
  await deleteKeys(redis, `${filePrefix}*`);
  await redis.quit();
  await clusterClient?.quit();
  await cluster?.stop();
});

const memoryBackend: Backend = {
  name: 'MemoryAggregateStore',
  create(now) {
    const store = new MemoryAggregateStore({ clock: () => now, retentionGraceMs: RETENTION_GRACE_MS });
    return {
      store,
      storedBuckets: async () => store.bucketCount(),
      loseState: async () => new MemoryAggregateStore({ clock: () => now, retentionGraceMs: RETENTION_GRACE_MS }),
    };
  },
};

function redisSubject(
  now: number,
  client: RedisClient = redis,
): Subject & { store: RedisAggregateStore; keyPrefix: string } {
  const keyPrefix = `${filePrefix}${++subjectCount}:`;
  const store = new RedisAggregateStore({
    redis: client,
    keyPrefix,
    clock: () => now,
    retentionGraceMs: RETENTION_GRACE_MS,
  });
  return {
    store,
    keyPrefix,
    storedBuckets: async () => (await scanKeys(client, `${keyPrefix}{p0of1}:agg:b:*`)).length,
    loseState: async () => {
      await deleteKeys(client, `${keyPrefix}*`);
      return store;
    },
  };
}

const redisBackend: Backend = { name: 'RedisAggregateStore', create: (now) => redisSubject(now) };
const clusterBackend: Backend = {
  name: 'RedisAggregateStore on a Redis Cluster',
  create: (now) => redisSubject(now, clusterClient),
};

function chunk<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
}

async function* chunksOf(samples: MetricSample[], size: number): AsyncIterable<MetricSample[]> {
  for (const part of chunk(samples, size)) yield part;
}

/** What the window holds, computed from the raw samples over the same bucket boundaries as the stores. */
function bruteForce(samples: MetricSample[], metric: string, window: WindowSize, at: number) {
  const { first, last } = windowBuckets(window, at);
  const g = granularityMs(window);
  const values = samples
    .filter((s) => s.metric === metric && s.timestamp >= first * g && s.timestamp < (last + 1) * g)
    .map((s) => s.value)
    .sort((a, b) => a - b);
  const count = values.length;
  const sum = values.reduce((a, b) => a + b, 0);
  const avg = sum / count;
  const quantile = (q: number) => values[Math.floor(q * (count - 1))] ?? Number.NaN;
  return {
    count,
    sum,
    avg,
    min: values[0],
    max: values[count - 1],
    stddev: Math.sqrt(values.reduce((a, v) => a + (v - avg) ** 2, 0) / count),
    p50: quantile(0.5),
    p95: quantile(0.95),
    p99: quantile(0.99),
    absSum: values.reduce((a, b) => a + Math.abs(b), 0),
    maxAbs: Math.max(...values.map(Math.abs)),
  };
}

function expectWithin(actual: number | null, expected: number, tolerance: number, what: string): void {
  assert.isNotNull(actual, what);
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(tolerance);
}

function expectMatchesBruteForce(aggregate: MetricAggregate, samples: MetricSample[], at: number): void {
  const { metric, window } = aggregate;
  const exact = bruteForce(samples, metric, window, at);
  const what = `${metric} over ${window}`;
  expect(aggregate.count, what).toBe(exact.count);
  if (exact.count === 0) {
    expect(aggregate).toMatchObject({ sum: 0, avg: null, min: null, max: null, stddev: null, p50: null, p99: null });
    return;
  }
  const exactTolerance = 1e-9;
  expect(aggregate.min, what).toBe(exact.min);
  expect(aggregate.max, what).toBe(exact.max);
  expectWithin(aggregate.sum, exact.sum, exactTolerance * exact.absSum, `${what} sum`);
  expectWithin(aggregate.avg, exact.avg, (exactTolerance * exact.absSum) / exact.count, `${what} avg`);
  expectWithin(aggregate.stddev, exact.stddev, exactTolerance * (exact.stddev || exact.maxAbs), `${what} stddev`);
  for (const p of ['p50', 'p95', 'p99'] as const) {
    expectWithin(aggregate[p], exact[p], 0.01 * Math.abs(exact[p]), `${what} ${p}`);
  }
}

/** Samples over the last 24 h (and some just past it), denser in the last minutes so fine windows fill too. */
function randomSamples(now: number, size: number): MetricSample[] {
  const next = random(7);
  const draws: Record<string, () => number> = {
    latency_ms: () => Math.exp(3 + 1.2 * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next())),
    temperature: () => -50 + 60 * next(),
    success: () => (next() < 0.3 ? 0 : 1),
    constant: () => 7,
    tiny: () => next() * 1e-6,
  };
  const metrics = Object.entries(draws);
  return Array.from({ length: size }, () => {
    const [metric, draw] = metrics[Math.floor(next() * metrics.length)] ?? ['none', () => Number.NaN];
    const roll = next();
    const age =
      roll < 0.4
        ? next() * 20 * 60_000
        : roll < 0.97
          ? next() * AGGREGATION_HORIZON_MS
          : AGGREGATION_HORIZON_MS + next() * HOUR;
    return { metric, value: draw(), timestamp: Math.round(now - age) };
  });
}

describe.each([memoryBackend, redisBackend, clusterBackend])('$name', (backend) => {
  const now = Date.now();

  it('should match a brute-force computation for every window and aggregation', async () => {
    const { store } = backend.create(now);
    const samples = randomSamples(now, 4_000);
    for (const [i, samplesOfBatch] of chunk(samples, 500).entries())
      await store.apply(batch(String(i)), samplesOfBatch);

    const metrics = [...new Set(samples.map((s) => s.metric)), 'never_sent'];
    const queries = metrics.flatMap((metric) => WINDOW_SIZES.map((window) => ({ metric, window })));
    const aggregates = await store.read(queries, now);

    expect(aggregates.map(({ metric, window }) => ({ metric, window }))).toEqual(queries);
    for (const aggregate of aggregates) {
      const { from, to } = windowBuckets(aggregate.window, now);
      expect([aggregate.from, aggregate.to]).toEqual([new Date(from), new Date(to)]);
      expectMatchesBruteForce(aggregate, samples, now);
    }
    expect(aggregates.find((a) => a.metric === 'latency_ms' && a.window === 'M1')?.count).toBeGreaterThan(10);
  });

  it('should count the value 0 and repeated equal values', async () => {
    const { store } = backend.create(now);
    const values = [0, 0, 0, 5, 5];
    await store.apply(
      batch('1'),
      values.map((value) => ({ metric: 'errors', value, timestamp: now })),
    );

    const [aggregate] = await store.read([{ metric: 'errors', window: 'M1' }], now);
    expect(aggregate).toMatchObject({ count: 5, sum: 10, avg: 2, min: 0, max: 5, p50: 0 });
    expect(aggregate?.stddev).toBeCloseTo(Math.sqrt(6), 12);
    expect(aggregate?.p99).toBeCloseTo(5, 1);
  });

  it('should record each applied batch as the last one', async () => {
    const { store } = backend.create(now);
    expect(await store.lastAppliedBatch()).toBeNull();
    await store.apply(batch('1', '2'), [{ metric: 'm', value: 1, timestamp: now }]);
    expect(await store.lastAppliedBatch()).toEqual(batch('1', '2'));
    await store.apply(batch('3'), []);
    expect(await store.lastAppliedBatch()).toEqual(batch('3'));
  });

  it('should replace the whole state on rebuild', async () => {
    const { store } = backend.create(now);
    await store.apply(batch('1'), [{ metric: 'stale', value: 100, timestamp: now }]);

    const fresh = [1, 2, 3, 4].map((value) => ({ metric: 'fresh', value, timestamp: now - value * 1_000 }));
    await store.rebuild(chunksOf(fresh, 3));
    expect(await store.lastAppliedBatch()).toBeNull(); // until the rebuilt state's batch is recorded
    await store.apply(batch('7', '8'), []);

    expect(await store.lastAppliedBatch()).toEqual(batch('7', '8'));
    // The series seen are every partition's, not one partition's state: they age out (24 h), not rebuilt.
    expect(await store.metricNames(now)).toEqual(['fresh', 'stale']);
    const [staleAggregate, freshAggregate] = await store.read(
      [
        { metric: 'stale', window: 'M1' },
        { metric: 'fresh', window: 'M1' },
      ],
      now,
    );
    expect(staleAggregate?.count).toBe(0);
    expect(freshAggregate).toMatchObject({ count: 4, sum: 10 });
  });

  it('should leave a rebuilt state marked as lost until a batch is recorded', async () => {
    const { store } = backend.create(now);
    await store.apply(batch('1'), []);
    await store.rebuild(chunksOf([], 1));
    expect(await store.lastAppliedBatch()).toBeNull();
    await store.apply(batch(), []);
    expect(await store.lastAppliedBatch()).toEqual(batch());
  });

  it('should report no applied batch once the state is lost', async () => {
    const subject = backend.create(now);
    await subject.store.apply(batch('1'), [{ metric: 'm', value: 1, timestamp: now }]);

    const store = await subject.loseState();
    expect(await store.lastAppliedBatch()).toBeNull();
    expect((await store.read([{ metric: 'm', window: 'M1' }], now))[0]?.count).toBe(0);
  });

  it('should not aggregate samples 24 h old or older', async () => {
    const subject = backend.create(now);
    const old = [now - AGGREGATION_HORIZON_MS, now - AGGREGATION_HORIZON_MS - HOUR];
    await subject.store.apply(
      batch('1'),
      old.map((timestamp) => ({ metric: 'old', value: 1, timestamp })),
    );

    expect(await subject.storedBuckets()).toBe(0);
    expect(await subject.store.metricNames(now)).toEqual([]);
    expect(await subject.store.lastAppliedBatch()).toEqual(batch('1'));
  });

  it('should grow with buckets, not with samples', async () => {
    const subject = backend.create(now);
    const second = Math.floor(now / 1_000) * 1_000;
    const samples = Array.from({ length: 5_000 }, (_, i) => ({
      metric: 'busy',
      value: i % 97,
      timestamp: second + (i % 1_000),
    }));
    await subject.store.apply(batch('1'), samples);
    await subject.store.apply(batch('2'), samples);

    expect(await subject.storedBuckets()).toBe(WINDOW_SIZES.length);
    expect((await subject.store.read([{ metric: 'busy', window: 'M1' }], now))[0]?.count).toBe(10_000);
  });

  it('should list the metrics with samples in the last 24 h, sorted', async () => {
    const { store } = backend.create(now);
    await store.apply(batch('1'), [
      { metric: 'zeta', value: 1, timestamp: now },
      { metric: 'alpha', value: 1, timestamp: now - HOUR },
      { metric: 'mid', value: 1, timestamp: now - 23 * HOUR },
      { metric: 'mid', value: 1, timestamp: now - 23.5 * HOUR },
    ]);

    expect(await store.metricNames(now)).toEqual(['alpha', 'mid', 'zeta']);
    expect(await store.metricNames(now + 2 * HOUR)).toEqual(['alpha', 'zeta']);
  });
});

describe('MemoryAggregateStore pruning', () => {
  it('should drop buckets once no window reads them', async () => {
    const start = Date.now();
    let now = start;
    const store = new MemoryAggregateStore({
      clock: () => now,
      retentionGraceMs: RETENTION_GRACE_MS,
      pruneIntervalMs: 0,
    });
    await store.apply(batch('1'), [{ metric: 'm', value: 1, timestamp: start }]);
    expect(store.bucketCount()).toBe(WINDOW_SIZES.length);

    now = start + 2 * HOUR;
    await store.apply(batch('2'), []);
    expect(store.bucketCount()).toBe(2);

    now = start + AGGREGATION_HORIZON_MS + RETENTION_GRACE_MS;
    await store.apply(batch('3'), []);
    expect(store.bucketCount()).toBe(0);
    expect(await store.metricNames(now)).toEqual([]);
  });
});

describe('RedisAggregateStore', () => {
  it('should write exactly the hash fields ApplyCost counts (what the stream processor budgets by)', async () => {
    // The store's clock runs ten minutes ahead of Redis's: Redis expires a bucket at the edge of its window by the real
    // clock, so with the store's clock a few seconds behind (a slow, loaded run) it would be gone before it is counted.
    const now = Date.now() + 10 * 60_000;
    const next = random(7);
    for (const [metrics, spreadMs, count] of [
      [3, 1_000, 200],
      [12, 180_000, 500],
      [40, 20 * HOUR, 300],
    ] as const) {
      const { store, keyPrefix } = redisSubject(now);
      const samples = Array.from({ length: count }, () => ({
        metric: `m${Math.floor(next() * metrics)}`,
        value: next() < 0.1 ? 0 : (next() - 0.2) * 10 ** Math.floor(next() * 6),
        timestamp: now - Math.floor(next() * spreadMs),
      }));
      await store.apply(batch('1'), samples);
      let written = 0;
      for (const key of await scanKeys(redis, `${keyPrefix}{p0of1}:agg:b:*`)) written += await redis.hlen(key);
      const cost = store.applyCost();
      cost.addWithin(samples, Number.POSITIVE_INFINITY);
      expect(cost.fields, `${metrics} metrics over ${spreadMs} ms`).toBe(written);
    }
  });

  it('should let every bucket expire once no window reads it', async () => {
    const now = Date.now();
    const { store, keyPrefix } = redisSubject(now);
    await store.apply(batch('1'), [{ metric: 'm', value: 1, timestamp: now }]);

    for (const window of WINDOW_SIZES) {
      const key = `${keyPrefix}{p0of1}:agg:b:${window}:${bucketIndex(now, granularityMs(window))}:m`;
      const expected = bucketExpiresAt(window, bucketIndex(now, granularityMs(window))) + RETENTION_GRACE_MS;
      expect(await redis.pexpiretime(key), window).toBe(expected);
    }
  });

  describe('fencing', () => {
    const now = Date.now();
    const sample = { metric: 'm', value: 1, timestamp: now };

    it('should give the lease to one holder at a time, renewed and released only by it', async () => {
      const { keyPrefix } = redisSubject(now);
      const a = redisLease(redis, leaseKey(keyPrefix), 10_000, 'a');
      const b = redisLease(redis, leaseKey(keyPrefix), 10_000, 'b');
      expect(await a.hold()).toBe(true);
      expect(await b.hold()).toBe(false);
      await b.release(); // not b's to release
      expect(await redis.get(leaseKey(keyPrefix))).toBe('a');

      const longer = redisLease(redis, leaseKey(keyPrefix), 20_000, 'a');
      expect(await longer.hold()).toBe(false); // a new holder object must acquire, not renew
      await redis.pexpire(leaseKey(keyPrefix), 1_000);
      expect(await a.hold()).toBe(true); // renewed
      expect(await redis.pttl(leaseKey(keyPrefix))).toBeGreaterThan(5_000);
      await a.release();
      expect(await redis.get(leaseKey(keyPrefix))).toBeNull();
      expect(await b.hold()).toBe(true);
    });

    it('should reject writes with a stale fence and change nothing', async () => {
      const { store, keyPrefix } = redisSubject(now);
      const oldHolder = redisLease(redis, leaseKey(keyPrefix), 10_000, 'old-holder');
      await oldHolder.hold();
      await store.apply(batch('1'), [sample], 'old-holder');
      await oldHolder.release();
      await redisLease(redis, leaseKey(keyPrefix), 10_000, 'new-holder').hold();

      await expect(store.apply(batch('2'), [sample, sample], 'old-holder')).rejects.toBeInstanceOf(FencedError);
      await expect(store.rebuild(chunksOf([sample], 1), 'old-holder')).rejects.toBeInstanceOf(FencedError);

      expect(await store.lastAppliedBatch()).toEqual(batch('1'));
      expect((await store.read([{ metric: 'm', window: 'M1' }], now))[0]?.count).toBe(1);
      await store.apply(batch('4'), [sample], 'new-holder');
      expect(await store.lastAppliedBatch()).toEqual(batch('4'));
    });

    it('should reject fenced writes when nobody holds the lease', async () => {
      const { store } = redisSubject(now);
      await expect(store.apply(batch('1'), [sample], 'expired-holder')).rejects.toBeInstanceOf(FencedError);
      expect(await store.lastAppliedBatch()).toBeNull();
    });

    it('should refuse an apply onto a state that is not the one last applied, and change nothing', async () => {
      const { store } = redisSubject(now);
      await store.apply(batch('1'), [sample]);
      await store.apply(batch('2'), [sample], undefined, 0, JSON.stringify(batch('1')));
      // The state goes back to batch 1 (a failover to a replica that missed batch 2): the writer expects batch 2.
      await store.apply(batch('1'), []);
      await expect(
        store.apply(batch('3'), [sample, sample], undefined, 0, JSON.stringify(batch('2'))),
      ).rejects.toBeInstanceOf(StaleStateError);
      expect(await store.lastAppliedBatch()).toEqual(batch('1'));
      expect((await store.read([{ metric: 'm', window: 'M1' }], now))[0]?.count).toBe(2);
      // And onto a state that holds no record at all.
      const { store: lost } = redisSubject(now);
      await expect(lost.apply(batch('3'), [sample], undefined, 0, JSON.stringify(batch('2')))).rejects.toBeInstanceOf(
        StaleStateError,
      );
      expect(await lost.lastAppliedBatch()).toBeNull();
    });

    it('should tell a writer that lost the lease so, before whether the state went back', async () => {
      const { store, keyPrefix } = redisSubject(now);
      await redisLease(redis, leaseKey(keyPrefix), 10_000, 'holder').hold();
      await store.apply(batch('1'), [sample], 'holder');
      await expect(
        store.apply(batch('2'), [sample], 'old-holder', 0, JSON.stringify(batch('0'))),
      ).rejects.toBeInstanceOf(FencedError);
    });

    it('should take a record not written as it writes them for none, so the state is rebuilt', async () => {
      const { store, keyPrefix } = redisSubject(now);
      await store.apply(batch('1'), [sample]);
      const record = await redis.get(`${keyPrefix}{p0of1}:agg:applied`);
      expect(record).toBe(JSON.stringify(batch('1')));
      await redis.set(`${keyPrefix}{p0of1}:agg:applied`, JSON.stringify(batch('1'), null, 1));
      expect(await store.lastAppliedBatch()).toBeNull();
      await redis.set(`${keyPrefix}{p0of1}:agg:applied`, 'not json');
      expect(await store.lastAppliedBatch()).toBeNull();
    });

    it('should keep the lease through a rebuild', async () => {
      const { store, keyPrefix } = redisSubject(now);
      await redisLease(redis, leaseKey(keyPrefix), 10_000, 'holder').hold();
      await store.apply(batch('1'), [sample], 'holder');
      await store.rebuild(chunksOf([sample], 1), 'holder');
      await store.apply(batch('2'), [], 'holder');
      expect(await redis.get(leaseKey(keyPrefix))).toBe('holder');
      expect(await store.lastAppliedBatch()).toEqual(batch('2'));
    });
  });
});

describe('RedisAggregateStore with partitions on a Redis Cluster', () => {
  it("should read buckets spread over the cluster's masters, merged as the read merges them", async () => {
    // Four partitions' hash tags land on all three masters: one pipeline over all of them is refused by the cluster
    // client, so the buckets are read a partition at a time.
    const now = Date.now();
    const store = new RedisAggregateStore({
      redis: clusterClient,
      keyPrefix: `${filePrefix}${++subjectCount}:`,
      clock: () => now,
      retentionGraceMs: RETENTION_GRACE_MS,
      partitions: 4,
    });
    const next = random(11);
    for (let partition = 0; partition < 4; partition++) {
      const samples = Array.from({ length: 50 }, () => ({
        metric: `m${Math.floor(next() * 3)}`,
        value: Math.round(next() * 1_000) / 10,
        timestamp: now - Math.floor(next() * 240_000),
      }));
      await store.apply(batch(String(partition)), samples, undefined, partition);
    }
    for (const metric of ['m0', 'm1', 'm2']) {
      const { first } = windowBuckets('M5', now);
      const buckets = await store.readBuckets(
        Array.from({ length: 60 }, (_, i) => ({ window: 'M5' as const, series: [metric], index: first + i })),
      );
      const [read] = await store.read([{ metric, window: 'M5' }], now);
      expect(buckets.reduce((count, bucket) => count + bucket.count, 0)).toBe(read?.count);
      expect(read?.count).toBeGreaterThan(0);
    }
  });
});
