// ApiKeyService's cache on the real Postgres key store: how many database look-ups authentication costs (the store's
// own authenticate, counted through a spy that calls the real method), and when a revoked key stops being accepted.
// The cache's clock is driven by hand, so lifetimes run out without waiting.
import { afterAll, afterEach, beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest';
import type { KeyCacheOptions } from '../../src/auth/key-cache.js';
import { ApiKeyStore } from '../../src/auth/keys.js';
import { ApiKeyService } from '../../src/auth/service.js';
import { createMemoryBus } from '../../src/bus/bus.js';
import { type Database, openDatabase } from '../../src/db.js';
import { DomainError } from '../../src/errors.js';
import { createLogger } from '../../src/observability/logger.js';
import { observeBus } from '../helpers/observed-bus.js';
import { createTestDatabase, type TestDatabase } from '../helpers/services.js';
import { deferred } from '../helpers/waits.js';

const TTL_MS = 60_000;
const UNKNOWN_TTL_MS = 5_000;

let database: TestDatabase;
let db: Database;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  db = await openDatabase({ url: database.url, dataDir: '' });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await db?.close();
  await database?.drop();
});

/** A started service on its own store and bus, with a hand-driven clock and the store's look-ups counted. */
async function setup(cache: Partial<KeyCacheOptions> = {}) {
  let now = 1_000_000;
  const store = new ApiKeyStore(db.prisma);
  const lookups = vi.spyOn(store, 'authenticate');
  const observed = observeBus(createMemoryBus());
  const service = new ApiKeyService({
    store,
    bus: observed.bus,
    logger: createLogger('silent'),
    cache: { maxKeys: 100, ttlMs: TTL_MS, maxUnknown: 10, unknownTtlMs: UNKNOWN_TTL_MS, now: () => now, ...cache },
  });
  await service.start();
  cleanups.push(async () => {
    service.stop();
    await observed.bus.close();
  });
  return {
    service,
    store,
    lookups,
    observed,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe('ApiKeyService cache', () => {
  it('should look a key up once and answer later uses from memory', async () => {
    const { service, lookups } = await setup();
    const created = await service.createKey({ name: 'cached', role: 'VIEWER' });
    const expected = { keyId: created.id, name: 'cached', role: 'VIEWER', expiresAt: null, eventTypes: null };
    expect(await service.authenticate(created.key)).toEqual(expected);
    for (let i = 0; i < 10; i++) expect(await service.authenticate(created.key)).toEqual(expected);
    expect(lookups).toHaveBeenCalledTimes(1);
  });

  it('should make 100 concurrent authentications of one key share one database look-up', async () => {
    const { service, lookups } = await setup();
    const created = await service.createKey({ name: 'crowd', role: 'VIEWER' });
    const principals = await Promise.all(Array.from({ length: 100 }, () => service.authenticate(created.key)));
    expect(new Set(principals.map((p) => p?.keyId))).toEqual(new Set([created.id]));
    expect(lookups).toHaveBeenCalledTimes(1);
  });

  it('should refuse a remembered key from the moment it expires, however long it had left in the cache', async () => {
    let clock = Date.now();
    const { service, lookups } = await setup({ now: () => clock });
    const expiresAt = new Date(clock + 30_000); // half the cache lifetime
    const created = await service.createKey({ name: 'short-lived', role: 'VIEWER', expiresAt });
    expect(await service.authenticate(created.key)).toMatchObject({ keyId: created.id, expiresAt });
    clock += 29_999;
    expect(await service.authenticate(created.key)).not.toBeNull();
    clock += 1;
    expect(await service.authenticate(created.key)).toBeNull();
    expect(lookups).toHaveBeenCalledTimes(1); // refused from memory
  });

  it('should let the guard of a look-up count it once, however many callers share it, and not for cached keys', async () => {
    const { service, lookups } = await setup();
    const created = await service.createKey({ name: 'guarded crowd', role: 'VIEWER' });
    const calls = { before: 0, found: 0 };
    const guard = {
      // As slow as a Redis round trip: callers arriving meanwhile must join rather than each ask.
      before: async () => {
        calls.before += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
      },
      found: async () => {
        calls.found += 1;
      },
    };
    await Promise.all(Array.from({ length: 20 }, () => service.authenticate(created.key, undefined, guard)));
    expect(calls).toEqual({ before: 1, found: 1 });
    await service.authenticate(created.key, undefined, guard); // cached now
    expect(await service.authenticate('jds_unknown-to-the-guard', undefined, guard)).toBeNull();
    expect(calls).toEqual({ before: 2, found: 1 });
    expect(lookups).toHaveBeenCalledTimes(2);
  });

  it("should answer a guard's refusal to every caller sharing the look-up, without asking the database", async () => {
    const { service, lookups } = await setup();
    const refusal = new DomainError('RATE_LIMITED', 'too many unknown API keys from this address');
    const guard = { before: async () => Promise.reject(refusal), found: async () => {} };
    const outcomes = await Promise.allSettled(
      Array.from({ length: 5 }, () => service.authenticate('jds_refused', undefined, guard)),
    );
    expect(outcomes.map((o) => (o.status === 'rejected' ? o.reason : o.value))).toEqual(
      Array.from({ length: 5 }, () => refusal),
    );
    expect(lookups).not.toHaveBeenCalled();
    expect(service.cached).toEqual({ keys: 0, unknown: 0 });
  });

  it('should refuse an unknown key from memory for a short while, then ask again', async () => {
    const { service, lookups, advance } = await setup();
    expect(await service.authenticate('jds_nobody')).toBeNull();
    expect(await service.authenticate('jds_nobody')).toBeNull();
    expect(lookups).toHaveBeenCalledTimes(1);
    advance(UNKNOWN_TTL_MS);
    expect(await service.authenticate('jds_nobody')).toBeNull();
    expect(lookups).toHaveBeenCalledTimes(2);
  });

  it('should stop accepting a key revoked straight in the database once its cache lifetime is over', async () => {
    const { service, store, advance } = await setup();
    const created = await service.createKey({ name: 'revoked behind our back', role: 'VIEWER' });
    expect(await service.authenticate(created.key)).not.toBeNull();
    expect(await store.revoke(created.id)).toBe(true);
    // No revocation message: only the lifetime bounds how long this instance trusts what it read.
    advance(TTL_MS - 1);
    expect(await service.authenticate(created.key)).not.toBeNull();
    advance(1);
    expect(await service.authenticate(created.key)).toBeNull();
  });

  it('should forget a key revoked on another instance when the revocation message arrives', async () => {
    const here = await setup();
    const there = new ApiKeyService({
      store: new ApiKeyStore(db.prisma),
      bus: here.observed.bus,
      logger: createLogger('silent'),
      cache: { maxKeys: 100, ttlMs: TTL_MS, maxUnknown: 10, unknownTtlMs: UNKNOWN_TTL_MS },
    });
    const created = await there.createKey({ name: 'revoked elsewhere', role: 'VIEWER' });
    expect(await here.service.authenticate(created.key)).not.toBeNull();
    const told = deferred();
    await here.observed.bus.subscribe('apiKeys:revoked', () => told.resolve());
    await there.revokeKey(created.id);
    await told.promise; // the message reached every listener of this bus, the service's (subscribed first) included
    expect(await here.service.authenticate(created.key)).toBeNull();
    expect(here.lookups).toHaveBeenCalledTimes(2);
  });

  it('should forget the keys the periodic check finds revoked', async () => {
    const { service, store, lookups } = await setup();
    const created = await service.createKey({ name: 'found revoked', role: 'VIEWER' });
    const bystander = await service.createKey({ name: 'bystander', role: 'VIEWER' });
    await service.authenticate(created.key);
    await service.authenticate(bystander.key);
    await store.revoke(created.id);
    expect(await service.revokedAmong([created.id, bystander.id])).toEqual([created.id]);
    expect(await service.authenticate(created.key)).toBeNull();
    expect(await service.authenticate(bystander.key)).not.toBeNull();
    expect(lookups).toHaveBeenCalledTimes(3);
  });

  /** Holds the next look-up of `store` after it read the row, until `release` resolves. */
  function holdNextLookUp(store: ApiKeyStore, lookups: MockInstance<ApiKeyStore['authenticate']>) {
    const read = deferred();
    const release = deferred();
    lookups.mockImplementationOnce(async (key) => {
      const principal = await ApiKeyStore.prototype.authenticate.call(store, key); // the real one, not the spy again
      read.resolve();
      await release.promise;
      return principal;
    });
    return { read: read.promise, release: () => release.resolve() };
  }

  it('should not cache what a look-up under way at the revocation read', async () => {
    const { service, store, lookups } = await setup();
    const created = await service.createKey({ name: 'revoked mid-look-up', role: 'VIEWER' });
    const held = holdNextLookUp(store, lookups);
    const early = service.authenticate(created.key);
    await held.read; // the row was read while the key was still active
    await service.revokeKey(created.id);
    held.release();
    expect(await early).not.toBeNull(); // asked before the revocation
    expect(await service.authenticate(created.key)).toBeNull();
    expect(lookups).toHaveBeenCalledTimes(2);
  });

  it('should not let a caller after a revocation join a look-up that began before it', async () => {
    const { service, store, lookups } = await setup();
    const created = await service.createKey({ name: 'joined after revocation', role: 'VIEWER' });
    const held = holdNextLookUp(store, lookups);
    const early = service.authenticate(created.key);
    await held.read;
    await service.revokeKey(created.id);
    const late = service.authenticate(created.key);
    held.release();
    expect(await early).not.toBeNull();
    expect(await late).toBeNull();
  });

  it('should not let a flood of unknown keys grow the cache past its caps or push out a good key', async () => {
    const { service, lookups } = await setup({ maxKeys: 5, maxUnknown: 10 });
    const good = await service.createKey({ name: 'good', role: 'VIEWER' });
    await service.authenticate(good.key);
    for (let i = 0; i < 500; i++) expect(await service.authenticate(`jds_flood-${i}`)).toBeNull();
    expect(service.cached).toEqual({ keys: 1, unknown: 10 });
    const before = lookups.mock.calls.length;
    expect(await service.authenticate(good.key)).not.toBeNull();
    expect(lookups).toHaveBeenCalledTimes(before);
  });

  it('should answer UNAVAILABLE when the store fails, cache nothing, and ask again next time', async () => {
    const { service, lookups } = await setup();
    const created = await service.createKey({ name: 'store hiccup', role: 'VIEWER' });
    lookups.mockRejectedValueOnce(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    const failed = await Promise.allSettled([service.authenticate(created.key), service.authenticate(created.key)]);
    for (const outcome of failed) {
      expect(outcome.status).toBe('rejected');
      if (outcome.status === 'rejected') {
        expect(outcome.reason).toBeInstanceOf(DomainError);
        expect(outcome.reason.code).toBe('UNAVAILABLE');
        expect(outcome.reason.message).not.toContain('ECONNREFUSED');
      }
    }
    expect(await service.authenticate(created.key)).not.toBeNull();
    expect(lookups).toHaveBeenCalledTimes(2);
  });

  it('should listen for revocations only between start and stop', async () => {
    const { service, observed } = await setup();
    expect(observed.listeners('apiKeys:revoked')).toBe(1);
    service.stop();
    expect(observed.listeners('apiKeys:revoked')).toBe(0);
    expect(service.cached).toEqual({ keys: 0, unknown: 0 });
  });

  it('should cache nothing with a cache size of 0, yet still share concurrent look-ups', async () => {
    const { service, lookups } = await setup({ maxKeys: 0, maxUnknown: 0 });
    const created = await service.createKey({ name: 'uncached', role: 'VIEWER' });
    await Promise.all(Array.from({ length: 10 }, () => service.authenticate(created.key)));
    expect(lookups).toHaveBeenCalledTimes(1);
    await service.authenticate(created.key);
    expect(lookups).toHaveBeenCalledTimes(2);
  });
});
