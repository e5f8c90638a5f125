// The backtester's own limits on real Postgres: MAX_CONCURRENT_BACKTESTS, and the read through the worker's cursor
// against the in-process keyset pages (the same samples either way).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelPartOf, seriesName } from '../../src/aggregation/labels.js';
import { eventToSamples } from '../../src/aggregation/samples.js';
import { cursorPages, keysetPages, readBacktestSamples } from '../../src/alerts/backtest-source.js';
import { Backtester } from '../../src/alerts/backtester.js';
import type { Sql } from '../../src/db.js';
import { DomainError } from '../../src/errors.js';
import { createTestDatabase, type TestDatabase } from '../helpers/services.js';
import { deferred } from '../helpers/waits.js';

// Recent (whole minutes), so that the events fall in the day partitions the migrations made.
const T = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000;
let database: TestDatabase;
let pool: pg.Pool;
let sql: Sql;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = new pg.Pool({ connectionString: database.url, max: 2 });
  sql = { query: async (text, params) => (await pool.query(text, [...params])).rows };
  // 2,500 events over 250 s, of three kinds; several share a timestamp, so keyset pages must break ties by seq.
  await sql.query(
    `INSERT INTO "Event" (id, type, "timestamp", "receivedAt", data)
     SELECT gen_random_uuid(), k.type::"EventType", to_timestamp(($1::float8 + (i / 2) * 200) / 1000), now(), k.data
     FROM generate_series(1, 2500) i,
          LATERAL (SELECT CASE i % 3
            WHEN 0 THEN 'PERFORMANCE_METRIC' WHEN 1 THEN 'COMPETITIVE_UPDATE' ELSE 'ANOMALY_DETECTED' END AS type,
            CASE i % 3
            WHEN 0 THEN jsonb_build_object('metric_name', 'lat', 'value', i)
            WHEN 1 THEN jsonb_build_object('metrics', jsonb_build_object('lat', i * 2, 'other', 1))
            ELSE '{}'::jsonb END AS data) k`,
    [T],
  );
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

const rule = {
  name: 'r',
  severity: 'LOW' as const,
  conditions: [
    { metric: 'lat', window: 'M1' as const, aggregation: 'MAX' as const, operator: 'GT' as const, threshold: 1 },
  ],
};

describe('the backtest read', () => {
  it('should read the same samples through a cursor and through keyset pages, whatever the page size', async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const direct = {
        query: async (text: string, params: readonly unknown[]) => (await client.query(text, [...params])).rows,
      };
      const metrics = ['lat', 'anomaly_count'];
      const byCursor = await readBacktestSamples(cursorPages(direct), metrics, T, T + 300_000, {
        maxRows: 10_000,
        pageSize: 333,
      });
      const byKeyset = await readBacktestSamples(keysetPages(sql), metrics, T, T + 300_000, {
        maxRows: 10_000,
        pageSize: 77,
      });
      const order = (a: { timestamp: number; metric: string; value: number }, b: typeof a) =>
        a.timestamp - b.timestamp || a.metric.localeCompare(b.metric) || a.value - b.value;
      expect(byCursor.length).toBe(2500); // 833 + 834 values of lat, 833 anomalies; `other` is not read
      expect([...byKeyset].sort(order)).toEqual([...byCursor].sort(order));
    } finally {
      await client.end();
    }
  });

  it('should read the samples eventToSamples makes of the whole stored events, odd values and labels included', async () => {
    // Narrow rows (a PERFORMANCE_METRIC's name and number only) for the plain events, whole data for the others.
    const at = T + 400_000;
    // As JSON text: Postgres keeps numbers past a double exactly, which a JavaScript literal could not say.
    const odd = `[
      {"metric_name": "odd", "value": 1.5},
      {"metric_name": "odd", "value": 0.1},
      {"metric_name": "odd", "value": -2.5e-300},
      {"metric_name": "odd", "value": 1e400},
      {"metric_name": "odd", "value": 123456789012345678901234567890.123456789},
      {"metric_name": "odd", "value": "12"},
      {"metric_name": "odd", "value": null},
      {"metric_name": "odd", "value": 7, "labels": {"host": "a"}},
      {"metric_name": "odd", "value": 8, "extra": {"nested": [1, 2]}},
      {"metric_name": "odd"}
    ]`;
    await sql.query(
      `INSERT INTO "Event" (id, type, "timestamp", "receivedAt", data)
       SELECT gen_random_uuid(), 'PERFORMANCE_METRIC', to_timestamp(($1::float8 + i * 10) / 1000), now(), d
       FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS x(d, i)`,
      [at, odd],
    );
    const stored = await sql.query<{ type: 'PERFORMANCE_METRIC'; t: number; data: unknown }>(
      `SELECT type::text AS type, (extract(epoch FROM "timestamp") * 1000)::float8 AS t, data::text AS data
       FROM "Event" WHERE "timestamp" >= to_timestamp($1::float8 / 1000) ORDER BY "timestamp"`,
      [at],
    );
    expect(stored).toHaveLength(10);
    const labelled = seriesName('odd', labelPartOf({ labels: { host: 'a' } }) as string);
    const metrics = ['odd', 'rejected_metric_values', labelled];
    const expected = stored.flatMap(({ type, t, data }) =>
      eventToSamples({ type, timestamp: Number(t), data: JSON.parse(String(data)) }).samples.filter((s) =>
        metrics.includes(s.metric),
      ),
    );
    // 1e400, "12", null and the missing value are rejected; the other six are read, the labelled one once as 'odd'.
    expect(expected.filter((s) => s.metric === 'odd')).toHaveLength(6);
    expect(expected.some((s) => s.metric === 'rejected_metric_values')).toBe(true);
    expect(expected.some((s) => s.metric === labelled)).toBe(true);
    const read = await readBacktestSamples(keysetPages(sql), metrics, at, at + 1_000, { maxRows: 100 });
    const order = (a: { timestamp: number; metric: string }, b: typeof a) =>
      a.timestamp - b.timestamp || a.metric.localeCompare(b.metric);
    expect([...read].sort(order)).toEqual([...expected].sort(order));
  });
});

describe('MAX_CONCURRENT_BACKTESTS', () => {
  it('should refuse a backtest past the limit with OVERLOADED naming the setting, and take one again after', async () => {
    const gate = deferred();
    const held: Sql = {
      query: async (text, params) => {
        await gate.promise;
        return sql.query(text, params);
      },
    };
    const backtester = new Backtester({
      sql: held,
      maxRows: 10_000,
      maxConcurrent: 1,
      maxLabelSets: 1,
      now: () => T + 600_000,
    });
    const first = backtester.preview(rule, new Date(T), null);
    const refused = await backtester.preview(rule, new Date(T), null).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DomainError);
    expect(refused).toMatchObject({ code: 'OVERLOADED', details: { limit: 'MAX_CONCURRENT_BACKTESTS' } });
    gate.resolve();
    expect((await first).length).toBeGreaterThan(0);
    await expect(backtester.preview(rule, new Date(T), null)).resolves.toEqual(await first);
  });
});
