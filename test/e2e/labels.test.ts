// Labels, group-by, series and per-subscription rates end to end: two instances on one Postgres and one Redis.

import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PublishEventInput } from '../generated/graphql.js';
import { graphql } from '../generated/index.js';
import {
  eventually,
  gql,
  gqlOk,
  processed,
  startServer,
  subscribe,
  type TestServer,
  wsClient,
} from '../helpers/app.js';
import { CREATE_API_KEY, PUBLISH_EVENTS } from '../helpers/operations.js';
import { isMessage, openRaw } from '../helpers/raw-ws.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

let database: TestDatabase;
const prefix = redisKeyPrefix();
let one: TestServer;
let two: TestServer;
const adminKey = `test-admin-${Date.now()}`;
const MAX_NEW_SERIES_PER_MINUTE = 40;

beforeAll(async () => {
  database = await createTestDatabase();
  const config = {
    MAX_NEW_SERIES_PER_MINUTE,
    MAX_LABELS_PER_EVENT: 3,
    MAX_LABEL_VALUE_LENGTH: 16,
    MAX_LABEL_SETS_PER_READ: MAX_NEW_SERIES_PER_MINUTE - 10,
  };
  one = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, adminKey, config });
  two = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, adminKey, config });
});

afterAll(async () => {
  await one?.stop();
  await two?.stop();
  await database?.drop();
  await deleteRedisKeys(prefix);
});

const latency = (value: number, labels?: Record<string, unknown>): PublishEventInput => ({
  type: 'PERFORMANCE_METRIC',
  data: { metric_name: 'lbl_latency', value, ...(labels ? { labels } : {}) },
});
const publish = (server: TestServer, inputs: PublishEventInput[], key = adminKey) =>
  gql(server.url, PUBLISH_EVENTS, { inputs }, key);

const AGGREGATE_LABELLED = graphql(`
  query AggregateLabelled($metric: String!, $labels: [LabelMatcher!]) {
    aggregate(metric: $metric, window: M5, labels: $labels) {
      metric
      labels {
        name
        value
      }
      count
      sum
      min
      max
      p50
      p99
    }
  }
`);

const GROUPS = graphql(`
  query AggregateGroups($metric: String!, $by: [String!]!, $labels: [LabelMatcher!], $orderBy: Aggregation, $first: Int) {
    aggregateGroups(metric: $metric, window: M5, by: $by, labels: $labels, orderBy: $orderBy, first: $first) {
      labels {
        name
        value
      }
      count
      sum
      max
    }
  }
`);

const LABEL_LISTS = graphql(`
  query LabelLists($metric: String!) {
    metricLabels(metric: $metric)
    regions: metricLabelValues(metric: $metric, label: "region")
    firstHost: metricLabelValues(metric: $metric, label: "host", first: 1)
  }
`);

const SERIES = graphql(`
  query Series($metric: String!, $labels: [LabelMatcher!]) {
    metricSeries(metric: $metric, window: M5, labels: $labels) {
      metric
      window
      labels {
        name
        value
      }
      stepSeconds
      points {
        at
        count
        sum
        min
        max
        avg
        p50
        p95
        p99
      }
    }
  }
`);

const eu = [{ name: 'region', value: 'eu' }];

