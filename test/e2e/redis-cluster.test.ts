// The server on a Redis Cluster (REDIS_CLUSTER_NODES): a local 3-master cluster of this file's own, two instances on
// it and one Postgres database. Events published on one instance reach subscribers of the other through sharded
// channels, aggregates are applied and read back through the cluster, the processor lease moves to the other instance
// when its holder stops, and the rate limit counts one key across instances.
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaseKey } from '../../src/lease.js';
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
import { startChildServer } from '../helpers/child-server.js';
import { AGGREGATE, EVENT_PUBLISHED, PUBLISH_EVENTS } from '../helpers/operations.js';
import { type LocalRedisCluster, startRedisCluster } from '../helpers/redis-cluster.js';
import { createTestDatabase, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

let cluster: LocalRedisCluster;
let clusterClient: Cluster;
let database: TestDatabase;
const prefix = redisKeyPrefix();
const adminKey = `test-admin-${Date.now()}`;
const servers: TestServer[] = [];
let one: TestServer;
let two: TestServer;

const onCluster = (config: Record<string, number> = {}) =>
  startServer({
    databaseUrl: database.url,
    redisKeyPrefix: prefix,
    redisClusterNodes: cluster.nodesSetting,
    adminKey,
    // Partitions whose hash tags land on every master: the reads and scripts must never cross slots.
    config: { PROCESSOR_PARTITIONS: 4, ...config },
  }).then((server) => {
    servers.push(server);
    return server;
  });

beforeAll(async () => {
  cluster = await startRedisCluster();
  clusterClient = new Cluster(cluster.nodes);
  database = await createTestDatabase();
  one = await onCluster();
  two = await onCluster();
});

afterAll(async () => {
  for (const server of servers) await server.stop();
  await database?.drop();
  await clusterClient?.quit();
  await cluster?.stop();
});

/** The Redis key prefix the servers use: the configured prefix and the database's namespace. */
const keysOf = (server: TestServer) => server.app.runtime.redisKeyPrefix;

describe('the server on a Redis Cluster', () => {
  it('should deliver events published on one instance to subscribers of both through sharded channels, once each', async () => {
    const clients = [wsClient(one.wsUrl, adminKey), wsClient(two.wsUrl, adminKey)];
    const subscribed = Promise.all([subscribersJoined(one), subscribersJoined(two)]);
    const subs = clients.map((c) => subscribe(c, EVENT_PUBLISHED, { types: ['INSIGHT_GENERATED'] }));
    await subscribed;
    const { publishEvents } = await gqlOk(
      one.url,
      PUBLISH_EVENTS,
      { inputs: Array.from({ length: 20 }, (_, i) => ({ type: 'INSIGHT_GENERATED' as const, data: { i } })) },
      adminKey,
    );
    for (const sub of subs) {
      await sub.waitFor(publishEvents.ids.length);
      expect(sub.received.map((r) => r.eventPublished.id)).toEqual(publishEvents.ids);
    }
    // Through sharded channels: while subscribed, the events channel is a shard channel of one master, and the servers
    // hold no plain channel at all.
    const masters = clusterClient.nodes('master');
    const channel = `${keysOf(one)}bus:events:published`;
    const sharded = await Promise.all(
      masters.map((node) => node.call('PUBSUB', 'SHARDCHANNELS', channel) as Promise<string[]>),
    );
    const plain = await Promise.all(
      masters.map((node) => node.call('PUBSUB', 'CHANNELS', `${keysOf(one)}*`) as Promise<string[]>),
    );
    expect(sharded.flat()).toEqual([channel]);
    expect(plain.flat()).toEqual([]);
    for (const sub of subs) sub.dispose();
    await Promise.all(clients.map((c) => c.dispose()));
  });

  it('should aggregate events exactly once and answer the same aggregate on both instances', async () => {
    const values = [120, 80, 200, 40, 160];
    await gqlOk(
      two.url,
      PUBLISH_EVENTS,
      {
        inputs: values.map((value) => ({
          type: 'PERFORMANCE_METRIC' as const,
          data: { metric_name: 'cluster_latency', value },
        })),
      },
      adminKey,
    );
    await processed(one, two);
    const expected = { count: 5, sum: 600, min: 40, max: 200, avg: 120 };
    for (const server of [one, two]) {
      const { aggregate } = await gqlOk(server.url, AGGREGATE, { metric: 'cluster_latency', window: 'M5' }, adminKey);
      expect(aggregate).toMatchObject({ metric: 'cluster_latency', ...expected });
    }
  });

  it("should share the partitions' leases, kept on the cluster, and hand them over when an instance stops", async () => {
    const partitions = one.app.runtime.aggregates.partitions;
    const held = (server: TestServer) => server.app.runtime.processor.heldPartitions.length;
    await eventually(() => held(one) === Math.ceil(partitions / 2) && held(two) === Math.ceil(partitions / 2));
    const [leader, follower] = [one, two];
    for (let partition = 0; partition < partitions; partition++) {
      const lease = leaseKey(keysOf(leader), partition, partitions);
      expect(await clusterClient.get(lease)).toEqual(expect.any(String));
      expect(await clusterClient.pttl(lease)).toBeGreaterThan(0);
    }

    await leader.stop();
    servers.splice(servers.indexOf(leader), 1);
    await eventually(() => held(follower) === partitions);
    await gqlOk(
      follower.url,
      PUBLISH_EVENTS,
      { inputs: [{ type: 'PERFORMANCE_METRIC' as const, data: { metric_name: 'cluster_latency', value: 400 } }] },
      adminKey,
    );
    await processed(follower);
    const { aggregate } = await gqlOk(follower.url, AGGREGATE, { metric: 'cluster_latency', window: 'M5' }, adminKey);
    // The five of the previous test once each, and the new one: nothing lost or counted twice in the handover.
    expect(aggregate).toMatchObject({ count: 6, sum: 1_000, max: 400 });
  });

  it('should count one key across instances in the rate limit', async () => {
    const limited = [await onCluster({ RATE_LIMIT_PER_SECOND: 5 }), await onCluster({ RATE_LIMIT_PER_SECOND: 5 })];
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => gql((limited[i % 2] as TestServer).url, '{ __typename }', {}, adminKey)),
    );
    // Each instance saw only 4, under its own 5: a refusal means they counted together, in the cluster.
    const refused = results.filter((r) => r.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
    expect(refused.length).toBeGreaterThanOrEqual(3);
  });
});

