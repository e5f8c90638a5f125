// The stream processor's exactly-once protocol against real Postgres and Redis, with crashes injected at the
// worst moments (a real failure of a real call, not a stand-in for the store).
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisAggregateStore } from '../../src/aggregation/redis-store.js';
import type { AggregateStore, AppliedBatch, MetricSample } from '../../src/aggregation/types.js';
import { createMemoryBus } from '../../src/bus/bus.js';
import { type Database, openDatabase } from '../../src/db.js';
import { BroadcastLog } from '../../src/events/broadcast-log.js';
import type { NewEvent, StoredEvent } from '../../src/events/model.js';
import { localPartitionLeases, redisPartitionLeases } from '../../src/events/partition-leases.js';
import { StreamProcessor, type StreamProcessorOptions } from '../../src/events/processor.js';
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
import { deferred, Recording } from '../helpers/waits.js';

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
  more: Partial<StreamProcessorOptions> = {},
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
    ...more,
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

  describe('reading ahead of its applies', () => {
    /**
     * The real store, whose applies of `metric`'s samples wait until `release` (`applying` settles at the first); with
     * `failOnce`, the first of them then fails instead, writing nothing.
     */
    function holdingApplies(keyPrefix: string, metric: string, failOnce = false) {
      const real = new RedisAggregateStore({ redis, keyPrefix });
      const applying = deferred();
      const release = deferred();
      let fail = failOnce;
      const store: AggregateStore = Object.assign(Object.create(real) as AggregateStore, {
        apply: async (...args: Parameters<AggregateStore['apply']>) => {
          if (args[1].some((sample) => sample.metric === metric)) {
            applying.resolve();
            await release.promise;
            if (fail) {
              fail = false;
              throw new Error('injected apply failure');
            }
          }
          return real.apply(...args);
        },
      });
      return { real, store, applying, release };
    }

    /** A started processor on `aggregates`, and the ids it broadcast, in order. */
    async function started(
      aggregates: AggregateStore,
      options: {
        batchSize?: number;
        readAhead?: number;
        events?: EventStore;
        more?: Partial<StreamProcessorOptions>;
      } = {},
    ) {
      const bus = createMemoryBus();
      const broadcast = new Recording<string>();
      await bus.subscribe('events:published', (message) => broadcast.push(...message.events.map((e) => e.id)));
      const subject = processor(options.events ?? new EventStore(db), aggregates, 8_000, logger, {
        bus,
        batchSize: options.batchSize ?? 100,
        ...(options.readAhead ? { readAhead: options.readAhead } : {}),
        ...options.more,
      });
      await subject.start();
      return { subject, broadcast };
    }

    /**
     * Publishes `heldCount` events of `heldMetric` and, once their apply is held, `laterCount` of `laterMetric`;
     * resolves once the first `broadcastFirst` of those were broadcast.
     */
    async function publishWhileHeld(
      { subject, broadcast }: Awaited<ReturnType<typeof started>>,
      applying: Promise<void>,
      [heldMetric, heldCount]: [string, number],
      [laterMetric, laterCount]: [string, number],
      broadcastFirst = laterCount,
    ) {
      const held = await publish(heldCount, heldMetric);
      subject.nudge();
      await applying;
      const later = await publish(laterCount, laterMetric);
      subject.nudge();
      await broadcast.until((ids) => later.slice(0, broadcastFirst).every((id) => ids.includes(id)), 5_000);
      return { held, later };
    }

    const countOf = async (aggregates: AggregateStore, metric: string) =>
      (await aggregates.read([{ metric, window: 'M5' }], Date.now()))[0]?.count;
    const publish = async (n: number, metric: string) => {
      const batch = events(n, metric);
      await new EventStore(db).insertBatch(batch, new Date());
      return batch.map((event) => event.id);
    };

    const times = (ids: readonly string[]) => {
      const counted = new Map<string, number>();
      for (const id of ids) counted.set(id, (counted.get(id) ?? 0) + 1);
      return counted;
    };

    it.each([
      { what: 'while a batch is being applied, at once', failOnce: false, name: 'ahead' },
      // The held apply fails having written nothing: what waits is kept, applied on the next pass, not read again.
      { what: 'while an apply that then fails is held', failOnce: true, name: 'fail' },
    ])('should broadcast what commits $what, and apply and broadcast every event once', async ({ failOnce, name }) => {
      const { real, store, applying, release } = holdingApplies(`${prefix}${name}:`, `${name}_held`, failOnce);
      const running = await started(store);
      const { subject, broadcast } = running;
      try {
        // Broadcast while the batch before is still held in its apply.
        const { held, later: quick } = await publishWhileHeld(
          running,
          applying.promise,
          [`${name}_held`, 10],
          [`${name}_quick`, 5],
        );
        release.resolve();
        await subject.drain();
        expect(await countOf(real, `${name}_held`)).toBe(10);
        expect(await countOf(real, `${name}_quick`)).toBe(5);
        const counted = times(broadcast.items);
        expect([...held, ...quick].map((id) => counted.get(id))).toEqual(Array(15).fill(1));
      } finally {
        release.resolve();
        await subject.stop();
      }
    });

    it('should ask for one read however many publishes nudge it at once', async () => {
      let reads = 0;
      class CountingReads extends EventStore {
        override readOutbox(...args: Parameters<EventStore['readOutbox']>) {
          reads += 1;
          return super.readOutbox(...args);
        }
      }
      const aggregates = new RedisAggregateStore({ redis, keyPrefix: `${prefix}nudges:` });
      const { subject, broadcast } = await started(aggregates, { events: new CountingReads(db) });
      try {
        await subject.drain(); // its state checked, so nudges read in the background
        const [id] = await publish(1, 'nudged');
        reads = 0;
        for (let i = 0; i < 500; i++) subject.nudge();
        await broadcast.until((ids) => ids.includes(id as string), 5_000);
        await subject.drain();
        // One background read, the loop's pass and drain's: not 500.
        expect(reads).toBeLessThan(10);
        expect(await countOf(aggregates, 'nudged')).toBe(1);
      } finally {
        await subject.stop();
      }
    });

    it('should apply what it read ahead before it stops, read nothing after, and leave the rest to the next holder: none broadcast twice', async () => {
      const { real, store, applying, release } = holdingApplies(`${prefix}ahead-stop:`, 'stop_held');
      const running = await started(store, { batchSize: 5 });
      const { subject, broadcast } = running;
      let stopped = false;
      try {
        const { held, later: rest } = await publishWhileHeld(
          running,
          applying.promise,
          ['stop_held', 5],
          ['stop_rest', 12],
          5,
        );
        const stopping = subject.stop();
        for (let i = 0; i < 20; i++) subject.nudge();
        release.resolve();
        await stopping;
        stopped = true;
        const told = broadcast.items.length;
        const readAhead = broadcast.items.filter((id) => rest.includes(id)).length;
        const after = await publish(3, 'stop_after');
        for (let i = 0; i < 5; i++) {
          subject.nudge();
          await new Promise((resolve) => setTimeout(resolve, 40));
        }
        expect(broadcast.items).toHaveLength(told);
        expect(await countOf(real, 'stop_held')).toBe(5);
        // What it broadcast it applied: the next holder would otherwise broadcast it again.
        expect(await countOf(real, 'stop_rest')).toBe(readAhead);
        const bus = createMemoryBus();
        const next = new Recording<string>();
        await bus.subscribe('events:published', (message) => next.push(...message.events.map((e) => e.id)));
        await processor(new EventStore(db), real, 8_000, logger, { bus }).drain();
        expect(await countOf(real, 'stop_rest')).toBe(12);
        expect(await countOf(real, 'stop_after')).toBe(after.length);
        expect(await countOf(real, 'stop_held')).toBe(5);
        const counted = times([...broadcast.items, ...next.items]);
        expect([...held, ...rest, ...after].map((id) => counted.get(id))).toEqual(Array(20).fill(1));
      } finally {
        release.resolve();
        if (!stopped) await subject.stop();
      }
    });

    it('should keep its lease while a stop that outlasts the lease applies what it read ahead', async () => {
      const keyPrefix = `${prefix}ahead-lease:`;
      const { real, store, applying, release } = holdingApplies(keyPrefix, 'lease_held');
      const ttlMs = 500;
      const leases = redisPartitionLeases(redis, keyPrefix, real.partitions, ttlMs);
      const running = await started(store, { batchSize: 5, more: { leases, leaseRenewMs: ttlMs / 3 } });
      const { subject, broadcast } = running;
      let stopped = false;
      try {
        const { later: rest } = await publishWhileHeld(
          running,
          applying.promise,
          ['lease_held', 5],
          ['lease_rest', 12],
          5,
        );
        const stopping = subject.stop();
        // Three lease lifetimes with the batch in hand held: no longer renewed by the heartbeat, it would lapse.
        await new Promise((resolve) => setTimeout(resolve, 3 * ttlMs));
        release.resolve();
        await stopping;
        stopped = true;
        const readAhead = broadcast.items.filter((id) => rest.includes(id)).length;
        expect(await countOf(real, 'lease_held')).toBe(5);
        expect(await countOf(real, 'lease_rest')).toBe(readAhead);
        // Given up, the lease is free for the next holder, which takes on the rest.
        await processor(new EventStore(db), real, 8_000, logger, { leases }).drain();
        expect(await countOf(real, 'lease_rest')).toBe(12);
      } finally {
        release.resolve();
        if (!stopped) await subject.stop();
      }
    });

    it('should read no further ahead than its bound while an apply is slow', async () => {
      const { real, store, applying, release } = holdingApplies(`${prefix}bound:`, 'bound_held');
      const { subject, broadcast } = await started(store, { batchSize: 2, readAhead: 3 });
      try {
        await publish(2, 'bound_held');
        subject.nudge();
        await applying.promise;
        const queued = await publish(20, 'bound_queued');
        // However often it is asked, while the batch in hand is held: one read of 2 beyond it, which fills the 3.
        for (let i = 0; i < 10; i++) {
          subject.nudge();
          await new Promise((resolve) => setTimeout(resolve, 30));
        }
        expect(broadcast.items.filter((id) => queued.includes(id))).toHaveLength(2);
        release.resolve();
        await subject.drain();
        expect(await countOf(real, 'bound_queued')).toBe(20);
      } finally {
        release.resolve();
        await subject.stop();
      }
    });

    it('should broadcast an event that committed behind what it read ahead while an apply is slow', async () => {
      const { real, store, applying, release } = holdingApplies(`${prefix}straggler:`, 'straggler_held');
      const { subject, broadcast } = await started(store);
      // A publish that takes its seq first and commits last, as overlapping publishes do.
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        await publish(3, 'straggler_held');
        subject.nudge();
        await applying.promise;
        await client.query('BEGIN');
        const inTransaction = {
          prisma: db.prisma,
          sql: {
            query: async (text: string, params: readonly unknown[]) =>
              (await client.query({ text, values: [...params] })).rows,
          },
        } as unknown as Pick<Database, 'prisma' | 'sql'>;
        const late = events(1, 'straggler_late');
        await new EventStore(inTransaction).insertBatch(late, new Date());
        const after = await publish(1, 'straggler_after');
        subject.nudge();
        await broadcast.until((ids) => ids.includes(after[0] as string), 5_000);
        await client.query('COMMIT');
        // Read ahead past its seq already, and the batch in hand still held: only a look behind finds it.
        const found = broadcast.until((ids) => ids.includes(late[0]?.id as string), 5_000);
        const asking = setInterval(() => subject.nudge(), 30);
        await found.finally(() => clearInterval(asking));
        release.resolve();
        await subject.drain();
        for (const metric of ['straggler_held', 'straggler_late', 'straggler_after'])
          expect(await countOf(real, metric)).toBe(metric === 'straggler_held' ? 3 : 1);
      } finally {
        release.resolve();
        await client.end();
        await subject.stop();
      }
    });
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
