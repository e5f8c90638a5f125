// Postgres dies under a running server (a cluster this test owns, stopped in immediate mode, as in a crash):
// publishing answers UNAVAILABLE and acknowledges nothing it did not store, /ready fails and /health says degraded;
// when Postgres is back, all of it recovers by itself.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { eventually, gql, gqlOk, processed, startServer, type TestServer } from '../helpers/app.js';
import { AGGREGATE, PUBLISH_EVENTS as PUBLISH_MANY } from '../helpers/operations.js';
import { type OwnedPostgres, startOwnedPostgres } from '../helpers/owned-services.js';

const METRIC = 'fault_postgres_load';

let postgres: OwnedPostgres;
let server: TestServer;

beforeAll(async () => {
  postgres = await startOwnedPostgres();
  server = await startServer({ databaseUrl: postgres.url });
});

afterAll(async () => {
  await server?.stop();
  await postgres?.remove();
});

const batch = (n: number) =>
  Array.from({ length: n }, () => ({
    id: randomUUID(),
    type: 'PERFORMANCE_METRIC' as const,
    data: { metric_name: METRIC, value: 1 },
  }));

describe('Postgres down', () => {
  it('should answer UNAVAILABLE, fail /ready and report degraded health, then recover by itself', async () => {
    const base = server.url.replace('/graphql', '');
    const acknowledged: string[] = [];
    acknowledged.push(
      ...(await gqlOk(server.url, PUBLISH_MANY, { inputs: batch(10) }, server.adminKey)).publishEvents.ids,
    );

    await postgres.stop();
    const refusedIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const inputs = batch(10);
      const result = await gql(server.url, PUBLISH_MANY, { inputs }, server.adminKey);
      if (result.data?.publishEvents) {
        acknowledged.push(...result.data.publishEvents.ids); // only if it was stored after all
        continue;
      }
      expect(result.errors?.[0], JSON.stringify(result.errors)).toMatchObject({ extensions: { code: 'UNAVAILABLE' } });
      // Refused at the key check or at the insert: either way nothing was stored, and the client is told to retry.
      expect(result.errors?.[0]?.message).toContain('retry later');
      refusedIds.push(...inputs.map((e) => e.id));
    }
    expect(refusedIds.length).toBeGreaterThan(0);
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(503);
    const health = await (await fetch(`${base}/health`)).json();
    expect(health.status).toBe('degraded');
    expect(health.checks.database.ok).toBe(false);

    // A read that needs the database is masked as INTERNAL with a request id, never a driver message.
    const read = await gql(
      server.url,
      graphql(`
        query LatestEventId {
          events(first: 1) {
            edges {
              node {
                id
              }
            }
          }
        }
      `),
      {},
      server.adminKey,
    );
    const code = read.errors?.[0]?.extensions?.code;
    expect(['INTERNAL', 'UNAUTHENTICATED', 'UNAVAILABLE']).toContain(code);
    if (code === 'INTERNAL') expect(read.errors?.[0]?.extensions?.requestId).toBeTruthy();
    expect(JSON.stringify(read)).not.toMatch(/ECONNREFUSED|postgres(ql)?:\/\/|127\.0\.0\.1:\d+/);

    await postgres.start();
    // Polled here and below: the server learns that Postgres is back only by trying it.
    await eventually(async () => (await fetch(`${base}/ready`)).status === 200, 30_000, 200);
    expect((await (await fetch(`${base}/health`)).json()).status).toBe('healthy');
    const after = await eventually(
      async () => {
        const result = await gql(server.url, PUBLISH_MANY, { inputs: batch(10) }, server.adminKey);
        return result.data?.publishEvents.ids ?? null;
      },
      30_000,
      200,
    );
    acknowledged.push(...after);

    // Everything acknowledged is stored and aggregated; nothing refused is.
    const events = server.app.services.events;
    expect((await events.findByIds(acknowledged)).length).toBe(acknowledged.length);
    expect((await events.findByIds(refusedIds)).length).toBe(0);
    await processed(server);
    const { aggregate } = await gqlOk(server.url, AGGREGATE, { metric: METRIC, window: 'M5' }, server.adminKey);
    expect(aggregate.count).toBe(acknowledged.length);
    console.info('Postgres outage', { acknowledged: acknowledged.length, refusedWithUnavailable: refusedIds.length });
  }, 120_000);
});