describe('labels', () => {
  beforeAll(async () => {
    const inputs = [
      latency(10, { region: 'eu', host: 'a' }),
      latency(20, { region: 'eu', host: 'b' }),
      latency(30, { region: 'eu', host: 'b' }),
      latency(100, { region: 'us', host: 'c' }),
      latency(5),
    ];
    const { errors } = await publish(one, inputs);
    expect(errors).toBeUndefined();
    await processed(one, two);
  });

  it('should keep the total, and each label set and merges of sets, identically on both instances', async () => {
    for (const server of [one, two]) {
      const total = await gqlOk(server.url, AGGREGATE_LABELLED, { metric: 'lbl_latency' }, adminKey);
      expect(total.aggregate).toMatchObject({ labels: [], count: 5, sum: 165 });
      const merged = await gqlOk(server.url, AGGREGATE_LABELLED, { metric: 'lbl_latency', labels: eu }, adminKey);
      expect(merged.aggregate).toMatchObject({ labels: eu, count: 3, sum: 60, min: 10, max: 30 });
      expect(merged.aggregate.p50).toBeCloseTo(20, -0.5);
      const exact = await gqlOk(
        server.url,
        AGGREGATE_LABELLED,
        { metric: 'lbl_latency', labels: [...eu, { name: 'host', value: 'b' }] },
        adminKey,
      );
      expect(exact.aggregate).toMatchObject({
        labels: [
          { name: 'host', value: 'b' },
          { name: 'region', value: 'eu' },
        ],
        count: 2,
        sum: 50,
      });
    }
  });

  it('should group by a label, top first, and list label names and values', async () => {
    const answers = await Promise.all(
      [one, two].map((server) =>
        gqlOk(server.url, GROUPS, { metric: 'lbl_latency', by: ['region'], orderBy: 'SUM' }, adminKey),
      ),
    );
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]?.aggregateGroups).toEqual([
      { labels: [{ name: 'region', value: 'us' }], count: 1, sum: 100, max: 100 },
      { labels: eu, count: 3, sum: 60, max: 30 },
    ]);
    const hosts = await gqlOk(one.url, GROUPS, { metric: 'lbl_latency', by: ['host'], labels: eu, first: 1 }, adminKey);
    expect(hosts.aggregateGroups).toEqual([
      {
        labels: [
          { name: 'host', value: 'b' },
          { name: 'region', value: 'eu' },
        ],
        count: 2,
        sum: 50,
        max: 30,
      },
    ]);
    const lists = await gqlOk(two.url, LABEL_LISTS, { metric: 'lbl_latency' }, adminKey);
    expect(lists).toEqual({ metricLabels: ['host', 'region'], regions: ['eu', 'us'], firstHost: ['a'] });
  });

  it("should answer a window's 60 points, identically on both instances", async () => {
    const [a, b] = await Promise.all(
      [one, two].map((server) => gqlOk(server.url, SERIES, { metric: 'lbl_latency', labels: eu }, adminKey)),
    );
    expect(a).toEqual(b);
    const series = a?.metricSeries;
    expect(series).toMatchObject({ metric: 'lbl_latency', window: 'M5', labels: eu, stepSeconds: 5 });
    expect(series?.points).toHaveLength(60);
    const times = series?.points.map((p) => Date.parse(p.at)) ?? [];
    expect(times.slice(1).map((t, i) => t - (times[i] as number))).toEqual(Array(59).fill(5_000));
    expect(series?.points.reduce((n, p) => n + p.count, 0)).toBe(3);
  });

  it('should refuse bad labels at publish, naming them, and store nothing of the batch', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ region: 7 }, 'data.labels.region'],
      [{ 'bad name': 'x' }, 'is not a label name'],
      [{ a: '1', b: '2', c: '3', d: '4' }, 'more than the limit of 3'],
      [{ region: 'x'.repeat(17) }, 'more than 16'],
      [{ region: 'eu,host=a' }, 'may hold only'],
    ];
    for (const [labels, message] of cases) {
      const { errors } = await publish(one, [latency(1, { region: 'eu' }), latency(1, labels)]);
      expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(errors?.[0]?.message).toContain(message);
    }
    await processed(one, two);
    const merged = await gqlOk(one.url, AGGREGATE_LABELLED, { metric: 'lbl_latency', labels: eu }, adminKey);
    expect(merged.aggregate.count).toBe(3);
  });

  it('should refuse bad matchers and group-by names with BAD_USER_INPUT', async () => {
    const bad = [
      gql(one.url, AGGREGATE_LABELLED, { metric: 'lbl_latency', labels: [{ name: 'a b', value: 'x' }] }, adminKey),
      gql(one.url, AGGREGATE_LABELLED, { metric: 'lbl_latency', labels: [...eu, ...eu] }, adminKey),
      gql(one.url, GROUPS, { metric: 'lbl_latency', by: [] }, adminKey),
      gql(one.url, GROUPS, { metric: 'lbl_latency', by: ['region'], labels: eu }, adminKey),
      gql(one.url, GROUPS, { metric: 'lbl_latency', by: ['region'], first: 0 }, adminKey),
      gql(one.url, SERIES, { metric: 'not a metric' }, adminKey),
    ];
    for (const { errors } of await Promise.all(bad)) expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('should count each new label set as a series against MAX_NEW_SERIES_PER_MINUTE', async () => {
    const { createApiKey } = await gqlOk(
      one.url,
      CREATE_API_KEY,
      { name: 'labels-budget', role: 'PUBLISHER' },
      adminKey,
    );
    const inputs = Array.from({ length: MAX_NEW_SERIES_PER_MINUTE + 1 }, (_, i) =>
      latency(1, { tenant: `t${i}`, kind: 'flood' }),
    );
    const { errors } = await publish(one, inputs, createApiKey.key);
    expect(errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'MAX_NEW_SERIES_PER_MINUTE' });
    const { errors: fits } = await publish(one, inputs.slice(0, MAX_NEW_SERIES_PER_MINUTE - 1), createApiKey.key);
    expect(fits).toBeUndefined();
    await processed(one, two);
    // Those sets are more than one read may merge (MAX_LABEL_SETS_PER_READ): refused, on a query and a subscription.
    const flood = [{ name: 'kind', value: 'flood' }];
    const read = await gql(two.url, AGGREGATE_LABELLED, { metric: 'lbl_latency', labels: flood }, adminKey);
    expect(read.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'MAX_LABEL_SETS_PER_READ' });
    const client = wsClient(one.wsUrl, adminKey);
    const sub = subscribe(client, SERIES_UPDATED, { metric: 'lbl_latency', labels: flood });
    await sub.until(() => sub.errors.length > 0);
    expect(JSON.stringify(sub.errors)).toContain('MAX_LABEL_SETS_PER_READ');
    sub.dispose();
    await client.dispose();
  });

  it('should charge group-by and series reads to the read budgets', async () => {
    const groups = await gql(one.url, GROUPS, { metric: 'lbl_latency', by: ['region'], first: 501 }, adminKey);
    expect(groups.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'MAX_AGGREGATE_PAIRS' });
    // Two full pages of label values are the whole row budget (2,000): a series' 60 points go past it.
    const pages = `a: metricLabelValues(metric: "m", label: "l", first: 1000) b: metricLabelValues(metric: "m", label: "l", first: 1000)`;
    const fits = await gql(one.url, `{ ${pages} }`, {}, adminKey);
    expect(fits.errors).toBeUndefined();
    const series = await gql(
      one.url,
      `{ ${pages} s: metricSeries(metric: "m", window: M1) { stepSeconds } }`,
      {},
      adminKey,
    );
    expect(series.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'MAX_ROWS_PER_REQUEST' });
  });
});

