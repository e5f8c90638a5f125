// What a publisher may not send, and reads that must stay clean: values beyond the magnitude cap, the server's own
// metric names, forged ALERT_TRIGGERED events, timestamps older than the bound, and out-of-range cursors. Each is
// refused as BAD_USER_INPUT naming the event (and metric), with nothing of the batch stored. Real Postgres and Redis.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configWith } from '../../src/config.js';
import { dayOf, partitionName } from '../../src/events/retention.js';
import { newEventId } from '../../src/ids.js';
import { encodeCursor } from '../../src/pagination.js';
import type { PublishEventInput } from '../generated/graphql.js';
import { graphql } from '../generated/index.js';
import { gql, gqlOk, processed, sleep, startServer, type TestServer } from '../helpers/app.js';
import { CREATE_API_KEY, PUBLISH_EVENTS } from '../helpers/operations.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

const DAY_MS = 24 * 60 * 60_000;
let database: TestDatabase;
let uncappedDatabase: TestDatabase;
let server: TestServer; // the defaults
let uncapped: TestServer; // MAX_METRIC_MAGNITUDE at the largest double: only saturation keeps statistics finite
let small: TestServer; // small cardinality limits
let smallDatabase: TestDatabase;
const smallPrefix = redisKeyPrefix();
let publisherKey: string;
const prefix = redisKeyPrefix();
const uncappedPrefix = redisKeyPrefix();

beforeAll(async () => {
  database = await createTestDatabase();
  server = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix });
  uncappedDatabase = await createTestDatabase();
  uncapped = await startServer({
    databaseUrl: uncappedDatabase.url,
    redisKeyPrefix: uncappedPrefix,
    config: { MAX_METRIC_MAGNITUDE: Number.MAX_VALUE },
  });
  smallDatabase = await createTestDatabase();
  small = await startServer({
    databaseUrl: smallDatabase.url,
    redisKeyPrefix: smallPrefix,
    config: { MAX_METRICS_PER_EVENT: 5, MAX_NEW_SERIES_PER_MINUTE: 8, MAX_SERIES: 12, MAX_METRIC_NAMES_PAGE: 5 },
  });
  publisherKey = (await gqlOk(server.url, CREATE_API_KEY, { name: 'publisher', role: 'PUBLISHER' }, server.adminKey))
    .createApiKey.key;
});

afterAll(async () => {
  await server?.stop();
  await uncapped?.stop();
  await small?.stop();
  await smallDatabase?.drop();
  await deleteRedisKeys(smallPrefix);
  await database?.drop();
  await uncappedDatabase?.drop();
  await deleteRedisKeys(prefix);
  await deleteRedisKeys(uncappedPrefix);
});

const EVENT_COUNT = graphql(`
  query EventCount {
    events(first: 500) {
      edges {
        node {
          id
          type
        }
      }
    }
  }
`);

const DASHBOARD = graphql(`
  query DashboardValues {
    dashboard {
      anomalyCount
      apiResponseTime
      competitiveParity
    }
  }
`);

const STATS = graphql(`
  query HugeStats($metric: String!) {
    aggregate(metric: $metric, window: M5) {
      count
      sum
      avg
      stddev
    }
  }
`);

/** Publishes a batch whose event 1 is `bad`, and expects it refused whole, naming event 1 (and the metric). */
async function expectRefused(bad: PublishEventInput, says: RegExp, metric?: string) {
  const before = (await gqlOk(server.url, EVENT_COUNT, {}, server.adminKey)).events.edges.length;
  const good: PublishEventInput = { type: 'PERFORMANCE_METRIC', data: { metric_name: 'fine', value: 1 } };
  const result = await gql(server.url, PUBLISH_EVENTS, { inputs: [good, bad] }, publisherKey);
  const error = result.errors?.[0];
  expect(error?.extensions?.code, JSON.stringify(result)).toBe('BAD_USER_INPUT');
  expect(error?.message).toMatch(/^event 1: /);
  expect(error?.message).toMatch(says);
  expect(error?.extensions?.index).toBe(1);
  if (metric) expect(error?.extensions?.metric).toBe(metric);
  const after = (await gqlOk(server.url, EVENT_COUNT, {}, server.adminKey)).events.edges.length;
  expect(after, 'nothing of the batch stored').toBe(before);
}

