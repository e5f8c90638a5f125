// Over a thousand malformed inputs, over HTTP and graphql-ws: random documents, wrong variable types, huge strings
// and lists, deep nesting, invalid JSON, out-of-order and unknown protocol messages. The server must stay up,
// answer each with a clean, coded error (or a protocol close code), and not grow its memory.
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { graphql } from '../generated/index.js';
import { gqlOk, startServer, type TestServer } from '../helpers/app.js';
import { CREATE_API_KEY, PUBLISH_EVENTS } from '../helpers/operations.js';
import { isMessage, openRaw, type RawMessageOf } from '../helpers/raw-ws.js';
import { createTestDatabase, type TestDatabase } from '../helpers/services.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let database: TestDatabase;
let server: TestServer;
let viewerKey: string;

beforeAll(async () => {
  database = await createTestDatabase();
  server = await startServer({
    databaseUrl: database.url,
    // A webhook secret, so hostile webhook URLs reach the target checks.
    config: {
      MAX_BODY_BYTES: 1024 * 1024,
      RATE_LIMIT_PER_SECOND: 0,
      WEBHOOK_SECRET: 'whsec-hostile',
      // Small, so a cursor from the far past hits the replay bound once the fuzz has published a few hundred events.
      MAX_REPLAY_EVENTS: 20,
    },
  });
  viewerKey = (await gqlOk(server.url, CREATE_API_KEY, { name: 'hostile', role: 'PUBLISHER' }, server.adminKey))
    .createApiKey.key;
  // A broadcast history longer than MAX_REPLAY_EVENTS, for cursors from the far past.
  const inputs = Array.from({ length: 30 }, (_, n) => ({ type: 'INSIGHT_GENERATED' as const, data: { n } }));
  await gqlOk(server.url, PUBLISH_EVENTS, { inputs }, viewerKey);
  await server.app.runtime.processor.drain();
});

afterAll(async () => {
  await server?.stop();
  await database?.drop();
});

// A deterministic pseudo-random source, so a failure can be replayed.
let seed = 42;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};
const pick = <T>(items: readonly T[]): T => {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('nothing to pick from');
  return item;
};
const TOKENS = [
  '{',
  '}',
  '(',
  ')',
  '[',
  ']',
  ':',
  '$',
  '!',
  '...',
  '@',
  '=',
  'query',
  'mutation',
  'subscription',
  'fragment',
  'on',
  'events',
  'publishEvent',
  'input',
  '"str"',
  '123',
  '1.5e3',
  'true',
  'null',
  '__schema',
  '#',
  ',',
  '|',
  '&',
];
const randomDocument = () => Array.from({ length: 1 + Math.floor(random() * 40) }, () => pick(TOKENS)).join(' ');

interface Case {
  body: string;
  contentType?: string;
  method?: string;
  /** Sent with the admin key: admin-only operations. */
  admin?: boolean;
  /** Instead of the viewer's (or the admin's) key. */
  authorization?: string;
  forwardedFor?: string;
}

