// The broadcast lock (one Postgres advisory lock that every partition's processor, on every instance, records and
// broadcasts under) is bounded both ways: a holder whose broadcast hangs (Redis half-open) gives it up, and a waiter
// behind a holder that cannot give it up (a paused process) fails rather than waiting, holding a pool connection, for
// as long as that holder's connection lives. Two Database opens on one database stand for two instances; the last
// test runs two stream processors, one whose event publishes never answer.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisAggregateStore } from '../../src/aggregation/redis-store.js';
import { type Bus, createMemoryBus } from '../../src/bus/bus.js';
import type { Topics } from '../../src/bus/topics.js';
import { type Database, LockHeldTooLongError, openDatabase, sqlErrorOf } from '../../src/db.js';
import { BroadcastLog } from '../../src/events/broadcast-log.js';
import type { NewEvent } from '../../src/events/model.js';
import { redisPartitionLeases } from '../../src/events/partition-leases.js';
import { StreamProcessor } from '../../src/events/processor.js';
import { EventStore } from '../../src/events/store.js';
import { alertLeaseKey, redisLease } from '../../src/lease.js';
import { createLogger } from '../../src/observability/logger.js';
import {
  createTestDatabase,
  deleteRedisKeys,
  REDIS_URL,
  redisKeyPrefix,
  type TestDatabase,
} from '../helpers/services.js';

const BOUND_MS = 300;
/** The same constant broadcast-log.ts locks (a paused holder is played by a bare connection holding it). */
const BROADCAST_LOCK = '7142990314001';

let database: TestDatabase;
let first: Database;
let second: Database;

beforeAll(async () => {
  database = await createTestDatabase();
  first = await openDatabase({ url: database.url, dataDir: '' });
  second = await openDatabase({ url: database.url, dataDir: '' });
});

afterAll(async () => {
  await first?.close();
  await second?.close();
  await database?.drop();
});

const positions = async (db: Database) =>
  (
    await db.sql.query<{ position: string; seqs: string }>(
      'SELECT position::text AS position, array_to_string(seqs, \',\') AS seqs FROM "EventBroadcast" ORDER BY position',
      [],
    )
  ).map((row) => ({ position: BigInt(row.position), seqs: row.seqs }));

describe('the broadcast lock', () => {
  it('is given up by a holder whose broadcast hangs, so another instance records and broadcasts next, in order', async () => {
    const stuck = new BroadcastLog(first.sql, BOUND_MS);
    const other = new BroadcastLog(second.sql, BOUND_MS);
    let stuckAt: bigint | undefined;
    let entered: () => void = () => {};
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    // A publish that never answers, as on a half-open connection to Redis.
    const hanging = stuck.recordAndBroadcast([1n, 2n], (position) => {
      stuckAt = position;
      entered();
      return new Promise<void>(() => {});
    });
    const hangingFailed = expect(hanging).rejects.toBeInstanceOf(LockHeldTooLongError);
    await inside;
    const broadcast: bigint[] = [];
    const started = Date.now();
    // Without the bound this waits in pg_advisory_lock for as long as the holder's connection lives.
    await retryWhileLocked(() => other.recordAndBroadcast([3n], async (position) => void broadcast.push(position)));
    const waited = Date.now() - started;
    await hangingFailed;
    expect(stuckAt).toBe(1n);
    expect(broadcast).toEqual([2n]);
    // About one bound (the holder's), and far from forever; generous for a loaded machine.
    expect(waited).toBeLessThan(BOUND_MS * 20);
    // The stuck batch stays recorded, gap-free, before the next; its events go again from the outbox, later.
    expect(await positions(first)).toEqual([
      { position: 1n, seqs: '1,2' },
      { position: 2n, seqs: '3' },
    ]);
    // The stuck instance takes the lock again at once (its dropped connection freed it) and records its batch anew,
    // after the other's: positions still one order, nothing lost.
    const again: bigint[] = [];
    await stuck.recordAndBroadcast([1n, 2n], async (position) => void again.push(position));
    expect(again).toEqual([3n]);
  });

  it('fails a waiter within the bound while a holder that cannot give it up holds it, and lets it in after', async () => {
    const paused = new pg.Client({ connectionString: database.url });
    await paused.connect();
    try {
      await paused.query(`SELECT pg_advisory_lock(${BROADCAST_LOCK}::bigint)`);
      const log = new BroadcastLog(second.sql, BOUND_MS);
      const broadcast: bigint[] = [];
      const started = Date.now();
      const failure = await log.recordAndBroadcast([10n], async (p) => void broadcast.push(p)).catch((e) => e);
      expect(Date.now() - started).toBeLessThan(BOUND_MS * 20);
      // lock_not_available: the lock_timeout ended the wait; nothing was recorded or broadcast.
      expect(sqlErrorOf(failure)?.code).toBe('55P03');
      expect(broadcast).toEqual([]);
      const before = await positions(second);
      expect(before.some((row) => row.seqs === '10')).toBe(false);
      // The waiter's connection went back to the pool, its settings reset: a pooled statement is not bounded by them.
      const [settings] = await second.sql.query<{ lock: string; idle: string }>(
        "SELECT current_setting('lock_timeout') AS lock, current_setting('idle_session_timeout') AS idle",
        [],
      );
      expect(settings).toEqual({ lock: '0', idle: '0' });
      await paused.query(`SELECT pg_advisory_unlock(${BROADCAST_LOCK}::bigint)`);
      await log.recordAndBroadcast([10n], async (p) => void broadcast.push(p));
      expect(broadcast).toEqual([(before.at(-1)?.position ?? 0n) + 1n]);
    } finally {
      await paused.end();
    }
  });
});

