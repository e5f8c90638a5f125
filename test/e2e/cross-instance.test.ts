// Two server instances sharing one Redis and one Postgres, as in a scaled-out deployment.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import {
  eventually,
  gqlOk,
  startServer,
  subscribe,
  subscribersJoined,
  type TestServer,
  wsClient,
} from '../helpers/app.js';
import { EVENT_PUBLISHED, PUBLISH_EVENTS } from '../helpers/operations.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

let database: TestDatabase;
const prefix = redisKeyPrefix();
let one: TestServer;
let two: TestServer;
const adminKey = `test-admin-${Date.now()}`;

beforeAll(async () => {
  database = await createTestDatabase();
  one = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, adminKey });
  two = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, adminKey });
});

afterAll(async () => {
  await one?.stop();
  await two?.stop();
  await database?.drop();
  await deleteRedisKeys(prefix);
});

describe('two instances', () => {
  it('should deliver an event published on one instance to subscribers of both, exactly once each', async () => {
    const clients = [wsClient(one.wsUrl, adminKey), wsClient(two.wsUrl, adminKey)];
    const subscribed = Promise.all([subscribersJoined(one), subscribersJoined(two)]);
    const subs = clients.map((c) => subscribe(c, EVENT_PUBLISHED, { types: ['INSIGHT_GENERATED'] }));
    await subscribed;
    const { publishEvents } = await gqlOk(
      two.url,
      PUBLISH_EVENTS,
      { inputs: Array.from({ length: 20 }, (_, i) => ({ type: 'INSIGHT_GENERATED' as const, data: { i } })) },
      adminKey,
    );
    for (const sub of subs) {
      await sub.waitFor(publishEvents.ids.length);
      expect(sub.received.map((r) => r.eventPublished.id)).toEqual(publishEvents.ids);
    }
    for (const sub of subs) sub.dispose();
    await Promise.all(clients.map((c) => c.dispose()));
  });

  it('should let exactly one instance hold the stream processor lease', async () => {
    // Polled: the lease lives in Redis and each instance learns whether it holds it on its own next pass.
    await eventually(() => one.app.runtime.processor.isLeader !== two.app.runtime.processor.isLeader);
    expect([one, two].filter((s) => s.app.runtime.processor.isLeader)).toHaveLength(1);
  });

  it('should answer the history identically on both instances', async () => {
    const query = graphql(`
      query LatestEvents {
        events(first: 10) {
          edges {
            node {
              id
            }
          }
        }
      }
    `);
    const [a, b] = await Promise.all([gqlOk(one.url, query, {}, adminKey), gqlOk(two.url, query, {}, adminKey)]);
    expect(a).toEqual(b);
  });
});
