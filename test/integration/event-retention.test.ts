// The event log partitioned by day, on Postgres and embedded PGlite: partitions made ahead and dropped past the
// retention (never while their events are queued), ids pruned past their window, maintenance run by several
// instances at once, idempotency decided by "EventId" whatever partition a repeat falls in, and the migration from
// the unpartitioned table keeping every row.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db.js';
import type { NewEvent } from '../../src/events/model.js';
import {
  DAY_MS,
  type DayTable,
  dayOf,
  dayOfPartition,
  EventRetention,
  partitionName,
  type RetentionSettings,
} from '../../src/events/retention.js';
import { EventStore } from '../../src/events/store.js';
import { newEventId } from '../../src/ids.js';
import { createLogger } from '../../src/observability/logger.js';
import { adminQuery, createTestDatabase, databaseUrl, type TestDatabase } from '../helpers/services.js';

const logger = createLogger('silent');
/** The names of one table's day partitions among a pass's. */
const of = (names: string[], table: DayTable = 'Event') => names.filter((name) => dayOfPartition(name, table) !== null);
const DEFAULTS: RetentionSettings = { retentionDays: 30, aheadDays: 7, idRetentionDays: 30 };

const event = (timestamp: number, id: string = randomUUID()): NewEvent => ({
  id,
  type: 'PERFORMANCE_METRIC',
  timestamp: new Date(timestamp),
  data: { metric_name: 'retention_test', value: 1 },
  dataJson: JSON.stringify({ metric_name: 'retention_test', value: 1 }),
});

type Open = () => Promise<{ db: Database; another: () => Promise<Database>; cleanup: () => Promise<void> }>;
const backends: [string, Open][] = [
  [
    'postgres',
    async () => {
      const test: TestDatabase = await createTestDatabase();
      const others: Database[] = [];
      return {
        db: await openDatabase({ url: test.url, dataDir: '' }),
        // A second instance: its own pool, so maintenance passes really run at the same time.
        another: async () => {
          const other = await openDatabase({ url: test.url, dataDir: '' });
          others.push(other);
          return other;
        },
        cleanup: async () => {
          for (const other of others) await other.close();
          await test.drop();
        },
      };
    },
  ],
  [
    'embedded PGlite',
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'jackdaw-pglite-'));
      const db = await openDatabase({ dataDir: dir });
      // One process per folder: a second "instance" is the same database, as in the embedded mode.
      return { db, another: async () => db, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  ],
];

