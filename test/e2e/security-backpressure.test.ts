// Backpressure: a full ingestion queue answers OVERLOADED (and stores nothing of what it refused); a WebSocket's
// outbound buffer is bounded, coalescing dashboard/metric updates while backed up and closing a client too slow to
// keep up, while the other subscribers' latency stays where it was.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { print } from 'graphql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { guardOutbound } from '../../src/security/outbound.js';
import { graphql } from '../generated/index.js';
import { busSubscribed, gql, gqlOk, startServer, type TestServer } from '../helpers/app.js';
import { PUBLISH_EVENTS as PUBLISH_MANY } from '../helpers/operations.js';
import { openRaw, type RawMessage, type RawSocket } from '../helpers/raw-ws.js';
import { createTestDatabase, type TestDatabase } from '../helpers/services.js';
import { deferred } from '../helpers/waits.js';

let database: TestDatabase;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await database?.drop();
});

describe('ingestion queue', () => {
  it('should answer OVERLOADED when INGEST_QUEUE_SIZE events wait, store none of those, and store all it acknowledged', async () => {
    const server = await startServer({ databaseUrl: database.url, config: { INGEST_QUEUE_SIZE: 100 } });
    cleanups.push(() => server.stop());
    const batch = () =>
      Array.from({ length: 50 }, () => ({ id: randomUUID(), type: 'ANOMALY_DETECTED' as const, data: {} }));
    // Hold the event table, so accepted batches wait in the queue for their commit.
    const blocker = new pg.Client({ connectionString: database.url });
    await blocker.connect();
    cleanups.push(() => blocker.end());
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE "Event" IN ACCESS EXCLUSIVE MODE');
    const [a, b, c] = [batch(), batch(), batch()];
    // Both batches are queued once the store has been asked to insert both (and waits for the lock).
    const events = server.app.runtime.eventStore;
    const insertBatch = events.insertBatch.bind(events);
    const bothInserting = deferred();
    let inserting = 0;
    events.insertBatch = (...args) => {
      if (++inserting === 2) bothInserting.resolve();
      return insertBatch(...args);
    };
    cleanups.push(() => {
      events.insertBatch = insertBatch;
    });
    const first = gql(server.url, PUBLISH_MANY, { inputs: a }, server.adminKey);
    const second = gql(server.url, PUBLISH_MANY, { inputs: b }, server.adminKey);
    await bothInserting.promise;
    expect(server.app.runtime.ingestion.queueSize).toBe(100);
    const refused = await gql(server.url, PUBLISH_MANY, { inputs: c }, server.adminKey);
    expect(refused.errors?.[0]?.extensions?.code).toBe('OVERLOADED');
    expect(refused.errors?.[0]?.message).toContain('retry later');
    await blocker.query('COMMIT');
    expect((await first).data?.publishEvents.accepted).toBe(50);
    expect((await second).data?.publishEvents.accepted).toBe(50);
    expect((await events.findByIds([...a, ...b].map((e) => e.id))).length).toBe(100);
    expect((await events.findByIds(c.map((e) => e.id))).length).toBe(0);
    // With room again, the refused batch goes through on retry.
    expect((await gqlOk(server.url, PUBLISH_MANY, { inputs: c }, server.adminKey)).publishEvents.accepted).toBe(50);
  });
});

