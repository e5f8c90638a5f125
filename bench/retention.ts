// npm run bench:retention — retention of the partitioned event log: dropping a day of BENCH_RETENTION_EVENTS
// events (default 1,000,000) and their ids with the maintenance pass (src/events/retention.ts: DETACH + DROP of the
// day's partition of "Event" and of "EventId"), against the DELETE that removes as many events of another day. On a
// fresh migrated Postgres database, dropped at the end. Writes its section of BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import { openDatabase } from '../src/db.js';
import { DAY_MS, dayOf, EventRetention, partitionName } from '../src/events/retention.js';
import { ID_DAY } from '../src/events/store.js';
import { createLogger } from '../src/observability/logger.js';
import { integer, writeSection } from './report.js';
import { POSTGRES_URL } from './server.js';

const HEADING = '## Event log retention (npm run bench:retention)';
const EVENTS = Number(process.env.BENCH_RETENTION_EVENTS ?? 1_000_000);
const FILL_CHUNK = 100_000;
const RETENTION_DAYS = 30;

const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();
const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 1000 ? 3 : 1)} s`;

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await work();
  return [result, performance.now() - start];
}

/**
 * A day of `EVENTS` performance metrics spread evenly over the day, with their ids, all processed (no outbox). The
 * ids are UUIDv7s of the event's time, as the server makes them when it receives an event (src/ids.ts).
 */
async function fillDay(client: pg.Client, day: number): Promise<void> {
  for (let from = 0; from < EVENTS; from += FILL_CHUNK) {
    const count = Math.min(FILL_CHUNK, EVENTS - from);
    await client.query(
      `WITH times AS (
         SELECT ($1::float8 + i * $2::float8)::bigint AS ms, i FROM generate_series($3::int, $4::int) AS i
       ), batch AS MATERIALIZED (
         SELECT (lpad(to_hex(ms), 12, '0') || '7' || substr(replace(gen_random_uuid()::text, '-', ''), 14))::uuid AS id,
                to_timestamp(ms / 1000.0) AS ts, i
         FROM times
       ), ids AS (INSERT INTO "EventId" (id, day, "timestamp") SELECT id, ${ID_DAY('id')}, ts FROM batch)
       INSERT INTO "Event" (id, type, "timestamp", "receivedAt", data)
       SELECT id, 'PERFORMANCE_METRIC', ts, ts,
              jsonb_build_object('metric_name', 'bench_metric_' || (i % 10), 'value', i % 997)
       FROM batch`,
      [day * DAY_MS, DAY_MS / EVENTS, from, from + count - 1],
    );
  }
}

async function main() {
  const database = `jackdaw_bench_retention_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${database}`;
  const loadBefore = uptime();
  await admin.query(`CREATE DATABASE "${database}"`);
  const client = new pg.Client({ connectionString: url.toString() });
  try {
    execFileSync('npx', ['tsx', 'src/migrate.ts', 'deploy'], {
      env: { ...process.env, DATABASE_URL: url.toString() },
      stdio: 'ignore',
    });
    await client.connect();
    const version =
      (await client.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]?.v ?? 'unknown';
    const db = await openDatabase({ url: url.toString(), dataDir: '' });
    const now = Date.now();
    const today = dayOf(now);
    // Kept: a day within the retention, emptied with DELETE. Dropped: a day past it, dropped by the maintenance pass.
    const deletedDay = today - 10;
    const droppedDay = today - RETENTION_DAYS - 10;
    const retention = (idRetentionDays: number) =>
      new EventRetention({
        prisma: db.prisma,
        logger: createLogger('silent'),
        settings: { retentionDays: RETENTION_DAYS, aheadDays: 7, idRetentionDays },
        now: () => now,
      });
    await retention(RETENTION_DAYS * 10).createPartitions([droppedDay]);
    await retention(RETENTION_DAYS * 10).createPartitions([droppedDay], 'EventId');
    console.log(`filling two days of ${integer(EVENTS)} events...`);
    const [, fillMs] = await timed(async () => {
      await fillDay(client, deletedDay);
      await fillDay(client, droppedDay);
    });
    await client.query('VACUUM ANALYZE "Event", "EventId"');

    console.log('DELETE of one day...');
    const from = new Date(deletedDay * DAY_MS).toISOString();
    const to = new Date((deletedDay + 1) * DAY_MS).toISOString();
    const [deleted, deleteMs] = await timed(
      async () =>
        (await client.query(`DELETE FROM "Event" WHERE "timestamp" >= $1 AND "timestamp" < $2`, [from, to])).rowCount ??
        0,
    );

    // What the DELETE leaves: its dead rows, whose space is reused only once a VACUUM has visited every page and index.
    const [, vacuumMs] = await timed(() => client.query(`VACUUM "${partitionName(deletedDay)}"`));

    console.log('retention pass dropping the other day...');
    // The whole maintenance pass, as production runs it: it lists the partitions, drops the day of events and the
    // day of their ids (each: advisory lock, DETACH, the outbox check, DROP, in one transaction), prunes the ids that
    // are not UUIDv7s (none here) and the broadcast log. Then the same pass again, with nothing left to drop: what
    // the pass costs besides the drops.
    const [pass, passMs] = await timed(() => retention(RETENTION_DAYS).runOnce());
    const [idle, idleMs] = await timed(() => retention(RETENTION_DAYS).runOnce());
    const left = await client.query<{ events: number; ids: number }>(
      `SELECT (SELECT count(*)::int FROM "Event" WHERE "timestamp" < $1) AS events,
              (SELECT count(*)::int FROM "EventId" WHERE day < $2) AS ids`,
      [new Date((droppedDay + 1) * DAY_MS).toISOString(), droppedDay + 1],
    );
    await db.close();
    const loadAfter = uptime();

    if (deleted !== EVENTS) throw new Error(`DELETE removed ${deleted} events, not ${EVENTS}`);
    const expected = [partitionName(droppedDay), partitionName(droppedDay, 'EventId')];
    if (expected.some((name) => !pass.dropped.includes(name))) {
      throw new Error(`the pass dropped ${pass.dropped.join(', ')}, not ${expected.join(' and ')}`);
    }
    if (idle.dropped.length > 0) throw new Error(`the second pass dropped ${idle.dropped.join(', ')}`);
    if (left.rows[0]?.events !== 0 || left.rows[0]?.ids !== 0) {
      throw new Error(`left after the drop: ${JSON.stringify(left.rows[0])}`);
    }
    const speedup = deleteMs / passMs;
    const cpus = os.cpus();
    const section = `${HEADING}

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, Postgres ${version} (local). \`uptime\` before the run: \`${loadBefore}\`; after: \`${loadAfter}\`.

Method: a fresh database migrated as \`npm run db:migrate\` does; two UTC days of ${integer(EVENTS)} events each (performance metrics spread evenly over the day, each with its \`EventId\` row: a UUIDv7 of the event's time, as the server makes ids; none queued in the outbox), filled in ${seconds(fillMs)}, then \`VACUUM ANALYZE\`. One day, within the retention, is emptied with the equivalent \`DELETE FROM "Event" WHERE "timestamp" >= <day> AND "timestamp" < <next day>\` (its time excludes the vacuum the dead rows then need, and it leaves the ids). The other, ${RETENTION_DAYS + 10} days old, is dropped by a whole maintenance pass (\`EventRetention.runOnce\`, \`EVENT_RETENTION_DAYS=${RETENTION_DAYS}\`): it lists the partitions, drops the day of events and the day of their ids (each in one transaction: advisory lock, \`DETACH PARTITION\`, for events the check that none is still in the outbox, \`DROP TABLE\`), and prunes \`EventId_other\` (ids that are not UUIDv7s: none here) and the broadcast log. The same pass is then run again, with nothing left to drop. One run each; nothing else writes to the database meanwhile, so no drop waits for a lock.

| operation                                                               | rows removed | time |
| ----------------------------------------------------------------------- | -----------: | ---: |
| \`DELETE\` of one day of events                                            | ${integer(deleted)} events | ${seconds(deleteMs)} |
| the \`VACUUM\` of that day's partition that the \`DELETE\` then needs           | ${integer(deleted)} dead rows | ${seconds(vacuumMs)} |
| maintenance pass dropping one day of events and its ids (two partitions) | ${integer(EVENTS)} events + ${integer(EVENTS)} ids | ${seconds(passMs)} |
| the same pass with nothing to drop                                      | 0 | ${seconds(idleMs)} |

The pass that drops the day is **${integer(speedup)}×** faster than the \`DELETE\` of its events alone (target ≥ 100×), ${((deleteMs + vacuumMs) / passMs).toFixed(0)}× faster than the \`DELETE\` and its \`VACUUM\`, and leaves no dead rows. Ids that clients sent and that are not UUIDv7s (random UUIDs) live in \`EventId_other\` and are still pruned by a \`DELETE\` through its BRIN index (about 0.9 s per million on this machine before this change): that cost is per client-made id, not per event.
`;
    writeSection(HEADING, section);
    execFileSync('npx', ['biome', 'format', '--write', 'BENCHMARKS.md'], { stdio: 'ignore' });
    console.log(section);
  } finally {
    await client.end().catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.end();
  }
}

await main();