const METRIC_UPDATED = graphql(`
  subscription LabelledMetricUpdated($metric: String!, $labels: [LabelMatcher!], $minIntervalMs: Int) {
    metricUpdated(metric: $metric, window: M5, labels: $labels, minIntervalMs: $minIntervalMs) {
      labels {
        name
        value
      }
      count
      sum
    }
  }
`);

const SERIES_UPDATED = graphql(`
  subscription SeriesUpdated($metric: String!, $labels: [LabelMatcher!], $minIntervalMs: Int) {
    metricSeriesUpdated(metric: $metric, window: M5, labels: $labels, minIntervalMs: $minIntervalMs) {
      series {
        stepSeconds
        labels {
          name
          value
        }
        points {
          at
          count
          sum
          max
        }
      }
      changed {
        at
        count
        sum
        max
      }
    }
  }
`);

type Point = { at: string; count: number; sum: number; max: number | null };

/** What a chart holds after applying the messages: the series, each changed point in place, the newest 60. */
function chart(messages: { metricSeriesUpdated: { series: { points: Point[] } | null; changed: Point[] } }[]) {
  const points = new Map<string, Point>();
  for (const { metricSeriesUpdated: update } of messages) {
    if (update.series) {
      points.clear();
      for (const point of update.series.points) points.set(point.at, point);
    }
    for (const point of update.changed) points.set(point.at, point);
  }
  return [...points.values()].sort((a, b) => Date.parse(a.at) - Date.parse(b.at)).slice(-60);
}

