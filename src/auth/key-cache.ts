// What this instance remembers of API keys, by hash (never the raw key), so a connection does not cost a database
// round trip each time. Pure: no I/O; the clock is injected. ApiKeyService decides what goes in and what comes out.
import type { Config } from '../config.js';
import type { Principal } from './keys.js';

interface Entry<V> {
  value: V;
  expiresAt: number;
}

/**
 * A Map-based LRU with a lifetime per entry: a Map iterates in insertion order, so re-inserting on a hit keeps the
 * least recently used entry first, and it is the one dropped when the cache is full.
 */
export class TtlLru<V> {
  private readonly entries = new Map<string, Entry<V>>();

  constructor(
    private readonly options: {
      /** 0: nothing is kept. */
      maxEntries: number;
      ttlMs: number;
      now: () => number;
      /** Told of every entry that leaves, for whatever was deleted, replaced, expired or pushed out. */
      onDrop?: (key: string, value: V) => void;
    },
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.options.now()) {
      this.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V): void {
    this.delete(key);
    if (this.options.maxEntries === 0) return;
    this.entries.set(key, { value, expiresAt: this.options.now() + this.options.ttlMs });
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.options.onDrop?.(key, entry.value);
  }

  clear(): void {
    for (const key of [...this.entries.keys()]) this.delete(key);
  }
}

export interface KeyCacheOptions {
  /** Known keys kept; 0 switches the cache off. */
  maxKeys: number;
  /** How long a known key is trusted without asking the database again. */
  ttlMs: number;
  /** Unknown (or revoked) keys kept, apart from the known ones; 0 keeps none. */
  maxUnknown: number;
  unknownTtlMs: number;
  now?: () => number;
}

export function keyCacheOptionsOf(
  config: Pick<
    Config,
    'API_KEY_CACHE_SIZE' | 'API_KEY_CACHE_TTL_MS' | 'API_KEY_NEGATIVE_CACHE_SIZE' | 'API_KEY_NEGATIVE_CACHE_TTL_MS'
  >,
): KeyCacheOptions {
  return {
    maxKeys: config.API_KEY_CACHE_SIZE,
    ttlMs: config.API_KEY_CACHE_TTL_MS,
    maxUnknown: config.API_KEY_NEGATIVE_CACHE_SIZE,
    unknownTtlMs: config.API_KEY_NEGATIVE_CACHE_TTL_MS,
  };
}

/**
 * Known keys and unknown keys in two separate LRUs. A flood of made-up keys fills only the small unknown one, so it
 * can neither push a good key out nor grow memory past `maxKeys + maxUnknown` entries. Revocation finds a known key
 * by its id, since a revocation names the key id and not its hash.
 */
export class KeyCache {
  private readonly known: TtlLru<Principal>;
  private readonly unknown: TtlLru<true>;
  private readonly hashById = new Map<string, string>();
  private readonly now: () => number;

  constructor({ maxKeys, ttlMs, maxUnknown, unknownTtlMs, now = Date.now }: KeyCacheOptions) {
    this.now = now;
    this.known = new TtlLru({
      maxEntries: maxKeys,
      ttlMs,
      now,
      onDrop: (hash, principal) => {
        if (this.hashById.get(principal.keyId) === hash) this.hashById.delete(principal.keyId);
      },
    });
    this.unknown = new TtlLru({ maxEntries: maxUnknown, ttlMs: unknownTtlMs, now });
  }

  /** The key's owner, null for a key known not to be valid, undefined when the database must be asked. */
  get(hash: string): Principal | null | undefined {
    const principal = this.known.get(hash);
    // A key that expired while remembered is refused from then on, whatever is left of the entry's lifetime.
    if (principal?.expiresAt && principal.expiresAt.getTime() <= this.now()) {
      this.set(hash, null);
      return null;
    }
    if (principal) return principal;
    return this.unknown.get(hash) ? null : undefined;
  }

  set(hash: string, principal: Principal | null): void {
    if (principal) {
      this.unknown.delete(hash);
      this.known.set(hash, Object.freeze({ ...principal }));
      this.hashById.set(principal.keyId, hash);
    } else {
      this.known.delete(hash);
      this.unknown.set(hash, true);
    }
  }

  /** Forgets a revoked key, so its next use asks the database (which refuses it). */
  forgetKey(keyId: string): void {
    const hash = this.hashById.get(keyId);
    if (hash !== undefined) this.known.delete(hash);
  }

  clear(): void {
    this.known.clear();
    this.unknown.clear();
  }

  get size(): { keys: number; unknown: number } {
    return { keys: this.known.size, unknown: this.unknown.size };
  }
}
