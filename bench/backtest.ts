// npm run bench:backtest — previewAlertRule's backtest over 1,000,000 stored events, as the compiled server runs it
// (a worker thread with a connection of its own), on a fresh Postgres database removed afterwards. Writes its section
// of BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import { integer, ms, writeSection } from './report.js';
import { POSTGRES_URL } from './server.js';

const HEADING = '## Alert backtest (npm run bench:backtest)';
const EVENTS = 1_000_000;
const HISTORY_MS = 24 * 3_600_000;
const RUNS = 3;
const TARGET_MS = 5_000;

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  execFileSync('npm', ['run', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
  // The compiled module, so that the worker thread runs dist/alerts/backtest-worker.js as in production.
  const { Backtester } = (await import(
    new URL('../dist/alerts/backtester.js', import.meta.url).href
  )) as typeof import('../src/alerts/backtester.js');
  const database = `jackdaw_bench_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${database}`;
  await admin(`CREATE DATABASE "${database}"`);
  try {
    execFileSync('npx', ['tsx', 'src/migrate.ts', 'deploy'], {
      env: { ...process.env, DATABASE_URL: url.toString() },
      stdio: 'ignore',
    });
    const end = Math.floor(Date.now() / 1_000) * 1_000 - 60_000;
    const start = end - HISTORY_MS;
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    console.log(`storing ${integer(EVENTS)} events…`);
    // A day of one metric, a latency with a slow hour in the middle, plus as many events of another metric that
    // the backtest's filter must skip (so the table holds 2,000,000 events).
    await client.query(
      `INSERT INTO "Event" (id, type, "timestamp", "receivedAt", data)
       SELECT gen_random_uuid(), 'PERFORMANCE_METRIC', t, t,
              jsonb_build_object('metric_name', m, 'value',
                CASE WHEN m = 'api_latency' AND i BETWEEN $3 * 0.45 AND $3 * 0.5 THEN 800 + (i % 400) ELSE 100 + (i % 500) END)
       FROM generate_series(1, $3::int) i,
            LATERAL (SELECT to_timestamp(($1::float8 + (i::float8 * $2::float8 / $3::float8)) / 1000) AS t) ts,
            unnest(ARRAY['api_latency', 'other_metric']) m`,
      [start, HISTORY_MS, EVENTS],
    );
    await client.query('ANALYZE "Event"');
    await client.end();
    const backtester = new Backtester({
      sql: { query: () => Promise.reject(new Error('the worker reads')) },
      databaseUrl: url.toString(),
      maxRows: EVENTS,
      maxConcurrent: 1,
      maxLabelSets: 1, // the rule has no groupBy
    });
    const input = {
      name: 'slow API',
      severity: 'HIGH' as const,
      conditions: [
        {
          metric: 'api_latency',
          window: 'M5' as const,
          aggregation: 'AVG' as const,
          operator: 'GT' as const,
          threshold: 600,
        },
        {
          metric: 'api_latency',
          window: 'M15' as const,
          aggregation: 'P95' as const,
          operator: 'GT' as const,
          threshold: 900,
        },
      ],
      forSeconds: 60,
      keepFiringForSeconds: 120,
    };
    // From the first instant whose largest window (M15) is wholly inside the history: every stored event is read.
    const since = new Date(start + 15 * 60_000);
    const runs: { ms: number; previews: number }[] = [];
    for (let run = 0; run < RUNS; run++) {
      const began = performance.now();
      const previews = await backtester.preview(input, since, new Date(end));
      runs.push({ ms: performance.now() - began, previews: previews.length });
      console.log(`run ${run + 1}: ${ms(runs[run]?.ms ?? 0)}, ${previews.length} alert(s)`, previews[0]);
    }
    const sorted = runs.map((r) => r.ms).sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    const cpus = os.cpus();
    const section = [
      HEADING,
      '',
      `Run ${new Date().toISOString()} on ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, Node ${process.version}, ` +
        `Postgres on loopback; load average ${os
          .loadavg()
          .map((l) => l.toFixed(2))
          .join(', ')} (1, 5, 15 min) at the end: ` +
        'Postgres shares the cores with the backtest. ' +
        `A day of ${integer(EVENTS)} events of \`api_latency\` (one every ${(HISTORY_MS / EVENTS).toFixed(1)} ms, a slow ` +
        `half hour in the middle) and as many of another metric in the same table; the rule \`AVG(api_latency)[M5] > 600 ` +
        'AND P95(api_latency)[M15] > 900`, forSeconds 60, keepFiringForSeconds 120, backtested from the first instant ' +
        `its M15 window is inside the history to the end (so all ${integer(EVENTS)} of its events are read, MAX_BACKTEST_ROWS = ` +
        `${integer(EVENTS)}). Time is the whole \`Backtester.preview\` call as \`previewAlertRule\` makes it: a worker ` +
        'thread started, its connection opened, the events read through a read-only cursor in pages and mapped to samples, the W/60 buckets ' +
        'filled and stepped through.',
      '',
      '| run | time | alerts found | target |',
      '| ---: | ---: | ---: | --- |',
      ...runs.map((r, i) => `| ${i + 1} | ${ms(r.ms)} | ${r.previews} | ≤ ${integer(TARGET_MS)} ms |`),
      `| median | ${ms(median)} | | ${median <= TARGET_MS ? 'met' : 'NOT met'} |`,
      '',
    ].join('\n');
    console.log(section);
    writeSection(HEADING, section);
  } finally {
    await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