describe.each(backends)('event log retention on %s', (_name, open) => {
  let db: Database;
  let another: () => Promise<Database>;
  let cleanup: () => Promise<void>;
  let store: EventStore;
  const now = Date.now();
  const today = dayOf(now);
  const retention = (at: number, settings: Partial<RetentionSettings> = {}, on: Database = db) =>
    new EventRetention({ prisma: on.prisma, logger, settings: { ...DEFAULTS, ...settings }, now: () => at });
  const partitionDays = async (table: DayTable = 'Event') =>
    (
      await db.sql.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = '"${table}"'::regclass`,
        [],
      )
    )
      .map((row) => dayOfPartition(row.name, table))
      .filter((day): day is number => day !== null)
      .sort((a, b) => a - b);
  const storedIds = async (ids: string[]) =>
    (await db.sql.query<{ id: string }>(`SELECT id::text AS id FROM "EventId" WHERE id = ANY($1::uuid[])`, [ids]))
      .map((row) => row.id)
      .sort();

  // Opening PGlite applies every migration in WebAssembly: tens of seconds on a loaded machine.
  beforeAll(async () => {
    ({ db, another, cleanup } = await open());
    store = new EventStore(db);
  }, 180_000);
  afterAll(async () => {
    await db.close();
    await cleanup();
  });

  it('should make a partition for every day from the retention start to the days ahead, once', async () => {
    await retention(now).runOnce();
    const days = await partitionDays();
    for (let day = dayOf(now - 30 * DAY_MS); day <= today + 7; day++) expect(days).toContain(day);
    const again = await retention(now).runOnce();
    expect(again).toEqual({ created: [], dropped: [], kept: [], idsPruned: 0, broadcastsPruned: 0 });
    const further = await retention(now, { aheadDays: 10 }).runOnce();
    const ahead = [today + 8, today + 9, today + 10];
    expect(further.created).toEqual([
      ...ahead.map((day) => partitionName(day)),
      ...ahead.map((day) => partitionName(day, 'EventId')),
    ]);
    // The ids' days, by the time a UUIDv7 carries: the idempotency window to the days ahead.
    const idDays = await partitionDays('EventId');
    for (let day = dayOf(now - 30 * DAY_MS); day <= today + 10; day++) expect(idDays).toContain(day);
  });

  it('should store a UUIDv7 id once, in the day partition of its time, and a random one in EventId_other', async () => {
    const v7 = newEventId(now);
    const v4 = randomUUID();
    expect(await store.insertBatch([event(now, v7), event(now, v4)], new Date())).toBe(2);
    // Repeated on other days, in other batches and from several publishers at once: never stored again.
    expect(await store.insertBatch([event(now - DAY_MS, v7), event(now - 2 * DAY_MS, v4)], new Date())).toBe(0);
    const dbs = [db, await another(), await another()];
    const again = await Promise.all(
      dbs.map((on, i) => new EventStore(on).insertBatch([event(now - i * DAY_MS, v7)], new Date())),
    );
    expect(again).toEqual([0, 0, 0]);
    const rows = await db.sql.query<{ id: string; partition: string }>(
      `SELECT id::text AS id, tableoid::regclass::text AS partition FROM "EventId" WHERE id = ANY($1::uuid[])`,
      [[v7, v4]],
    );
    expect(Object.fromEntries(rows.map((row) => [row.id, row.partition]))).toEqual({
      [v7]: `"${partitionName(today, 'EventId')}"`,
      [v4]: '"EventId_other"',
    });
    expect((await store.findByIds([v7, v4])).map((e) => e.id).sort()).toEqual([v7, v4].sort());
  });

  it('should store an id once: repeated in a batch, in another batch, at once from several, whatever its timestamp', async () => {
    const id = randomUUID();
    // The same id on two days (two partitions) in one batch: the first is kept.
    expect(await store.insertBatch([event(now, id), event(now - 2 * DAY_MS, id)], new Date())).toBe(1);
    expect(await store.insertBatch([event(now - 3 * DAY_MS, id)], new Date())).toBe(0);
    expect(await store.insertBatch([event(now + DAY_MS, id)], new Date())).toBe(0);
    const [stored, ...others] = await store.findByIds([id]);
    expect(others).toEqual([]);
    expect(stored?.timestamp.getTime()).toBe(now);

    // Four publishers at once, the same 50 ids each, each on a day of its own.
    const ids = Array.from({ length: 50 }, () => randomUUID());
    const dbs = [db, await another(), await another(), db];
    const accepted = await Promise.all(
      dbs.map((on, i) =>
        new EventStore(on).insertBatch(
          ids.map((one) => event(now - i * DAY_MS, one)),
          new Date(),
        ),
      ),
    );
    expect(accepted.reduce((a, b) => a + b, 0)).toBe(50);
    const [row] = await db.sql.query<{ events: number; queued: number }>(
      `SELECT (SELECT count(*)::int FROM "Event" WHERE id = ANY($1::uuid[])) AS events,
              (SELECT count(*)::int FROM "EventOutbox" o JOIN "Event" e USING (seq, "timestamp")
               WHERE e.id = ANY($1::uuid[])) AS queued`,
      [ids],
    );
    expect(row).toEqual({ events: 50, queued: 50 });
  });

  it('should make each partition once when instances run maintenance at the same time', async () => {
    const later = now + 20 * DAY_MS;
    const instances = [retention(later, {}, db), retention(later, {}, await another())];
    const passes = await Promise.all(instances.map((r) => r.runOnce()));
    const days = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => partitionName(from + i));
    // Made: the days after those the first test made, to 7 days after `later`; dropped: the days before `later`'s
    // retention start. Each by one of the two passes, and neither failed.
    expect(of(passes.flatMap((p) => p.created)).sort()).toEqual(days(today + 11, dayOf(later) + 7));
    expect(of(passes.flatMap((p) => p.dropped)).sort()).toEqual(
      days(dayOf(now - 30 * DAY_MS), dayOf(later - 30 * DAY_MS) - 1),
    );
    // The ids' days go a day after the events': an event may be a day ahead of the id the server gave it.
    const idDays = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => partitionName(from + i, 'EventId'));
    expect(
      of(
        passes.flatMap((p) => p.dropped),
        'EventId',
      ).sort(),
    ).toEqual(idDays(dayOf(now - 30 * DAY_MS), dayOf(later - 30 * DAY_MS) - 2));
    expect(passes.flatMap((p) => p.kept)).toEqual([]);
  });

  it('should drop the days past the retention, keep a day whose events are queued, and prune ids after their window', async () => {
    const dayA = event(now - 6 * DAY_MS); // processed: its day may go
    const dayB = event(now - 5 * DAY_MS); // still queued: its day stays until the processor is done with it
    await store.insertBatch([dayA, dayB], new Date());
    const queued = await store.readOutbox(10_000);
    const seqOf = (e: NewEvent) => queued.find((q) => q.id === e.id)?.seq.toString() ?? 'missing';
    await store.deleteFromOutbox([seqOf(dayA)]);

    // 26 days on, the days up to today-5 are past the 30 days kept; ids are kept 32 days.
    const first = await retention(now + 26 * DAY_MS, { idRetentionDays: 32 }).runOnce();
    expect(of(first.dropped)).toContain(partitionName(today - 6));
    expect(first.dropped).not.toContain(partitionName(today - 5));
    expect(first.kept).toEqual([{ partition: partitionName(today - 5), reason: expect.stringMatching(/outbox/) }]);
    expect((await store.findByIds([dayA.id, dayB.id])).map((e) => e.id)).toEqual([dayB.id]);
    const history = await store.page({
      first: 500,
      since: new Date(now - 7 * DAY_MS),
      until: new Date(now - 4 * DAY_MS),
    });
    expect(history.map((e) => e.id)).toEqual([dayB.id]);
    // Its event is gone, but the id is within its window: a repeat is still a duplicate.
    expect(await storedIds([dayA.id, dayB.id])).toEqual([dayA.id, dayB.id].sort());
    expect(await store.insertBatch([event(now, dayA.id)], new Date())).toBe(0);

    // Once processed, its day goes at the next pass; the ids of both go when their window has passed too.
    await store.deleteFromOutbox((await store.readOutbox(10_000)).map((e) => e.seq.toString()));
    const second = await retention(now + 28 * DAY_MS, { idRetentionDays: 32 }).runOnce();
    expect(of(second.dropped)).toEqual([today - 5, today - 4, today - 3].map((day) => partitionName(day)));
    expect(second.kept).toEqual([]);
    expect(second.idsPruned).toBeGreaterThanOrEqual(2);
    expect(await storedIds([dayA.id, dayB.id])).toEqual([]);
    expect((await partitionDays())[0]).toBe(today - 2);
  });

  it('should prune the broadcast batches broadcast before the oldest day kept, and no later one', async () => {
    const oldestKept = ((await partitionDays())[0] ?? 0) * DAY_MS;
    const at = (ms: number) => new Date(ms).toISOString();
    await db.sql.query(
      `INSERT INTO "EventBroadcast" (position, seqs, "seqRange", at)
       VALUES (1, '{1}', '[1,1]', $1::timestamptz), (2, '{2}', '[2,2]', $2::timestamptz)`,
      [at(oldestKept - 1_000), at(oldestKept + 1_000)],
    );
    const pass = await retention(now + 28 * DAY_MS, { idRetentionDays: 32 }).runOnce();
    expect(pass.broadcastsPruned).toBe(1);
    const left = await db.sql.query<{ position: string }>(
      `SELECT position::text AS position FROM "EventBroadcast"`,
      [],
    );
    expect(left.map((row) => row.position)).toEqual(['2']);
  });

  it('should drop at the next pass a day past the retention that a pass detached and did not drop, and attach one within it again', async () => {
    // A pass detaches a day and drops it in a transaction of its own: a process dying between the two leaves the
    // day's table outside the log. A day on, it is past the retention either way.
    const oldest = (await partitionDays())[0] ?? 0;
    const leftover = event(oldest * DAY_MS + 60_000);
    await store.insertBatch([leftover], new Date());
    await store.deleteFromOutbox((await store.readOutbox(10_000)).map((e) => e.seq.toString()));
    await db.sql.query(`ALTER TABLE "Event" DETACH PARTITION "${partitionName(oldest)}"`, []);
    expect(await partitionDays()).not.toContain(oldest);

    const at = (oldest + 31) * DAY_MS; // the retention start is then within the day after `oldest`
    const pass = await retention(at, { idRetentionDays: 32 }).runOnce();
    expect(pass.dropped).toContain(partitionName(oldest));
    expect(pass.kept).toEqual([]);
    const [left] = await db.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_class WHERE relname = $1`, [
      partitionName(oldest),
    ]);
    expect(left?.n).toBe(0);
    expect(await retention(at, { idRetentionDays: 32 }).runOnce()).toMatchObject({ dropped: [], kept: [] });

    // A day left detached but within the retention (raised since): attached again at the next pass, with its events.
    const kept = (await partitionDays()).at(-1) ?? 0;
    const inKept = event(kept * DAY_MS + 60_000);
    await store.insertBatch([inKept], new Date());
    await db.sql.query(`ALTER TABLE "Event" DETACH PARTITION "${partitionName(kept)}"`, []);
    const again = await retention(at, { idRetentionDays: 32 }).runOnce();
    expect(again.created).toContain(partitionName(kept));
    expect(again.kept).toEqual([]);
    expect(await partitionDays()).toContain(kept);
    expect((await store.findByIds([inKept.id])).map((e) => e.id)).toEqual([inKept.id]);
  });
});

