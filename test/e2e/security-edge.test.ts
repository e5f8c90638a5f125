// What a client without a valid key can get from the server, and what strangers can read: a bad key is answered
// before the body is read; slow headers and bodies are cut off; WebSockets waiting for connection_init, upgrades
// and failed key look-ups are limited per client address (from X-Forwarded-For only behind TRUSTED_PROXIES);
// introspection, GraphiQL, cross-origin access, /metrics and /health's details are off in production unless asked
// for, and /metrics can take a token or a port of its own.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { ApiKeyStore } from '../../src/auth/keys.js';
import { graphql } from '../generated/index.js';
import { gqlOk, startServer, type TestServer } from '../helpers/app.js';
import { CREATE_API_KEY } from '../helpers/operations.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

const REVOKE_EDGE_KEY = graphql(`
  mutation RevokeEdgeKey($id: ID!) {
    revokeApiKey(id: $id)
  }
`);

const HEADERS_TIMEOUT_MS = 1_000;
const REQUEST_TIMEOUT_MS = 2_000;
/** node checks its request deadlines once a second (the app's connectionsCheckingInterval), so they land this late. */
const DEADLINE_SLACK_MS = 1_500;
const METRICS_TOKEN = 'metrics-token-of-the-test-0123';

const lookups = vi.spyOn(ApiKeyStore.prototype, 'authenticate');
const lookupsOf = (key: string) => lookups.mock.calls.filter(([looked]) => looked === key).length;

let database: TestDatabase;
const prefix = redisKeyPrefix();
let edge: TestServer; // development defaults, short HTTP deadlines, 3 unauthenticated sockets per address
let proxied: TestServer; // behind a trusted proxy on 127.0.0.1, per-address limits counted in Redis
let production: TestServer; // NODE_ENV=production and nothing else
let operated: TestServer; // production with METRICS_TOKEN, METRICS_PORT and CORS_ORIGINS
const sockets: (WebSocket | Socket)[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  edge = await startServer({
    databaseUrl: database.url,
    config: {
      HTTP_HEADERS_TIMEOUT_MS: HEADERS_TIMEOUT_MS,
      HTTP_REQUEST_TIMEOUT_MS: REQUEST_TIMEOUT_MS,
      MAX_UNAUTHENTICATED_SOCKETS_PER_ADDRESS: 3,
      // Long enough that a loaded machine's slow upgrades do not see the first sockets closed before the count.
      WS_CONNECTION_INIT_TIMEOUT_MS: 10_000,
    },
  });
  const adminKey = edge.adminKey;
  proxied = await startServer({
    databaseUrl: database.url,
    adminKey,
    redisKeyPrefix: prefix,
    config: {
      TRUSTED_PROXIES: '127.0.0.1, ::1',
      MAX_UNAUTHENTICATED_SOCKETS_PER_ADDRESS: 2,
      WS_CONNECTS_PER_ADDRESS_PER_MINUTE: 3,
      AUTH_FAILURES_PER_ADDRESS_PER_MINUTE: 3,
    },
  });
  production = await startServer({ databaseUrl: database.url, adminKey, config: { NODE_ENV: 'production' } });
  operated = await startServer({
    databaseUrl: database.url,
    adminKey,
    config: {
      NODE_ENV: 'production',
      METRICS_TOKEN,
      METRICS_PORT: 0,
      CORS_ORIGINS: 'https://app.example, https://admin.example',
    },
  });
});

afterAll(async () => {
  for (const socket of sockets) {
    if (socket instanceof WebSocket) socket.terminate();
    else socket.destroy();
  }
  for (const server of [edge, proxied, production, operated]) await server?.stop();
  await database?.drop();
  await deleteRedisKeys(prefix);
  lookups.mockRestore();
});

const base = (server: TestServer) => server.url.replace(/\/graphql$/, '');

interface RawExchange {
  socket: Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** Milliseconds from the connection to the server closing it, or null if it is still open after `withinMs`. */
  closedWithin(withinMs: number): Promise<number | null>;
}

