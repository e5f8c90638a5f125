// Deployments on different databases sharing one Redis and one REDIS_KEY_PREFIX (the default one, say): each keeps
// its own aggregates, its own processor lease and its own broadcasts, whether the other database is a new one, a
// restored pg_dump of it, or another deployment altogether.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  gqlOk,
  startServer,
  subscribe,
  subscribersJoined,
  type TestServer,
  wsClient,
} from '../helpers/app.js';
import { AGGREGATE, EVENT_PUBLISHED, PUBLISH_EVENTS } from '../helpers/operations.js';
import {
  createTestDatabase,
  deleteRedisKeys,
  redisKeyPrefix,
  restoreDumpOf,
  type TestDatabase,
} from '../helpers/services.js';

const BATCH = 300;
const adminKey = `test-admin-${Date.now()}-shared-redis`;
const prefix = redisKeyPrefix();
const databases: TestDatabase[] = [];
const servers: TestServer[] = [];

afterAll(async () => {
  for (const server of servers) await server.stop();
  for (const database of databases) await database.drop();
  await deleteRedisKeys(prefix);
});

async function newDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase();
  databases.push(database);
  return database;
}

/** An instance on `database`, on the Redis prefix every instance of this file shares. */
async function instanceOn(database: TestDatabase): Promise<TestServer> {
  const server = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, adminKey });
  servers.push(server);
  return server;
}

async function stop(server: TestServer): Promise<void> {
  servers.splice(servers.indexOf(server), 1);
  await server.stop();
}

async function publish(server: TestServer, metric: string, count = BATCH): Promise<string[]> {
  const inputs = Array.from({ length: count }, (_, i) => ({
    type: 'PERFORMANCE_METRIC' as const,
    data: { metric_name: metric, value: i },
  }));
  return (await gqlOk(server.url, PUBLISH_EVENTS, { inputs }, adminKey)).publishEvents.ids;
}

/**
 * Resolves once `server` has aggregated `count` events of `metric` and its outbox is empty: polled, as the processor
 * of each deployment works on its own clock (and, where deployments collide, never gets there).
 */
async function aggregated(server: TestServer, metric: string, count: number): Promise<void> {
  await eventually(
    async () => {
      const { aggregate } = await gqlOk(server.url, AGGREGATE, { metric, window: 'M5' }, adminKey);
      return aggregate.count === count && (await server.app.runtime.eventStore.outboxSize()) === 0;
    },
    25_000,
    100,
  );
}

describe('two databases, one Redis prefix', () => {
  it('should aggregate every event on a new database after another database used the prefix', async () => {
    const first = await instanceOn(await newDatabase());
    await publish(first, 'first_database');
    await aggregated(first, 'first_database', BATCH);
    await stop(first);

    const second = await instanceOn(await newDatabase());
    await publish(second, 'second_database');
    await aggregated(second, 'second_database', BATCH);
  }, 60_000);

  it('should aggregate everything on a database restored from a pg_dump and on its original, side by side', async () => {
    const originalDatabase = await newDatabase();
    const original = await instanceOn(originalDatabase);
    await publish(original, 'before_dump');
    await aggregated(original, 'before_dump', BATCH);
    const copyDatabase = await restoreDumpOf(originalDatabase);
    databases.push(copyDatabase);
    const copy = await instanceOn(copyDatabase);

    await publish(original, 'on_original');
    await publish(copy, 'on_copy');
    await aggregated(original, 'on_original', BATCH);
    await aggregated(copy, 'on_copy', BATCH);
    // Each counts what its own database holds, and nothing of the other's.
    for (const [server, own, other] of [
      [original, 'on_original', 'on_copy'],
      [copy, 'on_copy', 'on_original'],
    ] as const) {
      const counts = await Promise.all(
        ['before_dump', own, other].map(
          async (metric) => (await gqlOk(server.url, AGGREGATE, { metric, window: 'M5' }, adminKey)).aggregate.count,
        ),
      );
      expect(counts).toEqual([BATCH, BATCH, 0]);
    }
    await stop(copy);
    await stop(original);
  }, 60_000);
});

describe('two deployments sharing a Redis', () => {
  let one: TestServer;
  let two: TestServer;

  beforeAll(async () => {
    one = await instanceOn(await newDatabase());
    two = await instanceOn(await newDatabase());
  });

  it("should not deliver one deployment's events to the other's subscribers", async () => {
    const client = wsClient(two.wsUrl, adminKey);
    const joined = subscribersJoined(two);
    const sub = subscribe(client, EVENT_PUBLISHED, { types: ['PERFORMANCE_METRIC'] });
    await joined;
    const others = await publish(one, 'deployment_one', 20);
    await aggregated(one, 'deployment_one', 20); // broadcast before it was aggregated
    const own = await publish(two, 'deployment_two', 20);
    // Everything published before arrives before: once two's own events are in, one's would be too. (Any of one's
    // is enough to fail.)
    await sub.until((received) => {
      const ids = new Set(received.map((r) => r.eventPublished.id));
      return others.some((id) => ids.has(id)) || own.every((id) => ids.has(id));
    });
    const ids = sub.received.map((r) => r.eventPublished.id);
    expect(ids.filter((id) => others.includes(id))).toEqual([]);
    expect([...ids].sort()).toEqual([...own].sort()); // in broadcast order: per partition, not the batch's
    sub.dispose();
    await client.dispose();
  }, 60_000);

  it('should give each deployment a processor lease of its own', async () => {
    // Polled: each instance learns whether it holds its lease on its own next pass.
    await eventually(() => one.app.runtime.processor.isLeader && two.app.runtime.processor.isLeader);
    expect(one.app.runtime.redisKeyPrefix).not.toBe(two.app.runtime.redisKeyPrefix);
    expect(one.app.runtime.redisKeyPrefix.startsWith(prefix)).toBe(true);
  });
});