describe('outbound guard on a real socket', () => {
  async function socketPair(options: { coalesceBytes: number; maxBufferedBytes: number }) {
    const http = createServer();
    const wss = new WebSocketServer({ server: http });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const serverSide = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
    const client = await openRaw(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`, null);
    const socket = await serverSide;
    const guard = guardOutbound(socket, options);
    cleanups.push(async () => {
      await client.close();
      await new Promise((resolve) => wss.close(resolve));
      await new Promise((resolve) => http.close(resolve));
    });
    return { client, socket, guard };
  }
  const next = (id: string, data: { i: number; filler?: string }) =>
    JSON.stringify({ id, type: 'next', payload: { data } });
  /** The `i` a message made by `next` carries. */
  const indexOf = (m: RawMessage) => (m.type === 'next' ? m.payload.data?.i : undefined);
  const filler = 'f'.repeat(64 * 1024);

  it('should coalesce a backed-up subscription to its latest update and deliver everything else in full', async () => {
    const { client, socket, guard } = await socketPair({
      coalesceBytes: 64 * 1024,
      maxBufferedBytes: 256 * 1024 * 1024,
    });
    guard.coalesce('dash');
    client.pause();
    // 30 MB of a non-coalescible stream backs the socket up past any kernel buffer.
    for (let i = 0; i < 480; i++) socket.send(next('events', { i, filler }));
    expect(socket.bufferedAmount).toBeGreaterThan(64 * 1024);
    for (let i = 0; i < 500; i++) socket.send(next('dash', { i }));
    expect(guard.held).toBe(1);
    client.resume();
    await client.waitFor((m) => m.id === 'dash' && indexOf(m) === 499, 20_000);
    const dash = client.messages.filter((m) => m.id === 'dash').map(indexOf);
    const events = client.messages.filter((m) => m.id === 'events').map(indexOf);
    expect(dash).toEqual([499]);
    expect(events).toEqual(Array.from({ length: 480 }, (_, i) => i));
  });

  it('should close a client with SlowConsumer once more than the hard limit waits for it', async () => {
    const { client, socket } = await socketPair({ coalesceBytes: 64 * 1024, maxBufferedBytes: 1024 * 1024 });
    client.pause();
    let sent = 0;
    while (socket.readyState === socket.OPEN && sent < 2_000) {
      socket.send(next('events', { i: sent, filler }));
      sent += 1;
      expect(socket.bufferedAmount).toBeLessThanOrEqual(1024 * 1024 + 2 * filler.length);
    }
    expect(socket.readyState).not.toBe(socket.OPEN);
    client.resume();
    expect((await client.closed).code).toBe(4413);
  });
});

describe('a slow subscriber beside normal ones', () => {
  let server: TestServer;
  const PAYLOAD = 'p'.repeat(40 * 1024);

  beforeAll(async () => {
    server = await startServer({
      databaseUrl: database.url,
      config: { WS_COALESCE_BYTES: 64 * 1024, WS_MAX_BUFFERED_BYTES: 2 * 1024 * 1024, SUBSCRIPTION_BUFFER: 100_000 },
    });
    cleanups.push(() => server.stop());
  });

  const INSIGHTS = print(
    graphql(`
      subscription Insights {
        eventPublished(types: [INSIGHT_GENERATED]) {
          id
          receivedAt
          data
        }
      }
    `),
  );
  interface Subscriber {
    socket: RawSocket;
    latencies: number[];
    /** Resolves once the event with this id arrived (events arrive in the order they were published). */
    delivered(id: string, timeoutMs?: number): Promise<unknown>;
  }

  /** Raw, so it can stop reading; live on the server's bus once `subscribed` resolves. */
  async function subscriber(): Promise<Subscriber> {
    const socket = await openRaw(server.wsUrl, { authorization: `Bearer ${server.adminKey}` });
    cleanups.push(() => socket.close());
    const latencies: number[] = [];
    const eventOf = (m: RawMessage) =>
      m.type === 'next'
        ? (m.payload.data?.eventPublished as { id: string; receivedAt: string } | undefined)
        : undefined;
    socket.socket.on('message', (data) => {
      const event = eventOf(JSON.parse(data.toString()));
      if (event) latencies.push(Date.now() - Date.parse(event.receivedAt));
    });
    socket.send({ id: 'e', type: 'subscribe', payload: { query: INSIGHTS } });
    return {
      socket,
      latencies,
      delivered: (id, timeoutMs) => socket.waitFor((m) => eventOf(m)?.id === id, timeoutMs),
    };
  }

  async function publishRounds(rounds: number): Promise<string[]> {
    const ids: string[] = [];
    for (let r = 0; r < rounds; r++) {
      const inputs = Array.from({ length: 25 }, () => ({ type: 'INSIGHT_GENERATED' as const, data: { pad: PAYLOAD } }));
      ids.push(...(await gqlOk(server.url, PUBLISH_MANY, { inputs }, server.adminKey)).publishEvents.ids);
    }
    return ids;
  }

  const lastOf = (ids: string[]) => ids.at(-1) ?? '';
  const p95 = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length * 0.95)] ?? Number.NaN;

  it('should disconnect the slow one with SlowConsumer and keep the others as fast as without it', async () => {
    const subscribed = busSubscribed(server, 'events:published', 3);
    const normal = await Promise.all([subscriber(), subscriber(), subscriber()]);
    await subscribed;
    // A first round warms every path up before the baseline is measured.
    const warmUp = await publishRounds(1);
    await Promise.all(normal.map((n) => n.delivered(lastOf(warmUp))));

    const baselineStart = normal.map((n) => n.latencies.length);
    const baselineIds = await publishRounds(12); // 300 events, 12 MB per subscriber: more than socket buffers and the limit hold
    await Promise.all(normal.map((n) => n.delivered(lastOf(baselineIds), 45_000)));
    const baseline = normal.flatMap((n, i) => n.latencies.slice(baselineStart[i]));
    expect(baseline.length).toBeGreaterThanOrEqual(3 * baselineIds.length);

    const slowSubscribed = busSubscribed(server, 'events:published');
    const slow = await subscriber();
    await slowSubscribed;
    await slow.delivered(lastOf(await publishRounds(1)));
    slow.socket.pause();
    const loadStart = normal.map((n) => n.latencies.length);
    const loadIds = await publishRounds(12);
    await Promise.all(normal.map((n) => n.delivered(lastOf(loadIds), 45_000)));
    const underLoad = normal.flatMap((n, i) => n.latencies.slice(loadStart[i]));
    expect(underLoad.length).toBeGreaterThanOrEqual(3 * loadIds.length);

    slow.socket.resume();
    expect((await slow.socket.closed).code).toBe(4413);
    const slowGot = slow.latencies.length;

    const figures = {
      baselineP95: p95(baseline),
      underLoadP95: p95(underLoad),
      slowReceived: slowGot,
      published: loadIds.length,
    };
    console.info('latency of normal subscribers (ms)', figures);
    expect(slowGot).toBeLessThan(loadIds.length);
    expect(figures.underLoadP95).toBeLessThan(Math.max(3 * figures.baselineP95, figures.baselineP95 + 250));
    for (const n of normal) expect(n.socket.socket.readyState).toBe(n.socket.socket.OPEN);
  }, 90_000);
});
