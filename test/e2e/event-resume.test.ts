// Resumable events: eventPublished(after: cursor) replays what was broadcast since the cursor from Postgres, then goes
// on live, with no gap or duplicate at the seam, in broadcast order, on any instance. Two instances on one Postgres
// and Redis; a third server on another database for its cursors. Real Postgres and Redis.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEventCursor } from '../../src/events/cursor.js';
import { graphql } from '../generated/index.js';
import {
  gqlOk,
  processed,
  startServer,
  subscribe,
  subscribersJoined,
  type TestServer,
  wsClient,
} from '../helpers/app.js';
import { EVENTS_AFTER, PUBLISH_EVENTS } from '../helpers/operations.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

const MAX_REPLAY = 40;
let database: TestDatabase;
let otherDatabase: TestDatabase;
const prefix = redisKeyPrefix();
const otherPrefix = redisKeyPrefix();
let one: TestServer;
let two: TestServer;
let other: TestServer;
const adminKey = `test-admin-${Date.now()}-resume`;
const clients: { dispose(): unknown }[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  otherDatabase = await createTestDatabase();
  const config = { MAX_REPLAY_EVENTS: MAX_REPLAY };
  one = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, adminKey, config });
  two = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, adminKey, config });
  other = await startServer({ databaseUrl: otherDatabase.url, redisKeyPrefix: otherPrefix, adminKey, config });
});

afterAll(async () => {
  for (const client of clients) await client.dispose();
  await one?.stop();
  await two?.stop();
  await other?.stop();
  await database?.drop();
  await otherDatabase?.drop();
  await deleteRedisKeys(prefix);
  await deleteRedisKeys(otherPrefix);
});

const PUBLISH_ONE = graphql(`
  mutation PublishOneWithCursor($input: PublishEventInput!) {
    publishEvent(input: $input) {
      id
      cursor
    }
  }
`);

const HISTORY_CURSORS = graphql(`
  query HistoryCursors($first: Int) {
    events(first: $first) {
      edges {
        node {
          id
          cursor
        }
      }
    }
  }
`);

function client(server: TestServer) {
  const ws = wsClient(server.wsUrl, adminKey);
  clients.push(ws);
  return ws;
}

/** Publishes `count` events in `calls` concurrent publishEvents calls, so they commit (and are broadcast) in batches. */
async function publish(server: TestServer, tag: string, count: number, calls = 4): Promise<string[]> {
  const per = Math.ceil(count / calls);
  const results = await Promise.all(
    Array.from({ length: calls }, (_, c) =>
      gqlOk(
        server.url,
        PUBLISH_EVENTS,
        {
          inputs: Array.from({ length: Math.min(per, count - c * per) }, (_, i) => ({
            type: (i % 2 ? 'INSIGHT_GENERATED' : 'ANOMALY_DETECTED') as 'INSIGHT_GENERATED' | 'ANOMALY_DETECTED',
            data: { tag, n: c * per + i },
          })),
        },
        adminKey,
      ),
    ),
  );
  return results.flatMap((r) => r.publishEvents.ids);
}

type Received = { eventPublished: { id: string; type: string; cursor: string } };
const ids = (received: Received[]) => received.map((r) => r.eventPublished.id);

/** A subscriber that stays connected throughout: what it receives is the broadcast order. */
async function witness(server: TestServer) {
  // Joined before the probe is published: a probe broadcast before the subscription joined would never arrive.
  const joined = subscribersJoined(server);
  const sub = subscribe(client(server), EVENTS_AFTER, {});
  await joined;
  // Live once a first event gets through.
  const [probe] = await publish(server, 'probe', 1, 1);
  await sub.until((got) => ids(got as Received[]).includes(probe as string));
  return sub;
}

