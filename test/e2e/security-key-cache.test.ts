// The API key cache seen from clients, on two instances sharing Redis and Postgres: how many database look-ups
// requests and connection_inits cost (the key store's own authenticate, counted through a spy that calls the real
// method), how soon a revoked key stops working on the other instance, and what a flood of made-up keys leaves behind.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiKeyStore } from '../../src/auth/keys.js';
import { eventually, gql, gqlOk, startServer, type TestServer } from '../helpers/app.js';
import { AGGREGATE, CREATE_API_KEY } from '../helpers/operations.js';
import { openRaw, type RawSocket } from '../helpers/raw-ws.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

const REVOCATION_BOUND_MS = 5_000; // the contract's bound on a revocation reaching every instance
const SHORT_TTL_MS = 1_000;
const UNKNOWN_CAP = 20;
// The cache alone: the per-address limits in front of it (security-edge.test.ts) would count every test client,
// all on 127.0.0.1, as one.
const config = {
  MAX_CONNECTIONS_PER_KEY: 200,
  API_KEY_NEGATIVE_CACHE_SIZE: UNKNOWN_CAP,
  MAX_UNAUTHENTICATED_SOCKETS_PER_ADDRESS: 1_000,
  AUTH_FAILURES_PER_ADDRESS_PER_MINUTE: 0,
};

const lookups = vi.spyOn(ApiKeyStore.prototype, 'authenticate');
/** Database look-ups of `key`, on every instance of this file. */
const lookupsOf = (key: string) => lookups.mock.calls.filter(([looked]) => looked === key).length;

let database: TestDatabase;
const prefix = redisKeyPrefix();
const adminKey = `test-admin-${Date.now()}`;
let one: TestServer;
let two: TestServer;
const sockets: RawSocket[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  one = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, adminKey, config });
  two = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, adminKey, config });
});

afterAll(async () => {
  for (const socket of sockets) await socket.close();
  await one?.stop();
  await two?.stop();
  await database?.drop();
  await deleteRedisKeys(prefix);
  lookups.mockRestore();
});

async function createKey(name: string) {
  return (await gqlOk(one.url, CREATE_API_KEY, { name, role: 'VIEWER' }, adminKey)).createApiKey;
}

/** The error code of a viewer's query with `key`, or OK. */
async function queryWith(server: TestServer, key: string): Promise<string> {
  const result = await gql(server.url, AGGREGATE, { metric: 'key_cache', window: 'M1' }, key);
  return result.errors?.[0]?.extensions?.code ?? 'OK';
}

/** A socket that has sent connection_init with `key` and not yet been answered. */
async function initiate(server: TestServer, key: string): Promise<RawSocket> {
  const socket = await openRaw(server.wsUrl, null);
  sockets.push(socket);
  socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } });
  return socket;
}

async function connected(server: TestServer, key: string): Promise<RawSocket> {
  const socket = await initiate(server, key);
  await socket.waitFor((m) => m.type === 'connection_ack');
  return socket;
}

