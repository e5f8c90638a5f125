// Several instances share the outbox's partitions under a publishing load: a second instance joins (the partitions are
// rebalanced), is killed with SIGKILL mid-pass (its partitions move to the survivor), a third joins and leaves
// cleanly. At every step no instance holds more than ⌈P/k⌉ partitions, and at the end every event published is in
// the aggregates exactly once.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaseKey } from '../../src/lease.js';
import { eventually, gql, gqlOk, processed, startServer, type TestServer } from '../helpers/app.js';
import { type ChildServer, startChildServer } from '../helpers/child-server.js';
import { AGGREGATE, PUBLISH_EVENTS } from '../helpers/operations.js';
import {
  createTestDatabase,
  deleteRedisKeys,
  REDIS_URL,
  redisKeyPrefix,
  type TestDatabase,
} from '../helpers/services.js';

const METRIC = 'partitions_load';
const PARTITIONS = 4;
const LEASE_MS = 1_500;
const adminKey = `test-admin-${Date.now()}-partitions`;
const prefix = redisKeyPrefix();

let database: TestDatabase;
let redis: Redis;
let server: TestServer;
const children: ChildServer[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  redis = new Redis(REDIS_URL);
  server = await startServer({
    databaseUrl: database.url,
    redisKeyPrefix: prefix,
    adminKey,
    config: { PROCESSOR_PARTITIONS: PARTITIONS, PROCESSOR_LEASE_MS: LEASE_MS },
  });
});

afterAll(async () => {
  for (const child of children) await child.kill('SIGKILL');
  await server?.stop();
  redis?.disconnect();
  await database?.drop();
  await deleteRedisKeys(prefix);
});

/** Another instance, one process serving and processing, as configured in production (its environment only). */
async function joinInstance(): Promise<ChildServer> {
  const child = await startChildServer({
    DATABASE_URL: database.url,
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    ADMIN_API_KEY: adminKey,
    LOG_LEVEL: 'warn',
    PROCESSOR_POLL_MS: '50',
    PROCESSOR_PARTITIONS: String(PARTITIONS),
    PROCESSOR_LEASE_MS: String(LEASE_MS),
    WEB_CONCURRENCY: '0',
  });
  children.push(child);
  return child;
}

/** How many partitions this test's in-process instance holds, and how many have a holder at all. */
async function holdings(): Promise<{ here: number; held: number }> {
  const keyPrefix = server.app.runtime.redisKeyPrefix;
  const keys = Array.from({ length: PARTITIONS }, (_, p) => leaseKey(keyPrefix, p, PARTITIONS));
  const holders = await redis.mget(...keys);
  return { here: server.app.runtime.processor.heldPartitions.length, held: holders.filter(Boolean).length };
}

/** Waits until this instance holds `here` partitions and every partition is held; answers how long it took. */
async function settlesAt(here: number): Promise<number> {
  const started = Date.now();
  await eventually(async () => {
    const now = await holdings();
    return now.here === here && now.held === PARTITIONS;
  }, 10 * LEASE_MS);
  return Date.now() - started;
}

describe('partitioned processing across instances', () => {
  it('should rebalance as instances join, die and leave, and count every event exactly once', async () => {
    expect(await settlesAt(PARTITIONS)).toBeLessThan(2 * LEASE_MS);
    const acknowledged: string[] = [];
    let running = true;
    const publishers = Array.from({ length: 3 }, async () => {
      while (running) {
        const inputs = Array.from({ length: 40 }, (_, i) => ({
          type: 'PERFORMANCE_METRIC' as const,
          data: { metric_name: METRIC, value: i % 7 },
        }));
        const result = await gql(server.url, PUBLISH_EVENTS, { inputs }, adminKey);
        if (result.errors) throw new Error(JSON.stringify(result.errors));
        acknowledged.push(...(result.data?.publishEvents.ids ?? []));
      }
    });
    try {
      const second = await joinInstance();
      // Two instances: two partitions each (⌈4/2⌉), within a lease's time of the second one starting.
      const joined = await settlesAt(PARTITIONS / 2);
      // Killed in the middle of its passes: the partitions it held move here once their leases lapse.
      await second.kill('SIGKILL');
      const died = await settlesAt(PARTITIONS);
      const third = await joinInstance();
      const rejoined = await settlesAt(PARTITIONS / 2);
      // Leaving cleanly gives its leases up at once.
      await third.kill('SIGTERM');
      const left = await settlesAt(PARTITIONS);
      // Within the lease time plus a heartbeat (a third of it), with a lease's room for a loaded machine's late timers
      // (CI runs two suites on two cores); a balance that waited for anything but leases and heartbeats would not.
      for (const ms of [joined, died, rejoined, left]) expect(ms).toBeLessThan(3 * LEASE_MS);
    } finally {
      running = false;
      await Promise.all(publishers);
    }
    await processed(server);
    const { aggregate } = await gqlOk(server.url, AGGREGATE, { metric: METRIC, window: 'H1' }, adminKey);
    expect(aggregate.count).toBe(acknowledged.length);
    expect(aggregate.sum).toBe(sumOf(acknowledged.length));
  });
});

/** The sum of the values published: each batch of 40 holds i % 7 for i below 40. */
function sumOf(events: number): number {
  const perBatch = Array.from({ length: 40 }, (_, i) => i % 7).reduce((a, b) => a + b, 0);
  return (events / 40) * perBatch;
}