describe('the compiled server (npm start) on a Redis Cluster', () => {
  it('should run its process model from REDIS_CLUSTER_NODES alone, aggregate, and stop cleanly on SIGTERM', async () => {
    const own = await createTestDatabase();
    const server = await startChildServer({
      DATABASE_URL: own.url,
      REDIS_CLUSTER_NODES: cluster.nodesSetting,
      REDIS_KEY_PREFIX: prefix,
      ADMIN_API_KEY: adminKey,
      WEB_CONCURRENCY: '1',
      PROCESSOR_PARTITIONS: '4',
      LOG_LEVEL: 'info',
      PROCESSOR_POLL_MS: '50',
      SHUTDOWN_GRACE_MS: '2000',
    });
    try {
      // Forked into a processing process and a serving one: only with Redis (here, the cluster) and Postgres.
      await server.waitForOutput(/"servingProcesses":1/);
      await gqlOk(
        server.url,
        PUBLISH_EVENTS,
        {
          inputs: [3, 5].map((value) => ({
            type: 'PERFORMANCE_METRIC' as const,
            data: { metric_name: 'forked', value },
          })),
        },
        adminKey,
      );
      // Polled: the processing process is another process, with nothing to wait on from here.
      const aggregate = await eventually(async () => {
        const { aggregate } = await gqlOk(server.url, AGGREGATE, { metric: 'forked', window: 'M1' }, adminKey);
        return aggregate.count === 2 ? aggregate : null;
      }, 25_000);
      expect(aggregate).toMatchObject({ count: 2, sum: 8, min: 3, max: 5 });
      expect(server.output()).not.toMatch(/CROSSSLOT/);
      await server.kill('SIGTERM');
      expect(server.process.exitCode).toBe(0);
    } finally {
      await server.kill('SIGKILL');
      await own.drop();
    }
  });
});
