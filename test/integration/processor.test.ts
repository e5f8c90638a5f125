// The stream processor's exactly-once protocol against real Postgres and Redis, with crashes injected at the
// worst moments (a real failure of a real call, not a stand-in for the store).
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisAggregateStore } from '../../src/aggregation/redis-store.js';
import type { AggregateStore, AppliedBatch, MetricSample } from '../../src/aggregation/types.js';
import { createMemoryBus } from '../../src/bus/bus.js';
import { type Database, openDatabase } from '../../src/db.js';
import { BroadcastLog } from '../../src/events/broadcast-log.js';
import type { NewEvent, StoredEvent } from '../../src/events/model.js';
import { localPartitionLeases, redisPartitionLeases } from '../../src/events/partition-leases.js';
import { StreamProcessor } from '../../src/events/processor.js';
import { type AppliedRecord, EventStore, type OutboxPartition } from '../../src/events/store.js';
import { alertLeaseKey, localLease, redisLease } from '../../src/lease.js';
import { createLogger } from '../../src/observability/logger.js';
import {
  createTestDatabase,
  deleteRedisKeys,
  REDIS_URL,
  redisKeyPrefix,
  type TestDatabase,
} from '../helpers/services.js';
import { deferred } from '../helpers/waits.js';

let database: TestDatabase;
let db: Database;
let redis: Redis;
const prefix = redisKeyPrefix();
const logger = createLogger('silent');

beforeAll(async () => {
  database = await createTestDatabase();
  db = await openDatabase({ url: database.url, dataDir: '' });
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  await deleteRedisKeys(prefix);
  await redis.quit();
  await db.close();
  await database.drop();
});

const events = (n: number, name: string): NewEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    id: randomUUID(),
    type: 'PERFORMANCE_METRIC',
    timestamp: new Date(),
    data: { metric_name: name, value: i },
    dataJson: JSON.stringify({ metric_name: name, value: i }),
  }));

/** An event store whose next outbox delete fails, as if the process died right after applying the batch. */
class CrashOnDelete extends EventStore {
  crashes = 1;
  override async deleteFromOutbox(seqs: readonly string[], applied?: AppliedRecord): Promise<void> {
    if (this.crashes > 0 && seqs.length > 0) {
      this.crashes -= 1;
      throw new Error('injected crash between aggregate apply and outbox delete');
    }
    return super.deleteFromOutbox(seqs, applied);
  }
}

function processor(
  store: EventStore,
  aggregates: AggregateStore,
  maxFieldsPerApply = 8_000,
  log: typeof logger = logger,
) {
  return new StreamProcessor({
    events: store,
    broadcasts: new BroadcastLog(db.sql),
    aggregates,
    bus: createMemoryBus(),
    leases: localPartitionLeases(aggregates.partitions),
    alertLease: localLease,
    logger: log,
    batchSize: 100,
    maxFieldsPerApply,
    pollMs: 20,
    leaseRenewMs: 1_000,
  });
}

