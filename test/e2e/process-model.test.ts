// The real entry point (src/main.ts) as a cluster, as `npm start` runs it with Redis and Postgres: a primary, one
// processing process and WEB_CONCURRENCY=2 serving processes sharing the port. One instance for the whole file (it
// takes seconds to start); the tests run in order and the last one stops it.

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { request } from 'node:http';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, assert, beforeAll, describe, expect, it } from 'vitest';
import { configWith } from '../../src/config.js';
import { leaseKey } from '../../src/lease.js';
import { redisKeyPrefixFor } from '../../src/redis-namespace.js';
import { graphql } from '../generated/index.js';
import { eventually, gql, gqlOk, sleep, subscribe, wsClient } from '../helpers/app.js';
import { type ChildServer, startChildServer } from '../helpers/child-server.js';
import { AGGREGATE, EVENT_PUBLISHED, PUBLISH_EVENTS } from '../helpers/operations.js';
import { openRaw } from '../helpers/raw-ws.js';
import {
  createTestDatabase,
  deleteRedisKeys,
  REDIS_URL,
  redisKeyPrefix,
  type TestDatabase,
} from '../helpers/services.js';
import { Condition } from '../helpers/waits.js';

const adminKey = `test-admin-${Date.now()}-cluster`;
const prefix = redisKeyPrefix();
let database: TestDatabase;
let server: ChildServer;
let redis: Redis;
let sql: pg.Client;
/** Where the instance's keys and channels are: the prefix, then its database's name (src/redis-namespace.ts). */
let keys: string;

beforeAll(async () => {
  database = await createTestDatabase();
  redis = new Redis(REDIS_URL);
  sql = new pg.Client({ connectionString: database.url });
  await sql.connect();
  keys = await redisKeyPrefixFor(prefix, { query: async (text, params) => (await sql.query(text, [...params])).rows });
  server = await startChildServer({
    DATABASE_URL: database.url,
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    ADMIN_API_KEY: adminKey,
    WEB_CONCURRENCY: '2',
    // Said here: unset, whether the workers get one depends on this machine's heap limit (unit-tested).
    WORKER_SEMI_SPACE_MB: '16',
    LOG_LEVEL: 'warn',
    PROCESSOR_POLL_MS: '50',
    // A killed processing process's lease lapses soon, so its successor takes over soon.
    PROCESSOR_LEASE_MS: '1500',
    WORKER_RESTART_BACKOFF_MS: '100',
    SHUTDOWN_GRACE_MS: '2000',
  });
});

afterAll(async () => {
  await server?.kill('SIGKILL');
  await sql?.end();
  redis?.disconnect();
  await database?.drop();
  await deleteRedisKeys(prefix);
});

interface Health {
  status: string;
  process: { pid: number; role: string };
  checks: { streamProcessor: { ok: boolean; detail?: { leader: boolean; pid: number } } };
}

/**
 * One request on a connection of its own: the kernel (SO_REUSEPORT, Node 22.12 and later) or the primary (in turns)
 * gives each new connection to a serving process.
 */
function onNewConnection(path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const url = new URL(server.url.replace('/graphql', path));
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: body === undefined ? 'GET' : 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** The listening TCP sockets on `port` (inodes, from /proc/net), and which of `pids` hold one. */
function listenersOn(port: number, pids: number[]): { sockets: number; holders: number[] } {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[1]?.endsWith(hex) && fields[3] === '0A' && fields[9]) inodes.add(fields[9]); // 0A: LISTEN
    }
  }
  const holds = (pid: number) =>
    readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return inodes.has(readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/^socket:\[(\d+)\]$/, '$1'));
      } catch {
        return false; // closed meanwhile
      }
    });
  return { sockets: inodes.size, holders: pids.filter(holds) };
}

async function health(): Promise<Health> {
  return JSON.parse((await onNewConnection('/health')).text) as Health;
}

/** The value of a sample in Prometheus text (`name` with its labels, as printed). */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.exists(line, `${name} in /metrics`);
  return Number(line.slice(name.length + 1));
}

function events(metric: string, count: number, offset = 0) {
  return Array.from({ length: count }, (_, i) => ({
    type: 'PERFORMANCE_METRIC' as const,
    data: { metric_name: metric, value: offset + i },
  }));
}

async function publishOnNewConnection(metric: string, count: number): Promise<string[]> {
  const { text } = await onNewConnection('/graphql', {
    query: 'mutation ($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { ids } }',
    variables: { inputs: events(metric, count) },
  });
  return (JSON.parse(text) as { data: { publishEvents: { ids: string[] } } }).data.publishEvents.ids;
}

