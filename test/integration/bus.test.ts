// One contract, three buses: in-process, Redis (real Redis, a key prefix of this file's own) and the sharded channels
// of a Redis Cluster (a local 3-master cluster of this file's own).
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Bus, createMemoryBus, createRedisBus, createShardedBus } from '../../src/bus/bus.js';
import type { Topic } from '../../src/bus/topics.js';
import { keySlot } from '../../src/redis.js';
import { eventually } from '../helpers/app.js';
import { type LocalRedisCluster, startRedisCluster } from '../helpers/redis-cluster.js';
import { REDIS_URL, redisKeyPrefix } from '../helpers/services.js';
import { Recording } from '../helpers/waits.js';

const prefix = redisKeyPrefix();
let cluster: LocalRedisCluster;

beforeAll(async () => {
  cluster = await startRedisCluster();
});

afterAll(async () => {
  await cluster?.stop();
});

const implementations: [string, () => Bus][] = [
  ['in-process', () => createMemoryBus()],
  ['redis', () => createRedisBus({ url: REDIS_URL, keyPrefix: prefix })],
  ['redis cluster (sharded)', () => createShardedBus({ nodes: cluster.nodes, keyPrefix: prefix })],
];

describe.each(implementations)('%s bus', (_name, create) => {
  const opened: Bus[] = [];
  const open = () => {
    const bus = create();
    opened.push(bus);
    return bus;
  };
  afterAll(async () => {
    await Promise.all(opened.map((b) => b.close()));
  });

  it('should deliver a published message to every subscriber of its topic, and only of its topic', async () => {
    const bus = open();
    const a = new Recording<unknown>();
    const b = new Recording<unknown>();
    const other = new Recording<unknown>();
    await bus.subscribe('metrics:changed', (p) => a.push(p));
    await bus.subscribe('metrics:changed', (p) => b.push(p));
    await bus.subscribe('apiKeys:revoked', (p) => other.push(p));
    await bus.publish('metrics:changed', { metrics: ['x', 'y'] });
    await Promise.all([a.atLeast(1), b.atLeast(1)]);
    expect(a.items).toEqual([{ metrics: ['x', 'y'] }]);
    expect(b.items).toEqual([{ metrics: ['x', 'y'] }]);
    expect(other.items).toEqual([]);
  });

  it('should stop delivering after unsubscribe', async () => {
    const bus = open();
    const got: unknown[] = [];
    const control = new Recording<unknown>();
    const unsubscribe = await bus.subscribe('processor:nudge', (p) => got.push(p));
    await bus.subscribe('processor:nudge', (p) => control.push(p));
    unsubscribe();
    await bus.publish('processor:nudge', {});
    // Delivered to every subscriber at once: once the control copy is in, the other would be too.
    await control.atLeast(1);
    expect(got).toEqual([]);
  });

  it('should answer ping while it can deliver', async () => {
    await expect(open().ping()).resolves.toBeUndefined();
  });
});

describe('redis bus', () => {
  it('should deliver across two separate bus instances (two app instances)', async () => {
    const one = createRedisBus({ url: REDIS_URL, keyPrefix: prefix });
    const two = createRedisBus({ url: REDIS_URL, keyPrefix: prefix });
    const got = new Recording<unknown>();
    await two.subscribe('apiKeys:revoked', (p) => got.push(p));
    await one.publish('apiKeys:revoked', { id: 'k1' });
    expect(await got.atLeast(1)).toEqual([{ id: 'k1' }]);
    await Promise.all([one.close(), two.close()]);
  });

  it('should reject ping when Redis is unreachable', async () => {
    const bus = createRedisBus({ url: 'redis://127.0.0.1:1', keyPrefix: prefix });
    await expect(bus.ping()).rejects.toThrow();
    await bus.close();
  });
});

