// npm run bench:retention — retention of the partitioned event log: dropping a day of BENCH_RETENTION_EVENTS
// events (default 1,000,000) and their ids with the maintenance pass (src/events/retention.ts: DETACH + DROP of the
// day's partition of "Event" and of "EventId"), against the DELETEs that remove as many events and ids of another
// day; with the page cache warm, then (where this process may empty it: root on Linux) cold. Each round on a fresh
// migrated Postgres database, dropped at the end. Writes its section of BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
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
const seconds = (ms: number) => (ms < 100 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(ms < 1000 ? 3 : 1)} s`);
const mib = (bytes: number) => `${integer(bytes / 2 ** 20)} MiB`;

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await work();
  return [result, performance.now() - start];
}

/**
 * Runs `work` while another connection reads the log over and over (a query of today through "Event", as the
 * server's queries and inserts go through it); returns the work's result, its time, and the longest any one of those
 * reads took: how long the work kept the log locked for everyone else.
 */
async function whileRead<T>(url: string, work: () => Promise<T>): Promise<[T, number, number]> {
  const reader = new pg.Client({ connectionString: url });
  await reader.connect();
  let longest = 0;
  let done = false;
  const reads = (async () => {
    while (!done) {
      const start = performance.now();
      await reader.query(`SELECT count(*) FROM "Event" WHERE "timestamp" >= now() - interval '1 minute'`);
      longest = Math.max(longest, performance.now() - start);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  try {
    const [result, ms] = await timed(work);
    return [result, ms, longest];
  } finally {
    done = true;
    await reads;
    await reader.end();
  }
}

/**
 * Empties the kernel's page cache (as root on Linux), so the next operation finds the day's files on disk, as a
 * retention job finds a day 30 days old. False where this process may not (then the round is not run).
 */
function dropPageCache(): boolean {
  try {
    execFileSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '1');
    return true;
  } catch {
    return false;
  }
}

/** The mount a path is on, with its options, from /proc/mounts (the longest mount point above it). */
function mountOf(path: string): string {
  try {
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' '))
      .filter(
        (fields) => fields.length >= 4 && (path === fields[1] || path.startsWith(`${fields[1]}/`) || fields[1] === '/'),
      );
    const mount = mounts.sort((a, b) => (b[1]?.length ?? 0) - (a[1]?.length ?? 0))[0];
    return mount ? `${mount[1]} (${mount[2]}, ${mount[3]})` : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * What the kernel alone takes to free `bytes` of file: a file that size is written and synced in the temporary
 * directory, then truncated to nothing, as Postgres truncates a dropped table's files when its transaction commits.
 */
function freeingCost(bytes: number, cold: boolean): { ms: number; where: string } {
  const file = join(os.tmpdir(), `jackdaw-bench-retention-${process.pid}.bin`);
  const chunk = Buffer.alloc(2 ** 20, 7);
  const fd = openSync(file, 'w');
  try {
    for (let written = 0; written < bytes; written += chunk.length) writeSync(fd, chunk);
    fsyncSync(fd);
    if (cold) dropPageCache();
    const start = performance.now();
    ftruncateSync(fd, 0);
    return { ms: performance.now() - start, where: mountOf(os.tmpdir()) };
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
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

interface Round {
  cold: boolean;
  fillMs: number;
  deleteEventsMs: number;
  deleteIdsMs: number;
  /** The longest a read of the log waited while the DELETEs ran, and while the pass ran. */
  deleteBlockedMs: number;
  passBlockedMs: number;
  vacuumMs: number;
  passMs: number;
  idleMs: number;
  droppedBytes: number;
  freeing: { ms: number; where: string };
  dataDirectory: string;
  version: string;
}

/**
 * One round on a fresh migrated database: two days of events, one within the retention emptied with DELETEs of its
 * events and their ids, one past it dropped by the maintenance pass. Cold: the page cache is emptied (after a
 * CHECKPOINT) before the DELETEs and before the pass, so both find their day on disk.
 */
async function round(cold: boolean): Promise<Round> {
  const database = `jackdaw_bench_retention_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${database}`;
  await admin.query(`CREATE DATABASE "${database}"`);
  const client = new pg.Client({ connectionString: url.toString() });
  try {
    execFileSync('npx', ['tsx', 'src/migrate.ts', 'deploy'], {
      env: { ...process.env, DATABASE_URL: url.toString() },
      stdio: 'ignore',
    });
    await client.connect();
    const setting = async (name: string) =>
      (await client.query<{ v: string }>(`SELECT current_setting($1) AS v`, [name])).rows[0]?.v ?? 'unknown';
    const version = await setting('server_version');
    const dataDirectory = await setting('data_directory').catch(() => 'unknown');
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
    console.log(`${cold ? 'cold' : 'warm'} round: filling two days of ${integer(EVENTS)} events...`);
    const [, fillMs] = await timed(async () => {
      await fillDay(client, deletedDay);
      await fillDay(client, droppedDay);
    });
    await client.query('VACUUM ANALYZE "Event", "EventId"');
    const prepare = async () => {
      await client.query('CHECKPOINT');
      if (cold && !dropPageCache()) throw new Error('cannot empty the page cache');
    };

    await prepare();
    const from = new Date(deletedDay * DAY_MS).toISOString();
    const to = new Date((deletedDay + 1) * DAY_MS).toISOString();
    const [[deleted, deleteEventsMs, deletedIds, deleteIdsMs], , deleteBlockedMs] = await whileRead(
      url.toString(),
      async () => {
        const [events, eventsMs] = await timed(
          async () =>
            (await client.query(`DELETE FROM "Event" WHERE "timestamp" >= $1 AND "timestamp" < $2`, [from, to]))
              .rowCount ?? 0,
        );
        const [ids, idsMs] = await timed(
          async () => (await client.query(`DELETE FROM "EventId" WHERE day = $1`, [deletedDay])).rowCount ?? 0,
        );
        return [events, eventsMs, ids, idsMs] as const;
      },
    );
    if (deleted !== EVENTS || deletedIds !== EVENTS) {
      throw new Error(`the DELETEs removed ${deleted} events and ${deletedIds} ids, not ${EVENTS} of each`);
    }
    // What the DELETEs leave: dead rows, whose space is reused only once a VACUUM has visited every page and index.
    const [, vacuumMs] = await timed(() =>
      client.query(`VACUUM "${partitionName(deletedDay)}", "${partitionName(deletedDay, 'EventId')}"`),
    );

    const sizes = await client.query<{ bytes: string }>(
      `SELECT pg_total_relation_size($1::regclass) + pg_total_relation_size($2::regclass) AS bytes`,
      [`"${partitionName(droppedDay)}"`, `"${partitionName(droppedDay, 'EventId')}"`],
    );
    const droppedBytes = Number(sizes.rows[0]?.bytes ?? 0);
    await prepare();
    // The whole maintenance pass, as production runs it: it lists the partitions, drops the day of events and the
    // day of their ids (each: advisory lock, DETACH and the outbox check in one transaction, DROP in another), prunes the ids that
    // are not UUIDv7s (none here) and the broadcast log. Then the same pass again, with nothing left to drop: what
    // the pass costs besides the drops.
    const [pass, passMs, passBlockedMs] = await whileRead(url.toString(), () => retention(RETENTION_DAYS).runOnce());
    const [idle, idleMs] = await timed(() => retention(RETENTION_DAYS).runOnce());
    const left = await client.query<{ events: number; ids: number }>(
      `SELECT (SELECT count(*)::int FROM "Event" WHERE "timestamp" < $1) AS events,
              (SELECT count(*)::int FROM "EventId" WHERE day < $2) AS ids`,
      [new Date((droppedDay + 1) * DAY_MS).toISOString(), droppedDay + 1],
    );
    await db.close();
    const expected = [partitionName(droppedDay), partitionName(droppedDay, 'EventId')];
    if (expected.some((name) => !pass.dropped.includes(name))) {
      throw new Error(`the pass dropped ${pass.dropped.join(', ')}, not ${expected.join(' and ')}`);
    }
    if (idle.dropped.length > 0) throw new Error(`the second pass dropped ${idle.dropped.join(', ')}`);
    if (left.rows[0]?.events !== 0 || left.rows[0]?.ids !== 0) {
      throw new Error(`left after the drop: ${JSON.stringify(left.rows[0])}`);
    }
    const freeing = freeingCost(droppedBytes, cold);
    return {
      cold,
      fillMs,
      deleteEventsMs,
      deleteIdsMs,
      deleteBlockedMs,
      passBlockedMs,
      vacuumMs,
      passMs,
      idleMs,
      droppedBytes,
      freeing,
      dataDirectory,
      version,
    };
  } finally {
    await client.end().catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.end();
  }
}

async function main() {
  const loadBefore = uptime();
  const rounds = [await round(false)];
  const canDropCache = dropPageCache();
  if (canDropCache) rounds.push(await round(true));
  const loadAfter = uptime();
  const first = rounds[0] as Round;
  const cpus = os.cpus();
  const rows = rounds.map((r) => {
    const deleteMs = r.deleteEventsMs + r.deleteIdsMs;
    const label = r.cold ? 'cold (page cache emptied before each)' : 'warm (the day just written)';
    return `| ${label} | ${seconds(r.deleteEventsMs)} + ${seconds(r.deleteIdsMs)} = **${seconds(deleteMs)}** | ${seconds(r.vacuumMs)} | **${seconds(r.passMs)}** | ${seconds(r.idleMs)} | ${mib(r.droppedBytes)}: ${seconds(r.freeing.ms)} | ${seconds(r.deleteBlockedMs)} / ${seconds(r.passBlockedMs)} | **${integer(deleteMs / r.passMs)}×** | ${integer((deleteMs + r.vacuumMs) / r.passMs)}× |`;
  });
  const section = `${HEADING}

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, Postgres ${first.version} (local; data directory \`${first.dataDirectory}\` on ${mountOf(first.dataDirectory)}). \`uptime\` before the run: \`${loadBefore}\`; after: \`${loadAfter}\`.

Method: each round on a fresh database migrated as \`npm run db:migrate\` does: two UTC days of ${integer(EVENTS)} events each (performance metrics spread evenly over the day, each with its \`EventId\` row: a UUIDv7 of the event's time, as the server makes ids; none queued in the outbox), filled in ${seconds(first.fillMs)}, then \`VACUUM ANALYZE\`. One day, within the retention, is emptied by the equivalent \`DELETE\`s: \`DELETE FROM "Event" WHERE "timestamp" >= <day> AND "timestamp" < <next day>\`, then \`DELETE FROM "EventId" WHERE day = <day>\` (the same rows the drop removes); their time excludes the \`VACUUM\` their dead rows then need, shown apart. The other, ${RETENTION_DAYS + 10} days old, is dropped by a whole maintenance pass (\`EventRetention.runOnce\`, \`EVENT_RETENTION_DAYS=${RETENTION_DAYS}\`): it lists the partitions, drops the day of events and the day of their ids (each: advisory lock, \`DETACH PARTITION\` and, for events, the check that none is still in the outbox, in one transaction; then \`DROP TABLE\` in another), and prunes \`EventId_other\` (ids that are not UUIDv7s: none here) and the broadcast log; then the same pass again, with nothing left to drop. A \`CHECKPOINT\` precedes the \`DELETE\`s and the pass. The warm round runs them on the days just written, in the page cache; the cold round${canDropCache ? '' : ' (not run: this process may not empty the page cache)'} empties the page cache first (\`sync\`, \`/proc/sys/vm/drop_caches\`), as a day 10 or 40 days old is found in production. "Freeing the files alone": a file of the dropped partitions' size is written and synced on ${first.freeing.where}, then truncated to nothing, as Postgres truncates a dropped table's files when the drop commits: what the kernel takes to give that space back, with no Postgres in it. "Longest read of the log meanwhile": another connection reads today's events through \`"Event"\` back to back (2 ms apart) while the \`DELETE\`s run and while the pass runs; its slowest read is how long the operation kept the log locked for the server's queries and inserts (a drop holds \`"Event"\` only while it detaches the day and checks the outbox; the \`DROP\` that frees the files is a transaction of its own). One run each; nothing but that reader uses the database meanwhile, so no drop waits for a writer's lock.

| round | \`DELETE\` of the day's events + ids | \`VACUUM\` they then need | maintenance pass dropping the day (two partitions) | same pass, nothing to drop | freeing the files alone | longest read of the log meanwhile: \`DELETE\`s / pass | pass vs \`DELETE\`s | pass vs \`DELETE\`s + \`VACUUM\` |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}

Target: the drop ≥ 100× faster than the equivalent \`DELETE\`. The drop's statements are constant work (a few catalogue rows); what grows with the day is the commit, where the kernel frees the files, in the same order of time as the "freeing the files alone" column. The \`DELETE\`s free nothing: they mark ${integer(2 * EVENTS)} rows dead and leave their ${mib(first.droppedBytes)} to a \`VACUUM\`. Ids that clients sent and that are not UUIDv7s (random UUIDs) live in \`EventId_other\` and are still pruned by a \`DELETE\` through its BRIN index (about 0.9 s per million on this machine): that cost is per client-made id, not per event.
`;
  writeSection(HEADING, section);
  execFileSync('npx', ['biome', 'format', '--write', 'BENCHMARKS.md'], { stdio: 'ignore' });
  console.log(section);
}

await main();