function httpCases(): Case[] {
  const json = (value: unknown) => JSON.stringify(value);
  const PUBLISH = `mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { accepted } }`;
  const cases: Case[] = [];
  for (let i = 0; i < 300; i++) cases.push({ body: json({ query: randomDocument() }) });
  const wrongVariables = [
    { inputs: 'not a list' },
    { inputs: [{ type: 42, data: {} }] },
    { inputs: [{ type: 'ANOMALY_DETECTED' }] },
    { inputs: [{ type: 'ANOMALY_DETECTED', data: {}, timestamp: 'yesterday' }] },
    { inputs: [{ type: 'ANOMALY_DETECTED', data: {}, id: { nested: true } }] },
    { inputs: [null] },
    { inputs: [{ type: 'NOPE', data: {} }] },
    { inputs: [{ type: 'ANOMALY_DETECTED', data: 'x'.repeat(100_000) }] },
  ];
  for (let i = 0; i < 150; i++) cases.push({ body: json({ query: PUBLISH, variables: pick(wrongVariables) }) });
  for (let i = 0; i < 50; i++)
    cases.push({
      body: json({
        query: `{ events(first: $n) { edges { cursor } } }`,
        variables: { n: pick(['x', -1, 1e12, null, [], {}]) },
      }),
    });
  // What issue 10 refuses: values past the magnitude cap, the server's own names and events, old timestamps, series
  // floods, out-of-range cursors and times, and reads past the per-operation budgets.
  const cursor = (key: string) => Buffer.from(key).toString('base64url');
  const digits = () => String(Math.floor(random() * 10 ** 15)) + String(Math.floor(random() * 10 ** 15));
  const hostileEvents = [
    () => ({ type: 'COMPETITIVE_UPDATE', data: { metrics: { parity: pick([1.7e308, -1.7e308, 1e16, -1e300]) } } }),
    () => ({ type: 'PERFORMANCE_METRIC', data: { metric_name: 'api_response_time', value: pick([1.7e308, 9e15]) } }),
    () => ({
      type: 'BENCHMARK_COMPLETED',
      data: {
        metrics: {
          [pick([
            'anomaly_count',
            'benchmark_total',
            'benchmark_success',
            'events_received',
            'rejected_metric_values',
          ])]: 1,
        },
      },
    }),
    () => ({ type: 'ALERT_TRIGGERED', data: { alertId: randomBytes(8).toString('hex'), severity: 'CRITICAL' } }),
    () => ({ type: 'ANOMALY_DETECTED', timestamp: pick(['0001-01-01T00:00:00Z', '1970-01-01T00:00:00Z']), data: {} }),
    () => ({
      type: 'COMPETITIVE_UPDATE',
      data: { metrics: Object.fromEntries(Array.from({ length: 1_000 }, (_, m) => [`flood_${digits()}_${m}`, m])) },
    }),
  ];
  for (let i = 0; i < 60; i++)
    cases.push({
      body: json({
        query: PUBLISH,
        variables: { inputs: [{ type: 'INSIGHT_GENERATED', data: {} }, pick(hostileEvents)()] },
      }),
    });
  const connections = [
    'query($a: String) { events(after: $a) { edges { cursor } } }',
    'query($a: String) { alerts(after: $a) { edges { cursor } } }',
  ];
  const badCursors = () => [
    cursor(`${digits()}:${digits()}`),
    cursor(`-${digits()}:1`),
    cursor(digits()),
    cursor(`1:${digits()}`),
    cursor('9223372036854775808'),
    randomBytes(12).toString('base64url'),
  ];
  for (let i = 0; i < 60; i++)
    cases.push({ body: json({ query: pick(connections), variables: { a: pick(badCursors()) } }) });
  for (let i = 0; i < 20; i++)
    cases.push({
      body: json({
        query: 'query($t: DateTime) { events(since: $t, until: $t) { edges { cursor } } }',
        variables: { t: pick(['0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '-000001-01-01T00:00:00Z', 'now']) },
      }),
    });
  const aliased = (field: string, count: number) =>
    `query($n: Int, $m: [String!]!, $w: [WindowSize!]!) { ${Array.from({ length: count }, (_, a) => `a${a}: ${field}`).join(' ')} }`;
  for (let i = 0; i < 30; i++)
    cases.push({
      body: json({
        query: pick([
          aliased('events(first: $n) { edges { cursor } }', 20),
          aliased('metricNames(first: $n)', 20),
          aliased('aggregates(metrics: $m, windows: $w) { count }', 20),
        ]),
        variables: {
          n: pick([500, 1_000, 2 ** 31 - 1, -1]),
          m: Array.from({ length: pick([100, 500]) }, (_, k) => `m${k}`),
          w: ['M1', 'M5', 'M15', 'H1', 'H6'],
        },
      }),
    });
  for (let i = 0; i < 20; i++)
    cases.push({
      body: json({
        query: 'query($n: Int, $a: String) { metricNames(first: $n, after: $a) }',
        variables: { n: pick([0, -5, 10 ** 9, null]), a: pick(['', 'zzz', '\u0000', 'x'.repeat(10_000)]) },
      }),
    });
  for (let i = 0; i < 50; i++)
    cases.push({
      body: json({ query: `query($id: ID!) { event(id: $id) { id } }`, variables: { id: 'x'.repeat(200_000 + i) } }),
    });
  for (let i = 0; i < 30; i++)
    cases.push({
      body: json({
        query: PUBLISH,
        variables: { inputs: Array.from({ length: 20_000 }, () => ({ type: 'ANOMALY_DETECTED', data: {} })) },
      }),
    });
  for (let i = 0; i < 50; i++)
    cases.push({ body: json({ query: `${'{ events { edges '.repeat(200 + i)}${'}'.repeat(400 + i)}` }) });
  for (let i = 0; i < 50; i++) {
    const deep = `${'['.repeat(5_000 + i)}${']'.repeat(5_000 + i)}`;
    cases.push({
      body: `{"query":"mutation($d: JSON!) { publishEvent(input: { type: ANOMALY_DETECTED, data: $d }) { id } }","variables":{"d":{"x":${deep}}}}`,
    });
  }
  for (let i = 0; i < 100; i++) {
    cases.push({
      body:
        pick([
          '{',
          '{"query":',
          'null',
          '[]',
          '"str"',
          '{"query": 42}',
          '{"query": null}',
          'query { events }',
          '\u0000\u0001',
        ]) + randomBytes(4).toString('hex'),
    });
  }
  for (let i = 0; i < 40; i++)
    cases.push({
      body: json({ query: '{ __typename }' }),
      contentType: pick(['text/plain', 'application/xml', 'multipart/form-data; boundary=x', '']),
    });
  for (let i = 0; i < 30; i++) cases.push({ body: json({ query: `{ ${'a: __typename '.repeat(1_000)} }` }) });
  for (let i = 0; i < 20; i++) cases.push({ body: json([{ query: '{ __typename }' }, { query: '{ __typename }' }]) });
  for (let i = 0; i < 20; i++)
    cases.push({ body: json({ query: '{ __typename }' }), method: pick(['PUT', 'DELETE', 'PATCH']) });
  // Webhook URLs aimed inside the network, or malformed: every one refused before anything is stored or fetched.
  const CREATE_RULE = `mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id } }`;
  const hostileUrls = [
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/',
    'http://[::1]:4000/',
    'http://[::ffff:10.0.0.1]/',
    'http://0x7f.1/',
    'http://127.1/',
    'http://2130706433/',
    'http://localhost./',
    'http://metadata.google.internal./',
    'http://user:pw@hooks.example.com/',
    'http://:@hooks.example.com/',
    `https://${'a'.repeat(100_000)}.example/`,
    'http://%00/',
    'gopher://127.0.0.1:6379/_FLUSHALL',
    'file:///etc/passwd',
  ];
  for (let i = 0; i < 60; i++) {
    const input = {
      name: 'hostile',
      severity: 'LOW',
      conditions: [{ metric: 'm', operator: 'GT', threshold: 1 }],
      webhookUrls: [pick(hostileUrls)],
    };
    cases.push({ body: json({ query: CREATE_RULE, variables: { input } }), admin: true });
  }
  // Key expiries and event types that are no such thing.
  const CREATE_KEY = `mutation($role: Role!, $expiresAt: DateTime, $eventTypes: [EventType!]) {
    createApiKey(name: "hostile", role: $role, expiresAt: $expiresAt, eventTypes: $eventTypes) { id } }`;
  for (let i = 0; i < 40; i++) {
    const variables = pick([
      { role: 'PUBLISHER', expiresAt: 'yesterday' },
      { role: 'PUBLISHER', expiresAt: '1970-01-01T00:00:00Z' },
      { role: 'PUBLISHER', expiresAt: -1 },
      { role: 'PUBLISHER', expiresAt: 'x'.repeat(100_000) },
      { role: 'PUBLISHER', eventTypes: 'ANOMALY_DETECTED,NOPE' },
      { role: 'PUBLISHER', eventTypes: ['NOPE'] },
      { role: 'PUBLISHER', eventTypes: [null] },
      { role: 'PUBLISHER', eventTypes: [] },
      { role: 'VIEWER', eventTypes: ['ANOMALY_DETECTED'] },
      { role: 'ADMIN', eventTypes: ['ANOMALY_DETECTED'] },
    ]);
    cases.push({ body: json({ query: CREATE_KEY, variables }), admin: true });
  }
  // Keys that are no keys: refused before the body is read (and, past the per-address limit, without a look-up).
  for (let i = 0; i < 60; i++)
    cases.push({
      body: json({ query: '{ __typename }' }),
      authorization: pick([
        '',
        'Bearer',
        'Bearer ',
        'Basic dXNlcjpwYXNz',
        'bearer a b',
        `Bearer jds_${randomBytes(16).toString('hex')}`,
        `Bearer ${'k'.repeat(8_000)}`,
        `Bearer ${randomBytes(24).toString('base64')}`,
      ]),
    });
  for (let i = 0; i < 40; i++)
    cases.push({
      body: json({ query: '{ __typename }' }),
      forwardedFor: pick(['', ',,,', 'unknown', '999.1.1.1', '::ffff:', `${'1.2.3.4, '.repeat(500)}x`, '[::1]:80']),
    });
  return cases;
}

async function send(c: Case) {
  const res = await fetch(server.url, {
    method: c.method ?? 'POST',
    headers: {
      authorization: c.authorization ?? `Bearer ${c.admin ? server.adminKey : viewerKey}`,
      ...(c.forwardedFor === undefined ? {} : { 'x-forwarded-for': c.forwardedFor }),
      ...(c.contentType === '' ? {} : { 'content-type': c.contentType ?? 'application/json' }),
    },
    body: c.body,
  });
  return { status: res.status, text: await res.text() };
}

/** A clean error: a client status, JSON errors each with a contract code other than INTERNAL, no stack or path. */
function expectClean({ status, text }: { status: number; text: string }, c: Case) {
  const context = `${status} ${text.slice(0, 300)} ← ${c.body.slice(0, 120)}`;
  expect(status, context).toBeLessThan(500);
  expect(text, context).not.toMatch(/\bat .+\.(ts|js):\d+|node_modules|\/work\//);
  if (status === 405 || status === 415) return; // refused before GraphQL, by method or content type
  const body = JSON.parse(text);
  const results = Array.isArray(body) ? body : [body];
  for (const result of results) {
    if (!result.errors) continue; // a syntactically valid document may just succeed
    for (const error of result.errors) {
      expect(ERROR_CODES, context).toContain(error.extensions?.code);
      expect(error.extensions.code, context).not.toBe('INTERNAL');
    }
  }
}

async function runHttp(cases: Case[]) {
  for (let i = 0; i < cases.length; i += 10) {
    const batch = cases.slice(i, i + 10);
    await Promise.all(batch.map(async (c) => expectClean(await send(c), c)));
  }
}

async function runWebSocket(rounds: number): Promise<number> {
  let inputs = 0;
  const init = { type: 'connection_init', payload: { authorization: `Bearer ${viewerKey}` } };
  // The close codes are graphql-transport-ws's: 4400 bad request, 4401 unauthorized (a subscribe before the ack),
  // 4403 forbidden, 4409 subscriber already exists, 4429 too many initialisation requests; 1009 is WebSocket's.
  // eventPublished(after:) cursors: garbage, forged (past the log's end, an index past its batch, a pending seq no event
  // has, out of range), another database's, and the far past (a replay past MAX_REPLAY_EVENTS once events exist).
  const name = server.app.runtime.databaseName;
  const forged = (key: string) => Buffer.from(key).toString('base64url');
  const hostileCursors = [
    randomBytes(Math.floor(random() * 40)).toString('base64url'),
    randomDocument(),
    forged(`e1:${name}:${Math.floor(random() * 1e9) + 1e6}:0`),
    forged(`e1:${name}:1:${Math.floor(random() * 1e6) + 1e5}`),
    forged(`e1:${name}:pending:${Math.floor(random() * 1e12) + 1e9}`),
    forged(`e1:${name}:99999999999999999999:0`),
    forged(`e1:${name}:-1:0`),
    forged(`e1:${randomBytes(6).toString('hex')}:1:0`),
    `${forged(`e1:${name}:1:0`)}==`,
  ];
  const resume = (after: unknown) => ({
    type: 'subscribe',
    id: 'resume',
    payload: { query: 'subscription($a: String) { eventPublished(after: $a) { id cursor } }', variables: { a: after } },
  });
  const scripts: { messages: unknown[]; expectClose?: number[]; expectCode?: string }[] = [
    ...hostileCursors.map((cursor) => ({ messages: [init, resume(cursor)], expectCode: 'BAD_USER_INPUT' })),
    { messages: [init, resume(forged(`e1:${name}:1:0`))], expectCode: 'BAD_USER_INPUT' },
    { messages: [init, resume(pick([42, {}, ['x'], true]))], expectCode: 'BAD_USER_INPUT' },
    { messages: ['not json at all'], expectClose: [4400] },
    {
      messages: [{ type: 'subscribe', id: '1', payload: { query: '{ __typename }' } }],
      expectClose: [4401],
    },
    { messages: [{ type: 'what_is_this' }], expectClose: [4400] },
    { messages: [init, init], expectClose: [4429] },
    {
      messages: [init, { type: 'subscribe', payload: { query: '{ __typename }' } }],
      expectClose: [4400],
    },
    {
      messages: [
        init,
        { type: 'subscribe', id: 'a', payload: { query: 'subscription { eventPublished { id } }' } },
        { type: 'subscribe', id: 'a', payload: { query: '{ __typename }' } },
      ],
      expectClose: [4409],
    },
    { messages: [init, { type: 'subscribe', id: 'x', payload: { query: 42 } }], expectClose: [4400] },
    { messages: [{ type: 'connection_init', payload: 'not an object' }], expectClose: [4400] },
    {
      messages: [{ type: 'connection_init', payload: { authorization: 'Bearer nope' } }],
      expectClose: [4403],
    },
    { messages: [init, { type: 'complete', id: 'never-started' }, { type: 'ping' }, { type: 'pong' }] },
    { messages: [init, { type: 'subscribe', id: 'r', payload: { query: randomDocument() } }] },
    {
      messages: [
        init,
        {
          type: 'subscribe',
          id: 'v',
          payload: { query: 'query($n: Int) { events(first: $n) { edges { cursor } } }', variables: { n: 'many' } },
        },
      ],
    },
    {
      messages: [
        init,
        {
          type: 'subscribe',
          id: 'h',
          payload: { query: '{ __typename }', variables: { pad: 'x'.repeat(2 * 1024 * 1024) } },
        },
      ],
      expectClose: [1009],
    },
  ];
  for (let round = 0; round < rounds; round++) {
    for (const script of scripts) {
      const socket = await openRaw(server.wsUrl, null);
      for (const [index, message] of script.messages.entries()) {
        socket.send(message);
        inputs += 1;
        // After a valid init the rest comes in order, once acknowledged (before it, anything is out of order: 4401).
        if (index === 0 && message === init) await socket.waitFor((m) => m.type === 'connection_ack');
      }
      if (script.expectClose) {
        const { code } = await socket.closed;
        expect(
          script.expectClose,
          `closed with ${code} after ${JSON.stringify(script.messages).slice(0, 200)}`,
        ).toContain(code);
      } else {
        // Whatever it answered must be an ack, a pong, or coded errors; and the connection must still work.
        if (script.expectCode) {
          const refused = await socket.waitFor(
            (m): m is RawMessageOf<'error' | 'next'> => m.id === 'resume' && (m.type === 'error' || m.type === 'next'),
          );
          const errors = refused.type === 'error' ? refused.payload : (refused.payload.errors ?? []);
          expect(
            errors.map((e) => e.extensions?.code),
            JSON.stringify(script.messages),
          ).toContain(script.expectCode);
        }
        socket.send({ type: 'subscribe', id: 'probe', payload: { query: '{ __typename }' } });
        await socket.waitFor((m) => m.id === 'probe' && m.type === 'complete');
        for (const m of socket.messages.filter((m) => m.type === 'error')) {
          for (const error of m.payload) expect(ERROR_CODES).toContain(error.extensions?.code);
        }
        for (const m of socket.messages.filter(isMessage('next'))) {
          for (const error of m.payload.errors ?? []) expect(ERROR_CODES).toContain(error.extensions?.code);
        }
        await socket.close();
      }
    }
  }
  return inputs;
}

describe('hostile input', () => {
  it('should answer over a thousand malformed inputs with clean errors, stay up, and keep its memory flat', async () => {
    const cases = httpCases();
    // Warm up: caches, JIT and pools reach their working size first.
    await runHttp(cases.slice(0, 200));
    await runWebSocket(2);
    gc();
    const heapBefore = process.memoryUsage().heapUsed;

    await runHttp(cases);
    const wsInputs = await runWebSocket(15);
    await runHttp(cases.slice(0, 300));
    gc();
    const heapAfter = process.memoryUsage().heapUsed;

    const health = await (await fetch(server.url.replace('/graphql', '/health'))).json();
    expect(health.status).toBe('healthy');
    // What got through could not break the dashboard's statistics nor flood the series.
    const dashboard = await fetch(server.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${viewerKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ dashboard { anomalyCount apiResponseTime competitiveParity } metricNames }' }),
    });
    const { data, errors } = await dashboard.json();
    expect(errors).toBeUndefined();
    expect(data.metricNames.filter((name: string) => name.startsWith('flood_'))).toEqual([]);
    const typename = graphql(`
      query Typename {
        __typename
      }
    `);
    expect((await gqlOk(server.url, typename, {}, viewerKey)).__typename).toBe('Query');
    // Not one hostile webhook URL or key argument was stored.
    const storedQuery = graphql(`
      query HostileStored {
        alertRules {
          id
        }
        apiKeys {
          name
        }
      }
    `);
    const stored = await gqlOk(server.url, storedQuery, {}, server.adminKey);
    expect(stored.alertRules).toEqual([]);
    expect(stored.apiKeys.map((key) => key.name)).toEqual(['ADMIN_API_KEY', 'hostile']);
    const grownMb = (heapAfter - heapBefore) / 1024 / 1024;
    console.info('hostile input', {
      httpInputs: cases.length + 300,
      wsInputs,
      heapBeforeMb: heapBefore / 1024 / 1024,
      heapGrownMb: grownMb,
    });
    expect(cases.length + 300 + wsInputs).toBeGreaterThanOrEqual(1_000);
    expect(grownMb).toBeLessThan(32);
  }, 180_000);
});
