// Browser tokens (JWTs) beside API keys, on real Postgres and Redis with two instances: HS256 with a shared secret,
// RS256/ES256 from a JWKS URL (a real local HTTP server) or file; every way a token can be wrong refused with
// UNAUTHENTICATED; a token's expiry closing its sockets with 4403 unless refreshed on the socket, subscriptions kept;
// a refresh to a lower role ending what that role may not hold; limits counted per token subject.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_EXPIRED_REASON } from '../../src/transport/websocket.js';
import { eventually, gqlOk, startServer, type TestServer } from '../helpers/app.js';
import { isMessage, openRaw, type RawSocket } from '../helpers/raw-ws.js';
import type { Cleanups } from '../helpers/receivers.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';
import {
  claims,
  hs256,
  jwks,
  type SigningKey,
  signingKey,
  startJwksServer,
  TEST_AUDIENCE,
  TEST_ISSUER,
  TEST_JWT_SECRET,
  unsigned,
} from '../helpers/tokens.js';

const MAX_LIFETIME_S = 600;
const MAX_CONNECTIONS = 3;
const FILE_RATE_LIMIT = 3;
const FILE_MAX_SUBSCRIPTIONS = 2;
const JWKS_TIMEOUT_MS = 300;

let database: TestDatabase;
const prefix = redisKeyPrefix();
const filePrefix = redisKeyPrefix();
const cleanups: Cleanups = [];
const sockets: RawSocket[] = [];
let rsa: SigningKey;
let ec: SigningKey;
let stranger: SigningKey;
let fileKey: SigningKey;
/** Two instances sharing Postgres and Redis, taking HS256 and the JWKS URL's keys, up to ADMIN. */
let one: TestServer;
let two: TestServer;
/** Keys from a JWKS file, the default JWT_MAX_ROLE, small per-subject limits. */
let fromFile: TestServer;
/** A JWKS URL that never answers. */
let hanging: TestServer;

beforeAll(async () => {
  database = await createTestDatabase();
  [rsa, ec, stranger, fileKey] = await Promise.all([
    signingKey('RS256'),
    signingKey('ES256'),
    signingKey('RS256'),
    signingKey('ES256'),
  ]);
  const jwksServer = await startJwksServer(cleanups, [rsa, ec]);
  const tokens = {
    JWT_SECRET: TEST_JWT_SECRET,
    JWT_JWKS_URL: jwksServer.url,
    JWT_ISSUER: TEST_ISSUER,
    JWT_AUDIENCE: TEST_AUDIENCE,
    JWT_MAX_ROLE: 'ADMIN',
    JWT_MAX_LIFETIME_S: MAX_LIFETIME_S,
    // Sockets close at `exp` itself, so the tests need not wait out a tolerance.
    JWT_CLOCK_SKEW_S: 0,
    MAX_CONNECTIONS_PER_KEY: MAX_CONNECTIONS,
  };
  // The second instance executes every subscriber alone, so a refresh is seen acting on both kinds of subscription.
  const adminKey = `test-admin-${randomUUID()}`;
  one = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, adminKey, config: tokens });
  two = await startServer({
    databaseUrl: database.url,
    redisKeyPrefix: prefix,
    adminKey,
    config: { ...tokens, WS_SHARED_EXECUTION: 'false' },
  });
  const folder = await mkdtemp(path.join(tmpdir(), 'jackdaw-jwks-'));
  cleanups.push(() => rm(folder, { recursive: true, force: true }));
  const file = path.join(folder, 'jwks.json');
  await writeFile(file, JSON.stringify(jwks(fileKey)));
  fromFile = await startServer({
    databaseUrl: database.url,
    redisKeyPrefix: filePrefix,
    adminKey,
    config: {
      JWT_JWKS_FILE: file,
      JWT_AUDIENCE: TEST_AUDIENCE,
      RATE_LIMIT_PER_SECOND: FILE_RATE_LIMIT,
      MAX_SUBSCRIPTIONS_PER_KEY: FILE_MAX_SUBSCRIPTIONS,
    },
  });
  const silent = await startJwksServer(cleanups, [rsa], { hang: true });
  hanging = await startServer({
    databaseUrl: database.url,
    adminKey,
    config: { JWT_JWKS_URL: silent.url, JWT_AUDIENCE: TEST_AUDIENCE, JWT_JWKS_TIMEOUT_MS: JWKS_TIMEOUT_MS },
  });
});

afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.close()));
  await Promise.all([one, two, fromFile, hanging].map((server) => server?.stop()));
  for (const cleanup of cleanups.reverse()) await cleanup();
  await database?.drop();
  await deleteRedisKeys(prefix);
  await deleteRedisKeys(filePrefix);
});