describe('typed payloads', () => {
  it.each([
    [{ type: 'PERFORMANCE_METRIC', data: { metric_name: 'latency', value: 'slow' } }, 'data.value'],
    [{ type: 'PERFORMANCE_METRIC', data: { value: 3 } }, 'data.metric_name'],
    [{ type: 'COMPETITIVE_UPDATE', data: { metrics: { parity: '0.9' } } }, 'data.metrics.parity'],
    [{ type: 'ANOMALY_DETECTED', data: { labels: { region: 1 } } }, 'data.labels.region'],
  ] as [PublishEventInput, string][])('should refuse %j whole, naming event 1 and the field %s', async (bad, field) => {
    await expectRefused(bad, new RegExp(`${field.replace(/\./g, '\\.')} must be a (string|number)`));
    const result = await gql(server.url, PUBLISH_EVENTS, { inputs: [bad] }, publisherKey);
    expect(result.errors?.[0]?.extensions?.field).toBe(field);
  });
});

describe('values and reserved names', () => {
  it('should refuse a value beyond MAX_METRIC_MAGNITUDE, naming the event and the metric', async () => {
    await expectRefused(
      { type: 'COMPETITIVE_UPDATE', data: { metrics: { parity: 1.7e308 } } },
      /data.metrics.parity of metric "parity" is 1.7e\+308, beyond the largest magnitude 1000000000000000/,
      'parity',
    );
    await expectRefused(
      { type: 'PERFORMANCE_METRIC', data: { metric_name: 'api_response_time', value: -2e15 } },
      /beyond the largest magnitude/,
      'api_response_time',
    );
  });

  it.each(['anomaly_count', 'benchmark_total', 'benchmark_success', 'events_received', 'rejected_metric_values'])(
    'should refuse the server-computed metric %s in data.metrics',
    async (name) => {
      await expectRefused(
        { type: 'BENCHMARK_COMPLETED', data: { metrics: { [name]: 1_000 } } },
        new RegExp(`metric "${name}" is computed by the server itself`),
        name,
      );
    },
  );

  it("should refuse a client's ALERT_TRIGGERED event, even an admin's", async () => {
    const forged: PublishEventInput = { type: 'ALERT_TRIGGERED', data: { alertId: 'forged', severity: 'CRITICAL' } };
    const result = await gql(server.url, PUBLISH_EVENTS, { inputs: [forged] }, server.adminKey);
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toMatch(/^event 0: ALERT_TRIGGERED events are the server's own record/);
    await expectRefused(forged, /only the server publishes them/);
  });

  it('should keep sums, averages and the dashboard finite when values overflow a double', async () => {
    const value = (metric: string, v: number): PublishEventInput => ({
      type: 'PERFORMANCE_METRIC',
      data: { metric_name: metric, value: v },
    });
    const inputs = [value('api_response_time', 1.7e308), value('api_response_time', 1.7e308)];
    inputs.push(value('spread', 1.7e308), value('spread', -1.7e308));
    await gqlOk(uncapped.url, PUBLISH_EVENTS, { inputs }, uncapped.adminKey);
    await processed(uncapped);
    const { dashboard } = await gqlOk(uncapped.url, DASHBOARD, {}, uncapped.adminKey);
    expect(dashboard.apiResponseTime).toBe(1.7e308);
    for (const metric of ['api_response_time', 'spread']) {
      const { aggregate } = await gqlOk(uncapped.url, STATS, { metric }, uncapped.adminKey);
      expect(aggregate.count).toBe(2);
      for (const value of [aggregate.sum, aggregate.avg, aggregate.stddev]) expect(Number.isFinite(value)).toBe(true);
    }
  });
});

const METRIC_NAMES = graphql(`
  query MetricNamesPage($first: Int, $after: String) {
    metricNames(first: $first, after: $after)
  }
`);

/** One event per name, each a COMPETITIVE_UPDATE carrying that metric. */
const eventsNaming = (names: string[]): PublishEventInput[] =>
  names.map((name) => ({ type: 'COMPETITIVE_UPDATE', data: { metrics: { [name]: 1 } } }));

describe('cardinality', () => {
  it('should refuse the 50 × 1,000 new names of one request, storing nothing and starting no series', async () => {
    const namesBefore = (await gqlOk(server.url, METRIC_NAMES, {}, server.adminKey)).metricNames;
    const wide = (event: number, count: number): PublishEventInput => ({
      type: 'BENCHMARK_COMPLETED',
      data: { metrics: Object.fromEntries(Array.from({ length: count }, (_, i) => [`wide_${event}_${i}`, i])) },
    });
    const perEvent = await gql(
      server.url,
      PUBLISH_EVENTS,
      { inputs: Array.from({ length: 50 }, (_, e) => wide(e, 1_000)) },
      publisherKey,
    );
    expect(perEvent.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', index: 0, metric: 'wide_0_100' });
    expect(perEvent.errors?.[0]?.message).toMatch(/data.metrics has 1000 entries, more than the limit of 100/);
    // Within the per-event limit, 50 × 100 new names are past the key's 1,000 a minute.
    const perMinute = await gql(
      server.url,
      PUBLISH_EVENTS,
      { inputs: Array.from({ length: 50 }, (_, e) => wide(e, 100)) },
      publisherKey,
    );
    expect(perMinute.errors?.[0]?.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      index: 10,
      metric: 'wide_10_0',
      limit: 'MAX_NEW_SERIES_PER_MINUTE',
    });
    await processed(server);
    expect((await gqlOk(server.url, METRIC_NAMES, {}, server.adminKey)).metricNames).toEqual(namesBefore);
  });

  it('should refuse new series past MAX_NEW_SERIES_PER_MINUTE per key and past MAX_SERIES in all', async () => {
    const keyOf = async (name: string) =>
      (await gqlOk(small.url, CREATE_API_KEY, { name, role: 'PUBLISHER' }, small.adminKey)).createApiKey.key;
    const [first, second] = [await keyOf('first'), await keyOf('second')];
    // The budgets are per minute of the clock: start early in one, so the test runs inside it (with 30 s to spare:
    // on a loaded machine 10 s were not always enough for the publishes below).
    const leftOfMinute = 60_000 - (Date.now() % 60_000);
    if (leftOfMinute < 30_000) await sleep(leftOfMinute);
    const publish = (names: string[], key: string) =>
      gql(small.url, PUBLISH_EVENTS, { inputs: eventsNaming(names) }, key);
    expect((await publish(['a1', 'a2', 'a3', 'a4', 'a5'], first)).errors).toBeUndefined();
    // events_received becomes a live series when the processor applies the first batch, not at publish: the count
    // below includes it only once that happened (CI once ran the last publish before it, and d1 was the 12th).
    await processed(small);
    // Known names are free; four new ones are one too many for the first key this minute (5 + 4 > 8).
    const overMinute = await publish(['a1', 'b1', 'b2', 'b3', 'b4'], first);
    expect(overMinute.errors?.[0]?.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      index: 4,
      metric: 'b4',
      limit: 'MAX_NEW_SERIES_PER_MINUTE',
    });
    expect(overMinute.errors?.[0]?.extensions?.retryAfterMs).toBeGreaterThan(0);
    expect(overMinute.errors?.[0]?.message).toMatch(/^event 4: metric "b4" would start a new series past/);
    // The second key has a budget of its own, until 12 series are live in all (the server's events_received is one).
    expect((await publish(['c1', 'c2', 'c3', 'c4', 'c5', 'c6'], second)).errors).toBeUndefined();
    const overTotal = await publish(['a2', 'd1'], second);
    expect(overTotal.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      index: 1,
      metric: 'd1',
      limit: 'MAX_SERIES',
    });
    await processed(small);
    const names = (await gqlOk(small.url, METRIC_NAMES, {}, small.adminKey)).metricNames;
    expect(names).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
    // Paged: MAX_METRIC_NAMES_PAGE (5) at a time, each page after the last name of the one before.
    const rest = (await gqlOk(small.url, METRIC_NAMES, { after: 'a5' }, small.adminKey)).metricNames;
    expect(rest).toEqual(['c1', 'c2', 'c3', 'c4', 'c5']);
    expect((await gqlOk(small.url, METRIC_NAMES, { first: 2, after: 'c5' }, small.adminKey)).metricNames).toEqual([
      'c6',
      'events_received',
    ]);
    const tooMany = await gql(small.url, METRIC_NAMES, { first: 6 }, small.adminKey);
    expect(tooMany.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  }, 120_000); // up to 30 s waiting for the next minute
});

