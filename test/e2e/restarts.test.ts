// Aggregate state survives restarts: of every app instance (state stays in Redis), and of Redis itself (state is
// rebuilt from the event log in Postgres). Redis here is a private redis-server this file starts and kills.
import { afterAll, assert, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { eventually, gqlOk, processed, startServer, type TestServer } from '../helpers/app.js';
import { PUBLISH_EVENTS } from '../helpers/operations.js';
import { type OwnedService, startOwnedRedis } from '../helpers/owned-services.js';
import { createTestDatabase, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

let database: TestDatabase;
let redis: OwnedService;
const adminKey = `test-admin-${Date.now()}`;
const prefix = redisKeyPrefix();
const running: TestServer[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  redis = await startOwnedRedis();
});

afterAll(async () => {
  for (const server of running) await server.stop();
  await redis?.remove();
  await database?.drop();
});

async function start(): Promise<TestServer> {
  const server = await startServer({
    databaseUrl: database.url,
    redisKeyPrefix: prefix,
    redisUrl: redis.url,
    adminKey,
  });
  running.push(server);
  return server;
}

async function stop(server: TestServer): Promise<void> {
  await server.stop();
  running.splice(running.indexOf(server), 1);
}

const SNAPSHOT = graphql(`
  query AggregateSnapshot {
    aggregates(metrics: ["restart_a", "restart_b", "anomaly_count"], windows: [M1, M15, H24]) {
      ...AggregateStats
    }
    metricNames
  }
`);

describe('restarts', () => {
  it('should keep every aggregate across a restart of all instances and of Redis', async () => {
    const [one, two] = [await start(), await start()];
    const inputs = Array.from({ length: 300 }, (_, i) => ({
      type: i % 10 === 0 ? ('ANOMALY_DETECTED' as const) : ('PERFORMANCE_METRIC' as const),
      timestamp: new Date(Date.now() - (i % 50) * 10_000).toISOString(),
      data: { metric_name: i % 2 ? 'restart_a' : 'restart_b', value: (i * 37) % 101 },
    }));
    await gqlOk(one.url, PUBLISH_EVENTS, { inputs }, adminKey);
    await processed(one, two);
    const before = await gqlOk(one.url, SNAPSHOT, {}, adminKey);
    const restartA = before.aggregates.find((a) => a.metric === 'restart_a' && a.window === 'H24');
    assert.exists(restartA);
    expect(restartA.count).toBe(150);

    // Every app instance restarts.
    await stop(one);
    await stop(two);
    const three = await start();
    expect(await gqlOk(three.url, SNAPSHOT, {}, adminKey)).toEqual(before);

    // Redis restarts empty; the stream processor rebuilds the last 24 h from Postgres.
    await redis.stop();
    await redis.start();
    // Polled: with nothing in the outbox, the rebuild starts on the processor's own poll once its client reconnects.
    const rebuilt = await eventually(
      async () => {
        const now = await gqlOk(three.url, SNAPSHOT, {}, adminKey);
        return JSON.stringify(now) === JSON.stringify(before) ? now : null;
      },
      30_000, // Redis's reconnection, then the rebuild from Postgres: slow on a loaded machine
      200,
    );
    expect(rebuilt).toEqual(before);
  }, 120_000);
});