describe('API key cache', () => {
  it('should look a key up once per instance, however many requests and connections use it', async () => {
    const viewer = await createKey('busy');
    for (let i = 0; i < 20; i++) expect(await queryWith(one, viewer.key)).toBe('OK');
    for (let i = 0; i < 5; i++) await connected(one, viewer.key);
    expect(lookupsOf(viewer.key)).toBe(1);
    expect(await queryWith(two, viewer.key)).toBe('OK');
    expect(lookupsOf(viewer.key)).toBe(2);
  });

  it('should make 100 concurrent connection_inits of one key cost one look-up', async () => {
    const viewer = await createKey('crowd');
    const opened = await Promise.all(Array.from({ length: 100 }, () => openRaw(one.wsUrl, null)));
    sockets.push(...opened);
    for (const socket of opened)
      socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${viewer.key}` } });
    await Promise.all(opened.map((socket) => socket.waitFor((m) => m.type === 'connection_ack')));
    expect(lookupsOf(viewer.key)).toBe(1);
  });

  it('should stop a key revoked on one instance on the other within 5 s, over HTTP and WebSocket', async () => {
    const viewer = await createKey('revoked on one');
    expect(await queryWith(two, viewer.key)).toBe('OK'); // cached on two
    // Its only socket is on one: two's periodic check has no socket of it to look at, so only the message can tell two.
    const open = await connected(one, viewer.key);

    const revokedAt = Date.now();
    // Through instance one's service, as its revokeApiKey resolver does.
    await one.app.services.apiKeys.revokeKey(viewer.id);
    expect(await queryWith(one, viewer.key)).toBe('UNAUTHENTICATED'); // at once where it was revoked
    // Polled: nothing the client sees tells when the message reached instance two.
    await eventually(async () => (await queryWith(two, viewer.key)) === 'UNAUTHENTICATED', REVOCATION_BOUND_MS, 20);
    expect((await (await initiate(two, viewer.key)).closed).code).toBe(4403);
    expect((await open.closed).code).toBe(4403);
    expect(Date.now() - revokedAt).toBeLessThan(REVOCATION_BOUND_MS);
  });

  it('should stop a key revoked without a message over HTTP too once the periodic check closes its sockets', async () => {
    const viewer = await createKey('revoked with a socket open');
    expect(await queryWith(one, viewer.key)).toBe('OK');
    const open = await connected(one, viewer.key);
    // Straight in the database, as when the message is lost with the bus down; the cache lifetime is a minute here.
    expect(await new ApiKeyStore(one.app.runtime.db.prisma).revoke(viewer.id)).toBe(true);
    expect((await open.closed).code).toBe(4403);
    // The check that found it revoked has dropped it from the cache before closing its sockets.
    expect(await queryWith(one, viewer.key)).toBe('UNAUTHENTICATED');
  });

  it('should stop a key revoked straight in the database within the cache lifetime, over HTTP', async () => {
    const shortLived = await startServer({
      databaseUrl: database.url,
      adminKey,
      config: { ...config, API_KEY_CACHE_TTL_MS: SHORT_TTL_MS },
    });
    try {
      const viewer = await createKey('revoked behind our back');
      const beforeCached = Date.now();
      expect(await queryWith(shortLived, viewer.key)).toBe('OK');
      // No `apiKeys:revoked` message, and no socket of this key for the periodic check: only the lifetime helps.
      expect(await new ApiKeyStore(shortLived.app.runtime.db.prisma).revoke(viewer.id)).toBe(true);
      await eventually(
        async () => (await queryWith(shortLived, viewer.key)) === 'UNAUTHENTICATED',
        SHORT_TTL_MS + 2_000,
        20,
      );
      expect(lookupsOf(viewer.key)).toBe(2);
      expect(Date.now() - beforeCached).toBeGreaterThanOrEqual(SHORT_TTL_MS); // the cache answered until it expired
    } finally {
      await shortLived.stop();
    }
  });

  it('should keep a flood of unknown keys within its cap and keep answering good keys from memory', async () => {
    const viewer = await createKey('survives the flood');
    expect(await queryWith(one, viewer.key)).toBe('OK');
    const flood = Array.from({ length: 300 }, (_, i) => `jds_made-up-${i}-${Math.random().toString(36).slice(2)}`);
    for (let i = 0; i < flood.length; i += 30) {
      const codes = await Promise.all(flood.slice(i, i + 30).map((key) => queryWith(one, key)));
      expect(new Set(codes)).toEqual(new Set(['UNAUTHENTICATED']));
    }
    const refused = await Promise.all(flood.slice(0, 20).map(async (key) => (await initiate(one, key)).closed));
    expect(new Set(refused.map((closed) => closed.code))).toEqual(new Set([4403]));
    expect(one.app.services.apiKeys.cached.unknown).toBeLessThanOrEqual(UNKNOWN_CAP);
    expect(await queryWith(one, viewer.key)).toBe('OK');
    expect(lookupsOf(viewer.key)).toBe(1);
  });
});