describe('partitioned processing with one processor stuck in its broadcast', () => {
  it("goes on with the other instance's partitions within the bound, and loses nothing once the stuck one recovers", async () => {
    const prefix = redisKeyPrefix();
    const redis = new Redis(REDIS_URL);
    const third = await createTestDatabase();
    const dbs = [
      await openDatabase({ url: third.url, dataDir: '' }),
      await openDatabase({ url: third.url, dataDir: '' }),
    ];
    const shared = createMemoryBus();
    const heard: Topics['events:published'][] = [];
    await shared.subscribe('events:published', (message) => heard.push(message));
    let hanging = true;
    let hung = 0;
    // The stuck instance's publishes of events never answer (its Redis half-open) until it recovers.
    const stuckBus: Bus = {
      ...shared,
      publish: (topic, payload) => {
        if (topic !== 'events:published' || !hanging) return shared.publish(topic, payload);
        hung += 1;
        return new Promise<void>(() => {});
      },
    };
    const ttlMs = 1_500;
    const processors = dbs.map(
      (db, i) =>
        new StreamProcessor({
          events: new EventStore(db),
          broadcasts: new BroadcastLog(db.sql, BOUND_MS),
          aggregates: new RedisAggregateStore({ redis, keyPrefix: prefix, partitions: 2 }),
          bus: i === 0 ? stuckBus : shared,
          leases: redisPartitionLeases(redis, prefix, 2, ttlMs),
          alertLease: redisLease(redis, alertLeaseKey(prefix), ttlMs),
          logger: createLogger('silent'),
          batchSize: 50,
          maxFieldsPerApply: 8_000,
          pollMs: 20,
          leaseRenewMs: ttlMs / 3,
        }),
    );
    const store = new EventStore(dbs[0] as Database);
    try {
      // The stuck one first, so it holds both partitions until the other joins and takes one.
      for (const processor of processors) await processor.start();
      for (let i = 0; i < 20; i++) await store.insertBatch(events(5), new Date());
      const bySeq = async () =>
        new Map(
          (
            await (dbs[0] as Database).sql.query<{ seq: string; part: number }>(
              'SELECT seq::text AS seq, mod(abs(hashint8(txid)::bigint), 2)::int AS part FROM "Event"',
              [],
            )
          ).map((row) => [row.seq, row.part]),
        );
      const partOf = await bySeq();
      const broadcastSeqs = () => new Set(heard.flatMap((message) => message.events.map((event) => event.seq)));
      const complete = (part: number) =>
        [...partOf].filter(([, p]) => p === part).every(([seq]) => broadcastSeqs().has(seq));
      // While one instance hangs in its broadcast, every event of the other's partition is broadcast: without the
      // bound it waits behind the stuck holder's lock for as long as that connection lives.
      await vi.waitFor(
        () => {
          expect(hung).toBeGreaterThan(0);
          expect(complete(0) || complete(1)).toBe(true);
        },
        { timeout: 30_000, interval: 50 },
      );
      hanging = false;
      await vi.waitFor(() => expect(complete(0) && complete(1)).toBe(true), { timeout: 30_000, interval: 50 });
      // Live messages came in position order; the log is gap-free; a replay from the start gives every event once.
      const heardPositions = heard.map((message) => BigInt(message.position ?? '0'));
      const distinct = [...new Set(heardPositions)];
      expect(distinct).toEqual([...distinct].sort((a, b) => (a < b ? -1 : 1)));
      const logged = await positions(dbs[0] as Database);
      expect(logged.map((row) => row.position)).toEqual(logged.map((_, i) => BigInt(i + 1)));
      const replayed = await new BroadcastLog((dbs[0] as Database).sql).since({ position: 0n, index: -1 }, 10_000);
      expect(replayed.map((event) => event.seq.toString()).sort()).toEqual([...partOf.keys()].sort());
    } finally {
      hanging = false;
      for (const processor of processors) await processor.stop();
      for (const db of dbs) await db.close();
      await third.drop();
      await deleteRedisKeys(prefix);
      await redis.quit();
    }
  });
});

const events = (n: number): NewEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    id: randomUUID(),
    type: 'PERFORMANCE_METRIC',
    timestamp: new Date(),
    data: { metric_name: 'stuck_broadcast', value: i },
    dataJson: JSON.stringify({ metric_name: 'stuck_broadcast', value: i }),
  }));

/** The other instance's first try may itself time out waiting behind the stuck holder on a slow machine: it retries. */
async function retryWhileLocked(attempt: () => Promise<void>): Promise<void> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (sqlErrorOf(error)?.code !== '55P03' || tries >= 10) throw error;
    }
  }
}