describe('stream processor', () => {
  it('should apply a batch whose events spread over minutes in runs within the field budget, counting each once', async () => {
    const real = new RedisAggregateStore({ redis, keyPrefix: `${prefix}budget:` });
    const applies: number[] = [];
    // The real store, telling what each apply writes (ApplyCost matches the store's writes: aggregate-store.test.ts).
    const measured: AggregateStore = Object.assign(Object.create(real) as AggregateStore, {
      apply: async (applied: AppliedBatch, samples: MetricSample[], fence?: string) => {
        const cost = real.applyCost();
        cost.addWithin(samples, Number.POSITIVE_INFINITY);
        if (samples.length > 0) applies.push(cost.fields);
        return real.apply(applied, samples, fence);
      },
    });
    const now = Date.now();
    const spread: NewEvent[] = Array.from({ length: 100 }, (_, i) => {
      const data = { metrics: Object.fromEntries(Array.from({ length: 8 }, (_, m) => [`spread_${m}`, i * 10 + m])) };
      return {
        id: randomUUID(),
        type: 'COMPETITIVE_UPDATE',
        timestamp: new Date(now - ((i * 7_919) % 180_000)),
        data,
        dataJson: JSON.stringify(data),
      };
    });
    const store = new EventStore(db);
    await store.insertBatch(spread, new Date());
    const budget = 1_000;
    await processor(store, measured, budget).drain();
    expect(applies.length).toBeGreaterThan(2); // one batch of 100 events, more than two applies
    for (const fields of applies) expect(fields).toBeLessThanOrEqual(budget);
    const totals = await real.read(
      Array.from({ length: 8 }, (_, m) => ({ metric: `spread_${m}`, window: 'M5' as const })),
      Date.now(),
    );
    expect(totals.map((t) => t.count)).toEqual(Array.from({ length: 8 }, () => 100));
    expect(await store.outboxSize()).toBe(0);
  });

  it('should count every event exactly once when it dies between applying a batch and clearing the outbox', async () => {
    const aggregates = new RedisAggregateStore({ redis, keyPrefix: prefix });
    const store = new CrashOnDelete(db);
    await store.insertBatch(events(250, 'crashy'), new Date());
    const first = processor(store, aggregates);
    await expect(first.drain()).rejects.toThrow('injected crash');
    // A new processor (another instance, or this one restarted) picks up where it died.
    const second = processor(new EventStore(db), aggregates);
    await second.drain();
    const [aggregate] = await aggregates.read([{ metric: 'crashy', window: 'M5' }], Date.now());
    expect(aggregate?.count).toBe(250);
    expect(aggregate?.sum).toBe((249 * 250) / 2);
  });

  it('should rebuild from Postgres when the aggregate store lost its state, then go on exactly once', async () => {
    const aggregates = new RedisAggregateStore({ redis, keyPrefix: prefix });
    const store = new EventStore(db);
    await store.insertBatch(events(120, 'rebuilt'), new Date());
    await processor(store, aggregates).drain();
    // Redis loses everything under this prefix (as a restart without persistence would).
    await deleteRedisKeys(prefix);
    expect(await aggregates.lastAppliedBatch()).toBeNull();
    // Events committed while the state was lost are still queued; the rebuild must not count them twice.
    await store.insertBatch(events(30, 'rebuilt'), new Date());
    await processor(store, aggregates).drain();
    const [aggregate] = await aggregates.read([{ metric: 'rebuilt', window: 'M5' }], Date.now());
    expect(aggregate?.count).toBe(150);
    const [crashy] = await aggregates.read([{ metric: 'crashy', window: 'M5' }], Date.now());
    expect(crashy?.count).toBe(250);
  });

  it('should keep its lease through a rebuild that outlasts the lease, and finish it', async () => {
    const leasePrefix = `${prefix}lease-test:`;
    const aggregates = new RedisAggregateStore({ redis, keyPrefix: leasePrefix });
    const rebuilt = deferred();
    /** Pages of the rebuild arrive slowly, as from a busy database; `rebuilt` settles when the rebuild has used them. */
    class SlowRebuild extends EventStore {
      override processedSince<T>(
        since: Date,
        pageSize: number,
        use: (pages: AsyncIterable<StoredEvent[]>) => Promise<T>,
        partition?: OutboxPartition,
      ) {
        const result = super.processedSince(
          since,
          pageSize,
          (pages) =>
            use(
              (async function* () {
                for await (const page of pages) {
                  await new Promise((resolve) => setTimeout(resolve, 250));
                  yield page;
                }
              })(),
            ),
          partition,
        );
        result.then(() => rebuilt.resolve(), rebuilt.reject);
        return result;
      }
    }
    const store = new SlowRebuild(db);
    // 400 events already processed (out of the outbox): the rebuild must read them back, slowly.
    await store.insertBatch(events(400, 'slow_rebuild'), new Date());
    await store.deleteFromOutbox((await store.readOutbox(10_000)).map((e) => e.seq.toString()));
    const ttlMs = 500;
    const processor = new StreamProcessor({
      events: store,
      broadcasts: new BroadcastLog(db.sql),
      aggregates,
      bus: createMemoryBus(),
      leases: redisPartitionLeases(redis, leasePrefix, aggregates.partitions, ttlMs),
      alertLease: redisLease(redis, alertLeaseKey(leasePrefix), ttlMs),
      logger,
      batchSize: 100, // at least four slow pages: over 1 s, twice the lease
      maxFieldsPerApply: 8_000,
      pollMs: 20,
      leaseRenewMs: ttlMs / 3,
    });
    await processor.start();
    try {
      await rebuilt.promise;
      expect(await aggregates.lastAppliedBatch()).not.toBeNull();
      const [aggregate] = await aggregates.read([{ metric: 'slow_rebuild', window: 'M5' }], Date.now());
      expect(aggregate?.count).toBe(400);
    } finally {
      await processor.stop();
    }
  });

  it("should rebuild only the partition whose state was lost, and count every partition's events once", async () => {
    const keyPrefix = `${prefix}parts:`;
    const aggregates = new RedisAggregateStore({ redis, keyPrefix, partitions: 4 });
    const store = new EventStore(db);
    // A partition per publish (its transaction): twenty publishes spread over the four.
    for (let i = 0; i < 20; i++) await store.insertBatch(events(10, 'parted'), new Date());
    await processor(store, aggregates).drain();
    const count = async () => (await aggregates.read([{ metric: 'parted', window: 'M5' }], Date.now()))[0]?.count;
    expect(await count()).toBe(200); // merged over the four partitions' buckets
    const [{ n: inLost }] = (await db.sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "Event" WHERE data->>'metric_name' = 'parted' AND mod(abs(hashint8(txid)::bigint), 4) = 1`,
      [],
    )) as [{ n: number }];
    expect(inLost).toBeGreaterThan(0);
    // Partition 1 alone loses its keys (its lease aside): the others keep theirs.
    const lost = await redis.keys(`${keyPrefix}{p1of4}:agg:*`);
    expect(lost.length).toBeGreaterThan(1);
    await redis.del(...lost);
    expect(await aggregates.hasState(1)).toBe(false);
    expect(await count()).toBe(200 - inLost);
    for (let i = 0; i < 4; i++) await store.insertBatch(events(10, 'parted'), new Date());
    const rebuilt: number[] = [];
    const watching = pino(
      { level: 'info' },
      {
        write: (line: string) => {
          const entry = JSON.parse(line);
          if (String(entry.msg).includes('rebuilt')) rebuilt.push(entry.partition);
        },
      },
    );
    await processor(store, aggregates, 8_000, watching).drain();
    expect(rebuilt).toEqual([1]);
    expect(await count()).toBe(240);
  });

  it("should announce a partition's rebuild on another instance to the alert leader, which stops serving until its end", async () => {
    const keyPrefix = `${prefix}announce:`;
    const aggregates = new RedisAggregateStore({ redis, keyPrefix });
    /** The rebuild's read of the log waits while `held` (the state then deleted, the rebuild half done). */
    let held: Promise<void> | null = null;
    const rebuilding = deferred();
    class HeldRebuild extends EventStore {
      override async processedSince<T>(
        since: Date,
        pageSize: number,
        use: (pages: AsyncIterable<StoredEvent[]>) => Promise<T>,
        partition?: OutboxPartition,
      ) {
        if (held) {
          rebuilding.resolve();
          await held;
        }
        return super.processedSince(since, pageSize, use, partition);
      }
    }
    const store = new HeldRebuild(db);
    await store.insertBatch(events(20, 'announced'), new Date());
    const bus = createMemoryBus(); // the instances' shared bus
    const ttlMs = 60_000; // no heartbeat during the test: only the announcements can tell the leader
    const instance = (name: string, onAggregatesReplaced?: () => void) =>
      new StreamProcessor({
        events: store,
        broadcasts: new BroadcastLog(db.sql),
        aggregates,
        bus,
        leases: redisPartitionLeases(redis, keyPrefix, aggregates.partitions, ttlMs),
        // Each its own alert lease, so that the leader A is not the instance holding the partition.
        alertLease: redisLease(redis, alertLeaseKey(`${keyPrefix}${name}:`), ttlMs),
        logger,
        hooks: { onAggregatesReplaced },
        batchSize: 100,
        maxFieldsPerApply: 8_000,
        pollMs: 20,
        leaseRenewMs: ttlMs / 3,
      });
    const b = instance('b');
    let replaced = 0;
    const a = instance('a', () => {
      replaced += 1;
    });
    const finish = deferred();
    try {
      await b.start();
      await vi.waitFor(async () => expect(await store.outboxSize()).toBe(0), { timeout: 15_000 });
      await a.start();
      expect(a.heldPartitions).toEqual([]);
      expect(b.heldPartitions).toEqual([0]);
      expect(a.isServing).toBe(true);
      const before = replaced;

      // B's partition loses its state (its lease aside): B rebuilds it, held half way.
      held = finish.promise;
      const lost = (await redis.keys(`${keyPrefix}*:agg:*`)).filter((key) => !key.endsWith(':lease'));
      await redis.del(...lost);
      await rebuilding.promise;
      await vi.waitFor(() => expect(a.isServing).toBe(false), { timeout: 10_000 });
      expect(replaced).toBeGreaterThan(before); // A's alert engine drops its cache
      const during = replaced;

      held = null;
      finish.resolve();
      await vi.waitFor(() => expect(a.isServing).toBe(true), { timeout: 15_000 });
      expect(replaced).toBeGreaterThan(during); // and again at the end, the state complete
      const [aggregate] = await aggregates.read([{ metric: 'announced', window: 'M5' }], Date.now());
      expect(aggregate?.count).toBe(20);
    } finally {
      finish.resolve(); // a failed expectation must not leave B's rebuild waiting
      await a.stop();
      await b.stop();
    }
  });

  it('should stop serving when it cannot read whether every partition has its state', async () => {
    const real = new RedisAggregateStore({ redis, keyPrefix: `${prefix}unknown-state:` });
    let failing = false;
    const aggregates: AggregateStore = Object.assign(Object.create(real) as AggregateStore, {
      hasState: (partition: number) =>
        failing ? Promise.reject(new Error('injected: Redis unreachable')) : real.hasState(partition),
    });
    const subject = processor(new EventStore(db), aggregates);
    await subject.drain();
    expect(subject.isServing).toBe(true);
    failing = true;
    await subject.drain(); // balances first: the look at every partition's state fails
    expect(subject.isServing).toBe(false);
    failing = false;
    await subject.drain();
    expect(subject.isServing).toBe(true);
    await subject.stop();
  });

  it('should leave no timer behind when stopped while it starts', async () => {
    const renewMs = 1_234;
    const leases = localPartitionLeases(1);
    const heartbeat = deferred();
    const beating = deferred();
    const subject = new StreamProcessor({
      events: new EventStore(db),
      broadcasts: new BroadcastLog(db.sql),
      aggregates: new RedisAggregateStore({ redis, keyPrefix: `${prefix}stopped-starting:` }),
      bus: createMemoryBus(),
      leases: {
        ...leases,
        async heartbeat() {
          beating.resolve();
          await heartbeat.promise;
          return leases.heartbeat();
        },
      },
      alertLease: localLease,
      logger,
      batchSize: 100,
      maxFieldsPerApply: 8_000,
      pollMs: 20,
      leaseRenewMs: renewMs,
    });
    const timers = vi.spyOn(globalThis, 'setInterval');
    try {
      const starting = subject.start();
      await beating.promise; // start awaits its first balance
      const stopping = subject.stop();
      heartbeat.resolve();
      await Promise.all([starting, stopping]);
      const renewals = timers.mock.results.filter((_, i) => timers.mock.calls[i]?.[1] === renewMs);
      for (const { value } of renewals) clearInterval(value);
      expect(renewals).toHaveLength(0);
    } finally {
      timers.mockRestore();
    }
  });
});
