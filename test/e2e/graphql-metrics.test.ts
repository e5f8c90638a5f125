// GraphQL operations, errors by code and durations on /metrics, over HTTP and WebSocket, read from a live scrape.
// The tests run in order on one server and compare the counts before and after what they send.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import {
  eventually,
  gql,
  gqlOk,
  startServer,
  subscribe,
  subscribersJoined,
  type TestServer,
  wsClient,
} from '../helpers/app.js';
import { AGGREGATE, EVENT_PUBLISHED, PUBLISH_EVENT } from '../helpers/operations.js';
import { sampleValue, scrape } from '../helpers/prometheus.js';
import { openRaw } from '../helpers/raw-ws.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

let database: TestDatabase;
const prefix = redisKeyPrefix();
let server: TestServer;

beforeAll(async () => {
  database = await createTestDatabase();
  server = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, config: { MAX_QUERY_DEPTH: 3 } });
});

afterAll(async () => {
  await server?.stop();
  await database?.drop();
  await deleteRedisKeys(prefix);
});

const OPERATIONS = 'jackdaw_graphql_operations_total';
const ERRORS = 'jackdaw_graphql_errors_total';
const DURATIONS = 'jackdaw_graphql_operation_duration_seconds_count';

type Reading = [name: string, labels: Record<string, string>];

/** How much each reading grew while `action` ran. */
async function growth(readings: Reading[], action: () => Promise<unknown>): Promise<number[]> {
  const before = (await scrape(server.url)).samples;
  await action();
  const after = (await scrape(server.url)).samples;
  return readings.map(([name, labels]) => sampleValue(after, name, labels) - sampleValue(before, name, labels));
}

const METRIC_NAMES = graphql(`
  query MetricNamesCounted {
    metricNames
  }
`);