// The migration that partitions the log, from a database at the migration before it that holds events.
const MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));
const PARTITIONING = '20261127204401_event_partitions';
const migrations = readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => ({ name: d.name, sql: readFileSync(path.join(MIGRATIONS_DIR, d.name, 'migration.sql'), 'utf8') }))
  .sort((a, b) => a.name.localeCompare(b.name));
const before = migrations.filter((m) => m.name < PARTITIONING);

type Query = (text: string) => Promise<Record<string, unknown>[]>;

/** 300 events 7 hours apart (87 days, most past the retention), one from 2001, some still queued. */
async function fillPreviousSchema(query: Query): Promise<void> {
  await query(`INSERT INTO "Event" (id, type, "timestamp", "receivedAt", data)
    SELECT gen_random_uuid(), (ARRAY['ANOMALY_DETECTED', 'PERFORMANCE_METRIC']::"EventType"[])[1 + i % 2],
           now() - i * interval '7 hours', now(), jsonb_build_object('i', i, 'text', 'é "quoted"')
    FROM generate_series(1, 300) AS i`);
  await query(`INSERT INTO "Event" (id, type, "timestamp", "receivedAt", data)
    VALUES (gen_random_uuid(), 'INSIGHT_GENERATED', '2001-02-03T04:05:06.789Z', '2001-02-03T04:05:07Z', '{}')`);
  await query(`INSERT INTO "EventOutbox" (seq, traceparent) SELECT seq, 'tp-' || seq FROM "Event" WHERE seq % 10 = 0`);
}

