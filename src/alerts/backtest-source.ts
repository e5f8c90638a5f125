// The samples a backtest reads: the stored events of the rule's metrics, mapped to samples as the stream processor
// maps them (samples.ts), read in pages of only the columns needed, and bounded by MAX_BACKTEST_ROWS.
//
// Most stored events are a PERFORMANCE_METRIC of a name and a number: of those, Postgres sends only the name and the
// number (as text), and they are mapped as an event of just those two fields, which is all eventToSamples reads of
// such an event; every other event (labelled ones included) comes whole. Reading a million events costs mostly per
// row and per byte sent, so a narrow row is most of the saving (no JSON document to send and parse).

import { splitSeries } from '../aggregation/labels.js';
import {
  EVENTS_RECEIVED_METRIC,
  eventToSamples,
  REJECTED_VALUES_METRIC,
  SERVER_METRICS,
} from '../aggregation/samples.js';
import type { MetricSample } from '../aggregation/types.js';
import type { Sql } from '../db.js';
import { badInput } from '../errors.js';
import type { EventType } from '../generated/prisma/enums.js';

export interface BacktestReadOptions {
  /** Most event rows one backtest may read (MAX_BACKTEST_ROWS); past it the backtest is refused. */
  maxRows: number;
  /** Rows per keyset page. */
  pageSize?: number;
  /** Keep the metrics' labelled series too (`metric{a=x}`), for a rule over label sets. */
  labelled?: boolean;
}

interface Row extends Record<string, unknown> {
  type: EventType;
  /** Event time, epoch ms. */
  t: number;
  /** Receive time, epoch ms: read only when events_received is wanted. */
  r?: number;
  /** A PERFORMANCE_METRIC of a string name and a number value, without labels: the name and the value as text. */
  m: string | null;
  v: string | null;
  /** Any other event: its data, whole. */
  data: string | null;
}

const DEFAULT_PAGE_SIZE = 50_000;

/**
 * Which stored events may carry a sample of `metrics`, as SQL over the event `e` (parameters from `$first`). A
 * superset is enough (eventToSamples decides); a subset would lose samples, so this follows samples.ts's mapping:
 * publishers' metrics come from PERFORMANCE_METRIC's metric_name and BENCHMARK_COMPLETED and COMPETITIVE_UPDATE's
 * `metrics`, the server's own from the event types that make them.
 */
export function eventFilter(metrics: readonly string[], first: number): { sql: string; params: string[] } {
  const names = new Set(metrics);
  if (names.has(EVENTS_RECEIVED_METRIC)) return { sql: 'true', params: [] };
  // Any event with a metric may carry a rejected value, whatever its name.
  if (names.has(REJECTED_VALUES_METRIC))
    return { sql: `e.type IN ('PERFORMANCE_METRIC', 'BENCHMARK_COMPLETED', 'COMPETITIVE_UPDATE')`, params: [] };
  const published = [...names].filter((name) => !SERVER_METRICS.has(name));
  const parts: string[] = [];
  const params: string[] = [];
  if (published.length > 0) {
    // Metric names hold no comma (METRIC_NAME_PATTERN): one text parameter, as the embedded driver takes no arrays.
    params.push(published.join(','));
    const list = `string_to_array($${first}, ',')`;
    parts.push(
      `(e.type = 'PERFORMANCE_METRIC' AND e.data->>'metric_name' = ANY(${list}))`,
      `(e.type IN ('BENCHMARK_COMPLETED', 'COMPETITIVE_UPDATE') AND e.data->'metrics' ?| ${list})`,
    );
  }
  if (names.has('anomaly_count')) parts.push(`e.type = 'ANOMALY_DETECTED'`);
  if (names.has('benchmark_total') || names.has('benchmark_success')) parts.push(`e.type = 'BENCHMARK_COMPLETED'`);
  return { sql: parts.length ? `(${parts.join(' OR ')})` : 'false', params };
}

/** Runs a query and hands its rows over in pages. */
export interface PagedQuery {
  /** Select items the pager needs in each row besides the backtest's own (keyset paging: the seq), over `e`. */
  readonly pagingColumns: string;
  pages(text: string, params: readonly unknown[], pageSize: number): AsyncIterable<Row[]>;
}

/**
 * Pages through a cursor, on a connection the caller owns (the worker's): one plan, one pass over the matching
 * events, no sort (samples are sorted by time when evaluated).
 */
export function cursorPages(client: { query: Sql['query'] }): PagedQuery {
  return { pagingColumns: '', pages: cursorPagesOf(client) };
}

