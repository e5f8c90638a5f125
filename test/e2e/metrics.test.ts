// Aggregates, metric names, metricUpdated and the dashboard, end to end on real Postgres and Redis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PublishEventInput, WindowSize } from '../generated/graphql.js';
import { graphql } from '../generated/index.js';
import { gql, gqlOk, processed, startServer, subscribe, type TestServer, wsClient } from '../helpers/app.js';
import { AGGREGATE, PUBLISH_EVENTS as PUBLISH_MANY } from '../helpers/operations.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';
import { deferred } from '../helpers/waits.js';

let database: TestDatabase;
const prefix = redisKeyPrefix();
let one: TestServer;
let two: TestServer;
const adminKey = `test-admin-${Date.now()}`;
/** Long enough that "sent at once" (well within one interval) holds with room for a loaded machine's round trips. */
const DASHBOARD_INTERVAL_MS = 2_000;

beforeAll(async () => {
  database = await createTestDatabase();
  const config = { DASHBOARD_INTERVAL_MS };
  one = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, adminKey, config });
  two = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, adminKey, config });
});

afterAll(async () => {
  await one?.stop();
  await two?.stop();
  await database?.drop();
  await deleteRedisKeys(prefix);
});

const publish = (server: TestServer, inputs: PublishEventInput[]) =>
  gqlOk(server.url, PUBLISH_MANY, { inputs }, adminKey);
const metric = (name: string, value: unknown, timestamp?: Date) => ({
  type: 'PERFORMANCE_METRIC' as const,
  ...(timestamp ? { timestamp: timestamp.toISOString() } : {}),
  data: { metric_name: name, value },
});
const aggregate = async (server: TestServer, metric: string, window: WindowSize = 'M5') =>
  (await gqlOk(server.url, AGGREGATE, { metric, window }, adminKey)).aggregate;

describe('aggregates', () => {
  it('should aggregate published values, zeros included, identically on both instances', async () => {
    await publish(one, [
      metric('latency_a', 0),
      metric('latency_a', 10),
      metric('latency_a', 20),
      metric('latency a!', 5), // not a metric name: counted as rejected
    ]);
    await processed(one, two);
    const result = await aggregate(one, 'latency_a');
    expect(result).toMatchObject({ metric: 'latency_a', window: 'M5', count: 3, sum: 30, avg: 10, min: 0, max: 20 });
    expect(result.stddev).toBeCloseTo(Math.sqrt(200 / 3), 9);
    expect(result.p50).toBeCloseTo(10, 0);
    expect(Date.parse(result.to) - Date.parse(result.from)).toBeLessThanOrEqual(5 * 60_000);
    const other = await aggregate(two, 'latency_a');
    expect({ ...other, from: null, to: null }).toEqual({ ...result, from: null, to: null });
    expect((await aggregate(one, 'rejected_metric_values')).sum).toBe(1);
  });

  it('should answer an empty window with count 0 and null statistics', async () => {
    expect(await aggregate(one, 'never_published', 'M1')).toMatchObject({
      count: 0,
      sum: 0,
      avg: null,
      p99: null,
      min: null,
    });
  });

  it('should count an event once when a client retries a batch', async () => {
    const inputs = Array.from({ length: 5 }, (_, i) => ({ ...metric('retried', i), id: crypto.randomUUID() }));
    await publish(one, inputs);
    const retry = await publish(two, inputs);
    expect(retry.publishEvents).toMatchObject({ accepted: 0, duplicates: 5 });
    await processed(one, two);
    expect((await aggregate(one, 'retried')).count).toBe(5);
    expect((await aggregate(two, 'retried')).count).toBe(5);
  });

  it('should store but not aggregate events older than 24 hours, and count them', async () => {
    const old = new Date(Date.now() - 25 * 3_600_000);
    const { publishEvents } = await publish(one, [metric('too_old', 5, old)]);
    const stored = await one.app.services.events.findByIds(publishEvents.ids);
    expect(stored).toHaveLength(1);
    const lateCount = async () => {
      const texts = await Promise.all(
        [one, two].map(async (s) => (await fetch(s.url.replace('/graphql', '/metrics'))).text()),
      );
      return texts.reduce((n, text) => n + Number(/^jackdaw_events_late_total (\d+)/m.exec(text)?.[1] ?? 0), 0);
    };
    await processed(one, two);
    expect(await lateCount()).toBeGreaterThanOrEqual(1);
    expect((await aggregate(one, 'too_old', 'H24')).count).toBe(0);
  });

  it('should read many metrics × windows in one round trip, metric-major', async () => {
    const store = one.app.runtime.aggregates;
    const read = store.read.bind(store);
    let calls = 0;
    store.read = (queries, at) => {
      calls += 1;
      return read(queries, at);
    };
    try {
      const { aggregates } = await gqlOk(
        one.url,
        graphql(`
          query AggregatesMetricMajor {
            aggregates(metrics: ["latency_a", "retried"], windows: [M1, M5, H24]) {
              metric
              window
              count
            }
          }
        `),
        {},
        adminKey,
      );
      expect(aggregates.map((a) => `${a.metric}/${a.window}`)).toEqual([
        'latency_a/M1',
        'latency_a/M5',
        'latency_a/H24',
        'retried/M1',
        'retried/M5',
        'retried/H24',
      ]);
      expect(calls).toBe(1);
    } finally {
      store.read = read;
    }
  });

  it('should list metric names and reject a malformed one', async () => {
    const { metricNames } = await gqlOk(
      one.url,
      graphql(`
        query MetricNames {
          metricNames
        }
      `),
      {},
      adminKey,
    );
    expect(metricNames).toEqual(expect.arrayContaining(['latency_a', 'retried', 'events_received']));
    expect(metricNames).toEqual([...metricNames].sort());
    const bad = await gql(one.url, AGGREGATE, { metric: 'bad name!', window: 'M5' }, adminKey);
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(bad.errors?.[0]?.message).toContain('bad name!');
  });
});