describe('eventPublished(after:)', () => {
  it('should resume on instance B after a socket dropped on A with exactly the missed events, in broadcast order, then live', async () => {
    const watch = await witness(two);
    const socket = client(one);
    const joined = subscribersJoined(one);
    const first = subscribe(socket, EVENTS_AFTER, {});
    await joined;
    const before = await publish(two, 'before', 12);
    await first.until((got) => before.every((id) => ids(got).includes(id)));
    const last = first.received.at(-1) as Received;
    first.dispose();
    await socket.dispose(); // the dropped socket
    const missed = await publish(one, 'missed', 20);
    await processed(one, two);
    const resumed = subscribe(client(two), EVENTS_AFTER, { after: last.eventPublished.cursor });
    await resumed.waitFor(missed.length);
    // Live from here, on the resumed subscription: no gap, no duplicate at the seam.
    const after = await publish(one, 'after', 6, 2);
    await watch.until((got) => after.every((id) => ids(got).includes(id)));
    await resumed.until((got) => after.every((id) => ids(got).includes(id)));
    const order = ids(watch.received);
    const expected = order.slice(order.indexOf(last.eventPublished.id) + 1);
    expect(new Set(expected)).toEqual(new Set([...missed, ...after]));
    expect(ids(resumed.received)).toEqual(expected);
    expect(resumed.errors).toEqual([]);
    // The cursors a replay and a live delivery give out are those the witness saw.
    expect(resumed.received.map((r) => r.eventPublished.cursor)).toEqual(
      watch.received.slice(order.indexOf(last.eventPublished.id) + 1).map((r) => (r as Received).eventPublished.cursor),
    );
  });

  it('should close the seam while events are being broadcast during the replay', async () => {
    const watch = await witness(one);
    const start = watch.received.at(-1) as Received;
    const during = publish(two, 'seam', 30, 10); // committing and broadcast while the replay reads
    const resumed = subscribe(client(one), EVENTS_AFTER, { after: start.eventPublished.cursor });
    const published = await during;
    await watch.until((got) => published.every((id) => ids(got).includes(id)));
    await resumed.until((got) => published.every((id) => ids(got).includes(id)));
    const order = ids(watch.received);
    expect(ids(resumed.received)).toEqual(order.slice(order.indexOf(start.eventPublished.id) + 1));
  });

  it('should replay only the asked types', async () => {
    const watch = await witness(two);
    const start = watch.received.at(-1) as Received;
    const published = await publish(two, 'typed', 10);
    await watch.until((got) => published.every((id) => ids(got).includes(id)));
    const resumed = subscribe(client(one), EVENTS_AFTER, {
      types: ['INSIGHT_GENERATED'],
      after: start.eventPublished.cursor,
    });
    const insights = (watch.received as Received[])
      .slice(ids(watch.received).indexOf(start.eventPublished.id) + 1)
      .filter((r) => r.eventPublished.type === 'INSIGHT_GENERATED');
    await resumed.waitFor(insights.length);
    expect(ids(resumed.received)).toEqual(ids(insights));
  });

  it("should resume after publishEvent's and the history's cursors, the event broadcast or not yet", async () => {
    const { publishEvent } = await gqlOk(
      one.url,
      PUBLISH_ONE,
      { input: { type: 'INSIGHT_GENERATED', data: { tag: 'pending' } } },
      adminKey,
    );
    // Answered at commit: the cursor may point to an event the processor has not broadcast yet.
    const fromPublish = subscribe(client(two), EVENTS_AFTER, { after: publishEvent.cursor });
    const next = await publish(two, 'next', 3, 1);
    await fromPublish.waitFor(3);
    expect(ids(fromPublish.received)).toEqual(next);
    await processed(one, two);
    const { events } = await gqlOk(one.url, HISTORY_CURSORS, { first: 4 }, adminKey);
    const history = events.edges.map((e) => e.node);
    expect(history.map((e) => e.id)).toEqual([...next].reverse().concat(publishEvent.id));
    const fromHistory = subscribe(client(one), EVENTS_AFTER, { after: history[3]?.cursor });
    await fromHistory.waitFor(3);
    expect(ids(fromHistory.received)).toEqual(next);
    expect(fromHistory.received.map((r) => r.eventPublished.cursor)).toEqual(
      history
        .slice(0, 3)
        .reverse()
        .map((e) => e.cursor),
    );
  });

  it('should refuse a replay longer than MAX_REPLAY_EVENTS, telling the client to page the history', async () => {
    const watch = await witness(one);
    const start = watch.received.at(-1) as Received;
    await publish(one, 'flood', MAX_REPLAY + 1, 2);
    await processed(one, two);
    const resumed = subscribe(client(two), EVENTS_AFTER, { after: start.eventPublished.cursor });
    await resumed.until(() => resumed.errors.length > 0, 30_000);
    expect(resumed.received).toEqual([]);
    expect(JSON.stringify(resumed.errors)).toContain('BAD_USER_INPUT');
    expect(JSON.stringify(resumed.errors)).toContain(`more than ${MAX_REPLAY} events were broadcast since this cursor`);
    expect(JSON.stringify(resumed.errors)).toContain('page them with the events query');
  });

  it('should refuse, not wait forever on, the pending cursor of an event the broadcast history does not hold', async () => {
    // As an event stored before the broadcast log began (an upgrade), or whose batch the retention pruned.
    const { publishEvent } = await gqlOk(
      one.url,
      PUBLISH_ONE,
      { input: { type: 'INSIGHT_GENERATED', data: { tag: 'before the log' } } },
      adminKey,
    );
    await processed(one, two);
    const sql = new pg.Client({ connectionString: database.url });
    await sql.connect();
    try {
      await sql.query(
        `CREATE TEMP TABLE saved AS SELECT * FROM "EventBroadcast" WHERE position = (SELECT max(position) FROM "EventBroadcast")`,
      );
      await sql.query(`DELETE FROM "EventBroadcast" WHERE position IN (SELECT position FROM saved)`);
      // The cursor as the publish answers it before its event is broadcast. The answer itself may already hold the
      // broadcast place, when the processor was quicker than the resolver (on a loaded machine, often).
      const database = Buffer.from(publishEvent.cursor, 'base64url').toString().split(':')[1] as string;
      const { rows } = await sql.query<{ seq: string }>(`SELECT seq::text AS seq FROM "Event" WHERE id = $1`, [
        publishEvent.id,
      ]);
      const pending = encodeEventCursor({ kind: 'pending', database, seq: BigInt(rows[0]?.seq ?? '0') });
      const sub = subscribe(client(two), EVENTS_AFTER, { after: pending });
      await sub.until(() => sub.errors.length > 0, 10_000);
      expect(JSON.stringify(sub.errors)).toContain('BAD_USER_INPUT');
      expect(JSON.stringify(sub.errors)).toMatch(/names no event the broadcast history holds/);
    } finally {
      await sql.query(`INSERT INTO "EventBroadcast" SELECT * FROM saved`);
      await sql.end();
    }
  });

  it('should refuse garbage, forged and other-database cursors with BAD_USER_INPUT, keeping the socket', async () => {
    const watch = await witness(one);
    const real = (watch.received.at(-1) as Received).eventPublished.cursor;
    const key = Buffer.from(real, 'base64url').toString(); // e1:<database>:<position>:<index>
    const [, name, position] = key.split(':');
    const forge = (text: string) => Buffer.from(text).toString('base64url');
    const otherWatch = await witness(other);
    const foreign = (otherWatch.received.at(-1) as Received).eventPublished.cursor;
    const cases: [string, RegExp][] = [
      ['garbage', /not an event cursor this server gave out/],
      [forge(`e1:${name}:${BigInt(position as string) + 1000n}:0`), /names no broadcast event of this database/],
      [forge(`e1:${name}:${position}:99999`), /names no broadcast event of this database/],
      [forge(`e1:${name}:pending:99999999`), /names no event the broadcast history holds/],
      [forge(`e1:${name}:0:0`), /not an event cursor/],
      [forge(`e1:000000000000:${position}:0`), /from another database/],
      [foreign, /from another database/],
      [`${real}=`, /not an event cursor/],
    ];
    const socket = client(two);
    for (const [after, says] of cases) {
      const sub = subscribe(socket, EVENTS_AFTER, { after });
      await sub.until(() => sub.errors.length > 0);
      expect(JSON.stringify(sub.errors), after).toContain('BAD_USER_INPUT');
      expect(JSON.stringify(sub.errors), after).toMatch(says);
    }
    // The socket is still good for a valid resume.
    const ok = subscribe(socket, EVENTS_AFTER, { after: real });
    const [next] = await publish(one, 'still', 1, 1);
    await ok.until((got) => ids(got).includes(next as string));
    expect(ok.errors).toEqual([]);
  });
});