describe('GraphQL operations on /metrics', () => {
  it('should count a query and a mutation by root field, and time them', async () => {
    const grown = await growth(
      [
        [OPERATIONS, { type: 'query', field: 'aggregate' }],
        [OPERATIONS, { type: 'mutation', field: 'publishEvent' }],
        [DURATIONS, { type: 'query' }],
        [DURATIONS, { type: 'mutation' }],
        [ERRORS, {}],
      ],
      async () => {
        await gqlOk(server.url, AGGREGATE, { metric: 'counted', window: 'M1' }, server.adminKey);
        const input = { type: 'PERFORMANCE_METRIC' as const, data: { metric_name: 'counted', value: 1 } };
        await gqlOk(server.url, PUBLISH_EVENT, { input }, server.adminKey);
      },
    );
    expect(grown).toEqual([1, 1, 1, 1, 0]);
  });

  it('should count operations over WebSocket: a query, a shared subscription and one alone', async () => {
    const client = wsClient(server.wsUrl, server.adminKey);
    try {
      const grown = await growth(
        [
          [OPERATIONS, { type: 'query', field: 'metricNames' }],
          [OPERATIONS, { type: 'subscription', field: 'eventPublished' }],
          [OPERATIONS, { type: 'subscription', field: 'alertTriggered' }],
          [DURATIONS, { type: 'subscription' }],
        ],
        async () => {
          const started = sampleValue((await scrape(server.url)).samples, DURATIONS, { type: 'subscription' });
          const query = subscribe(client, METRIC_NAMES);
          await query.waitFor(1);
          const joined = subscribersJoined(server);
          const shared = subscribe(client, EVENT_PUBLISHED, {});
          await joined;
          // With `after` it replays from storage, so it runs alone, through envelop's subscribe.
          const alone = subscribe(
            client,
            graphql(`
              subscription AlertsAfterCounted($after: ID) {
                alertTriggered(after: $after) {
                  id
                }
              }
            `),
            { after: crypto.randomUUID() },
          );
          // It sends nothing until an alert fires: it is open once its start is timed.
          await eventually(
            async () => sampleValue((await scrape(server.url)).samples, DURATIONS, { type: 'subscription' }) > started,
          );
          shared.dispose();
          alone.dispose();
        },
      );
      expect(grown).toEqual([1, 1, 1, 1]);
    } finally {
      await client.dispose();
    }
  });

  it('should count BAD_USER_INPUT from a resolver, from validation and from parsing, by operation type', async () => {
    const grown = await growth(
      [
        [ERRORS, { code: 'BAD_USER_INPUT', type: 'query' }],
        [OPERATIONS, { type: 'query', field: 'unknown' }],
        [ERRORS, { code: 'BAD_USER_INPUT', type: 'unknown' }],
        [OPERATIONS, { type: 'unknown', field: 'unknown' }],
        [ERRORS, { code: 'BAD_USER_INPUT', type: 'subscription' }],
      ],
      async () => {
        const resolver = await gql(server.url, AGGREGATE, { metric: 'bad name!', window: 'M5' }, server.adminKey);
        expect(resolver.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
        const unknownField = await gql(server.url, '{ noSuchField }', {}, server.adminKey);
        expect(unknownField.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
        // graphql-armor throws this one out of validation instead of reporting it.
        const deep = await gql(server.url, '{ events(first: 1) { edges { node { id } } } }', {}, server.adminKey);
        expect(deep.errors?.[0]?.message).toContain('depth limit of 3');
        // The same unparsable document twice: both are counted, though yoga caches parsed documents.
        for (let i = 0; i < 2; i++) {
          const unparsable = await gql(server.url, '{ aggregate(', {}, server.adminKey);
          expect(unparsable.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
        }
        const client = wsClient(server.wsUrl, server.adminKey);
        try {
          const invalid = subscribe(client, 'subscription { noSuchField }');
          await invalid.until((received) => received.length > 0);
          expect(invalid.errors).toHaveLength(1);
        } finally {
          await client.dispose();
        }
      },
    );
    expect(grown).toEqual([3, 1, 2, 2, 1]);
  });

  it('should count UNAUTHENTICATED for an operation without a key (refused before its body, so of unknown type)', async () => {
    const grown = await growth([[ERRORS, { code: 'UNAUTHENTICATED', type: 'unknown' }]], async () => {
      const anonymous = await gql(server.url, AGGREGATE, { metric: 'counted', window: 'M1' });
      expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    });
    expect(grown).toEqual([1]);
  });

  it('should count UNAUTHENTICATED for a WebSocket whose connection_init has a bad key', async () => {
    const grown = await growth([[ERRORS, { code: 'UNAUTHENTICATED', type: 'unknown' }]], async () => {
      const socket = await openRaw(server.wsUrl, null);
      socket.send({ type: 'connection_init', payload: { authorization: 'Bearer jds_not-a-key-of-this-server' } });
      expect((await socket.closed).code).toBe(4403);
    });
    expect(grown).toEqual([1]);
  });

  it('should label with schema names only, never a name the client chose', async () => {
    const grown = await growth(
      [
        [OPERATIONS, { type: 'query', field: 'metricNames' }],
        [OPERATIONS, { type: 'unknown', field: 'unknown' }],
        [ERRORS, { code: 'BAD_USER_INPUT', type: 'unknown' }],
        [OPERATIONS, { type: 'query', field: 'multiple' }],
      ],
      async () => {
        await gqlOk(server.url, 'query ClientChosen_x1 { metricNames }', {}, server.adminKey);
        // An operationName the document does not have: no operation, so no type or field either.
        await fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminKey}` },
          body: JSON.stringify({ query: 'query A { metricNames }', operationName: 'ClientChosen_x2' }),
        });
        await gqlOk(server.url, '{ metricNames alertRules { id } }', {}, server.adminKey);
      },
    );
    expect(grown).toEqual([1, 1, 1, 1]);
    expect((await scrape(server.url)).text).not.toContain('ClientChosen');
  });
});