describe('live views over graphql-ws', () => {
  it('should push metricUpdated with the right numbers, coalesced to one message per 250 ms', async () => {
    const client = wsClient(two.wsUrl, adminKey);
    const sub = subscribe(
      client,
      graphql(`
        subscription LiveMetric {
          metricUpdated(metric: "live_m", window: M1) {
            count
            sum
            max
          }
        }
      `),
    );
    expect((await sub.result(0)).metricUpdated).toEqual({ count: 0, sum: 0, max: null });
    const started = Date.now();
    for (let i = 1; i <= 10; i++) await publish(one, [metric('live_m', i)]);
    await sub.until((received) => received.at(-1)?.metricUpdated.count === 10);
    const elapsed = Date.now() - started;
    expect(sub.received.at(-1)?.metricUpdated).toEqual({ count: 10, sum: 55, max: 10 });
    // Ten changes, but no more messages than 250 ms intervals allow (plus the initial one and one at the edge).
    expect(sub.received.length).toBeLessThanOrEqual(2 + Math.ceil(elapsed / 250));
    sub.dispose();
    await client.dispose();
  });

  it('should send the dashboard at once and then every interval, with the right values', async () => {
    await publish(one, [
      { type: 'BENCHMARK_COMPLETED', data: { success: true, metrics: { competitive_parity: 0.8 } } },
      { type: 'BENCHMARK_COMPLETED', data: { success: false, metrics: { competitive_parity: 0.4 } } },
      { type: 'ANOMALY_DETECTED', data: {} },
      metric('api_response_time', 100),
      metric('api_response_time', 300),
    ]);
    await one.app.runtime.processor.drain();
    await two.app.runtime.processor.drain();
    // Timed from the connection's acknowledgement: the connection's own setup is not the dashboard's to answer for.
    const connected = deferred();
    const client = wsClient(one.wsUrl, adminKey, { lazy: false, on: { connected: () => connected.resolve() } });
    await connected.promise;
    const started = Date.now();
    const sub = subscribe(
      client,
      graphql(`
        subscription Dashboard {
          dashboardUpdated {
            at
            competitiveParity
            anomalyCount
            apiResponseTime
            benchmarkSuccessRate
            eventsPerSecond
            firingAlerts
          }
        }
      `),
    );
    await sub.waitFor(1);
    // At once: one that waited for the first interval would come DASHBOARD_INTERVAL_MS or more after.
    expect(Date.now() - started).toBeLessThan(DASHBOARD_INTERVAL_MS);
    const { dashboardUpdated: dashboard } = await sub.result(2);
    const times = sub.received.map((r) => Date.parse(r.dashboardUpdated.at));
    expect((times[2] ?? 0) - (times[1] ?? 0)).toBeGreaterThanOrEqual(DASHBOARD_INTERVAL_MS - 50);
    expect(dashboard).toMatchObject({
      anomalyCount: 1,
      apiResponseTime: 200,
      benchmarkSuccessRate: 0.5,
      firingAlerts: 0,
    });
    expect(dashboard.competitiveParity).toBeCloseTo(0.6, 12);
    expect(dashboard.eventsPerSecond).toBeGreaterThan(0);
    sub.dispose();
    await client.dispose();
  });
});
