// The stream processor never trusts Redis over Postgres: an aggregate store that holds another database's state
// under the same keys (a database replaced or restored from a dump while Redis kept its data), or an older state of
// this one (a failover to a lagging replica), is rebuilt from this database, and no outbox row is deleted on the
// store's word. The stores here share one key prefix on purpose, the
// way the Redis namespace (src/redis-namespace.ts) cannot tell a database from a copy that keeps its identity.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisAggregateStore } from '../../src/aggregation/redis-store.js';
import type { AggregateStore } from '../../src/aggregation/types.js';
import { createMemoryBus } from '../../src/bus/bus.js';
import { type Database, openDatabase } from '../../src/db.js';
import { BroadcastLog } from '../../src/events/broadcast-log.js';
import type { NewEvent } from '../../src/events/model.js';
import { redisPartitionLeases } from '../../src/events/partition-leases.js';
import { StreamProcessor } from '../../src/events/processor.js';
import { EventStore } from '../../src/events/store.js';
import { alertLeaseKey, redisLease } from '../../src/lease.js';
import {
  createTestDatabase,
  deleteRedisKeys,
  REDIS_URL,
  redisKeyPrefix,
  restoreDumpOf,
  type TestDatabase,
} from '../helpers/services.js';

const BATCH = 300;
const prefix = redisKeyPrefix();
const databases: TestDatabase[] = [];
const opened: Database[] = [];
let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  for (const db of opened) await db.close();
  for (const database of databases) await database.drop();
  await deleteRedisKeys(prefix);
  await redis.quit();
});

async function open(database: TestDatabase): Promise<EventStore> {
  databases.push(database);
  const db = await openDatabase({ url: database.url, dataDir: '' });
  opened.push(db);
  const store = new EventStore(db);
  broadcastLogs.set(store, new BroadcastLog(db.sql));
  return store;
}

const broadcastLogs = new Map<EventStore, BroadcastLog>();

const events = (n: number, name: string): NewEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    id: randomUUID(),
    type: 'PERFORMANCE_METRIC',
    timestamp: new Date(),
    data: { metric_name: name, value: i },
    dataJson: JSON.stringify({ metric_name: name, value: i }),
  }));

/** A processor of one database on the shared store, as a new instance starts it; `warnings` collects its warn logs. */
function processorOf(
  store: EventStore,
  warnings: string[] = [],
  wrap: (store: AggregateStore) => AggregateStore = (store) => store,
) {
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line).msg) });
  const aggregates = wrap(new RedisAggregateStore({ redis, keyPrefix: prefix }));

  const processor = new StreamProcessor({
    events: store,
    broadcasts: broadcastLogs.get(store) as BroadcastLog,
    aggregates,
    bus: createMemoryBus(),
    leases: redisPartitionLeases(redis, prefix, aggregates.partitions, 10_000),
    alertLease: redisLease(redis, alertLeaseKey(prefix), 10_000),
    logger,
    batchSize: 1_000,
    maxFieldsPerApply: 8_000,
    pollMs: 20,
    leaseRenewMs: 3_000,
  });
  return {
    aggregates,
    /** Takes the lease, processes the outbox to its end and gives the lease up, as a stopping instance does. */
    async drainAndStop() {
      await processor.drain();
      await processor.stop();
    },
    /** Runs as an instance does (its loop, not `drain`, which makes a pass per batch) until the outbox is empty. */
    async runUntilEmpty() {
      await processor.start();
      const deadline = Date.now() + 30_000;
      while ((await store.outboxSize()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await processor.stop();
    },
    /** One pass, whatever the outbox holds, as a running instance makes on every poll; then stops. */
    async passAndStop() {
      await processor.start(); // its loop's first pass is under way once start resolves; stop waits for it
      await processor.stop();
    },
    async count(metric: string): Promise<number> {
      const [aggregate] = await aggregates.read([{ metric, window: 'M5' }], Date.now());
      return aggregate?.count ?? 0;
    },
  };
}

/** Publishes `n` more events of `metric`, then drains them with a new processor; its count of them and warnings. */
async function publishAndDrain(store: EventStore, n: number, metric: string) {
  await store.insertBatch(events(n, metric), new Date());
  const warnings: string[] = [];
  const processor = processorOf(store, warnings);
  await processor.drainAndStop();
  return { count: await processor.count(metric), warnings };
}

/** Every key under `prefix`, as DUMP has them: what a replica or a snapshot of this moment would hold. */
async function snapshotRedis(prefix: string): Promise<Map<string, Buffer>> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  const dumps = new Map<string, Buffer>();
  for (const key of keys) {
    const dump = await redis.dumpBuffer(key);
    if (dump) dumps.set(key, dump);
  }
  return dumps;
}