describe('redis cluster bus', () => {
  it('should deliver every topic across two bus instances, its channels spread over the masters', async () => {
    // A fixed prefix (the cluster is this file's own), so where the channels' slots fall does not vary by run.
    const keyPrefix = 'sharded:';
    const one = createShardedBus({ nodes: cluster.nodes, keyPrefix });
    const two = createShardedBus({ nodes: cluster.nodes, keyPrefix });
    const topics: Topic[] = ['metrics:changed', 'apiKeys:revoked', 'processor:nudge', 'alertRules:changed'];
    const got = new Map(topics.map((t) => [t, new Recording<unknown>()]));
    for (const topic of topics) await two.subscribe(topic, (p) => got.get(topic)?.push(p));
    for (const [i, topic] of topics.entries()) await one.publish(topic, { i } as never);
    for (const [i, topic] of topics.entries()) expect(await got.get(topic)?.atLeast(1)).toEqual([{ i }]);
    // Sharded: each channel is known to the master owning its slot only, and the four are not all on one master.
    const owners = new Set<number>();
    for (const topic of topics) {
      const holders = await Promise.all(
        cluster.nodes.map(async (node, n) => {
          const direct = new Redis(node);
          try {
            const listed = (await direct.call('PUBSUB', 'SHARDCHANNELS', `${keyPrefix}bus:${topic}`)) as string[];
            return listed.length > 0 ? n : null;
          } finally {
            await direct.quit();
          }
        }),
      );
      const held = holders.filter((n) => n !== null);
      expect(held).toHaveLength(1);
      owners.add(held[0] as number);
    }
    expect(owners.size).toBeGreaterThan(1);
    await Promise.all([one.close(), two.close()]);
  });

  it('should subscribe again after the last listener left and a new one came', async () => {
    const bus = createShardedBus({ nodes: cluster.nodes, keyPrefix: prefix });
    const first = await bus.subscribe('processor:nudge', () => {});
    first();
    const again = new Recording<unknown>();
    await bus.subscribe('processor:nudge', (p) => again.push(p));
    await bus.publish('processor:nudge', {});
    expect(await again.atLeast(1)).toEqual([{}]);
    await bus.close();
  });

  it('should hash channels to the slots the cluster does', async () => {
    const direct = new Redis(cluster.nodes[0] as { host: string; port: number });
    try {
      for (const key of ['jackdaw:0123456789ab:bus:events:published', 'a:{agg}:b:M1:3:m', 'café', 'x{}{y}', 'z{{w}}']) {
        expect(keySlot(key), key).toBe(await direct.call('CLUSTER', 'KEYSLOT', key));
      }
    } finally {
      await direct.quit();
    }
  });

  it('should follow a channel whose slot moves to another master', async () => {
    const keyPrefix = 'moving:';
    const bus = createShardedBus({ nodes: cluster.nodes, keyPrefix });
    const publisher = createShardedBus({ nodes: cluster.nodes, keyPrefix });
    const got = new Recording<unknown>();
    await bus.subscribe('processor:nudge', (p) => got.push(p));
    const channel = `${keyPrefix}bus:processor:nudge`;
    const slot = keySlot(channel);
    const clients = cluster.nodes.map((node) => new Redis(node));
    try {
      const ids = (await Promise.all(clients.map((c) => c.call('CLUSTER', 'MYID')))) as string[];
      const slotsOf = (await clients[0]?.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, string]][];
      const ownerId = slotsOf.find(([from, to]) => slot >= from && slot <= to)?.[2][2];
      const target = ids.findIndex((id) => id !== ownerId);
      const targetId = ids[target] as string;
      // The slot holds no keys (channels are not keys), so it moves by assignment alone.
      for (const c of clients) await c.call('CLUSTER', 'SETSLOT', slot, 'NODE', targetId);
      await clients[target]?.call('CLUSTER', 'BUMPEPOCH');
      // Polled: the new owner is learnt from the next MOVED reply, which the first publishes after the move get.
      let sent = 0;
      await eventually(
        async () => {
          await publisher.publish('processor:nudge', {}).catch(() => {});
          sent++;
          return got.items.length > 0;
        },
        20_000,
        200,
      );
      const sharded = (await clients[target]?.call('PUBSUB', 'SHARDCHANNELS', channel)) as string[];
      expect(sharded).toEqual([channel]);
      expect(sent).toBeGreaterThan(0);
    } finally {
      await Promise.all(clients.map((c) => c.quit()));
      await Promise.all([bus.close(), publisher.close()]);
    }
  });

  it('should keep its subscriptions when the whole cluster restarts', async () => {
    const bus = createShardedBus({ nodes: cluster.nodes, keyPrefix: prefix });
    const publisher = createShardedBus({ nodes: cluster.nodes, keyPrefix: prefix });
    const topics: Topic[] = ['metrics:changed', 'apiKeys:revoked', 'processor:nudge', 'alertRules:changed'];
    const got = new Map(topics.map((t) => [t, new Recording<unknown>()]));
    for (const topic of topics) await bus.subscribe(topic, (p) => got.get(topic)?.push(p));
    await cluster.kill();
    await cluster.restart();
    // Polled: each subscriber connection is back when ioredis has reconnected it, on its own clock.
    await eventually(
      async () => {
        for (const topic of topics) await publisher.publish(topic, { after: true } as never).catch(() => {});
        return topics.every((topic) => (got.get(topic)?.items.length ?? 0) > 0);
      },
      30_000,
      250,
    );
    for (const topic of topics) expect(got.get(topic)?.items[0]).toEqual({ after: true });
    await Promise.all([bus.close(), publisher.close()]);
  });
});

