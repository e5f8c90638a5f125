// The event pipeline end to end over real HTTP and graphql-ws, on real Postgres (this file's own database).
import { randomUUID } from 'node:crypto';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventHistoryQuery, PublishEventInput } from '../generated/graphql.js';
import { graphql } from '../generated/index.js';
import {
  eventually,
  gql,
  gqlOk,
  startServer,
  subscribe,
  subscribersJoined,
  type TestServer,
  wsClient,
} from '../helpers/app.js';
import {
  CREATE_API_KEY,
  EVENT_PUBLISHED,
  PUBLISH_EVENT as PUBLISH,
  PUBLISH_EVENTS as PUBLISH_MANY,
} from '../helpers/operations.js';
import { createTestDatabase, type TestDatabase } from '../helpers/services.js';

const HISTORY = graphql(`
  query EventHistory($first: Int, $after: String, $types: [EventType!], $since: DateTime, $until: DateTime) {
    events(first: $first, after: $after, types: $types, since: $since, until: $until) {
      edges {
        cursor
        node {
          id
          type
          timestamp
          data
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);
const EVENT = graphql(`
  query Event($id: ID!) {
    event(id: $id) {
      id
      data
    }
  }
`);

let database: TestDatabase;
let server: TestServer;
let publisherKey: string;
let viewerKey: string;

beforeAll(async () => {
  database = await createTestDatabase();
  server = await startServer({ databaseUrl: database.url });
  const make = (role: 'PUBLISHER' | 'VIEWER') =>
    gqlOk(server.url, CREATE_API_KEY, { name: `test ${role}`, role }, server.adminKey);
  publisherKey = (await make('PUBLISHER')).createApiKey.key;
  viewerKey = (await make('VIEWER')).createApiKey.key;
});

afterAll(async () => {
  await server?.stop();
  await database?.drop();
});

const countEvents = async (ids: string[]) => (await server.app.services.events.findByIds(ids)).length;

describe('publishing and history', () => {
  it('should store a published event and return it from the history, newest first', async () => {
    const older = new Date(Date.now() - 60_000).toISOString();
    const a = await gqlOk(
      server.url,
      PUBLISH,
      { input: { type: 'COMPETITIVE_UPDATE', timestamp: older, data: { metrics: { parity: 0.9 } } } },
      publisherKey,
    );
    const b = await gqlOk(
      server.url,
      PUBLISH,
      { input: { type: 'COMPETITIVE_UPDATE', data: { metrics: { parity: 0 } } } },
      publisherKey,
    );
    expect(a.publishEvent).toMatchObject({
      type: 'COMPETITIVE_UPDATE',
      timestamp: older,
      data: { metrics: { parity: 0.9 } },
    });
    expect(Date.parse(b.publishEvent.receivedAt)).toBeGreaterThan(Date.now() - 10_000);
    const history = await gqlOk(server.url, HISTORY, { first: 2, types: ['COMPETITIVE_UPDATE'] }, viewerKey);
    expect(history.events.edges.map((e) => e.node.id)).toEqual([b.publishEvent.id, a.publishEvent.id]);
    const one = await gqlOk(server.url, EVENT, { id: a.publishEvent.id }, viewerKey);
    expect(one.event).toEqual({ id: a.publishEvent.id, data: { metrics: { parity: 0.9 } } });
    const missing = await gqlOk(server.url, EVENT, { id: randomUUID() }, viewerKey);
    expect(missing.event).toBeNull();
  });

  it('should reject a batch with one bad event whole, naming its index, and store nothing of it', async () => {
    const good = { id: randomUUID(), type: 'ANOMALY_DETECTED' as const, data: {} };
    const cases: { input: PublishEventInput; says: string }[] = [
      { input: { id: randomUUID(), type: 'ANOMALY_DETECTED', data: [1, 2] }, says: 'data must be a JSON object' },
      {
        input: {
          id: randomUUID(),
          type: 'ANOMALY_DETECTED',
          data: {},
          timestamp: new Date(Date.now() + 10 * 60_000).toISOString(),
        },
        says: 'in the future',
      },
      { input: { id: 'not-a-uuid', type: 'ANOMALY_DETECTED', data: {} }, says: 'is not a UUID' },
      { input: { id: randomUUID(), type: 'ANOMALY_DETECTED', data: { s: 'a\u0000b' } }, says: 'NUL character' },
      // A valid RFC 3339 date, but year 0 could be stored and not read back.
      {
        input: { id: randomUUID(), type: 'ANOMALY_DETECTED', data: {}, timestamp: '0000-01-01T00:00:00Z' },
        says: 'outside the years 1 to 9999',
      },
    ];
    for (const { input, says } of cases) {
      const result = await gql(server.url, PUBLISH_MANY, { inputs: [good, good, input] }, publisherKey);
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(result.errors?.[0]?.message).toContain('event 2');
      expect(result.errors?.[0]?.message).toContain(says);
    }
    expect(await countEvents([good.id])).toBe(0);
    // A type the schema does not have: sent as a string, since the typed document would not take it.
    const unknownType = await gql(
      server.url,
      print(PUBLISH_MANY),
      { inputs: [{ type: 'NOPE', data: {} }] },
      publisherKey,
    );
    expect(unknownType.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('should reject a batch larger than the configured maximum', async () => {
    const inputs = Array.from({ length: 1001 }, () => ({ type: 'ANOMALY_DETECTED' as const, data: {} }));
    const result = await gql(server.url, PUBLISH_MANY, { inputs }, publisherKey);
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toContain('at most 1000');
  });

  it('should treat a repeated id as a duplicate: stored once, broadcast once', async () => {
    const client = wsClient(server.wsUrl, viewerKey);
    const subscribed = subscribersJoined(server);
    const sub = subscribe(client, EVENT_PUBLISHED, { types: ['INSIGHT_GENERATED'] });
    await subscribed;
    const id = randomUUID();
    const input = { id, type: 'INSIGHT_GENERATED' as const, data: { n: 1 } };
    const first = await gqlOk(server.url, PUBLISH_MANY, { inputs: [input, input] }, publisherKey);
    const second = await gqlOk(server.url, PUBLISH_MANY, { inputs: [input] }, publisherKey);
    expect(first.publishEvents).toEqual({ accepted: 1, duplicates: 1, ids: [id, id] });
    expect(second.publishEvents).toEqual({ accepted: 0, duplicates: 1, ids: [id] });
    const marker = await gqlOk(
      server.url,
      PUBLISH,
      { input: { type: 'INSIGHT_GENERATED', data: { marker: true } } },
      publisherKey,
    );
    await sub.until((received) => received.some((r) => r.eventPublished.id === marker.publishEvent.id));
    expect(sub.received.filter((r) => r.eventPublished.id === id)).toHaveLength(1);
    expect(await countEvents([id])).toBe(1);
    sub.dispose();
    await client.dispose();
  });

  it('should page without duplicates or gaps while new events arrive', async () => {
    // A week ago, on a whole second: within MAX_EVENT_AGE_MS, and before anything else the test publishes.
    const base = Math.floor((Date.now() - 7 * 24 * 3_600_000) / 1_000) * 1_000;
    const inputs = Array.from({ length: 30 }, (_, i) => ({
      type: 'PERFORMANCE_METRIC' as const,
      timestamp: new Date(base + Math.floor(i / 3) * 1000).toISOString(), // ties on timestamp too
      data: { metric_name: 'paging', value: i },
    }));
    const { publishEvents } = await gqlOk(server.url, PUBLISH_MANY, { inputs }, publisherKey);
    const expected = new Set<string>(publishEvents.ids);
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 20; page++) {
      const result: EventHistoryQuery = await gqlOk(
        server.url,
        HISTORY,
        { first: 4, after, types: ['PERFORMANCE_METRIC'], until: new Date(base + 3_600_000).toISOString() },
        viewerKey,
      );
      seen.push(...result.events.edges.map((e) => e.node.id));
      // New events, both newer and within the range already paged, arrive between pages.
      await gqlOk(
        server.url,
        PUBLISH_MANY,
        {
          inputs: [
            { type: 'PERFORMANCE_METRIC', data: { metric_name: 'paging', value: -1 } },
            {
              type: 'PERFORMANCE_METRIC',
              timestamp: new Date(base + 9_500).toISOString(),
              data: { metric_name: 'paging', value: -2 },
            },
          ],
        },
        publisherKey,
      );
      if (!result.events.pageInfo.hasNextPage) break;
      after = result.events.pageInfo.endCursor;
    }
    const original = seen.filter((id) => expected.has(id));
    expect(new Set(seen).size).toBe(seen.length);
    expect(original).toEqual(publishEvents.ids.slice().reverse());
  });

  it('should reject a cursor it did not give out and a page size out of range', async () => {
    const bad = await gql(server.url, HISTORY, { first: 5, after: 'garbage' }, viewerKey);
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const big = await gql(server.url, HISTORY, { first: 100_000 }, viewerKey);
    expect(big.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('subscriptions over graphql-ws', () => {
  it('should push a published event to a subscriber filtering by type, and not others', async () => {
    const client = wsClient(server.wsUrl, viewerKey);
    const subscribed = subscribersJoined(server);
    const sub = subscribe(client, EVENT_PUBLISHED, { types: ['BENCHMARK_COMPLETED'] });
    await subscribed;
    const { publishEvents } = await gqlOk(
      server.url,
      PUBLISH_MANY,
      {
        inputs: [
          { type: 'ANOMALY_DETECTED', data: {} },
          { type: 'BENCHMARK_COMPLETED', data: { metrics: { score: 1 } } },
        ],
      },
      publisherKey,
    );
    // Published after the one it filters out: its arrival means the other was not sent.
    await sub.until((received) => received.some((r) => r.eventPublished.id === publishEvents.ids[1]));
    expect(sub.received.map((r) => r.eventPublished)).toEqual([
      {
        id: publishEvents.ids[1],
        type: 'BENCHMARK_COMPLETED',
        receivedAt: expect.any(String),
        data: { metrics: { score: 1 } },
      },
    ]);
    sub.dispose();
    await client.dispose();
  });
});

describe('bursts', () => {
  it('should deliver every event of concurrent full batches to an unfiltered subscriber that keeps up', async () => {
    const client = wsClient(server.wsUrl, viewerKey);
    const subscribed = subscribersJoined(server);
    const sub = subscribe(client, EVENT_PUBLISHED);
    await subscribed;
    const batch = () =>
      Array.from({ length: 1000 }, (_, i) => ({
        type: 'PERFORMANCE_METRIC' as const,
        data: { metric_name: 'burst', value: i },
      }));
    const results = await Promise.all(
      [1, 2, 3].map(() => gqlOk(server.url, PUBLISH_MANY, { inputs: batch() }, publisherKey)),
    );
    const ids = new Set(results.flatMap((r) => r.publishEvents.ids));
    await sub.until((received) => {
      if (received.length < ids.size) return false;
      const got = new Set(received.map((r) => r.eventPublished.id));
      return [...ids].every((id) => got.has(id));
    }, 45_000); // 3,000 events through the processor and the socket: slow on a loaded machine
    expect(sub.errors).toEqual([]);
    sub.dispose();
    await client.dispose();
  });
});

describe('auth', () => {
  it('should refuse requests without a key, and publishing with a viewer key', async () => {
    const none = await gql(server.url, HISTORY, { first: 1 });
    expect(none.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const viewer = await gql(server.url, PUBLISH, { input: { type: 'ANOMALY_DETECTED', data: {} } }, viewerKey);
    expect(viewer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const unknown = await gql(server.url, HISTORY, { first: 1 }, 'jds_unknown');
    expect(unknown.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('should close a WebSocket with a missing or unknown key with 4403', async () => {
    for (const key of [null, 'jds_unknown']) {
      const client = wsClient(server.wsUrl, key);
      const sub = subscribe(client, EVENT_PUBLISHED);
      await sub.waitFor(1);
      expect(sub.completed).toBe(true);
      expect((sub.errors[0] as { code?: number }).code).toBe(4403);
      await client.dispose();
    }
  });
});

describe('health', () => {
  it('should report real checks of the database and the bus', async () => {
    const base = server.url.replace('/graphql', '');
    const health = await (await fetch(`${base}/health`)).json();
    expect(health.status).toBe('healthy');
    expect(health.checks.database.ok).toBe(true);
    expect(health.checks.bus.ok).toBe(true);
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    const client = wsClient(server.wsUrl, viewerKey);
    const sub = subscribe(client, EVENT_PUBLISHED);
    // Polled: the server counts a socket out on its own 'close' event, which the earlier tests' clients cannot see.
    await eventually(async () => (await (await fetch(`${base}/health`)).json()).websocketConnections === 1);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('jackdaw_events_processed_total');
    expect(metrics).toMatch(/^jackdaw_websocket_connections 1$/m);
    // Counted by earlier tests of this file: publishes, a repeated id, refused bad batches.
    expect(metrics).toMatch(/^jackdaw_events_accepted_total [1-9]/m);
    expect(metrics).toMatch(/^jackdaw_events_duplicate_total [1-9]/m);
    expect(metrics).toMatch(/^jackdaw_events_rejected_total\{code="BAD_USER_INPUT"\} [1-9]/m);
    sub.dispose();
    await client.dispose();
  });
});