function cursorPagesOf(client: { query: Sql['query'] }): PagedQuery['pages'] {
  return async function* (text, params, pageSize) {
    await client.query('BEGIN READ ONLY', []);
    try {
      await client.query(`DECLARE backtest NO SCROLL CURSOR FOR ${text}`, params);
      const fetch = () => {
        const page = client.query<Row>(`FETCH ${pageSize} FROM backtest`, []);
        page.catch(() => {}); // awaited below, unless the reader stopped early (then the rollback ends it all)
        return page;
      };
      // The next page is asked for before this one is handed over: Postgres reads it while this one is mapped.
      for (let next = fetch(); ; ) {
        const rows = await next;
        if (rows.length === 0) return;
        next = fetch();
        yield rows;
      }
    } finally {
      await client.query('ROLLBACK', []);
    }
  };
}

/**
 * Pages by keyset (event time, seq) on a shared connection (the embedded database's, where a cursor's transaction
 * would take in the other statements of the process).
 */
export function keysetPages(sql: Sql): PagedQuery {
  return { pagingColumns: 'e.seq::text AS seq, ', pages: keysetPagesOf(sql) };
}

function keysetPagesOf(sql: Sql): PagedQuery['pages'] {
  return async function* (text, params, pageSize) {
    let after = { t: '-infinity', seq: '0' };
    for (;;) {
      const rows = await sql.query<Row & { seq: string }>(
        `SELECT * FROM (${text}) page
         WHERE (to_timestamp(page.t / 1000), page.seq::bigint) > ($${params.length + 1}::timestamptz, $${params.length + 2}::bigint)
         ORDER BY page.t, page.seq::bigint LIMIT ${pageSize}`,
        [...params, after.t, after.seq],
      );
      const last = rows[rows.length - 1];
      if (!last) return;
      yield rows;
      if (rows.length < pageSize) return;
      after = { t: new Date(Number(last.t)).toISOString(), seq: last.seq };
    }
  };
}

/**
 * The samples of `metrics` from the events with an event time in [from, until] (epoch ms). An event counts in
 * `events_received` at the time it was received, as the processor counts it; it is read by its event time.
 */
export async function readBacktestSamples(
  pages: PagedQuery,
  metrics: readonly string[],
  from: number,
  until: number,
  { maxRows, pageSize = DEFAULT_PAGE_SIZE, labelled = false }: BacktestReadOptions,
): Promise<MetricSample[]> {
  const wanted = new Set(metrics);
  const countsReceived = wanted.has(EVENTS_RECEIVED_METRIC);
  const filter = eventFilter(metrics, 3);
  const samples: MetricSample[] = [];
  let rows = 0;
  const query = `SELECT ${pages.pagingColumns}e.type::text AS type, (extract(epoch FROM e."timestamp") * 1000)::float8 AS t,
       ${countsReceived ? `(extract(epoch FROM e."receivedAt") * 1000)::float8 AS r,` : ''}
       CASE WHEN f.plain THEN e.data->>'metric_name' END AS m, CASE WHEN f.plain THEN e.data->>'value' END AS v,
       CASE WHEN f.plain THEN NULL ELSE e.data::text END AS data
       FROM "Event" e,
       LATERAL (SELECT e.type = 'PERFORMANCE_METRIC' AND jsonb_typeof(e.data->'metric_name') = 'string'
                AND jsonb_typeof(e.data->'value') = 'number' AND NOT e.data ? 'labels' AS plain) f
       WHERE e."timestamp" >= $1::timestamptz AND e."timestamp" <= $2::timestamptz AND ${filter.sql}`;
  const params = [new Date(from).toISOString(), new Date(until).toISOString(), ...filter.params];
  for await (const page of pages.pages(query, params, pageSize)) {
    rows += page.length;
    if (rows > maxRows) {
      throw badInput(
        `the backtest would read more than MAX_BACKTEST_ROWS (${maxRows}) stored events: shorten the range`,
        { limit: 'MAX_BACKTEST_ROWS' },
      );
    }
    for (const row of page) {
      const timestamp = Number(row.t);
      // A JSON number's text reads as the same double as JSON.parse reads it in the whole document.
      const data = row.data === null ? { metric_name: row.m, value: Number(row.v) } : JSON.parse(row.data);
      for (const sample of eventToSamples({ type: row.type, timestamp, data }).samples) {
        const metric = labelled ? splitSeries(sample.metric).metric : sample.metric;
        if (wanted.has(metric)) samples.push(sample);
      }
      if (countsReceived) samples.push({ metric: EVENTS_RECEIVED_METRIC, value: 1, timestamp: Number(row.r) });
    }
  }
  return samples;
}