/** A TCP connection to the server, for requests no HTTP client would send: half-sent, or sent a byte at a time. */
async function rawConnection(server: TestServer): Promise<RawExchange> {
  const { hostname, port } = new URL(server.url);
  const socket = connect(Number(port), hostname);
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const opened = performance.now();
  let text = '';
  socket.on('data', (chunk) => (text += chunk.toString()));
  socket.on('error', () => {}); // a reset by the server shows as the close
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now() - opened)));
  return {
    socket,
    received: () => text,
    closedWithin: (withinMs) =>
      Promise.race([closed, new Promise<null>((resolve) => setTimeout(() => resolve(null), withinMs))]),
  };
}

/** Writes `chunk` every `everyMs` until the connection closes. */
function dribble(socket: Socket, chunk: string, everyMs: number): void {
  const timer = setInterval(() => {
    if (socket.destroyed || socket.writableEnded) clearInterval(timer);
    else socket.write(chunk);
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}

/** The status line's code and the JSON body of a raw HTTP answer. */
function parseAnswer(text: string): { status: number; body: unknown } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  const rest = text.slice(text.indexOf('\r\n\r\n') + 4);
  return { status, body: rest.startsWith('{') ? JSON.parse(rest) : rest };
}

/**
 * A WebSocket upgrade, as a client behind the test's "proxy" would make it when `forwardedFor` is given: 101 with
 * the open socket, or the status it was refused with (and its Retry-After).
 */
function upgrade(
  server: TestServer,
  forwardedFor?: string,
): Promise<{ status: number; socket?: WebSocket; retryAfter?: string }> {
  const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws', {
    headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
  });
  sockets.push(socket);
  socket.on('error', () => {});
  return new Promise((resolve) => {
    socket.once('open', () => resolve({ status: 101, socket }));
    socket.once('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] });
      response.resume();
      socket.terminate();
    });
  });
}

/** Sends connection_init with `key` and resolves with the ack, or the close code when the server closed instead. */
function init(socket: WebSocket, key: string): Promise<'ack' | number> {
  return new Promise((resolve) => {
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') resolve('ack');
    });
    socket.once('close', (code) => resolve(code));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } }));
  });
}

const post = (server: TestServer, key: string | null, forwardedFor?: string) =>
  fetch(server.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}),
    },
    body: JSON.stringify({ query: '{ __typename }' }),
  });