const SNAPSHOT = `SELECT id::text, seq::text, type::text, "timestamp"::text AS ts, "receivedAt"::text AS received,
  data::text FROM "Event" ORDER BY seq`;
const OUTBOX = `SELECT seq::text, traceparent FROM "EventOutbox" ORDER BY seq`;

async function expectMigrated(query: Query, rows: Record<string, unknown>[], outbox: Record<string, unknown>[]) {
  expect(rows).toHaveLength(301);
  expect(await query(SNAPSHOT)).toEqual(rows);
  expect(await query(OUTBOX)).toEqual(outbox);
  const [check] = await query(`SELECT
      (SELECT relkind::text FROM pg_class WHERE oid = '"Event"'::regclass) AS kind,
      (SELECT count(*)::int FROM "EventId" i JOIN "Event" e ON e.id = i.id AND e."timestamp" = i."timestamp") AS ids,
      (SELECT count(*)::int FROM "EventOutbox" o JOIN "Event" e USING (seq, "timestamp")) AS queued,
      (SELECT count(*)::int FROM pg_inherits WHERE inhparent = '"Event"'::regclass) AS partitions,
      (SELECT count(DISTINCT ("timestamp" AT TIME ZONE 'UTC')::date)::int FROM "Event") AS days`);
  expect(check).toMatchObject({ kind: 'p', ids: 301, queued: outbox.length });
  // Every day holding rows, and the days around today, have a partition.
  expect(Number(check?.partitions)).toBeGreaterThanOrEqual(Number(check?.days));
}

