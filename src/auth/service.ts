// API keys as the application uses them: authentication for both transports, creation and revocation by admins
// (the first admin key is made once per instance, before serving starts: first-admin.ts). Revocation is told to every instance on the bus, so their sockets of that key close.
//
// Authentication goes through a cache by key hash (key-cache.ts), so 10,000 sockets of one key cost one database
// look-up, not 10,000; concurrent look-ups of one key share a single query. A revoked key leaves the cache
//   - at once on the instance that revoked it, and on every other one when the `apiKeys:revoked` message arrives;
//   - when the ConnectionRegistry's periodic check (REVOCATION_CHECK_MS) finds it revoked among open sockets, which
//     covers a message lost while the bus was down for every key with a socket on this instance;
//   - at the latest API_KEY_CACHE_TTL_MS after it was cached: the bound for a key revoked straight in the database,
//     or while the bus was down, and used only over HTTP.
// Unknown keys are remembered apart and briefly (a client retrying with a stale key costs one look-up per
// API_KEY_NEGATIVE_CACHE_TTL_MS). Made-up keys never repeat, so no cache can spare the database a flood of them
// (that takes a per-address limit in front of authentication, in the transport); keeping them apart guarantees that
// such a flood neither evicts good keys, which keep being answered from memory however long the database's queue,
// nor grows memory past the two caps.
import { randomUUID } from 'node:crypto';
import type { Bus, Unsubscribe } from '../bus/bus.js';
import { badInput, DomainError, notFound } from '../errors.js';
import type { EventType } from '../generated/prisma/enums.js';
import { isUuid } from '../ids.js';
import type { Logger } from '../observability/logger.js';
import { KeyCache, type KeyCacheOptions } from './key-cache.js';
import { type ApiKeyInfo, type ApiKeyStore, hashKey, type NewKey, type Principal } from './keys.js';

const MAX_NAME_LENGTH = 200; // a label for people, not a document

/**
 * A key limited to some event types publishes only those: FORBIDDEN, naming the first other type and its index, and
 * nothing of the batch is stored (this runs before validation and the commit).
 */
export function checkPublishableTypes(publisher: Principal | null, events: readonly { type: EventType }[]): void {
  const allowed = publisher?.eventTypes;
  if (!allowed) return;
  const index = events.findIndex((event) => !allowed.includes(event.type));
  const refused = events[index];
  if (!refused) return;
  throw new DomainError(
    'FORBIDDEN',
    `event ${index}: this API key may publish only ${allowed.join(', ')}, not ${refused.type}`,
    { index },
  );
}

/**
 * What the caller that starts a database look-up of a key may do around it (the transports' per-address limit:
 * AuthGate). Callers of the same key meanwhile share that look-up, and so its outcome, a refusal included.
 */
export interface LookupGuard {
  /** Before the database is asked; throws a DomainError to refuse the look-up. */
  before(): Promise<void>;
  /** After that look-up found a good key. */
  found(): Promise<void>;
}

export interface ApiKeyServiceOptions {
  store: ApiKeyStore;
  bus: Bus;
  logger: Logger;
  cache: KeyCacheOptions;
}

export class ApiKeyService {
  private readonly cache: KeyCache;
  /** Look-ups under way, by key hash: whoever asks for the same key meanwhile waits for the same answer. */
  private readonly lookups = new Map<string, Promise<Principal | null>>();
  /**
   * Counts revocations seen. A look-up that started before one may have read the key still active: its answer is
   * given to its callers (they asked before the revocation) but not cached.
   */
  private revocations = 0;
  private stopRevocations: Unsubscribe | null = null;

  constructor(private readonly options: ApiKeyServiceOptions) {
    this.cache = new KeyCache(options.cache);
  }

  /** Listens for revocations made on any instance; resolves once the subscription is live. */
  async start(): Promise<void> {
    this.stopRevocations ??= await this.options.bus.subscribe('apiKeys:revoked', ({ id }) => this.forget(id));
  }

  stop(): void {
    this.stopRevocations?.();
    this.stopRevocations = null;
    this.cache.clear();
  }

