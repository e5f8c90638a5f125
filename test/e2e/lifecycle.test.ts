// Starting from nothing on the embedded default, and stopping without losing an acknowledged event.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { eventually, gql, gqlOk, startServer, subscribe, subscribersJoined, wsClient } from '../helpers/app.js';
import { EVENT_PUBLISHED, PUBLISH_EVENT, PUBLISH_EVENTS } from '../helpers/operations.js';
import { createTestDatabase } from '../helpers/services.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('embedded default', () => {
  it('should start from an empty data directory, answer queries, and keep its data across a restart', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'jackdaw-embedded-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const first = await startServer({ dataDir });
    const health = await (await fetch(first.url.replace('/graphql', '/health'))).json();
    expect(health).toMatchObject({ status: 'healthy', database: 'embedded', bus: 'in-process' });
    const published = await gqlOk(
      first.url,
      PUBLISH_EVENT,
      { input: { type: 'ANOMALY_DETECTED', data: { where: 'eu-west' } } },
      first.adminKey,
    );
    await first.stop();
    const second = await startServer({ dataDir, adminKey: first.adminKey });
    cleanups.push(() => second.stop());
    const history = await gqlOk(
      second.url,
      graphql(`
        query EmbeddedHistory {
          events(first: 5) {
            edges {
              node {
                id
                data
              }
            }
          }
        }
      `),
      {},
      first.adminKey,
    );
    expect(history.events.edges).toEqual([{ node: { id: published.publishEvent.id, data: { where: 'eu-west' } } }]);
  }, 60_000);
});

describe('graceful stop', () => {
  it('should close sockets with 1001 and lose no acknowledged event while stopping under load', async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const server = await startServer({ databaseUrl: database.url });
    const client = wsClient(server.wsUrl, server.adminKey);
    const subscribed = subscribersJoined(server);
    const sub = subscribe(client, EVENT_PUBLISHED);
    await subscribed;
    const acknowledged: string[] = [];
    let running = true;
    const publishers = Array.from({ length: 4 }, async () => {
      while (running) {
        try {
          const result = await gql(
            server.url,
            PUBLISH_EVENTS,
            {
              inputs: Array.from({ length: 50 }, (_, i) => ({
                type: 'PERFORMANCE_METRIC' as const,
                data: { metric_name: 'load', value: i },
              })),
            },
            server.adminKey,
          );
          if (result.data?.publishEvents) acknowledged.push(...result.data.publishEvents.ids);
        } catch {
          return; // the server stopped accepting connections
        }
      }
    });
    // Stopped mid-load: once publishes are being acknowledged (a fixed 300 ms could pass before the first on a
    // loaded machine, and the test then proved nothing about acknowledged events).
    await eventually(() => acknowledged.length > 0);
    await server.stop();
    running = false;
    await Promise.all(publishers);
    await sub.waitFor(Number.MAX_SAFE_INTEGER); // until it ends
    expect((sub.errors[0] as { code?: number } | undefined)?.code).toBe(1001);
    expect(acknowledged.length).toBeGreaterThan(0);
    // Every acknowledged event is in the database, read by an instance started afresh.
    const after = await startServer({ databaseUrl: database.url, adminKey: server.adminKey });
    cleanups.push(() => after.stop());
    const stored = await after.app.services.events.findByIds(acknowledged);
    expect(stored.length).toBe(acknowledged.length);
    await client.dispose();
  }, 60_000);
});
