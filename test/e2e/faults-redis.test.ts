// Redis dies under a running server (a redis-server this test owns, killed with SIGKILL and restarted empty):
// publishing still succeeds durably, and when Redis is back, broadcast and aggregation catch up from the outbox and
// the event log, with no acknowledged event missing from the aggregates.
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  gql,
  gqlOk,
  processed,
  startServer,
  subscribe,
  subscribersJoined,
  type TestServer,
  wsClient,
} from '../helpers/app.js';
import { AGGREGATE, EVENT_PUBLISHED, PUBLISH_EVENTS as PUBLISH_MANY } from '../helpers/operations.js';
import { type OwnedService, startOwnedRedis } from '../helpers/owned-services.js';
import { createTestDatabase, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

const METRIC = 'fault_redis_load';

let database: TestDatabase;
let redis: OwnedService;
let server: TestServer;

beforeAll(async () => {
  database = await createTestDatabase();
  redis = await startOwnedRedis();
  server = await startServer({ databaseUrl: database.url, redisUrl: redis.url, redisKeyPrefix: redisKeyPrefix() });
});

afterAll(async () => {
  await server?.stop();
  await redis?.remove();
  await database?.drop();
});

const batch = (n: number, value: number) =>
  Array.from({ length: n }, () => ({ type: 'PERFORMANCE_METRIC' as const, data: { metric_name: METRIC, value } }));
const aggregateOf = async (server: TestServer) =>
  (await gqlOk(server.url, AGGREGATE, { metric: METRIC, window: 'M5' }, server.adminKey)).aggregate;

describe('Redis down', () => {
  it('should acknowledge events durably while Redis is down and catch up broadcast and aggregates when it returns', async () => {
    const client = wsClient(server.wsUrl, server.adminKey);
    const subscribed = subscribersJoined(server);
    const sub = subscribe(client, EVENT_PUBLISHED, { types: ['PERFORMANCE_METRIC'] });
    await subscribed;
    const before = (await gqlOk(server.url, PUBLISH_MANY, { inputs: batch(10, 1) }, server.adminKey)).publishEvents.ids;
    await sub.waitFor(before.length);
    await processed(server);
    expect((await aggregateOf(server)).count).toBe(before.length);

    await redis.stop();
    const base = server.url.replace('/graphql', '');
    expect((await fetch(`${base}/ready`)).status).toBe(503);

    const during: string[] = [];
    for (let i = 0; i < 10; i++) {
      const result = await gql(server.url, PUBLISH_MANY, { inputs: batch(20, 2) }, server.adminKey);
      expect(result.errors).toBeUndefined();
      during.push(...(result.data?.publishEvents.ids ?? []));
    }
    expect((await server.app.services.events.findByIds(during)).length).toBe(during.length);
    const health = await (await fetch(`${base}/health`)).json();
    expect(health.status).toBe('degraded');
    expect(health.checks.bus.ok).toBe(false);
    expect(health.checks.database.ok).toBe(true);

    await redis.start();
    // Polled: the server learns that Redis is back only by trying it (and its clients reconnect on their own clock).
    await eventually(async () => (await fetch(`${base}/ready`)).status === 200, 30_000);
    const redisClient = server.app.runtime.redis;
    if (redisClient && redisClient.status !== 'ready') await once(redisClient, 'ready');
    await processed(server);
    const total = before.length + during.length;
    const aggregate = await aggregateOf(server);
    expect(aggregate).toMatchObject({ count: total, sum: before.length * 1 + during.length * 2 });
    expect(await server.app.runtime.eventStore.outboxSize()).toBe(0);

    // The subscriber, whose bus connection came back too, receives what was published during the outage.
    await sub.until((received) => {
      const seen = new Set(received.map((r) => r.eventPublished.id));
      return during.every((id) => seen.has(id));
    });
    console.info('Redis outage', {
      acknowledgedBefore: before.length,
      acknowledgedDuring: during.length,
      aggregated: aggregate.count,
    });
    sub.dispose();
    await client.dispose();
  }, 90_000);
});