  /**
   * The key's owner, or null for an unknown or revoked key; UNAVAILABLE when keys cannot be checked now. `guard` is
   * told of a database look-up this call starts (none for a cached key, nor for one joining a look-up under way).
   */
  async authenticate(key: string, requestId?: string, guard?: LookupGuard): Promise<Principal | null> {
    const hash = hashKey(key);
    const cached = this.cache.get(hash);
    if (cached !== undefined) return cached;
    try {
      return await this.lookUp(hash, key, guard);
    } catch (error) {
      if (error instanceof DomainError) throw error; // the guard's refusal, for the client
      // The driver's message may name hosts: the client gets a request id to quote instead.
      const id = requestId ?? randomUUID();
      this.options.logger.error({ err: error, requestId: id }, 'API key check failed');
      throw new DomainError('UNAVAILABLE', `API keys cannot be checked now; retry later (request id ${id})`, {
        requestId: id,
      });
    }
  }

  /** How many keys this instance remembers now, good and unknown. */
  get cached(): { keys: number; unknown: number } {
    return this.cache.size;
  }

  private lookUp(hash: string, key: string, guard?: LookupGuard): Promise<Principal | null> {
    const pending = this.lookups.get(hash);
    if (pending) return pending;
    const revocations = this.revocations;
    // Registered before the guard is asked, so callers arriving meanwhile join this look-up instead of each asking.
    const lookup = (async () => {
      await guard?.before();
      const principal = await this.options.store.authenticate(key);
      if (this.revocations === revocations) this.cache.set(hash, principal);
      if (principal) await guard?.found();
      return principal;
    })().finally(() => {
      if (this.lookups.get(hash) === lookup) this.lookups.delete(hash);
    });
    this.lookups.set(hash, lookup);
    return lookup;
  }

  /** Drops a revoked key from the cache, and lets no look-up that began before now answer a later caller. */
  private forget(keyId: string): void {
    this.revocations += 1;
    this.lookups.clear();
    this.cache.forgetKey(keyId);
  }

  async createKey({ name, role, expiresAt, eventTypes }: NewKey) {
    const trimmed = name.trim();
    if (trimmed.length === 0 || trimmed.length > MAX_NAME_LENGTH) {
      throw badInput(`name must be 1 to ${MAX_NAME_LENGTH} characters`);
    }
    if (expiresAt && expiresAt.getTime() <= Date.now()) throw badInput('expiresAt must be in the future');
    if (eventTypes) {
      if (role !== 'PUBLISHER') throw badInput('eventTypes limits what a key publishes: it is for PUBLISHER keys only');
      if (eventTypes.length === 0) throw badInput('eventTypes must name at least one event type (omit it for any)');
    }
    // Each type once: a list of thousands of repeats is one type.
    return this.options.store.create({
      name: trimmed,
      role,
      expiresAt,
      eventTypes: eventTypes && [...new Set(eventTypes)],
    });
  }

  /** Every key, for admins: so any of them can be found and revoked. */
  listKeys(): Promise<ApiKeyInfo[]> {
    return this.options.store.list();
  }

  async revokeKey(id: string): Promise<boolean> {
    const known = isUuid(id) && (await this.options.store.revoke(id));
    if (!known) throw notFound(`no active API key has id "${id.slice(0, 64)}"`);
    this.forget(id);
    // Stored first: an instance that misses this message still finds the revocation in its periodic check.
    await this.options.bus.publish('apiKeys:revoked', { id }).catch(() => {});
    return true;
  }

  /**
   * Which of these key ids are revoked now (their open connections must close). Those found are forgotten by the
   * cache too: the ConnectionRegistry's periodic check asks this, so a revocation message lost while the bus was down
   * takes effect within REVOCATION_CHECK_MS for every key with a socket here, over HTTP as well.
   */
  async revokedAmong(ids: string[]): Promise<string[]> {
    const revoked = await this.options.store.revokedAmong(ids);
    for (const id of revoked) this.forget(id);
    return revoked;
  }
}