describe('edges', () => {
  it('should refuse a timestamp older than the retention and MAX_EVENT_AGE_MS (30 days each), naming the event and the retention', async () => {
    const old = new Date(Date.now() - 31 * DAY_MS).toISOString();
    const retention = /is older than the event retention of 30 days \(EVENT_RETENTION_DAYS\)/;
    await expectRefused({ type: 'ANOMALY_DETECTED', timestamp: old, data: {} }, retention);
    await expectRefused({ type: 'ANOMALY_DETECTED', timestamp: '0001-01-01T00:00:00.000Z', data: {} }, retention);
    const recent = new Date(Date.now() - 29 * DAY_MS).toISOString();
    const accepted = await gqlOk(
      server.url,
      PUBLISH_EVENTS,
      { inputs: [{ type: 'ANOMALY_DETECTED', timestamp: recent, data: {} }] },
      publisherKey,
    );
    expect(accepted.publishEvents.accepted).toBe(1);
  });

  it('should refuse an event whose day has no partition as BAD_USER_INPUT, never INTERNAL, until maintenance makes it', async () => {
    const day = new Date(Date.now() - 20 * DAY_MS);
    const partition = partitionName(dayOf(day.getTime()));
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query(`ALTER TABLE "Event" DETACH PARTITION "${partition}"`);
      await client.query(`DROP TABLE "${partition}"`);
    } finally {
      await client.end();
    }
    const inputs = [{ type: 'ANOMALY_DETECTED' as const, timestamp: day.toISOString(), data: {} }];
    const refused = await gql(server.url, PUBLISH_EVENTS, { inputs }, publisherKey);
    expect(refused.errors?.[0]?.extensions?.code, JSON.stringify(refused)).toBe('BAD_USER_INPUT');
    expect(refused.errors?.[0]?.message).toMatch(/outside the days the event log holds.*EVENT_RETENTION_DAYS/);
    const pass = await server.app.runtime.retention.runOnce();
    expect(pass.created).toEqual([partition]);
    expect((await gqlOk(server.url, PUBLISH_EVENTS, { inputs }, publisherKey)).publishEvents.accepted).toBe(1);
  });

  it('should give UUIDv7 ids, keep a client UUIDv7 once, and refuse one dated outside the days ids are kept', async () => {
    const given = await gqlOk(
      server.url,
      PUBLISH_EVENTS,
      { inputs: [{ type: 'ANOMALY_DETECTED', data: {} }] },
      publisherKey,
    );
    const [made] = given.publishEvents.ids;
    expect(made?.[14], made).toBe('7');
    const current = newEventId();
    const inputs = [{ id: current, type: 'ANOMALY_DETECTED' as const, data: {} }];
    expect((await gqlOk(server.url, PUBLISH_EVENTS, { inputs }, publisherKey)).publishEvents.accepted).toBe(1);
    expect((await gqlOk(server.url, PUBLISH_EVENTS, { inputs }, publisherKey)).publishEvents.duplicates).toBe(1);
    // Made 60 days ago: its day of ids is long gone (30 days are kept), so it can be no key of idempotency.
    const stale = [{ id: newEventId(Date.now() - 60 * DAY_MS), type: 'ANOMALY_DETECTED' as const, data: {} }];
    const refused = await gql(server.url, PUBLISH_EVENTS, { inputs: stale }, publisherKey);
    expect(refused.errors?.[0]?.extensions?.code, JSON.stringify(refused)).toBe('BAD_USER_INPUT');
    expect(refused.errors?.[0]?.message).toMatch(/UUIDv7 whose time is outside the days ids are kept/);
  });

  it('should refuse settings that would leave events without a partition or a stored event without its id', () => {
    expect(() => configWith({ EVENT_PARTITIONS_AHEAD_DAYS: 0 })).toThrow(/EVENT_PARTITIONS_AHEAD_DAYS/);
    // Two days of future skew need three days of partitions ahead.
    expect(() => configWith({ MAX_FUTURE_SKEW_MS: 2 * DAY_MS, EVENT_PARTITIONS_AHEAD_DAYS: 2 })).toThrow(
      /EVENT_PARTITIONS_AHEAD_DAYS: must be at least 3/,
    );
    expect(configWith({ MAX_FUTURE_SKEW_MS: 2 * DAY_MS, EVENT_PARTITIONS_AHEAD_DAYS: 3 }).MAX_FUTURE_SKEW_MS).toBe(
      2 * DAY_MS,
    );
    expect(() => configWith({ EVENT_RETENTION_DAYS: 10, EVENT_ID_RETENTION_DAYS: 9 })).toThrow(
      /EVENT_ID_RETENTION_DAYS: must be at least EVENT_RETENTION_DAYS/,
    );
    expect(configWith({ EVENT_RETENTION_DAYS: 10 }).EVENT_ID_RETENTION_DAYS).toBe(10);
    expect(configWith({}).EVENT_RETENTION_DAYS).toBe(30);
  });

  it('should refuse a MAX_EVENT_AGE_MS under 24 hours', () => {
    expect(() => configWith({ MAX_EVENT_AGE_MS: DAY_MS - 1 })).toThrow(/MAX_EVENT_AGE_MS/);
    expect(configWith({ MAX_EVENT_AGE_MS: DAY_MS }).MAX_EVENT_AGE_MS).toBe(DAY_MS);
  });

  it('should answer out-of-range and malformed cursors and times of every connection with BAD_USER_INPUT', async () => {
    const beyondBigint = (2n ** 63n).toString();
    const cases: [string, Record<string, unknown>][] = [
      [
        'query($after: String) { events(after: $after) { edges { cursor } } }',
        { after: encodeCursor(`1:${beyondBigint}`) },
      ],
      [
        'query($after: String) { events(after: $after) { edges { cursor } } }',
        { after: encodeCursor('-99999999999999:1') },
      ],
      [
        'query($after: String) { events(after: $after) { edges { cursor } } }',
        { after: encodeCursor('999999999999999:1') },
      ],
      ['query($after: String) { events(after: $after) { edges { cursor } } }', { after: 'not-a-cursor' }],
      ['query($after: String) { alerts(after: $after) { edges { cursor } } }', { after: encodeCursor(beyondBigint) }],
      ['query($after: String) { alerts(after: $after) { edges { cursor } } }', { after: encodeCursor('1:1') }],
      ['query($t: DateTime) { events(since: $t) { edges { cursor } } }', { t: '0000-06-01T00:00:00Z' }],
      ['query($t: DateTime) { events(until: $t) { edges { cursor } } }', { t: '0000-06-01T00:00:00Z' }],
    ];
    for (const [query, variables] of cases) {
      const result = await gql(server.url, query, variables, server.adminKey);
      expect(result.errors?.[0]?.extensions?.code, `${query} ${JSON.stringify(variables)}`).toBe('BAD_USER_INPUT');
    }
  });
});