describe('before authentication', () => {
  it('should drop a WebSocket that sends more than MAX_UNAUTHENTICATED_WS_BYTES before its key is accepted', async () => {
    const stranger = (await upgrade(edge)).socket as WebSocket;
    const closed = new Promise<number>((resolve) => stranger.once('close', (code) => resolve(code)));
    // A 100 kB connection_init: well within MAX_BODY_BYTES, far past what a handshake needs (16 kB by default).
    stranger.send(JSON.stringify({ type: 'connection_init', payload: { padding: 'x'.repeat(100_000) } }));
    expect(await closed).toBe(1006); // dropped, not answered
    // A client with a key and a handshake of ordinary size is served as before, and may send more once accepted.
    const client = (await upgrade(edge)).socket as WebSocket;
    expect(await init(client, edge.adminKey)).toBe('ack');
    const answered = new Promise<string>((resolve) => client.once('message', (data) => resolve(String(data))));
    const big = `{ __typename ${'a: __typename '.repeat(1)} }`.padEnd(40_000, ' ');
    client.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: big } }));
    expect(JSON.parse(await answered)).toMatchObject({ id: '1', type: 'next' });
  });

  it('should answer a request without a valid key at once, leaving its unfinished body unread', async () => {
    const revoked = (await gqlOk(edge.url, CREATE_API_KEY, { name: 'to revoke', role: 'VIEWER' }, edge.adminKey))
      .createApiKey;
    await gqlOk(edge.url, REVOKE_EDGE_KEY, { id: revoked.id }, edge.adminKey);
    const cases: [string, string | null][] = [
      ['missing', null],
      ['malformed', 'Basic dXNlcjpwYXNz'],
      ['unknown', 'Bearer jds_made-up-key-of-no-one'],
      ['revoked', `Bearer ${revoked.key}`],
    ];
    for (const [what, authorization] of cases) {
      const exchange = await rawConnection(edge);
      // A megabyte announced, a few bytes sent, and the rest never.
      exchange.socket.write(
        [
          'POST /graphql HTTP/1.1',
          'host: edge',
          'content-type: application/json',
          'content-length: 1000000',
          ...(authorization ? [`authorization: ${authorization}`] : []),
          '',
          '{"query":"{ __typename',
        ].join('\r\n'),
      );
      // Far sooner than the request deadline (REQUEST_TIMEOUT_MS), which is all that would end it otherwise.
      const closedAfter = await exchange.closedWithin(REQUEST_TIMEOUT_MS / 2);
      expect(closedAfter, `${what} key: the server waited for the body`).not.toBeNull();
      const { status, body } = parseAnswer(exchange.received());
      expect(status, what).toBe(401);
      expect(body, what).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
    }
  });

  it('should keep an idle keep-alive socket open past the 5 s node default, as a proxy in front expects', async () => {
    const exchange = await rawConnection(edge);
    const body = '{"query":"{ __typename }"}';
    const request = [
      'POST /graphql HTTP/1.1',
      'host: edge',
      'content-type: application/json',
      `authorization: Bearer ${edge.adminKey}`,
      `content-length: ${body.length}`,
      '',
      body,
    ].join('\r\n');
    exchange.socket.write(request);
    await vi.waitFor(() => expect(exchange.received()).toContain('"__typename"'), { timeout: 25_000 });
    expect(exchange.received()).toMatch(/keep-alive: timeout=65/i);
    // Idle for longer than node's default keep-alive timeout: with it, the server would close (and a client reusing
    // the socket at that moment would get a reset).
    expect(await exchange.closedWithin(6_000)).toBeNull();
    exchange.socket.write(request);
    await vi.waitFor(() => expect(exchange.received().match(/"__typename"/g)).toHaveLength(2), { timeout: 25_000 });
  });

  it('should cut off a client that sends its headers or its body too slowly', async () => {
    const headers = await rawConnection(edge);
    headers.socket.write('POST /graphql HTTP/1.1\r\nhost: edge\r\n');
    dribble(headers.socket, 'x-pad: 1\r\n', 100);
    const body = await rawConnection(edge);
    body.socket.write(
      [
        'POST /graphql HTTP/1.1',
        'host: edge',
        'content-type: application/json',
        'content-length: 100000',
        `authorization: Bearer ${edge.adminKey}`,
        '',
        '{"query":"{ __typename }","variables":{"pad":"',
      ].join('\r\n'),
    );
    dribble(body.socket, 'x', 100);

    const [headersClosed, bodyClosed] = await Promise.all([
      headers.closedWithin(HEADERS_TIMEOUT_MS + DEADLINE_SLACK_MS),
      body.closedWithin(REQUEST_TIMEOUT_MS + DEADLINE_SLACK_MS),
    ]);
    expect(headersClosed, 'slow headers still held their socket').not.toBeNull();
    expect(bodyClosed, 'a slow body still held its socket').not.toBeNull();
    expect(parseAnswer(headers.received()).status).toBe(408);
    expect(parseAnswer(body.received()).status).toBe(408);
  });

  it('should refuse upgrades past MAX_UNAUTHENTICATED_SOCKETS_PER_ADDRESS, and stop counting a socket once it authenticated', async () => {
    const waiting = await Promise.all([upgrade(edge), upgrade(edge), upgrade(edge)]);
    expect(waiting.map((w) => w.status)).toEqual([101, 101, 101]);
    expect(edge.app.webSocket.pending.heldBy('127.0.0.1')).toBe(3);
    expect((await upgrade(edge)).status).toBe(429);

    // One of them authenticates: it is no longer waiting, so there is room for one more.
    const [first, second] = waiting;
    expect(await init(first?.socket as WebSocket, edge.adminKey)).toBe('ack');
    expect(edge.app.webSocket.pending.heldBy('127.0.0.1')).toBe(2);
    const another = await upgrade(edge);
    expect(another.status).toBe(101);
    expect((await upgrade(edge)).status).toBe(429);

    // One that leaves without authenticating frees its place too.
    second?.socket?.close();
    await new Promise((resolve) => second?.socket?.once('close', resolve));
    await vi.waitFor(() => expect(edge.app.webSocket.pending.heldBy('127.0.0.1')).toBe(2), { timeout: 25_000 });
    expect((await upgrade(edge)).status).toBe(101);
  });

  it('should ignore X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    // The last test's unauthenticated sockets are closed by the server's connection-init timeout.
    await vi.waitFor(() => expect(edge.app.webSocket.pending.heldBy('127.0.0.1')).toBe(0), { timeout: 25_000 });
    const spoofed = await Promise.all(['198.51.100.1', '198.51.100.2', '198.51.100.3'].map((a) => upgrade(edge, a)));
    expect(spoofed.map((s) => s.status)).toEqual([101, 101, 101]);
    expect((await upgrade(edge, '198.51.100.4')).status).toBe(429);
    expect(edge.app.webSocket.pending.heldBy('198.51.100.4')).toBe(0);
  });

  it('should count the addresses behind a trusted proxy apart, taking the right-most hop that is not a proxy', async () => {
    const one = await Promise.all([upgrade(proxied, '203.0.113.1'), upgrade(proxied, '203.0.113.1')]);
    expect(one.map((u) => u.status)).toEqual([101, 101]);
    expect((await upgrade(proxied, '203.0.113.1')).status).toBe(429);
    // Another client behind the same proxy has its own allowance.
    expect((await upgrade(proxied, '203.0.113.2')).status).toBe(101);
    // What a client writes to the left of its own address proves nothing: this one is still 203.0.113.1.
    expect((await upgrade(proxied, '203.0.113.7, 203.0.113.1')).status).toBe(429);
    // A trusted hop to the right is skipped: 127.0.0.1 forwarded for 203.0.113.1.
    expect((await upgrade(proxied, '203.0.113.1, 127.0.0.1')).status).toBe(429);
  });

  it('should refuse upgrades past WS_CONNECTS_PER_ADDRESS_PER_MINUTE with 429 and Retry-After', async () => {
    for (let i = 0; i < 3; i++) {
      const accepted = await upgrade(proxied, '203.0.113.50');
      expect(accepted.status).toBe(101);
      expect(await init(accepted.socket as WebSocket, proxied.adminKey)).toBe('ack');
    }
    const refused = await upgrade(proxied, '203.0.113.50');
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    expect(Number(refused.retryAfter)).toBeLessThanOrEqual(60);
    expect((await upgrade(proxied, '203.0.113.51')).status).toBe(101);
  });

  it('should stop asking the database for keys from an address past AUTH_FAILURES_PER_ADDRESS_PER_MINUTE', async () => {
    const flooder = '203.0.113.66';
    const madeUp = Array.from({ length: 6 }, (_, i) => `jds_made-up-${i}-${Date.now()}`);
    const statuses: number[] = [];
    for (const key of madeUp) statuses.push((await post(proxied, key, flooder)).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429, 429]);
    expect(madeUp.map(lookupsOf)).toEqual([1, 1, 1, 0, 0, 0]);
    const refused = await post(proxied, `jds_one-more-${Date.now()}`, flooder);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ errors: [{ extensions: { code: 'RATE_LIMITED' } }] });

    // Over WebSocket the same address is refused at connection_init, with "try again later".
    const socket = (await upgrade(proxied, flooder)).socket as WebSocket;
    expect(await init(socket, `jds_made-up-ws-${Date.now()}`)).toBe(1013);
    // A key this instance already knows costs no look-up, so it still works from there; other addresses are untouched.
    expect((await post(proxied, proxied.adminKey, flooder)).status).toBe(200);
    expect((await post(proxied, `jds_made-up-elsewhere-${Date.now()}`, '203.0.113.67')).status).toBe(401);
  });
});

