// Every configured limit, each refused with a clean, coded error: query depth, cost, aliases and tokens (before
// execution), batch size, request body size, introspection, and operations per key per second.
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { print } from 'graphql';
import { afterAll, assert, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { gql, gqlOk, sleep, startServer, type TestServer } from '../helpers/app.js';
import { CREATE_API_KEY, PUBLISH_EVENTS as PUBLISH_MANY } from '../helpers/operations.js';
import { isMessage, openRaw, type RawSocket } from '../helpers/raw-ws.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

const BODY_LIMIT = 16 * 1024;
let database: TestDatabase;
let limited: TestServer; // small limits, introspection off, no rate limit
let open: TestServer; // the defaults
const prefixes: string[] = [];
const servers: TestServer[] = [];
const sockets: RawSocket[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  limited = await startServer({
    databaseUrl: database.url,
    config: {
      MAX_QUERY_DEPTH: 3,
      MAX_QUERY_COST: 15,
      MAX_QUERY_ALIASES: 3,
      MAX_QUERY_TOKENS: 200,
      MAX_BODY_BYTES: BODY_LIMIT,
      MAX_BATCH_SIZE: 5,
      INTROSPECTION: 'false',
      RATE_LIMIT_PER_SECOND: 0,
    },
  });
  open = await startServer({ databaseUrl: database.url, adminKey: limited.adminKey });
  servers.push(limited, open);
});

afterAll(async () => {
  for (const socket of sockets) await socket.close();
  for (const server of servers) await server.stop();
  await database?.drop();
  for (const prefix of prefixes) await deleteRedisKeys(prefix);
});

const codeOf = (result: { errors?: { extensions?: { code?: string } }[] }) => result.errors?.[0]?.extensions?.code;
/** The shape of a GraphQL answer over HTTP, read from a raw response. */
const errorsOf = async (res: Response) =>
  ((await res.json()) as { errors: { extensions: Record<string, unknown> }[] }).errors;
const DEEP = graphql(`
  query DeepEvents {
    events(first: 1) {
      edges {
        node {
          id
        }
      }
    }
  }
`);
const stored = async (server: TestServer, id: string) => (await server.app.services.events.findByIds([id])).length;

describe('operation shape', () => {
  it('should reject a query deeper than MAX_QUERY_DEPTH before it runs', async () => {
    const deep = await gql(limited.url, DEEP, {}, limited.adminKey);
    expect(codeOf(deep)).toBe('BAD_USER_INPUT');
    expect(deep.errors?.[0]?.message).toContain('depth limit of 3');
    expect(deep.data).toBeUndefined();
    // The same query is fine where the limit is the default.
    await gqlOk(open.url, DEEP, {}, open.adminKey);
  });

  it('should reject a mutation over MAX_QUERY_COST before anything is stored', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const costly = await gql(
      limited.url,
      graphql(`
        mutation PublishTwoAnomalies($a: ID, $b: ID) {
          a: publishEvent(input: { id: $a, type: ANOMALY_DETECTED, data: {} }) {
            id
            type
            timestamp
            receivedAt
            data
          }
          b: publishEvent(input: { id: $b, type: ANOMALY_DETECTED, data: {} }) {
            id
            type
            timestamp
            receivedAt
            data
          }
        }
      `),
      { a, b },
      limited.adminKey,
    );
    expect(codeOf(costly)).toBe('BAD_USER_INPUT');
    expect(costly.errors?.[0]?.message).toContain('Cost limit of 15');
    expect(await stored(limited, a)).toBe(0);
    expect(await stored(limited, b)).toBe(0);
    // A cheap one goes through.
    const cheap = await gqlOk(
      limited.url,
      graphql(`
        mutation PublishAnomalyWithId($a: ID) {
          publishEvent(input: { id: $a, type: ANOMALY_DETECTED, data: {} }) {
            id
          }
        }
      `),
      { a },
      limited.adminKey,
    );
    expect(cheap.publishEvent.id).toBe(a);
  });

  it('should reject too many aliases and too many tokens', async () => {
    const aliases = await gql(
      limited.url,
      graphql(`
        query FourAliases {
          a: metricNames
          b: metricNames
          c: metricNames
          d: metricNames
        }
      `),
      {},
      limited.adminKey,
    );
    expect(codeOf(aliases)).toBe('BAD_USER_INPUT');
    expect(aliases.errors?.[0]?.message).toContain('Aliases limit of 3');
    const tokens = await gql(limited.url, `{ ${'__typename '.repeat(300)} }`, {}, limited.adminKey);
    expect(codeOf(tokens)).toBe('BAD_USER_INPUT');
    expect(tokens.errors?.[0]?.message).toContain('Token limit of 200');
  });

  it('should apply the same limits over WebSocket', async () => {
    const socket = await openRaw(limited.wsUrl, { authorization: `Bearer ${limited.adminKey}` });
    sockets.push(socket);
    socket.send({ id: 'deep', type: 'subscribe', payload: { query: print(DEEP) } });
    socket.send({ id: 'tokens', type: 'subscribe', payload: { query: `{ ${'__typename '.repeat(300)} }` } });
    for (const id of ['deep', 'tokens']) {
      const refused = await socket.waitFor(isMessage('error', (m) => m.id === id));
      expect(refused.payload[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    expect(socket.socket.readyState).toBe(socket.socket.OPEN);
  });

  it('should refuse introspection when it is switched off, and allow it by default', async () => {
    const query = graphql(`
      query QueryTypeName {
        __schema {
          queryType {
            name
          }
        }
      }
    `);
    const off = await gql(limited.url, query, {}, limited.adminKey);
    expect(codeOf(off)).toBe('BAD_USER_INPUT');
    expect(off.errors?.[0]?.message).toContain('introspection');
    expect((await gqlOk(open.url, query, {}, open.adminKey)).__schema.queryType?.name).toBe('Query');
  });
});

describe('sizes', () => {
  it('should reject a publishEvents batch larger than MAX_BATCH_SIZE whole', async () => {
    const inputs = Array.from({ length: 6 }, () => ({ id: randomUUID(), type: 'ANOMALY_DETECTED' as const, data: {} }));
    const tooMany = await gql(limited.url, PUBLISH_MANY, { inputs }, limited.adminKey);
    expect(codeOf(tooMany)).toBe('BAD_USER_INPUT');
    expect(tooMany.errors?.[0]?.message).toContain('at most 5 events');
    for (const { id } of inputs) expect(await stored(limited, id)).toBe(0);
    expect(
      (await gqlOk(limited.url, PUBLISH_MANY, { inputs: inputs.slice(0, 5) }, limited.adminKey)).publishEvents.accepted,
    ).toBe(5);
  });

  it('should answer 413 to a body over MAX_BODY_BYTES, declared or chunked, and accept one under it', async () => {
    const body = (size: number) => JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(size) } });
    const declared = await fetch(limited.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${limited.adminKey}` },
      body: body(BODY_LIMIT + 10),
    });
    expect(declared.status).toBe(413);
    expect((await errorsOf(declared))[0]?.extensions.code).toBe('BAD_USER_INPUT');

    // Chunked: no content-length, so the limit is counted while reading.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = new URL(limited.url);
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'transfer-encoding': 'chunked',
            authorization: `Bearer ${limited.adminKey}`,
          },
        },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      const payload = body(BODY_LIMIT * 2);
      for (let i = 0; i < payload.length; i += 1024) req.write(payload.slice(i, i + 1024));
      req.end();
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body).errors[0].extensions.code).toBe('BAD_USER_INPUT');

    const fits = await fetch(limited.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${limited.adminKey}` },
      body: body(BODY_LIMIT - 200),
    });
    expect(fits.status).toBe(200);
    expect(await fits.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('should close a WebSocket that sends a message over MAX_BODY_BYTES with 1009', async () => {
    const socket = await openRaw(limited.wsUrl, { authorization: `Bearer ${limited.adminKey}` });
    sockets.push(socket);
    socket.send({
      id: 'big',
      type: 'subscribe',
      payload: { query: '{ __typename }', variables: { pad: 'x'.repeat(BODY_LIMIT + 10) } },
    });
    expect((await socket.closed).code).toBe(1009);
  });
});