describe('live labelled views', () => {
  it('should end a live view with BAD_USER_INPUT once its matchers select more sets than one read may merge', async () => {
    const { createApiKey } = await gqlOk(one.url, CREATE_API_KEY, { name: 'labels-grow', role: 'PUBLISHER' }, adminKey);
    const grow = (tenants: number, from = 0) =>
      Array.from({ length: tenants }, (_, i) => ({
        type: 'PERFORMANCE_METRIC' as const,
        data: { metric_name: 'lbl_grow', value: 1, labels: { kind: 'grow', tenant: `g${from + i}` } },
      }));
    expect((await publish(one, grow(2), createApiKey.key)).errors).toBeUndefined();
    await processed(one, two);
    const client = wsClient(one.wsUrl, adminKey);
    const matchers = [{ name: 'kind', value: 'grow' }];
    const view = subscribe(client, METRIC_UPDATED, { metric: 'lbl_grow', labels: matchers });
    expect((await view.result(0)).metricUpdated.count).toBe(2);
    // More sets than MAX_LABEL_SETS_PER_READ appear after it subscribed: it is told, not left silent.
    expect((await publish(one, grow(MAX_NEW_SERIES_PER_MINUTE - 5, 2), createApiKey.key)).errors).toBeUndefined();
    await processed(one, two);
    await view.until(() => view.errors.length > 0);
    expect(JSON.stringify(view.errors)).toContain('BAD_USER_INPUT');
    expect(JSON.stringify(view.errors)).toContain('MAX_LABEL_SETS_PER_READ');
    view.dispose();
    await client.dispose();
  });

  it('should push a label set of a metric, and at most once per minIntervalMs asked for', async () => {
    const client = wsClient(one.wsUrl, adminKey);
    const labels = [{ name: 'region', value: 'live' }];
    const slow = subscribe(client, METRIC_UPDATED, { metric: 'lbl_live', labels, minIntervalMs: 1_200 });
    const first = await slow.result(0);
    expect(first.metricUpdated).toEqual({ labels, count: 0, sum: 0 });
    const times: number[] = [];
    const recorder = setInterval(() => {
      while (times.length < slow.received.length) times.push(Date.now());
    }, 5);
    try {
      for (let i = 1; i <= 8; i++) {
        await publish(two, [
          {
            type: 'PERFORMANCE_METRIC',
            data: { metric_name: 'lbl_live', value: i, labels: { region: 'live' } },
          },
          { type: 'PERFORMANCE_METRIC', data: { metric_name: 'lbl_live', value: 1_000, labels: { region: 'other' } } },
        ]);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      await processed(one, two);
      await slow.until((received) => received.at(-1)?.metricUpdated.count === 8);
    } finally {
      clearInterval(recorder);
    }
    expect(slow.received.at(-1)?.metricUpdated).toEqual({ labels, count: 8, sum: 36 });
    // 8 publishes over 2.4 s at 300 ms apart: the server's 250 ms would allow a message each; 1.2 s allows about 3.
    expect(slow.received.length).toBeLessThanOrEqual(5);
    for (let i = 2; i < times.length; i++)
      expect((times[i] as number) - (times[i - 1] as number)).toBeGreaterThan(1_000);
    slow.dispose();
    await client.dispose();
  });

  it('should refuse a minIntervalMs outside 0 to MAX_SUBSCRIPTION_INTERVAL_MS', async () => {
    const client = wsClient(one.wsUrl, adminKey);
    for (const minIntervalMs of [-1, 3_600_001]) {
      const sub = subscribe(client, SERIES_UPDATED, { metric: 'lbl_latency', minIntervalMs });
      await sub.until(() => sub.errors.length > 0);
      expect(JSON.stringify(sub.errors)).toContain('MAX_SUBSCRIPTION_INTERVAL_MS');
      sub.dispose();
    }
    await client.dispose();
  });

  it('should send the whole series first, then changed points that keep a chart equal to the series on both instances', async () => {
    const clients = [wsClient(one.wsUrl, adminKey), wsClient(two.wsUrl, adminKey)];
    const labels = [{ name: 'region', value: 'chart' }];
    const subs = clients.map((client) => subscribe(client, SERIES_UPDATED, { metric: 'lbl_chart', labels }));
    for (const sub of subs) {
      const first = (await sub.result(0)).metricSeriesUpdated;
      expect(first.series?.points).toHaveLength(60);
      expect(first.series?.labels).toEqual(labels);
      expect(first.changed).toEqual([]);
    }
    for (let i = 1; i <= 4; i++) {
      await publish(one, [
        { type: 'PERFORMANCE_METRIC', data: { metric_name: 'lbl_chart', value: i * 10, labels: { region: 'chart' } } },
      ]);
      await processed(one, two);
      for (const sub of subs) {
        await sub.until((received) => chart(received).reduce((n, p) => n + p.count, 0) === i);
      }
    }
    const [query] = await Promise.all([gqlOk(one.url, SERIES, { metric: 'lbl_chart', labels }, adminKey)]);
    const expected = query.metricSeries.points.map(({ at, count, sum, max }) => ({ at, count, sum, max }));
    for (const sub of subs) {
      const later = sub.received.slice(1).map((m) => m.metricSeriesUpdated);
      expect(later.length).toBeGreaterThan(0);
      for (const update of later) expect(update.series === null || update.changed.length === 0).toBe(true);
      // The window may have slid a bucket between the query and the last message: compare the points both hold.
      const held = new Map(chart(sub.received).map((p) => [p.at, p]));
      const common = expected.filter((p) => held.has(p.at));
      expect(common.length).toBeGreaterThanOrEqual(59);
      for (const point of common) expect(held.get(point.at)).toEqual(point);
      sub.dispose();
    }
    await Promise.all(clients.map((client) => client.dispose()));
  });
});

describe('a series subscriber whose socket backs up', () => {
  it('should get the whole series again after an update was coalesced, so its chart ends right', async () => {
    const server = await startServer({
      databaseUrl: database.url,
      redisKeyPrefix: prefix,
      adminKey,
      config: { METRIC_UPDATE_MIN_INTERVAL_MS: 50, WS_MAX_BUFFERED_BYTES: 64 * 1024 * 1024 },
    });
    const socket = await openRaw(server.wsUrl, { authorization: `Bearer ${adminKey}` });
    try {
      const labels = [{ name: 'region', value: 'gap' }];
      socket.send({
        id: 'chart',
        type: 'subscribe',
        payload: { query: print(SERIES_UPDATED), variables: { metric: 'lbl_gap', labels } },
      });
      await socket.waitFor(isMessage('next', (m) => m.id === 'chart'));
      // 6 MB of history, read as one message the client does not take: the socket stays backed up meanwhile.
      const pad = 'p'.repeat(60_000);
      for (let b = 0; b < 10; b++) {
        const inputs = Array.from({ length: 10 }, () => ({ type: 'INSIGHT_GENERATED' as const, data: { pad } }));
        await gqlOk(server.url, PUBLISH_EVENTS, { inputs }, adminKey);
      }
      socket.pause();
      socket.send({
        id: 'history',
        type: 'subscribe',
        payload: { query: '{ events(first: 100) { edges { node { data } } } }' },
      });
      const rounds = 5;
      for (let i = 1; i <= rounds; i++) {
        await publish(server, [
          {
            type: 'PERFORMANCE_METRIC',
            // Each in a point of its own (5 s apart): an update dropped would leave its point wrong.
            timestamp: new Date(Date.now() - (rounds - i + 1) * 5_000).toISOString(),
            data: { metric_name: 'lbl_gap', value: i, labels: { region: 'gap' } },
          },
        ]);
        await processed(server, one, two);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      socket.resume();
      const updates = () =>
        socket.messages
          .filter((m) => m.type === 'next' && m.id === 'chart')
          .map((m) => (m as { payload: { data: unknown } }).payload.data as Parameters<typeof chart>[0][number]);
      await eventually(() => chart(updates()).reduce((n, p) => n + p.count, 0) === rounds, 30_000);
      expect(socket.messages.some((m) => m.type === 'next' && m.id === 'history')).toBe(true);
      // Whole series after the first: only ever sent in place of a dropped update.
      const later = updates().slice(1);
      expect(later.some((u) => u.metricSeriesUpdated.series !== null)).toBe(true);
      expect(later.length).toBeLessThan(rounds);
      const query = await gqlOk(server.url, SERIES, { metric: 'lbl_gap', labels }, adminKey);
      const held = new Map(chart(updates()).map((p) => [p.at, p]));
      const expected = query.metricSeries.points.map(({ at, count, sum, max }) => ({ at, count, sum, max }));
      const common = expected.filter((p) => held.has(p.at));
      expect(common.length).toBeGreaterThanOrEqual(59);
      for (const point of common) expect(held.get(point.at)).toEqual(point);
    } finally {
      await socket.close();
      await server.stop();
    }
  }, 60_000);
});

describe('a late joiner of a shared series group', () => {
  it('should get the whole series first, never a diff', async () => {
    const labels = [{ name: 'region', value: 'late' }];
    const event = (value: number) => ({
      type: 'PERFORMANCE_METRIC' as const,
      data: { metric_name: 'lbl_late', value, labels: { region: 'late' } },
    });
    const early = wsClient(one.wsUrl, adminKey);
    const first = subscribe(early, SERIES_UPDATED, { metric: 'lbl_late', labels });
    await first.result(0);
    await publish(two, [event(1)]);
    await processed(one, two);
    // The group has sent a diff: a subscriber joining now shares it, and must still start from a whole series.
    await first.until((received) => received.length >= 2);
    const late = wsClient(one.wsUrl, adminKey);
    const second = subscribe(late, SERIES_UPDATED, { metric: 'lbl_late', labels });
    const joined = (await second.result(0)).metricSeriesUpdated;
    expect(joined.series?.points.reduce((n, p) => n + p.count, 0)).toBe(1);
    await publish(two, [event(2)]);
    await processed(one, two);
    await second.until((received) => chart(received).reduce((n, p) => n + p.count, 0) === 2);
    expect(chart(second.received)).toEqual(chart(first.received));
    for (const sub of [first, second]) sub.dispose();
    await Promise.all([early.dispose(), late.dispose()]);
  });
});

describe('the embedded mode (in-process store, no Redis)', () => {
  it('should keep labels, group them and answer series as the Redis store does', async () => {
    const embedded = await startServer({ adminKey });
    try {
      const { errors } = await publish(embedded, [
        latency(10, { region: 'eu', host: 'a' }),
        latency(30, { region: 'eu', host: 'b' }),
        latency(50, { region: 'us', host: 'c' }),
      ]);
      expect(errors).toBeUndefined();
      await processed(embedded);
      const groups = await gqlOk(embedded.url, GROUPS, { metric: 'lbl_latency', by: ['region'] }, adminKey);
      expect(groups.aggregateGroups).toEqual([
        { labels: eu, count: 2, sum: 40, max: 30 },
        { labels: [{ name: 'region', value: 'us' }], count: 1, sum: 50, max: 50 },
      ]);
      const lists = await gqlOk(embedded.url, LABEL_LISTS, { metric: 'lbl_latency' }, adminKey);
      expect(lists).toEqual({ metricLabels: ['host', 'region'], regions: ['eu', 'us'], firstHost: ['a'] });
      const series = await gqlOk(embedded.url, SERIES, { metric: 'lbl_latency', labels: eu }, adminKey);
      expect(series.metricSeries.points.reduce((n, p) => n + p.count, 0)).toBe(2);
    } finally {
      await embedded.stop();
    }
  }, 180_000); // PGlite starts slowly on a loaded machine
});
