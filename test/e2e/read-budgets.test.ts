// Per-operation read budgets: metric × window pairs and rows, summed over every field and alias of an operation,
// with `first` and the lists taken from the variables' values too. Over a budget the whole operation is refused
// with BAD_USER_INPUT naming the budget, before any resolver runs. Real Postgres and Redis, HTTP and WebSocket.
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { gql, gqlOk, startServer, type TestServer } from '../helpers/app.js';
import { isMessage, openRaw } from '../helpers/raw-ws.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

let database: TestDatabase;
let server: TestServer;
const prefix = redisKeyPrefix();

beforeAll(async () => {
  database = await createTestDatabase();
  // The defaults: MAX_AGGREGATE_PAIRS 500, MAX_ROWS_PER_REQUEST 2,000, MAX_PAGE_SIZE 500, 20 aliases.
  server = await startServer({
    databaseUrl: database.url,
    redisKeyPrefix: prefix,
    config: { RATE_LIMIT_PER_SECOND: 0 },
  });
});

afterAll(async () => {
  await server?.stop();
  await database?.drop();
  await deleteRedisKeys(prefix);
});

const WINDOWS = ['M1', 'M5', 'M15', 'H1', 'H6'] as const;
const metrics = (count: number) => Array.from({ length: count }, (_, i) => `budget_metric_${i}`);

const PAIRS_IN_ALIASES = graphql(`
  query PairsInAliases($metrics: [String!]!, $windows: [WindowSize!]!) {
    a: aggregates(metrics: $metrics, windows: $windows) {
      count
    }
    b: aggregates(metrics: $metrics, windows: $windows) {
      count
    }
    one: aggregate(metric: "budget_metric_0", window: M1) {
      count
    }
  }
`);

const ROWS_IN_ALIASES = graphql(`
  query RowsInAliases($n: Int) {
    a: events(first: $n) {
      edges {
        cursor
      }
    }
    b: events(first: $n) {
      edges {
        cursor
      }
    }
    c: events(first: $n) {
      edges {
        cursor
      }
    }
    d: events(first: $n) {
      edges {
        cursor
      }
    }
    e: alerts(first: $n) {
      edges {
        cursor
      }
    }
  }
`);

describe('read budgets', () => {
  it('should refuse more metric × window pairs than MAX_AGGREGATE_PAIRS over all aliases, before executing', async () => {
    // 2 × (50 × 5) + 1 = 501 pairs, each field alone well under the budget.
    const over = await gql(
      server.url,
      PAIRS_IN_ALIASES,
      { metrics: metrics(50), windows: [...WINDOWS] },
      server.adminKey,
    );
    expect(over.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'MAX_AGGREGATE_PAIRS' });
    expect(over.errors?.[0]?.message).toContain('reads 501 metric × window pairs');
    expect(over.data ?? null).toBeNull(); // not even the cheap field ran
    // 2 × (49 × 5) + 1 = 491 pairs: answered.
    const under = await gqlOk(
      server.url,
      PAIRS_IN_ALIASES,
      { metrics: metrics(49), windows: [...WINDOWS] },
      server.adminKey,
    );
    expect(under.a).toHaveLength(245);
    expect(under.one.count).toBe(0);
  });

  it('should count `first` given as a variable against MAX_ROWS_PER_REQUEST', async () => {
    // 5 × 401 = 2,005 rows over the budget of 2,000, though each page is within MAX_PAGE_SIZE.
    const over = await gql(server.url, ROWS_IN_ALIASES, { n: 401 }, server.adminKey);
    expect(over.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'MAX_ROWS_PER_REQUEST' });
    expect(over.errors?.[0]?.message).toContain('asks for 2005 rows');
    expect(over.data ?? null).toBeNull();
    const under = await gqlOk(server.url, ROWS_IN_ALIASES, { n: 400 }, server.adminKey);
    expect(under.a.edges).toEqual([]);
  });

  it('should count a `first` given as null as the default page it reads', async () => {
    // 20 aliases × the default 50, 1,000 names and 1 alert: 2,001 rows, over the budget of 2,000.
    const aliases = Array.from({ length: 20 }, (_, i) => `e${i}: events(first: $n) { edges { cursor } }`).join(' ');
    const query = `query($n: Int) { ${aliases} metricNames(first: 1000) alerts(first: 1) { edges { cursor } } }`;
    const over = await gql(server.url, query, { n: null }, server.adminKey);
    expect(over.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'MAX_ROWS_PER_REQUEST' });
  });

  it('should count the rows of metricNames and lists inside fragments, and hold over WebSocket too', async () => {
    const fragments = `
      query($n: Int) { ...Pages ... on Query { m: metricNames(first: $n) n: metricNames(first: $n) } }
      fragment Pages on Query { a: events(first: $n) { edges { cursor } } b: alerts(first: $n) { edges { cursor } } }
    `;
    const over = await gql(server.url, fragments, { n: 500 }, server.adminKey); // 4 × 500 = 2,000: at the budget
    expect(over.errors).toBeUndefined();
    const overFragments = await gql(server.url, fragments, { n: 501 }, server.adminKey);
    expect(overFragments.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      limit: 'MAX_ROWS_PER_REQUEST',
    });
    // metricNames without `first` counts its default page of 1,000.
    const defaults = await gql(
      server.url,
      '{ a: metricNames b: metricNames c: events(first: 1) { edges { cursor } } }',
      {},
      server.adminKey,
    );
    expect(defaults.errors?.[0]?.extensions?.limit).toBe('MAX_ROWS_PER_REQUEST');
    const socket = await openRaw(server.wsUrl, { authorization: `Bearer ${server.adminKey}` });
    try {
      socket.send({ id: 'rows', type: 'subscribe', payload: { query: print(ROWS_IN_ALIASES), variables: { n: 500 } } });
      // Refused at execution: a result carrying the error, as over HTTP.
      const refused = await socket.waitFor(isMessage('next', (m) => m.id === 'rows'));
      expect(refused.payload.data ?? null).toBeNull();
      expect(refused.payload.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        limit: 'MAX_ROWS_PER_REQUEST',
      });
    } finally {
      await socket.close();
    }
  });
});
