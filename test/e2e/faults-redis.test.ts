// Redis dies under a running server (a redis-server this test owns, killed with SIGKILL and restarted empty):
// publishing still succeeds durably, and when Redis is back, broadcast and aggregation catch up from the outbox and
// the event log, with no acknowledged event missing from the aggregates.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, gql, gqlOk, startServer, subscribe, type TestServer, wsClient } from '../helpers/app.js';
import { type OwnedService, startOwnedRedis } from '../helpers/owned-services.js';
import { createTestDatabase, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

const PUBLISH_MANY = `mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { accepted ids } }`;
const AGGREGATE = `query($metric: String!) { aggregate(metric: $metric, window: M5) { count sum } }`;
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
  Array.from({ length: n }, () => ({ type: 'PERFORMANCE_METRIC', data: { metric_name: METRIC, value } }));

describe('Redis down', () => {
  it('should acknowledge events durably while Redis is down and catch up broadcast and aggregates when it returns', async () => {
    const client = wsClient(server.wsUrl, server.adminKey);
    const sub = subscribe(client, `subscription { eventPublished(types: [PERFORMANCE_METRIC]) { id } }`);
    const before: string[] = [];
    await eventually(
      async () => {
        before.push(
          ...(await gqlOk(server.url, PUBLISH_MANY, { inputs: batch(10, 1) }, server.adminKey)).publishEvents.ids,
        );
        return sub.received.length > 0;
      },
      10_000,
      300,
    );
    await eventually(
      async () =>
        (await gqlOk(server.url, AGGREGATE, { metric: METRIC }, server.adminKey)).aggregate.count === before.length,
    );

    await redis.stop();
    const base = server.url.replace('/graphql', '');
    await eventually(async () => (await fetch(`${base}/ready`)).status === 503);

    const during: string[] = [];
    for (let i = 0; i < 10; i++) {
      const result = await gql(server.url, PUBLISH_MANY, { inputs: batch(20, 2) }, server.adminKey);
      expect(result.errors).toBeUndefined();
      during.push(...result.data?.publishEvents.ids);
    }
    expect((await server.app.services.events.findByIds(during)).length).toBe(during.length);
    const health = await (await fetch(`${base}/health`)).json();
    expect(health.status).toBe('degraded');
    expect(health.checks.bus.ok).toBe(false);
    expect(health.checks.database.ok).toBe(true);

    await redis.start();
    await eventually(async () => (await fetch(`${base}/ready`)).status === 200, 20_000);
    const total = before.length + during.length;
    const aggregate = await eventually(
      async () => {
        const { aggregate } = await gqlOk(server.url, AGGREGATE, { metric: METRIC }, server.adminKey);
        return aggregate.count === total ? aggregate : null;
      },
      30_000,
      200,
    );
    expect(aggregate).toEqual({ count: total, sum: before.length * 1 + during.length * 2 });
    expect(await server.app.runtime.eventStore.outboxSize()).toBe(0);

    // The subscriber, whose bus connection came back too, receives what was published during the outage.
    const seen = () => new Set(sub.received.map((r: any) => r.eventPublished.id));
    await eventually(() => during.every((id) => seen().has(id)), 20_000);
    console.info('Redis outage', {
      acknowledgedBefore: before.length,
      acknowledgedDuring: during.length,
      aggregated: aggregate.count,
    });
    sub.dispose();
    await client.dispose();
  }, 90_000);
});