/** Puts the keys under `prefix` back as `snapshot` had them, and only those. */
async function restoreRedis(prefix: string, snapshot: Map<string, Buffer>): Promise<void> {
  await deleteRedisKeys(prefix);
  for (const [key, dump] of snapshot) await redis.restore(key, 0, dump, 'REPLACE');
}

describe('stream processor on a Redis that holds another database', () => {
  it("should rebuild from a new database rather than delete its outbox rows on the old one's record", async () => {
    const first = await open(await createTestDatabase());
    await first.insertBatch(events(BATCH, 'on_first'), new Date());
    await processorOf(first).drainAndStop();

    // A new database under the same Redis keys: its seqs start where the first's did.
    const second = await open(await createTestDatabase());
    await second.insertBatch(events(BATCH, 'on_second'), new Date());
    const warnings: string[] = [];
    const processor = processorOf(second, warnings);
    await processor.drainAndStop();

    expect(await processor.count('on_second')).toBe(BATCH);
    expect(await processor.count('on_first')).toBe(0); // the first database's state is gone, not mixed in
    expect(await second.outboxSize()).toBe(0);
    expect(warnings).toEqual([expect.stringMatching(/not this database's.*rebuilding it from Postgres/)]);
  });

  it('should aggregate everything on a database restored from a pg_dump and on its original', async () => {
    const original = await open(await createTestDatabase());
    await original.insertBatch(events(BATCH, 'before_dump'), new Date());
    await processorOf(original).drainAndStop();
    const copy = await open(await restoreDumpOf(databases.at(-1) as TestDatabase));

    // Each goes on from the dump on its own: the same seqs, other events.
    await original.insertBatch(events(BATCH, 'original_after'), new Date());
    await processorOf(original).drainAndStop();
    await copy.insertBatch(events(BATCH, 'copy_after'), new Date());
    const onCopy = processorOf(copy);
    await onCopy.drainAndStop();
    expect(await onCopy.count('before_dump')).toBe(BATCH);
    expect(await onCopy.count('copy_after')).toBe(BATCH);
    expect(await onCopy.count('original_after')).toBe(0);
    expect(await copy.outboxSize()).toBe(0);

    // And back to the original, as instances of both would take turns on one prefix.
    await original.insertBatch(events(BATCH, 'original_later'), new Date());
    const onOriginal = processorOf(original);
    await onOriginal.drainAndStop();
    expect(await onOriginal.count('before_dump')).toBe(BATCH);
    expect(await onOriginal.count('original_after')).toBe(BATCH);
    expect(await onOriginal.count('original_later')).toBe(BATCH);
    expect(await onOriginal.count('copy_after')).toBe(0);
    expect(await original.outboxSize()).toBe(0);
  });

  it('should not take an empty state rebuilt from another database for this one, which has events to aggregate', async () => {
    // What a processor leaves after rebuilding from a database with nothing to aggregate: no state, and a record of
    // an empty batch.
    const aggregates = new RedisAggregateStore({ redis, keyPrefix: prefix });
    await aggregates.rebuild((async function* () {})());
    await aggregates.apply({ seqs: [], ids: [] }, []);

    // A database whose events were processed (out of the outbox) while Redis held other state.
    const busy = await open(await createTestDatabase());
    await busy.insertBatch(events(BATCH, 'processed_elsewhere'), new Date());
    await busy.deleteFromOutbox((await busy.readOutbox(BATCH)).map((e) => e.seq.toString()));
    await busy.insertBatch(events(1, 'processed_elsewhere'), new Date()); // one queued, so a pass runs
    const warnings: string[] = [];
    const processor = processorOf(busy, warnings);
    await processor.drainAndStop();
    expect(await processor.count('processed_elsewhere')).toBe(BATCH + 1);
    expect(warnings).toEqual([expect.stringMatching(/rebuilding it from Postgres/)]);
  });

  it('should trust its own database state: no rebuild when the record is of these events', async () => {
    const store = await open(await createTestDatabase());
    await store.insertBatch(events(BATCH, 'own'), new Date());
    await processorOf(store).drainAndStop();
    // A restarted instance of the same database: the state is kept, not rebuilt (a rebuild would warn).
    const restarted = await publishAndDrain(store, BATCH, 'own');
    expect(restarted.count).toBe(2 * BATCH);
    expect(restarted.warnings).toEqual([]);
  });

  it('should rebuild a state older than the one this database applied (a failover to a lagging replica)', async () => {
    const store = await open(await createTestDatabase());
    await store.insertBatch(events(BATCH, 'rolled_back'), new Date());
    await processorOf(store).drainAndStop();
    const older = await snapshotRedis(prefix);
    // Applied, recorded, deleted from the outbox; then Redis comes back with the state from before it.
    await store.insertBatch(events(BATCH, 'rolled_back'), new Date());
    await processorOf(store).drainAndStop();
    await restoreRedis(prefix, older);
    expect(await processorOf(store).count('rolled_back')).toBe(BATCH); // the second batch is lost in Redis

    const rebuilt = await publishAndDrain(store, BATCH, 'rolled_back');
    expect(rebuilt.count).toBe(3 * BATCH);
    expect(rebuilt.warnings).toEqual([expect.stringMatching(/older than this database says it applied.*rebuilding/)]);

    // A state that is the latest is trusted again, with no rebuild.
    const next = await publishAndDrain(store, BATCH, 'rolled_back');
    expect(next.count).toBe(4 * BATCH);
    expect(next.warnings).toEqual([]);
  });

  it('should rebuild the state of a partition count used before, once another count has applied since', async () => {
    const store = await open(await createTestDatabase());
    await store.insertBatch(events(BATCH, 'counts'), new Date());
    await processorOf(store).drainAndStop();
    // Two partitions then processed (and recorded) what this one partition's state never saw. Its clock is an hour
    // behind: the order of writes decides, not the time.
    const db = opened.at(-1) as Database;
    await db.sql.query(
      `INSERT INTO "ProcessorApplied" (partitions, partition, batch, "at") VALUES (2, 0, 'theirs', now() - interval '1 h')`,
      [],
    );
    const rebuilt = await publishAndDrain(store, 1, 'counts');
    expect(rebuilt.warnings).toEqual([expect.stringMatching(/PROCESSOR_PARTITIONS changed and back.*rebuilding/)]);
    expect(rebuilt.count).toBe(BATCH + 1);
    // Rebuilt and recorded now: trusted from here on.
    expect((await publishAndDrain(store, 1, 'counts')).warnings).toEqual([]);
  });

  it('should rebuild a state that went back in the middle of a pass', async () => {
    const store = await open(await createTestDatabase());
    await store.insertBatch(events(BATCH, 'went_back'), new Date());
    await processorOf(store).drainAndStop();
    // More than one outbox batch (1,000), so one pass of a running processor applies twice: the first apply of the
    // pass is acknowledged, then lost (the master failed over to a replica that had not received it).
    await store.insertBatch(events(1_500, 'went_back'), new Date());
    let lost = false;
    const warnings: string[] = [];
    const processor = processorOf(store, warnings, (real) =>
      Object.assign(Object.create(real) as AggregateStore, {
        async apply(...args: Parameters<AggregateStore['apply']>) {
          if (lost || args[1].length === 0) return real.apply(...args);
          lost = true;
          const before = await snapshotRedis(prefix);
          await real.apply(...args);
          await restoreRedis(prefix, before);
        },
      }),
    );
    await processor.runUntilEmpty();
    expect(lost).toBe(true);
    expect(await processor.count('went_back')).toBe(BATCH + 1_500);
    expect(await store.outboxSize()).toBe(0);
    expect(warnings).toEqual(
      expect.arrayContaining([expect.stringMatching(/older than this database says it applied.*rebuilding/)]),
    );
  });

  it('should trust a state it rebuilt itself when it takes the lease again', async () => {
    const store = await open(await createTestDatabase());
    await store.insertBatch(events(BATCH, 'rebuilt_own'), new Date());
    await processorOf(store).drainAndStop();
    // Redis loses everything; the next leader rebuilds on a pass with nothing queued.
    await deleteRedisKeys(prefix);
    await processorOf(store).passAndStop();
    const warnings: string[] = [];
    const next = processorOf(store, warnings);
    await next.passAndStop();
    expect(await next.count('rebuilt_own')).toBe(BATCH);
    expect(warnings).toEqual([]);
  });
});
