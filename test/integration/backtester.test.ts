// The backtester's own limits on real Postgres: MAX_CONCURRENT_BACKTESTS, and the read through the worker's cursor
// against the in-process keyset pages (the same samples either way).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
