// Two server instances sharing one Redis and one Postgres, as in a scaled-out deployment.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, gqlOk, startServer, subscribe, type TestServer, wsClient } from '../helpers/app.js';
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
    const subs = clients.map((c) =>
      subscribe(c, `subscription { eventPublished(types: [INSIGHT_GENERATED]) { id data } }`),
    );
    const probeIds: string[] = [];
    await eventually(
      async () => {
        const r = await gqlOk(
          one.url,
          `mutation { publishEvent(input: { type: INSIGHT_GENERATED, data: { probe: true } }) { id } }`,
          {},
          adminKey,
        );
        probeIds.push(r.publishEvent.id);
        return subs.every((s) => s.received.length > 0);
      },
      10_000,
      300,
    );
    const { publishEvents } = await gqlOk(
      two.url,
      `mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { ids } }`,
      { inputs: Array.from({ length: 20 }, (_, i) => ({ type: 'INSIGHT_GENERATED', data: { i } })) },
      adminKey,
    );
    for (const sub of subs) {
      await eventually(() =>
        publishEvents.ids.every((id: string) => sub.received.some((r: any) => r.eventPublished.id === id)),
      );
      const ids = sub.received.map((r: any) => r.eventPublished.id).filter((id: string) => !probeIds.includes(id));
      expect(ids).toEqual(publishEvents.ids);
    }
    for (const sub of subs) sub.dispose();
    await Promise.all(clients.map((c) => c.dispose()));
  });

  it('should let exactly one instance hold the stream processor lease', async () => {
    await eventually(() => one.app.runtime.processor.isLeader !== two.app.runtime.processor.isLeader);
    expect([one, two].filter((s) => s.app.runtime.processor.isLeader)).toHaveLength(1);
  });

  it('should answer the history identically on both instances', async () => {
    const query = `{ events(first: 10) { edges { node { id } } } }`;
    const [a, b] = await Promise.all([gqlOk(one.url, query, {}, adminKey), gqlOk(two.url, query, {}, adminKey)]);
    expect(a).toEqual(b);
  });
});
