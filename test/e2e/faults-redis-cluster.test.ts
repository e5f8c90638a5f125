// The whole Redis Cluster dies under a running server (a local 3-master cluster this test owns, every node killed with
// SIGKILL and started again empty): publishing still succeeds durably, and when the cluster is back, aggregation
// catches up from the outbox and the event log with no acknowledged event missing or counted twice, a subscriber
// resuming after its last cursor gets what was broadcast meanwhile, and live subscriptions (sharded channels) resume.
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
import { AGGREGATE, EVENTS_AFTER, PUBLISH_EVENTS } from '../helpers/operations.js';
import { type LocalRedisCluster, startRedisCluster } from '../helpers/redis-cluster.js';
import { createTestDatabase, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

const METRIC = 'fault_cluster_load';

let database: TestDatabase;
let cluster: LocalRedisCluster;
let server: TestServer;

beforeAll(async () => {
  database = await createTestDatabase();
  cluster = await startRedisCluster();
  server = await startServer({
    databaseUrl: database.url,
    redisClusterNodes: cluster.nodesSetting,
    redisKeyPrefix: redisKeyPrefix(),
    config: { PROCESSOR_PARTITIONS: 4 },
  });
});

afterAll(async () => {
  await server?.stop();
  await cluster?.stop();
  await database?.drop();
});

const batch = (n: number, value: number) =>
  Array.from({ length: n }, () => ({ type: 'PERFORMANCE_METRIC' as const, data: { metric_name: METRIC, value } }));
const aggregateOf = async (server: TestServer) =>
  (await gqlOk(server.url, AGGREGATE, { metric: METRIC, window: 'M5' }, server.adminKey)).aggregate;

describe('Redis Cluster down', () => {
  it('should acknowledge events durably while the cluster is down and catch up broadcast and aggregates when it returns', async () => {
    const client = wsClient(server.wsUrl, server.adminKey);
    const subscribed = subscribersJoined(server);
    const sub = subscribe(client, EVENTS_AFTER, { types: ['PERFORMANCE_METRIC'] });
    await subscribed;
    const before = (await gqlOk(server.url, PUBLISH_EVENTS, { inputs: batch(10, 1) }, server.adminKey)).publishEvents
      .ids;
    await sub.waitFor(before.length);
    await processed(server);
    expect((await aggregateOf(server)).count).toBe(before.length);

    await cluster.kill();
    const base = server.url.replace('/graphql', '');
    // Polled: the cluster client finds its nodes gone only when it next talks to them.
    await eventually(async () => (await fetch(`${base}/ready`)).status === 503, 20_000);

    const publishes: string[][] = [];
    for (let i = 0; i < 5; i++) {
      const result = await gql(server.url, PUBLISH_EVENTS, { inputs: batch(20, 2) }, server.adminKey);
      expect(result.errors).toBeUndefined();
      publishes.push(result.data?.publishEvents.ids ?? []);
    }
    const during = publishes.flat();
    expect((await server.app.services.events.findByIds(during)).length).toBe(during.length);

    await cluster.restart();
    // Polled: the server learns that the cluster is back only by trying it.
    await eventually(async () => (await fetch(`${base}/ready`)).status === 200, 30_000);
    await eventually(async () => {
      await processed(server);
      return (await server.app.runtime.eventStore.outboxSize()) === 0;
    }, 30_000);
    const total = before.length + during.length;
    expect(await aggregateOf(server)).toMatchObject({ count: total, sum: before.length * 1 + during.length * 2 });

    // Live delivery is at most once across a bus outage: the processor broadcasts the events as soon as it reaches the
    // cluster, maybe before a subscriber's sharded subscription is back. A client resumes after the last cursor it
    // got before the outage, which replays them from Postgres, then goes on live.
    expect(sub.received.map((r) => r.eventPublished.id).slice(0, before.length)).toEqual(before);
    const last = sub.received[before.length - 1]?.eventPublished.cursor;
    const resumed = subscribe(client, EVENTS_AFTER, { types: ['PERFORMANCE_METRIC'], after: last });
    const replayed = (await resumed.waitFor(during.length)).map((r) => r.eventPublished.id);
    // Each publish is one partition's and keeps its order; publishes to different partitions may be broadcast in
    // either order (PROCESSOR_PARTITIONS), and the replay follows the broadcast.
    expect([...replayed].sort()).toEqual([...during].sort());
    for (const ids of publishes) expect(replayed.filter((id) => ids.includes(id))).toEqual(ids);

    // Both subscriptions are live again through the sharded channels.
    const after = (await gqlOk(server.url, PUBLISH_EVENTS, { inputs: batch(5, 3) }, server.adminKey)).publishEvents.ids;
    for (const subscription of [sub, resumed])
      await subscription.until((received) => {
        const seen = new Set(received.map((r) => r.eventPublished.id));
        return after.every((id) => seen.has(id));
      });
    expect(resumed.received.map((r) => r.eventPublished.id)).toEqual([...replayed, ...after]);
    resumed.dispose();
    sub.dispose();
    await client.dispose();
  }, 120_000);
});