const WHO = '{ __typename }';
const PUBLISH = 'mutation { publishEvent(input: { type: INSIGHT_GENERATED, data: {} }) { id } }';
const REFRESH = `mutation($token: String!) { refreshAuthentication(token: $token) { subject role expiresAt } }`;
const EVENTS = 'subscription { eventPublished(types: [INSIGHT_GENERATED]) { id } }';
const ALERTS_WITH_DELIVERIES = 'subscription { alertTriggered { id deliveries { attempt } } }';

async function post(server: TestServer, token: string, query = WHO) {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, body: (await res.json()) as { data?: unknown; errors?: ErrorBody[] } };
}

interface ErrorBody {
  message: string;
  extensions?: { code?: string };
}

async function connect(server: TestServer, token: string): Promise<RawSocket> {
  const socket = await openRaw(server.wsUrl, { authorization: `Bearer ${token}` });
  sockets.push(socket);
  return socket;
}

function subscribeOn(socket: RawSocket, id: string, query: string, variables?: Record<string, unknown>) {
  socket.send({ type: 'subscribe', id, payload: { query, variables } });
}

/** Runs a query or mutation on the socket and resolves with its one result. */
async function runOn(socket: RawSocket, query: string, variables?: Record<string, unknown>) {
  const id = randomUUID();
  subscribeOn(socket, id, query, variables);
  const answer = await socket.waitFor((m) => m.id === id && (m.type === 'next' || m.type === 'error'));
  return answer.type === 'next' ? answer.payload : { errors: answer.type === 'error' ? answer.payload : [] };
}

const eventsOn = (socket: RawSocket, id: string) =>
  socket.messages.filter(isMessage('next', (m) => m.id === id)).map((m) => m.payload);

/**
 * Publishes until subscription `id` on the socket has one more result: a subscription executed alone tells nothing
 * of when it is live on the bus, so one publish could come before it is.
 */
async function publishUntilDelivered(server: TestServer, socket: RawSocket, id: string): Promise<void> {
  const seen = eventsOn(socket, id).length;
  await eventually(
    async () => {
      await gqlOk(server.url, PUBLISH, {}, server.adminKey);
      return socket
        .waitFor(() => eventsOn(socket, id).length > seen, 500)
        .then(
          () => true,
          () => false,
        );
    },
    30_000,
    0,
  );
}

describe('browser tokens over HTTP', () => {
  it('should accept HS256, RS256 and ES256 tokens, with the role the token carries', async () => {
    const tokens = [
      await hs256(claims('http-hs', 'PUBLISHER')),
      await rsa.sign(claims('http-rs', 'PUBLISHER')),
      await ec.sign(claims('http-es', 'PUBLISHER')),
    ];
    for (const token of tokens) {
      const { status, body } = await post(one, token, PUBLISH);
      expect(status, JSON.stringify(body)).toBe(200);
      expect(body.errors).toBeUndefined();
    }
    const viewer = await post(one, await hs256(claims('http-viewer', 'VIEWER')), PUBLISH);
    expect(viewer.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('should refuse every bad token with 401 UNAUTHENTICATED naming what is wrong', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, string, RegExp][] = [
      ['expired', await hs256(claims('bad', 'VIEWER', -60)), /expired/],
      ['wrong secret', await hs256(claims('bad', 'VIEWER'), 'another-secret-of-at-least-32-bytes!!'), /signature/],
      ['wrong audience', await hs256(claims('bad', 'VIEWER', 60, { aud: 'someone-else' })), /"aud"/],
      ['wrong issuer', await hs256(claims('bad', 'VIEWER', 60, { iss: 'https://evil.test' })), /"iss"/],
      ['alg none', unsigned(claims('bad', 'ADMIN')), /algorithm/],
      ['no exp', await hs256({ ...claims('bad', 'VIEWER'), exp: undefined }), /"exp"/],
      ['no sub', await hs256({ ...claims('bad', 'VIEWER'), sub: undefined }), /"sub"/],
      [
        'a sub that is no string',
        await hs256({ ...claims('bad', 'VIEWER'), sub: 42 as unknown as string }),
        /"sub"|subject/,
      ],
      ['too long a lifetime', await hs256(claims('bad', 'VIEWER', MAX_LIFETIME_S * 2)), /JWT_MAX_LIFETIME_S/],
      ['not valid yet', await hs256(claims('bad', 'VIEWER', 60, { nbf: now + 30 })), /nbf/],
      ['no role', await hs256({ ...claims('bad', 'VIEWER'), role: undefined }), /"role" claim/],
      ['an unknown role', await hs256(claims('bad', 'ROOT')), /"role" claim/],
      ['a key the JWKS lacks', await stranger.sign(claims('bad', 'VIEWER')), /no configured key/],
      ['garbage', 'eyJhbGciOi.bm9wZQ.c2ln', /well-formed/],
      ['huge', await hs256(claims('bad', 'VIEWER', 60, { pad: 'x'.repeat(10_000) })), /longer than/],
    ];
    // A known key id, signed by another key: the signature must not match.
    const [header, payload] = (await rsa.sign(claims('bad', 'VIEWER'))).split('.');
    const [, , foreignSignature] = (await stranger.sign(claims('bad', 'VIEWER'))).split('.');
    cases.push(['a forged signature', `${header}.${payload}.${foreignSignature}`, /signature/]);
    for (const [what, token, message] of cases) {
      const { status, body } = await post(one, token);
      expect(status, what).toBe(401);
      expect(body.errors?.[0]?.extensions?.code, what).toBe('UNAUTHENTICATED');
      expect(body.errors?.[0]?.message, what).toMatch(message);
    }
  });

  it('should take keys from a JWKS file and, by default, no role above VIEWER', async () => {
    const viewer = await post(fromFile, await fileKey.sign(claims('file-viewer', 'VIEWER')));
    expect(viewer.status).toBe(200);
    const publisher = await post(fromFile, await fileKey.sign(claims('file-publisher', 'PUBLISHER')));
    expect(publisher.status).toBe(401);
    expect(publisher.body.errors?.[0]?.message).toMatch(/up to VIEWER \(JWT_MAX_ROLE\)/);
    // No JWT_SECRET there: HS256 is not an algorithm it takes.
    const hs = await post(fromFile, await hs256(claims('file-hs', 'VIEWER')));
    expect(hs.status).toBe(401);
    expect(hs.body.errors?.[0]?.message).toMatch(/algorithm is not accepted/);
  });

  it('should answer UNAVAILABLE within JWT_JWKS_TIMEOUT_MS when the JWKS URL does not answer', async () => {
    const started = performance.now();
    const { status, body } = await post(hanging, await rsa.sign(claims('hang', 'VIEWER')));
    expect(status).toBe(503);
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
    expect(performance.now() - started).toBeLessThan(JWKS_TIMEOUT_MS * 10);
  });

  it('should refuse refreshAuthentication over HTTP', async () => {
    const token = await hs256(claims('http-refresh', 'VIEWER'));
    const { body } = await post(one, token, `mutation { refreshAuthentication(token: "${token}") { subject } }`);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).toMatch(/WebSocket/);
  });
});

