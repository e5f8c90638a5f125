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
  // Four partitions, so that the two instances share them (one by default).
  const config = { PROCESSOR_PARTITIONS: 4 };
  one = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, adminKey, config });
  two = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, adminKey, config });
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
      // The batch's events are spread over the partitions, each broadcast in its own order: a set, not a sequence.
      expect(sub.received.map((r) => r.eventPublished.id).sort()).toEqual([...publishEvents.ids].sort());
    }
    // Broadcast in one order (the broadcast log's), which every subscriber sees.
    const [first, second] = subs.map((sub) => sub.received.map((r) => r.eventPublished.id));
    expect(first).toEqual(second);
    for (const sub of subs) sub.dispose();
    await Promise.all(clients.map((c) => c.dispose()));
  });

  it('should share the partitions between the instances, each held once, and let one of them evaluate alerts', async () => {
    const held = () => [one, two].map((s) => s.app.runtime.processor.heldPartitions);
    const partitions = one.app.runtime.aggregates.partitions;
    // Polled: the instances learn of each other on their heartbeats (a third of the lease's time).
    await eventually(() => held().every((mine) => mine.length === Math.ceil(partitions / 2)));
    expect(held().flat().sort()).toEqual(Array.from({ length: partitions }, (_, i) => i));
    await eventually(() => one.app.runtime.processor.isServing !== two.app.runtime.processor.isServing);
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