describe('exposure', () => {
  const INTROSPECT = '{ __schema { queryType { name } } }';
  const graphiqlPage = (server: TestServer) => fetch(server.url, { headers: { accept: 'text/html' } });
  const preflight = (server: TestServer, origin: string) =>
    fetch(server.url, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
  const introspection = async (server: TestServer) => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminKey}` },
      body: JSON.stringify({ query: INTROSPECT }),
    });
    return (await res.json()) as { data?: unknown; errors?: { extensions: { code: string } }[] };
  };

  it('should serve introspection and GraphiQL by default outside production, and neither in production', async () => {
    expect((await introspection(edge)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    const page = await graphiqlPage(edge);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/graphiql/i);

    const refused = await introspection(production);
    expect(refused.data ?? null).toBeNull();
    expect(refused.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
    expect(await (await graphiqlPage(production)).text()).not.toMatch(/graphiql/i);
  });

  it('should run no operation without a key from a browser-looking GET, GraphiQL on or off', async () => {
    const query = `?query=${encodeURIComponent(INTROSPECT)}`;
    for (const server of [edge, production]) {
      const res = await fetch(`${server.url}${query}`, { headers: { accept: 'text/html,*/*;q=0.8' } });
      expect(res.status).toBe(401);
      expect(await res.text()).not.toContain('queryType');
    }
  });

  it('should let browsers of any origin in outside production, none in production, and the listed ones when set', async () => {
    const allowed = async (server: TestServer, origin: string) =>
      (await preflight(server, origin)).headers.get('access-control-allow-origin');
    // "Any origin" is answered with the asking origin itself.
    expect(await allowed(edge, 'https://elsewhere.example')).toBe('https://elsewhere.example');
    expect(await allowed(production, 'https://elsewhere.example')).toBeNull();
    expect(await allowed(operated, 'https://app.example')).toBe('https://app.example');
    expect(await allowed(operated, 'https://admin.example')).toBe('https://admin.example');
    expect(await allowed(operated, 'https://elsewhere.example')).toBeNull();
    expect(await allowed(operated, 'null')).toBeNull(); // a sandboxed page's origin
  });

  it('should keep /metrics and /health details from strangers in production, and /ready usable by orchestrators', async () => {
    expect((await fetch(`${base(production)}/metrics`)).status).toBe(403);
    const health = await fetch(`${base(production)}/health`);
    expect(health.status).toBe(200);
    expect(Object.keys(await health.json()).sort()).toEqual(['at', 'status']);
    const ready = await fetch(`${base(production)}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });

    // Outside production, as before: everything.
    expect((await fetch(`${base(edge)}/metrics`)).status).toBe(200);
    expect(await (await fetch(`${base(edge)}/health`)).json()).toHaveProperty('checks.database.ok', true);
  });

  it('should serve /metrics on METRICS_PORT only, with METRICS_TOKEN, and /health details to the token alone', async () => {
    const metricsBase = operated.app.metricsUrl();
    expect(metricsBase).not.toBeNull();
    const withToken = { authorization: `Bearer ${METRICS_TOKEN}` };
    expect((await fetch(`${base(operated)}/metrics`, { headers: withToken })).status).toBe(404);
    expect((await fetch(`${metricsBase}/metrics`)).status).toBe(401);
    expect((await fetch(`${metricsBase}/metrics`, { headers: { authorization: 'Bearer wrong-token' } })).status).toBe(
      401,
    );
    const scraped = await fetch(`${metricsBase}/metrics`, { headers: withToken });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('jackdaw_events_accepted_total');

    const plain = await (await fetch(`${base(operated)}/health`)).json();
    expect(Object.keys(plain).sort()).toEqual(['at', 'status']);
    const detailed = await (await fetch(`${base(operated)}/health`, { headers: withToken })).json();
    expect(detailed).toHaveProperty('checks.database.ok', true);
    expect(await (await fetch(`${metricsBase}/health`, { headers: withToken })).json()).toHaveProperty(
      'process.pid',
      process.pid,
    );
  });
});