describe('browser tokens over WebSocket', () => {
  it('should close a socket whose token expired at connection_init with 4403', async () => {
    const socket = await openRaw(one.wsUrl, null);
    sockets.push(socket);
    socket.send({
      type: 'connection_init',
      payload: { authorization: `Bearer ${await hs256(claims('late', 'VIEWER', -5))}` },
    });
    expect((await socket.closed).code).toBe(4403);
  });

  it('should close the sockets of an expired token on every instance, except one refreshed, which keeps its subscriptions', async () => {
    const subject = `alice-${randomUUID()}`;
    // Long enough to connect, subscribe and refresh on a loaded machine; the test waits it out.
    const lifetimeS = 6;
    const first = await hs256(claims(subject, 'VIEWER', lifetimeS));
    const refreshed = await connect(one, first);
    const others = [await connect(one, first), await connect(two, first)];
    for (const socket of [refreshed, ...others]) subscribeOn(socket, 'events', EVENTS);

    const later = await hs256(claims(subject, 'VIEWER', 120));
    const result = await runOn(refreshed, REFRESH, { token: later });
    expect(result.errors).toBeUndefined();
    const auth = (result.data as { refreshAuthentication: { subject: string; role: string; expiresAt: string } })
      .refreshAuthentication;
    expect(auth.subject).toBe(subject);
    expect(auth.role).toBe('VIEWER');
    expect(Date.parse(auth.expiresAt)).toBeGreaterThan(Date.now() + 60_000);

    for (const socket of others) {
      const closed = await socket.closed;
      expect(closed.code).toBe(4403);
      expect(closed.reason).toBe(TOKEN_EXPIRED_REASON);
    }
    // Past the first token's expiry, the refreshed socket is open and its subscription still delivers.
    await publishUntilDelivered(two, refreshed, 'events');
    expect(refreshed.socket.readyState).toBe(refreshed.socket.OPEN);
    expect(refreshed.messages.filter((m) => m.type === 'complete' && m.id === 'events')).toEqual([]);
  });

  it.each([
    ['shared execution', () => one],
    ['execution alone', () => two],
  ])(
    'should end on a refresh to a lower role the subscriptions it may not hold, and run the others as it (%s)',
    async (_, server) => {
      const instance = server();
      const sharing = instance === one;
      const membersAtStart = instance.app.webSocket.shared.members;
      const subject = `bob-${randomUUID()}`;
      const socket = await connect(instance, await hs256(claims(subject, 'ADMIN', 120)));
      subscribeOn(socket, 'events', EVENTS);
      subscribeOn(socket, 'alerts', ALERTS_WITH_DELIVERIES);
      // Both started: events arrive on the one.
      await publishUntilDelivered(instance, socket, 'events');

      const result = await runOn(socket, REFRESH, { token: await hs256(claims(subject, 'VIEWER', 120)) });
      expect(result.errors).toBeUndefined();
      const ended = await socket.waitFor(isMessage('next', (m) => m.id === 'alerts'));
      expect(ended.payload.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(ended.payload.errors?.[0]?.message).toMatch(/VIEWER role may not hold.*Alert\.deliveries/);
      expect(ended.payload.data).toBeUndefined();
      await socket.waitFor(isMessage('complete', (m) => m.id === 'alerts'));
      // Shared: the alerts member left its group and the events one moved to a VIEWER group. Alone: no groups at all.
      await eventually(() => instance.app.webSocket.shared.members === membersAtStart + (sharing ? 1 : 0));

      await publishUntilDelivered(instance, socket, 'events');
      // As a VIEWER it may no longer publish.
      const publish = await runOn(socket, PUBLISH);
      expect(publish.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    },
  );

  it('should refuse a refresh to another subject, a bad token, or on an API key socket, keeping the socket', async () => {
    const socket = await connect(one, await hs256(claims(`carol-${randomUUID()}`, 'VIEWER', 120)));
    const other = await runOn(socket, REFRESH, { token: await hs256(claims('mallory', 'VIEWER', 120)) });
    expect(other.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(other.errors?.[0]?.message).toMatch(/another subject/);
    const bad = await runOn(socket, REFRESH, { token: unsigned(claims('carol', 'ADMIN', 120)) });
    expect(bad.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await runOn(socket, WHO)).errors).toBeUndefined();

    const keySocket = await connect(one, one.adminKey);
    const onKey = await runOn(keySocket, REFRESH, { token: await hs256(claims('carol', 'VIEWER', 120)) });
    expect(onKey.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(onKey.errors?.[0]?.message).toMatch(/API key/);
  });
});

describe('limits per token subject', () => {
  it('should cap connections per subject, apart from other subjects and API keys', async () => {
    const subject = `dave-${randomUUID()}`;
    const token = await hs256(claims(subject, 'VIEWER', 120));
    for (let i = 0; i < MAX_CONNECTIONS; i++) await connect(one, token);
    const over = await openRaw(one.wsUrl, null);
    sockets.push(over);
    over.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
    expect((await over.closed).code).toBe(4430);
    // The same subject signed another way is the same subject; another subject is counted apart.
    const rsOver = await openRaw(one.wsUrl, null);
    sockets.push(rsOver);
    rsOver.send({
      type: 'connection_init',
      payload: { authorization: `Bearer ${await rsa.sign(claims(subject, 'VIEWER'))}` },
    });
    expect((await rsOver.closed).code).toBe(4430);
    await connect(one, await hs256(claims(`erin-${randomUUID()}`, 'VIEWER', 120)));
  });

  it('should rate-limit operations and cap subscriptions per subject', async () => {
    const token = await fileKey.sign(claims(`frank-${randomUUID()}`, 'VIEWER'));
    const answers = await Promise.all(Array.from({ length: FILE_RATE_LIMIT * 3 }, () => post(fromFile, token)));
    expect(answers.filter((a) => a.status === 429).length).toBeGreaterThan(0);
    // Another subject still has its whole budget.
    expect((await post(fromFile, await fileKey.sign(claims(`grace-${randomUUID()}`, 'VIEWER')))).status).toBe(200);

    const subject = `heidi-${randomUUID()}`;
    const sockets = [
      await connect(fromFile, await fileKey.sign(claims(subject, 'VIEWER'))),
      await connect(fromFile, await fileKey.sign(claims(subject, 'VIEWER'))),
    ];
    const ids = Array.from({ length: FILE_MAX_SUBSCRIPTIONS + 1 }, (_, i) => `s${i}`);
    for (const [i, id] of ids.entries()) {
      subscribeOn(sockets[i % sockets.length] as RawSocket, id, EVENTS);
      // One at a time, so the rate limit of the subject is not what refuses.
      await new Promise((resolve) => setTimeout(resolve, 1_000 / FILE_RATE_LIMIT + 50));
    }
    const refused = await (sockets[FILE_MAX_SUBSCRIPTIONS % sockets.length] as RawSocket).waitFor(
      isMessage('error', (m) => m.id === ids[FILE_MAX_SUBSCRIPTIONS]),
    );
    expect(refused.payload[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(refused.payload[0]?.message).toMatch(/token subject/);
  });
});