/** After the migration the log works as before: the sequence carries on, and an old id is still a duplicate. */
async function expectStoreWorks(db: Database, rows: Record<string, unknown>[]) {
  const store = new EventStore(db);
  const fresh = event(Date.now());
  const old = event(Date.now(), String(rows[0]?.id));
  expect(await store.insertBatch([fresh, old], new Date())).toBe(1);
  const [stored] = await store.findByIds([fresh.id]);
  expect(stored?.seq).toBeGreaterThan(BigInt(String(rows[rows.length - 1]?.seq)));
}

describe('the migration to a partitioned log', () => {
  it('should keep every row of the previous table on Postgres, with its seq, outbox row and id', async () => {
    const name = `jackdaw_t_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    await adminQuery(`CREATE DATABASE "${name}" TEMPLATE template0`);
    const client = new pg.Client({ connectionString: databaseUrl(name) });
    await client.connect();
    try {
      const query: Query = async (text) => (await client.query(text)).rows;
      for (const migration of before) await query(migration.sql);
      await fillPreviousSchema(query);
      const rows = await query(SNAPSHOT);
      const outbox = await query(OUTBOX);
      // As the migration runner sends a script: whole, in one implicit transaction.
      for (const migration of migrations.filter((m) => m.name >= PARTITIONING)) await query(migration.sql);
      await expectMigrated(query, rows, outbox);
      const db = await openDatabase({ url: databaseUrl(name), dataDir: '' });
      try {
        await expectStoreWorks(db, rows);
      } finally {
        await db.close();
      }
    } finally {
      await client.end();
      await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
  }, 120_000);

  it('should keep every row on embedded PGlite, whose start applies the migration', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jackdaw-pglite-'));
    try {
      const pglite = await PGlite.create(dir);
      const query: Query = async (text) => (await pglite.query<Record<string, unknown>>(text)).rows;
      // As db.ts records what it applied: the embedded database is "at the previous migration".
      await pglite.exec(
        'CREATE TABLE "_embedded_migrations" (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      for (const migration of before) {
        await pglite.exec(migration.sql);
        await pglite.query('INSERT INTO "_embedded_migrations"(name) VALUES ($1)', [migration.name]);
      }
      await fillPreviousSchema(query);
      const rows = await query(SNAPSHOT);
      const outbox = await query(OUTBOX);
      await pglite.close();
      const db = await openDatabase({ dataDir: dir });
      try {
        await expectMigrated((text) => db.sql.query(text, []), rows, outbox);
        await expectStoreWorks(db, rows);
      } finally {
        await db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
