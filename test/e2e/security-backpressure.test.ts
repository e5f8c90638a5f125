// Backpressure: a full ingestion queue answers OVERLOADED (and stores nothing of what it refused); a WebSocket's
// outbound buffer is bounded, coalescing dashboard/metric updates while backed up and closing a client too slow to
// keep up, while the other subscribers' latency stays where it was.
import { randomUUID } from 'node:crypto';
import { print } from 'graphql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { gql, gqlOk, startServer, subscribersJoined, type TestServer } from '../helpers/app.js';
import { PUBLISH_EVENTS as PUBLISH_MANY } from '../helpers/operations.js';
import { openRaw, type RawMessage, type RawSocket } from '../helpers/raw-ws.js';
import { createTestDatabase, type TestDatabase } from '../helpers/services.js';
import { Condition, deferred } from '../helpers/waits.js';

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

// The outbound guard itself is tested directly on a real socket in test/integration/outbound-guard.test.ts.

describe('a slow subscriber beside normal ones', () => {
  let server: TestServer;
  const PAYLOAD = 'p'.repeat(40 * 1024);

  beforeAll(async () => {
    // A database of its own: an instance without Redis processes its outbox alone (no shared lease), so another
    // one left running on the same database would take and broadcast these events on its own in-process bus.
    const own = await createTestDatabase();
    cleanups.push(() => own.drop());
    server = await startServer({
      databaseUrl: own.url,
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
    /** Event id → ms from its acceptance to its arrival here. */
    latencies: Map<string, number>;
    /**
     * Resolves once every one of these events arrived. (Not the last one alone: the events of one batch are broadcast
     * in the order the database numbered them, which need not be the order they were sent in.)
     */
    delivered(ids: string[], timeoutMs?: number): Promise<void>;
  }

  /** Raw, so it can stop reading; live on the server's bus once `subscribed` resolves. */
  async function subscriber(): Promise<Subscriber> {
    const socket = await openRaw(server.wsUrl, { authorization: `Bearer ${server.adminKey}` });
    cleanups.push(() => socket.close());
    const latencies = new Map<string, number>();
    const arrivals = new Condition();
    socket.socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as RawMessage;
      const event =
        message.type === 'next'
          ? (message.payload.data?.eventPublished as { id: string; receivedAt: string } | undefined)
          : undefined;
      if (!event) return;
      latencies.set(event.id, Date.now() - Date.parse(event.receivedAt));
      arrivals.changed();
    });
    socket.send({ id: 'e', type: 'subscribe', payload: { query: INSIGHTS } });
    return {
      socket,
      latencies,
      delivered: (ids, timeoutMs) =>
        arrivals.until(
          () => ids.every((id) => latencies.has(id)),
          timeoutMs,
          () => `${ids.filter((id) => !latencies.has(id)).length} of ${ids.length} events`,
        ),
    };
  }

  /**
   * Publishes rounds of 25 events (1 MB), each once the last reached every one of `readers`: the readers keep up as a
   * normal client does, however loaded the machine running the test is, and only a client that stops reading
   * falls behind.
   */
  async function publishRounds(rounds: number, readers: Subscriber[]): Promise<string[]> {
    const ids: string[] = [];
    for (let r = 0; r < rounds; r++) {
      const inputs = Array.from({ length: 25 }, () => ({ type: 'INSIGHT_GENERATED' as const, data: { pad: PAYLOAD } }));
      const round = (await gqlOk(server.url, PUBLISH_MANY, { inputs }, server.adminKey)).publishEvents.ids;
      await Promise.all(readers.map((reader) => reader.delivered(round, 45_000)));
      ids.push(...round);
    }
    return ids;
  }

  /** Every subscriber's latency for every one of `ids`: each must have arrived at each. */
  const latenciesOf = (subscribers: Subscriber[], ids: string[]) =>
    subscribers.flatMap((n) =>
      ids.map((id) => {
        const latency = n.latencies.get(id);
        expect(latency, `event ${id} did not reach a normal subscriber`).toBeDefined();
        return latency ?? Number.NaN;
      }),
    );
  const p95 = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length * 0.95)] ?? Number.NaN;

  it('should disconnect the slow one with SlowConsumer and keep the others as fast as without it', async () => {
    const subscribed = subscribersJoined(server, 3);
    const normal = await Promise.all([subscriber(), subscriber(), subscriber()]);
    await subscribed;
    // A first round warms every path up before the baseline is measured.
    await publishRounds(1, normal);

    // 300 events, 12 MB per subscriber: more than socket buffers and the limit hold.
    const baselineIds = await publishRounds(12, normal);
    const baseline = latenciesOf(normal, baselineIds);

    const slowSubscribed = subscribersJoined(server);
    const slow = await subscriber();
    await slowSubscribed;
    await slow.delivered(await publishRounds(1, normal), 45_000);
    slow.socket.pause();
    const loadIds = await publishRounds(12, normal);
    const underLoad = latenciesOf(normal, loadIds);

    slow.socket.resume();
    expect((await slow.socket.closed).code).toBe(4413);
    const slowGot = loadIds.filter((id) => slow.latencies.has(id)).length;

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