/** Serving processes subscribed to the event broadcast: Redis counts their subscriber connections. */
async function eventSubscribers(): Promise<number> {
  const [, count] = (await redis.pubsub('NUMSUB', `${keys}bus:events:published`)) as [string, number];
  return Number(count);
}

async function inLog(metric: string): Promise<number> {
  const { rows } = await sql.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM "Event" WHERE data->>'metric_name' = $1`,
    [metric],
  );
  return rows[0]?.n ?? 0;
}

async function outbox(): Promise<number> {
  const { rows } = await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM "EventOutbox"`);
  return rows[0]?.n ?? 0;
}

const pids = { serving: new Set<number>(), processing: 0 };

describe('cluster: a primary, a processing process and two serving processes', () => {
  it('should answer /health and /ready on each serving process, with processing in a process apart', async () => {
    // In turns (the primary), or by a hash of each connection's addresses (SO_REUSEPORT): both are reached within 40.
    for (let i = 0; i < 40 && pids.serving.size < 2; i++) {
      const answer = await health();
      expect(answer).toMatchObject({ status: 'healthy', process: { role: 'serve' } });
      pids.serving.add(answer.process.pid);
      pids.processing = answer.checks.streamProcessor.detail?.pid ?? 0;
    }
    for (let i = 0; i < 2; i++) expect((await onNewConnection('/ready')).status).toBe(200);
    expect(pids.serving.size).toBe(2);
    expect(pids.processing).toBeGreaterThan(0);
    // Each serving process on a socket of its own (SO_REUSEPORT, Node 22.12 and later), or the primary on the one.
    const port = Number(new URL(server.url).port);
    const primary = server.process.pid as number;
    const serving = [...pids.serving].sort((a, b) => a - b);
    expect(listenersOn(port, [primary, pids.processing, ...serving])).toEqual(
      // Said here apart from `reusesPort`, which the server's choice follows (the engines allow 20, and 22.15 on).
      Number(process.versions.node.split('.')[0]) >= 22
        ? { sockets: 2, holders: serving }
        : { sockets: 1, holders: [primary] },
    );
    expect([...pids.serving, server.process.pid]).not.toContain(pids.processing);
    // The workers' young generation is bounded (WORKER_SEMI_SPACE_MB), and they keep the primary's node options; the
    // primary, which holds little, is left as is.
    const nodeOptions = (pid: number) =>
      readFileSync(`/proc/${pid}/cmdline`, 'utf8')
        .split('\0')
        .filter((arg) => arg.startsWith('--') && !arg.startsWith('--role='));
    for (const pid of [...serving, pids.processing])
      expect(nodeOptions(pid), `worker ${pid}`).toEqual(['--enable-source-maps', '--max-semi-space-size=16']);
    expect(nodeOptions(primary)).toEqual(['--enable-source-maps']);
  });

  it('should deliver every event published through the port to a subscriber exactly once, aggregated once', async () => {
    const metric = 'cluster_exactly_once';
    const client = wsClient(server.url.replace(/^http/, 'ws'), adminKey);
    const sub = subscribe(client, EVENT_PUBLISHED, { types: ['PERFORMANCE_METRIC'] });
    await eventually(async () => (await eventSubscribers()) >= 1);
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(...(await publishOnNewConnection(metric, 25)));
    const ours = () =>
      sub.received.filter((r) => (r.eventPublished.data as { metric_name?: string }).metric_name === metric);
    await sub.until(() => ours().length >= ids.length);
    const aggregated = await eventually(async () => {
      const { aggregate } = await gqlOk(server.url, AGGREGATE, { metric, window: 'M5' }, adminKey);
      return aggregate.count === ids.length ? aggregate : null;
    });
    expect(aggregated.sum).toBe(8 * ((24 * 25) / 2));
    const received = ours().map((r) => r.eventPublished.id);
    expect(received).toHaveLength(ids.length);
    expect(new Set(received)).toEqual(new Set(ids));
    sub.dispose();
    await client.dispose();
    await eventually(async () => (await eventSubscribers()) === 0);
  });

  it('should report the whole instance on /metrics from any serving process', async () => {
    const metric = 'cluster_metrics';
    const before = sample((await onNewConnection('/metrics')).text, 'jackdaw_events_accepted_total');
    for (let i = 0; i < 6; i++) await publishOnNewConnection(metric, 5);
    const scrapes = await eventually(async () => {
      const texts = await Promise.all(Array.from({ length: 4 }, async () => (await onNewConnection('/metrics')).text));
      // Processed in the processing process, scraped on a serving one: counted once processing caught up.
      return texts.every((t) => sample(t, 'jackdaw_events_processed_total') === before + 30) ? texts : null;
    });
    const rssOf = (pid: number) => Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096;
    const allPids = [server.process.pid ?? 0, pids.processing, ...pids.serving];
    const rss = allPids.reduce((sum, pid) => sum + rssOf(pid), 0);
    for (const text of scrapes) {
      // Accepted in the serving processes, each accepting some: one total.
      expect(sample(text, 'jackdaw_events_accepted_total')).toBe(before + 30);
      expect(sample(text, 'jackdaw_processes{role="serve"}')).toBe(2);
      expect(sample(text, 'jackdaw_processes{role="process"}')).toBe(1);
      expect(sample(text, 'jackdaw_processes{role="primary"}')).toBe(1);
      expect(sample(text, 'jackdaw_stream_processor_leader')).toBe(1);
      expect(sample(text, 'jackdaw_worker_restarts_total{role="process"}')).toBe(0);
      // Resident memory of all four processes together (each process alone is well under half of it).
      expect(sample(text, 'jackdaw_process_resident_memory_bytes')).toBeGreaterThan(rss * 0.6);
      expect(sample(text, 'jackdaw_process_resident_memory_bytes')).toBeLessThan(rss * 1.5);
    }
  });

  it('should start the processing process again after SIGKILL, keep serving meanwhile, and lose nothing acknowledged', async () => {
    const metric = 'cluster_sigkill';
    const client = wsClient(server.url.replace(/^http/, 'ws'), adminKey);
    const sub = subscribe(client, EVENT_PUBLISHED, { types: ['PERFORMANCE_METRIC'] });
    await eventually(async () => (await eventSubscribers()) >= 1);
    const acknowledged: string[] = [];
    const progress = new Condition();
    let running = true;
    const publishers = Array.from({ length: 3 }, async (_, p) => {
      while (running) {
        const result = await gql(server.url, PUBLISH_EVENTS, { inputs: events(metric, 20, p * 1_000) }, adminKey);
        assert.exists(result.data?.publishEvents, JSON.stringify(result.errors));
        acknowledged.push(...result.data.publishEvents.ids);
        progress.changed();
      }
    });
    await progress.until(() => acknowledged.length >= 300, 30_000);

    process.kill(pids.processing, 'SIGKILL');
    const atKill = acknowledged.length;
    let degraded = 0;
    let answered = 0;
    const history = graphql(`
      query ClusterHistory {
        events(first: 1) {
          edges {
            node {
              id
            }
          }
        }
      }
    `);
    // The serving side answers queries and is ready all along; only the processor check fails meanwhile.
    const deadline = Date.now() + 30_000;
    let successor = 0;
    while (!successor) {
      expect(Date.now(), 'the processing process is back within 30 s').toBeLessThan(deadline);
      await gqlOk(server.url, history, {}, adminKey);
      expect((await onNewConnection('/ready')).status).toBe(200);
      answered += 1;
      const { streamProcessor } = (await health()).checks;
      if (!streamProcessor.ok) degraded += 1;
      const { detail } = streamProcessor;
      if (detail?.leader && detail.pid !== pids.processing) successor = detail.pid;
      else await sleep(50);
    }
    expect(degraded).toBeGreaterThan(0);
    expect(answered).toBeGreaterThan(degraded);
    expect(acknowledged.length).toBeGreaterThan(atKill); // publishing went on while processing was down
    running = false;
    await Promise.all(publishers);
    pids.processing = successor;

    const { rows } = await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM "Event" WHERE id = ANY($1)', [
      acknowledged,
    ]);
    expect(rows[0]?.n).toBe(acknowledged.length);
    const stored = await inLog(metric);
    await eventually(
      async () => {
        const { aggregate } = await gqlOk(server.url, AGGREGATE, { metric, window: 'M5' }, adminKey);
        return aggregate.count === stored && (await outbox()) === 0;
      },
      30_000,
      100,
    );
    // At least once to subscribers: a batch broadcast just before the kill is broadcast again by the successor.
    const wanted = new Set(acknowledged);
    await sub.until((received) => {
      const seen = new Set(received.map((r) => r.eventPublished.id));
      return [...wanted].every((id) => seen.has(id));
    });
    const text = (await onNewConnection('/metrics')).text;
    expect(sample(text, 'jackdaw_worker_restarts_total{role="process"}')).toBe(1);
    sub.dispose();
    await client.dispose();
  }, 90_000);

  it('should start a serving process again after SIGKILL while the other one serves', async () => {
    const [victim] = [...pids.serving];
    assert.exists(victim);
    process.kill(victim, 'SIGKILL');
    // Reaped by the primary; new connections go to the other serving process only (its listening socket is gone).
    await eventually(() => {
      try {
        process.kill(victim, 0);
        return false;
      } catch {
        return true;
      }
    });
    pids.serving.delete(victim);
    const deadline = Date.now() + 30_000;
    while (pids.serving.size < 2) {
      expect(Date.now(), 'a serving process is back within 30 s').toBeLessThan(deadline);
      const answer = await health();
      expect(answer.status).toBe('healthy');
      pids.serving.add(answer.process.pid);
      if (pids.serving.size < 2) await sleep(50);
    }
    expect(pids.serving).not.toContain(victim);
    const text = (await onNewConnection('/metrics')).text;
    expect(sample(text, 'jackdaw_worker_restarts_total{role="serve"}')).toBe(1);
    expect(sample(text, 'jackdaw_processes{role="serve"}')).toBe(2);
  });

  it('should refuse to start a second instance on the same port, naming it, while the first serves on', async () => {
    const other = await createTestDatabase();
    const otherPrefix = redisKeyPrefix();
    let second: ChildServer | null = null;
    try {
      const refusal = await startChildServer({
        DATABASE_URL: other.url,
        REDIS_URL,
        REDIS_KEY_PREFIX: otherPrefix,
        ADMIN_API_KEY: adminKey,
        WEB_CONCURRENCY: '2',
        LOG_LEVEL: 'warn',
        PORT: new URL(server.url).port,
      }).then(
        (started) => {
          second = started;
          return null;
        },
        (error: Error) => error,
      );
      expect(refusal?.message).toMatch(/exited with 1[\s\S]*EADDRINUSE/);
      // With SO_REUSEPORT it would have bound beside the first and taken some of its connections: all are the first's.
      for (let i = 0; i < 10; i++) expect(pids.serving).toContain((await health()).process.pid);
    } finally {
      await (second as ChildServer | null)?.kill('SIGKILL');
      await other.drop();
      await deleteRedisKeys(otherPrefix);
    }
  }, 60_000);

  it('should stop every process on SIGTERM to the primary under load: sockets closed with 1001, nothing acknowledged lost, the lease released, exit 0', async () => {
    const socket = await openRaw(server.url.replace(/^http/, 'ws'), { authorization: `Bearer ${adminKey}` });
    const acknowledged: string[] = [];
    const progress = new Condition();
    const publishers = Array.from({ length: 2 }, async () => {
      for (;;) {
        try {
          const result = await gql(server.url, PUBLISH_EVENTS, { inputs: events('cluster_sigterm', 20) }, adminKey);
          if (!result.data?.publishEvents) return; // refused while stopping: not acknowledged
          acknowledged.push(...result.data.publishEvents.ids);
          progress.changed();
        } catch {
          return; // the port is closed
        }
      }
    });
    await progress.until(() => acknowledged.length >= 200, 30_000);
    await server.kill('SIGTERM');
    await Promise.all(publishers);
    expect(server.process.exitCode).toBe(0);
    expect((await socket.closed).code).toBe(1001);
    const { rows } = await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM "Event" WHERE id = ANY($1)', [
      acknowledged,
    ]);
    expect(rows[0]?.n).toBe(acknowledged.length);
    // Every partition's lease given up (the child runs the default PROCESSOR_PARTITIONS).
    const partitions = configWith({}).PROCESSOR_PARTITIONS;
    for (let partition = 0; partition < partitions; partition++)
      expect(await redis.get(leaseKey(keys, partition, partitions))).toBeNull();
    for (const pid of [pids.processing, ...pids.serving]) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  }, 90_000);
});

describe('cluster start', () => {
  it('should exit 1 when a worker cannot start', async () => {
    const missing = new URL(database.url);
    missing.pathname = '/jackdaw_missing_database';
    await expect(
      startChildServer({
        DATABASE_URL: missing.toString(),
        REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        ADMIN_API_KEY: adminKey,
        WEB_CONCURRENCY: '1',
        LOG_LEVEL: 'warn',
      }),
    ).rejects.toThrow(/exited with 1[\s\S]*could not start/);
  });
});
