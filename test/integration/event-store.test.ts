// The event store contract on both databases the server runs on: Postgres and embedded PGlite.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase, sqlErrorOf } from '../../src/db.js';
import type { NewEvent } from '../../src/events/model.js';
import { dayOf, EventRetention } from '../../src/events/retention.js';
import { EventStore } from '../../src/events/store.js';
import { createLogger } from '../../src/observability/logger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/services.js';

const event = (over: Partial<NewEvent> = {}): NewEvent => {
  const fields = {
    id: randomUUID(),
    type: 'PERFORMANCE_METRIC' as const,
    timestamp: new Date(),
    data: { metric_name: 'api_response_time', value: 0 },
    ...over,
  };
  return { ...fields, dataJson: JSON.stringify(fields.data) };
};

const backends: [string, () => Promise<{ db: Database; cleanup: () => Promise<void> }>][] = [
  [
    'postgres',
    async () => {
      const test: TestDatabase = await createTestDatabase();
      const db = await openDatabase({ url: test.url, dataDir: '' });
      return { db, cleanup: test.drop };
    },
  ],
  [
    'embedded PGlite',
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'jackdaw-pglite-'));
      const db = await openDatabase({ dataDir: dir });
      return { db, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  ],
];

describe.each(backends)('event store on %s', (_name, open) => {
  let db: Database;
  let store: EventStore;
  let cleanup: () => Promise<void>;
  // The log holds the days around today; these tests also store events of days far off, whose partitions they make.
  let partitionsFor: (events: NewEvent[]) => Promise<unknown>;
  beforeAll(async () => {
    ({ db, cleanup } = await open());
    store = new EventStore(db);
    const settings = { retentionDays: 30, aheadDays: 7, idRetentionDays: 30 };
    const retention = new EventRetention({ prisma: db.prisma, settings, logger: createLogger('silent') });
    partitionsFor = (events) => retention.createPartitions(events.map((e) => dayOf(e.timestamp.getTime())));
  }, 180_000); // opening PGlite applies every migration in WebAssembly: tens of seconds on a loaded machine
  afterAll(async () => {
    await db.close();
    await cleanup();
  });

  it('should store a batch once, queue it in the outbox, and skip ids already stored', async () => {
    const batch = [event(), event({ type: 'ANOMALY_DETECTED', data: {} })];
    expect(await store.insertBatch(batch, new Date())).toBe(2);
    const fresh = event();
    expect(await store.insertBatch([...batch, fresh], new Date())).toBe(1);
    expect(await store.findByIds([fresh.id])).toHaveLength(1);
    const found = await store.findByIds(batch.map((e) => e.id));
    expect(found.map((e) => e.id).sort()).toEqual(batch.map((e) => e.id).sort());
    expect(found.find((e) => e.id === batch[0]?.id)?.data).toEqual({ metric_name: 'api_response_time', value: 0 });
    const queued = await store.readOutbox(100);
    expect(queued.map((e) => e.id)).toEqual(expect.arrayContaining(batch.map((e) => e.id)));
    expect(queued.map((e) => e.seq)).toEqual([...queued.map((e) => e.seq)].sort((a, b) => (a < b ? -1 : 1)));
  });

  it('should count a repeated id inside one batch once', async () => {
    const e = event();
    expect(await store.insertBatch([e, { ...e }], new Date())).toBe(1);
  });

  it('should store every field as given: type, timestamp, the received time and data of any shape', async () => {
    const receivedAt = new Date('2026-03-04T05:06:07.089Z');
    const data = {
      text: 'quotes " and \\ backslashes, \n newlines, tabs \t, 😀 and é',
      literal: '\\u0000 as text',
      nested: { list: [1, 2.5, -3e-7, null, true, { deep: ['x'] }], empty: {} },
      big: 2 ** 60,
      '': 'empty key',
    };
    const batch = [
      event({ type: 'BENCHMARK_COMPLETED', timestamp: new Date('2025-12-31T23:59:59.999Z'), data }),
      event({ type: 'COMPETITIVE_UPDATE', timestamp: new Date('0001-01-01T00:00:00.001Z'), data: { first: 'year' } }),
      event({ type: 'BENCHMARK_COMPLETED', timestamp: new Date('9999-12-31T23:59:59.999Z'), data: { last: 'year' } }),
      event({ type: 'COMPETITIVE_UPDATE', timestamp: new Date('1969-07-20T20:17:40.123Z'), data: {} }),
    ];
    await partitionsFor(batch);
    expect(await store.insertBatch(batch, receivedAt)).toBe(batch.length);
    // Both ways events are read back: Prisma's (history, look-ups) and the driver's (the stream processor's outbox).
    const stored = await store.findByIds(batch.map((e) => e.id));
    const queued = await store.readOutbox(10_000);
    for (const sent of batch) {
      const expected = { type: sent.type, timestamp: sent.timestamp, receivedAt, data: sent.data };
      expect(stored.find((e) => e.id === sent.id)).toMatchObject(expected);
      expect(queued.find((e) => e.id === sent.id)).toMatchObject(expected);
    }
  });

  it('should refuse a batch holding a value the database cannot store, with its SQLSTATE, and store none of it', async () => {
    const good = event();
    // A valid JavaScript date (validation would refuse it), but out of the range of a Postgres timestamp.
    const bad = event({ timestamp: new Date('-005000-01-01T00:00:00.000Z') });
    const error = await store.insertBatch([good, bad], new Date()).catch((e: unknown) => e);
    expect(sqlErrorOf(error)?.code).toMatch(/^22/);
    expect(await store.findByIds([good.id])).toEqual([]);
  });

  it('should page newest first by timestamp with stable keyset cursors', async () => {
    // Across midnight, so across two partitions.
    const base = Date.parse('2025-12-31T23:59:57Z');
    const batch = Array.from({ length: 7 }, (_, i) =>
      event({ type: 'INSIGHT_GENERATED', timestamp: new Date(base + i * 1000) }),
    );
    await partitionsFor(batch);
    await store.insertBatch(batch, new Date());
    const page1 = await store.page({ first: 3, types: ['INSIGHT_GENERATED'] });
    expect(page1.map((e) => e.timestamp.getTime())).toEqual([base + 6000, base + 5000, base + 4000]);
    const last = page1[2];
    if (!last) throw new Error('page too short');
    const page2 = await store.page({
      first: 10,
      types: ['INSIGHT_GENERATED'],
      after: { timestamp: last.timestamp, seq: last.seq },
    });
    expect(page2.map((e) => e.timestamp.getTime())).toEqual([base + 3000, base + 2000, base + 1000, base]);
    const bounded = await store.page({
      first: 10,
      types: ['INSIGHT_GENERATED'],
      since: new Date(base + 2000),
      until: new Date(base + 4000),
    });
    expect(bounded).toHaveLength(3);
  });

  it('should split the outbox into partitions that together hold every queued event once, each read in seq order', async () => {
    // Batches of their own transactions, so that they spread over the partitions.
    for (let i = 0; i < 12; i++) await store.insertBatch([event(), event()], new Date());
    const whole = (await store.readOutbox(10_000)).map((e) => e.seq);
    // 4 partitions: read by walking the queue's key; 17: by the partition's condition (readOutbox says why).
    for (const count of [4, 17]) {
      const seen: bigint[] = [];
      for (let index = 0; index < count; index++) {
        const part = (await store.readOutbox(10_000, { index, count })).map((e) => e.seq);
        expect(part).toEqual([...part].sort((a, b) => (a < b ? -1 : 1)));
        // The same partition as the rest of the processor's queries compute (inPartition in store.ts).
        const rows = await db.sql.query<{ seq: string }>(
          `SELECT o.seq::text AS seq FROM "EventOutbox" o WHERE mod(abs(hashint8(o.txid)::bigint), $1::int) = $2::int ORDER BY o.seq`,
          [count, index],
        );
        expect(part).toEqual(rows.map((r) => BigInt(r.seq)));
        seen.push(...part);
      }
      expect(seen.sort((a, b) => (a < b ? -1 : 1))).toEqual(whole);
    }
  });

  it('should read queued events of a day partition made after its outbox read was planned', async () => {
    // The read is prepared (planned once per connection); the partitions it probes are the log's at planning time.
    // Sequential reads reuse the pool's last connection, the one that planned it.
    for (let i = 0; i < 3; i++) await store.readOutbox(10_000);
    const later = event({ timestamp: new Date(Date.now() + 300 * 86_400_000) });
    await partitionsFor([later]);
    await store.insertBatch([later], new Date());
    const read = await store.readOutbox(10_000);
    expect(read.map((e) => e.id)).toContain(later.id);
    await store.deleteFromOutbox([read.find((e) => e.id === later.id)?.seq.toString() ?? '']);
  });

  it('should delete processed events from the outbox only', async () => {
    const before = await store.outboxSize();
    const queued = await store.readOutbox(2);
    await store.deleteFromOutbox(queued.map((e) => e.seq.toString()));
    expect(await store.outboxSize()).toBe(before - queued.length);
    expect(await store.findByIds(queued.map((e) => e.id))).toHaveLength(queued.length);
  });

  it("should record a partition's applied batch with the delete that removes it, and only then unless told always", async () => {
    const partition = { index: 0, count: 7 }; // a count of its own: nothing else in this file records under it
    const state = (seqs: string[]) => store.appliedState(partition, seqs);
    const batch = [event(), event()];
    await store.insertBatch(batch, new Date());
    const ids = new Set(batch.map((e) => e.id));
    const queued = (await store.readOutbox(10_000)).filter((e) => ids.has(e.id));
    const [first, second] = queued.map((e) => e.seq.toString());
    if (!first || !second) throw new Error('the batch is not queued');
    expect(await state([first])).toEqual({ recorded: null, queued: true, superseded: false });

    await store.deleteFromOutbox([first], { partition, digest: 'first' });
    expect(await state([first])).toEqual({ recorded: 'first', queued: false, superseded: false });
    // A writer back late with a batch someone else already deleted: its record does not go over the newer one.
    await store.deleteFromOutbox([second], { partition, digest: 'second' });
    await store.deleteFromOutbox([first], { partition, digest: 'late' });
    expect((await state([])).recorded).toBe('second');
    // A rebuild's record has nothing to delete, and is written all the same.
    await store.deleteFromOutbox([], { partition, digest: 'rebuilt', always: true });
    expect((await state([])).recorded).toBe('rebuilt');
    // A record of another count written after this one's makes this one's superseded, until it is written again.
    await store.deleteFromOutbox([], { partition: { index: 0, count: 8 }, digest: 'other', always: true });
    expect((await state([])).superseded).toBe(true);
    await store.deleteFromOutbox([], { partition, digest: 'again', always: true });
    expect((await state([])).superseded).toBe(false);
  });

  it('should list processed events since a time for a rebuild, leaving queued ones out', async () => {
    const all = await store.processedSince(new Date(0), 2, async (pages) => {
      const seen: string[] = [];
      for await (const page of pages) seen.push(...page.map((e) => e.id));
      return seen;
    });
    const queued = new Set((await store.readOutbox(1000)).map((e) => e.id));
    expect(all.length).toBeGreaterThan(0);
    expect(all.some((id) => queued.has(id))).toBe(false);
  });
});
