// Queries and mutations run compiled by graphql-jit from a document's second execution (transport/jit.ts): every
// request here is sent twice, and the second (compiled) answer must be the first's (graphql-js's), codes, messages,
// paths and partial data alike, over the whole server (auth per field, DomainErrors, custom scalars).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GraphQLResponse, gql, gqlOk, startServer, type TestServer } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/services.js';

let database: TestDatabase;
let server: TestServer;
let viewerKey: string;

beforeAll(async () => {
  database = await createTestDatabase();
  server = await startServer({ databaseUrl: database.url, config: { WEBHOOK_SECRET: 'whsec-jit-test' } });
  const created = await gqlOk(
    server.url,
    'mutation { createApiKey(name: "jit viewer", role: VIEWER) { key } }',
    {},
    server.adminKey,
  );
  viewerKey = (created as { createApiKey: { key: string } }).createApiKey.key;
});

afterAll(async () => {
  await server?.stop();
  await database?.drop();
});

const PUBLISH_MANY = `mutation Publish($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { accepted ids } }`;

/**
 * Sends a request twice (graphql-js, then graphql-jit) and expects the same answer; returns it. A comment makes the
 * document new to the server, so the first execution is graphql-js's whatever ran before.
 */
async function same(text: string, variables: Record<string, unknown>, key = server.adminKey) {
  const query = `${text} # ${randomUUID()}`;
  const first = await gql(server.url, query, variables, key);
  const second = await gql(server.url, query, variables, key);
  expect(second).toEqual(first);
  return first;
}

const codeOf = (result: GraphQLResponse<unknown>) => result.errors?.[0]?.extensions?.code;

describe('graphql-jit', () => {
  it('should refuse bad variables as graphql-js does, naming the bad event by its index', async () => {
    const good = { type: 'ANOMALY_DETECTED', data: {} };
    const refused = [
      await same(PUBLISH_MANY, { inputs: [good, good, { type: 'NOPE', data: {} }] }),
      await same(PUBLISH_MANY, { inputs: [good, { ...good, timestamp: 'yesterday' }] }),
      await same(PUBLISH_MANY, { inputs: [good, { type: 'ANOMALY_DETECTED' }] }),
      await same(PUBLISH_MANY, { inputs: [good, { ...good, extra: 1 }] }),
      await same(PUBLISH_MANY, { inputs: [good, { ...good, id: 5.5 }] }),
    ];
    for (const result of refused) expect(codeOf(result)).toBe('BAD_USER_INPUT');
    expect(refused[0]?.errors?.[0]?.message).toContain('inputs[2].type');
    expect(refused[1]?.errors?.[0]?.message).toContain('inputs[1].timestamp');
  });

  it("should answer the service's own errors (DomainError) with their codes and messages", async () => {
    const good = { id: randomUUID(), type: 'ANOMALY_DETECTED', data: {} };
    const result = await same(PUBLISH_MANY, { inputs: [good, { ...good, id: randomUUID(), data: [1] }] });
    expect(codeOf(result)).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toContain('event 1');
    const missing = await same('query($id: ID!) { alertRule(id: $id) { id } }', { id: randomUUID() });
    expect(missing.errors ?? missing.data).toBeDefined();
  });

  it('should publish, and read back through custom scalars (DateTime, JSON), alike', async () => {
    const ids = [randomUUID(), randomUUID()];
    const timestamp = new Date(Date.now() - 60_000).toISOString();
    for (const id of ids) {
      const published = await gqlOk(
        server.url,
        PUBLISH_MANY,
        { inputs: [{ id, type: 'INSIGHT_GENERATED', timestamp, data: { n: 1, nested: { s: 'x' }, list: [1, 'a'] } }] },
        server.adminKey,
      );
      expect(published).toEqual({ publishEvents: { accepted: 1, ids: [id] } });
    }
    const read = await same('query($id: ID!) { event(id: $id) { id type timestamp receivedAt data } }', { id: ids[0] });
    expect(read.data).toMatchObject({
      event: { id: ids[0], type: 'INSIGHT_GENERATED', timestamp, data: { n: 1, nested: { s: 'x' }, list: [1, 'a'] } },
    });
  });

  it('should refuse fields by role as graphql-js does, with partial data', async () => {
    await gqlOk(
      server.url,
      'mutation { createAlertRule(input: { name: "jit rule", severity: LOW, webhookUrls: ["https://hooks.example.com/S3CRET"], conditions: [{ metric: "m", operator: GT, threshold: 1 }] }) { id } }',
      {},
      server.adminKey,
    );
    // Over several lines (\r\n among them): the error's location is computed from the source again.
    const fields = await same('{\n  alertRules {\r\n    name\n    webhookUrls\n  }\n}', {}, viewerKey);
    expect(codeOf(fields)).toBe('FORBIDDEN');
    expect(JSON.stringify(fields.errors)).toContain('"locations":[{"line":4,"column":5}]');
    expect(JSON.stringify(fields)).not.toContain('S3CRET');
    const mutation = await same(PUBLISH_MANY, { inputs: [{ type: 'ANOMALY_DETECTED', data: {} }] }, viewerKey);
    expect(codeOf(mutation)).toBe('FORBIDDEN');
  });

  it('should run the operation named, of a document with several', async () => {
    const document = 'query Names { alertRules { name } } query Typename { __typename }';
    const send = (operationName: string) =>
      fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminKey}` },
        body: JSON.stringify({ query: document, operationName }),
      }).then((res) => res.json());
    for (let i = 0; i < 3; i++) {
      expect(await send('Names')).toEqual({ data: { alertRules: [{ name: 'jit rule' }] } });
      expect(await send('Typename')).toEqual({ data: { __typename: 'Query' } });
    }
  });

  it('should apply @include and @skip on fields and fragment spreads as graphql-js does', async () => {
    const query = `query($a: Boolean!, $b: Boolean!) {
      alertRules { ...Name @include(if: $a) severity @skip(if: $b) ... on AlertRule @skip(if: $a) { id } }
    }
    fragment Name on AlertRule { name }`;
    for (const a of [true, false]) {
      for (const b of [true, false]) {
        const result = await same(query, { a, b });
        expect(result.errors).toBeUndefined();
        const [rule] = (result.data as { alertRules: Record<string, unknown>[] }).alertRules;
        expect('name' in (rule ?? {})).toBe(a);
        expect('severity' in (rule ?? {})).toBe(!b);
        expect('id' in (rule ?? {})).toBe(!a);
      }
    }
  });
});