/**
 * A server that accepts connections and never answers: Redis as a half-open connection shows it (the peer gone
 * silent, the socket still up), or a cluster none of whose nodes answers.
 */
async function silentServer(): Promise<{ server: Server; url: string; port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    server,
    port,
    url: `redis://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('a publish that Redis does not answer', () => {
  const TIMEOUT_MS = 300;

  it('fails within the publish timeout on one Redis (it would wait for as long as the connection lives)', async () => {
    const silent = await silentServer();
    const bus = createRedisBus({ url: silent.url, keyPrefix: prefix, publishTimeoutMs: TIMEOUT_MS });
    try {
      const started = Date.now();
      await expect(bus.publish('processor:nudge', {})).rejects.toThrow(/timed out/i);
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS * 20);
    } finally {
      await bus.close();
      await silent.close();
    }
  });

  it('fails at once on a cluster none of whose nodes answers (the cluster client queues nothing)', async () => {
    const silent = await silentServer();
    const bus = createShardedBus({
      nodes: [{ host: '127.0.0.1', port: silent.port }],
      keyPrefix: prefix,
      publishTimeoutMs: TIMEOUT_MS,
    });
    try {
      const started = Date.now();
      await expect(bus.publish('processor:nudge', {})).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS * 20);
    } finally {
      await bus.close();
      await silent.close();
    }
  });

  it('fails within the publish timeout on a cluster whose masters are paused, and publishes again after', async () => {
    const bus = createShardedBus({ nodes: cluster.nodes, keyPrefix: prefix, publishTimeoutMs: TIMEOUT_MS });
    const admins = cluster.nodes.map(({ host, port }) => new Redis({ host, port }));
    try {
      await bus.publish('processor:nudge', {}); // connected, the slot table read
      // Paused for far longer than the publish may wait: a node paused for writes holds its clients' (S)PUBLISH
      // unanswered, and still takes CLIENT UNPAUSE.
      await Promise.all(admins.map((admin) => admin.call('CLIENT', 'PAUSE', String(TIMEOUT_MS * 20), 'WRITE')));
      const started = Date.now();
      await expect(bus.publish('processor:nudge', {})).rejects.toThrow(/timed out/i);
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS * 20);
    } finally {
      await Promise.all(admins.map((admin) => admin.call('CLIENT', 'UNPAUSE').catch(() => {})));
    }
    await eventually(async () => {
      await bus.publish('processor:nudge', {});
      return true;
    });
    await bus.close();
    await Promise.all(admins.map((admin) => admin.quit()));
  });
});