describe('rate limit', () => {
  it('should answer RATE_LIMITED with a retry-after hint past RATE_LIMIT_PER_SECOND, per key, over HTTP and WebSocket', async () => {
    const throttled = await startServer({
      databaseUrl: database.url,
      adminKey: limited.adminKey,
      config: { RATE_LIMIT_PER_SECOND: 5 },
    });
    servers.push(throttled);
    const post = (key: string) =>
      fetch(throttled.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
    const responses = await Promise.all(Array.from({ length: 8 }, () => post(throttled.adminKey)));
    const refused = responses.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    const [first] = refused;
    assert.exists(first);
    expect(Number(first.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const [error] = await errorsOf(first);
    expect(error?.extensions.code).toBe('RATE_LIMITED');
    const retryAfterMs = Number(error?.extensions.retryAfterMs);
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(1_000);
    expect(error?.extensions.http).toBeUndefined();

    // Another key has its own allowance.
    const other = (await gqlOk(open.url, CREATE_API_KEY, { name: 'other', role: 'VIEWER' }, open.adminKey)).createApiKey
      .key;
    expect((await post(other)).status).toBe(200);

    // Over WebSocket the same key is still over its limit.
    const socket = await openRaw(throttled.wsUrl, { authorization: `Bearer ${throttled.adminKey}` });
    sockets.push(socket);
    for (let i = 0; i < 8; i++) socket.send({ id: `q${i}`, type: 'subscribe', payload: { query: '{ __typename }' } });
    const limitedOnWs = await socket.waitFor(
      isMessage('next', (m) => m.payload.errors?.[0]?.extensions?.code === 'RATE_LIMITED'),
    );
    expect(limitedOnWs.payload.errors?.[0]?.extensions?.retryAfterMs).toBeGreaterThan(0);

    // After the hint, the key is served again.
    await sleep(retryAfterMs + 1_000);
    expect((await post(throttled.adminKey)).status).toBe(200);
  });

  it('should count one key across instances when they share Redis', async () => {
    const prefix = redisKeyPrefix();
    prefixes.push(prefix);
    const config = { RATE_LIMIT_PER_SECOND: 5 };
    const one = await startServer({
      databaseUrl: database.url,
      adminKey: limited.adminKey,
      redisKeyPrefix: prefix,
      config,
    });
    servers.push(one);
    const two = await startServer({
      databaseUrl: database.url,
      adminKey: limited.adminKey,
      redisKeyPrefix: prefix,
      config,
    });
    servers.push(two);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => gql(i % 2 === 0 ? one.url : two.url, '{ __typename }', {}, limited.adminKey)),
    );
    // Each instance saw only 4, under its own 5: a refusal means they counted together.
    expect(results.filter((r) => codeOf(r) === 'RATE_LIMITED').length).toBeGreaterThanOrEqual(3);
  });
});
