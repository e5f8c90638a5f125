// npm run bench:retention — retention of the partitioned event log: dropping a day of BENCH_RETENTION_EVENTS events
// (default 1,000,000) with the maintenance pass (src/events/retention.ts: DETACH + DROP of the day's partition),
// against the DELETE that removes as many events of another day, and the pruning of the dropped day's ids from
// "EventId" (after the drop, as the pass does). On a fresh migrated Postgres database, dropped at the end. Writes its
// section of BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import { openDatabase } from '../src/db.js';
import { DAY_MS, dayOf, EventRetention, partitionName } from '../src/events/retention.js';
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

/** A day of `EVENTS` performance metrics spread evenly over the day, with their ids, all processed (no outbox). */
async function fillDay(client: pg.Client, day: number): Promise<void> {
  for (let from = 0; from < EVENTS; from += FILL_CHUNK) {
    const count = Math.min(FILL_CHUNK, EVENTS - from);
    await client.query(
      `WITH batch AS MATERIALIZED (
         SELECT gen_random_uuid() AS id, to_timestamp(($1::float8 + i * $2::float8) / 1000) AS ts, i
         FROM generate_series($3::int, $4::int) AS i
       ), ids AS (INSERT INTO "EventId" (id, "timestamp") SELECT id, ts FROM batch)
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

    console.log('retention drop of the other day...');
    // The drop itself, as the maintenance pass makes it (advisory lock, DETACH, DROP, in one transaction); then a
    // whole pass, which finds that day past the retention gone and prunes its ids.
    const [dropped, dropMs] = await timed(() => retention(RETENTION_DAYS).dropPartition(partitionName(droppedDay)));
    console.log('retention pass pruning its ids...');
    const [prunePass, pruneMs] = await timed(() => retention(RETENTION_DAYS).runOnce());
    await db.close();
    const loadAfter = uptime();

    if (deleted !== EVENTS) throw new Error(`DELETE removed ${deleted} events, not ${EVENTS}`);
    if (!dropped) throw new Error(`${partitionName(droppedDay)} was not dropped`);
    if (prunePass.idsPruned !== EVENTS) throw new Error(`the pass pruned ${prunePass.idsPruned} ids, not ${EVENTS}`);
    const speedup = deleteMs / dropMs;
    const cpus = os.cpus();
    const section = `${HEADING}

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, Postgres ${version} (local). \`uptime\` before the run: \`${loadBefore}\`; after: \`${loadAfter}\`.

Method: a fresh database migrated as \`npm run db:migrate\` does; two UTC days of ${integer(EVENTS)} events each (performance metrics spread evenly over the day, with their \`EventId\` rows, none queued in the outbox), filled in ${seconds(fillMs)}, then \`VACUUM ANALYZE\`. One day, within the retention, is emptied with the equivalent \`DELETE FROM "Event" WHERE "timestamp" >= <day> AND "timestamp" < <next day>\` (its time excludes the vacuum the dead rows then need). The other, ${RETENTION_DAYS + 10} days old, is dropped as the maintenance pass drops a day (\`EventRetention.dropPartition\`: one transaction taking the advisory lock, then \`DETACH PARTITION\` and \`DROP TABLE\`); then a whole maintenance pass (\`runOnce\`, \`EVENT_RETENTION_DAYS=${RETENTION_DAYS}\`: partitions listed and checked, nothing left to drop) prunes that day's ids from \`EventId\` (one \`DELETE\` through its BRIN index). One run each.

| operation                                                   | events removed | time |
| ----------------------------------------------------------- | -------------: | ---: |
| \`DELETE\` of one day                                          | ${integer(deleted)} | ${seconds(deleteMs)} |
| retention drop of one day (its partition)                    | ${integer(EVENTS)} | ${seconds(dropMs)} |
| maintenance pass pruning the dropped day's ids from \`EventId\` | ${integer(prunePass.idsPruned)} ids | ${seconds(pruneMs)} |

The drop is **${integer(speedup)}×** faster than the \`DELETE\` (target ≥ 100×), and leaves no dead rows to vacuum. Pruning the ids is a \`DELETE\` of narrow rows found through a BRIN index, locking only those old ids and nothing of \`Event\`; in production it runs after the drop in the same pass, and does not delay publishing (inserts claim new ids only).
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
