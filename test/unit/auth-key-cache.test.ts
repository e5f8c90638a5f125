// The API key cache (src/auth/key-cache.ts) on a hand-driven clock: least recently used out first, entries expire,
// revocation by key id, and unknown keys kept apart so a flood of them cannot push good keys out.
import { describe, expect, it } from 'vitest';
import { KeyCache, TtlLru } from '../../src/auth/key-cache.js';
import type { Principal } from '../../src/auth/keys.js';

function clock() {
  let now = 1_000;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

const principal = (keyId: string): Principal => ({ keyId, name: `key ${keyId}`, role: 'VIEWER' });

describe('TtlLru', () => {
  it('should drop the least recently used entry when full, a read counting as a use', () => {
    const time = clock();
    const dropped: string[] = [];
    const lru = new TtlLru<number>({ maxEntries: 2, ttlMs: 1_000, now: time.now, onDrop: (key) => dropped.push(key) });
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1);
    lru.set('c', 3);
    expect(lru.get('b')).toBeUndefined();
    expect([lru.get('a'), lru.get('c')]).toEqual([1, 3]);
    expect(lru.size).toBe(2);
    expect(dropped).toEqual(['b']);
  });

  it('should forget an entry once its lifetime is over, even when it was read meanwhile', () => {
    const time = clock();
    const lru = new TtlLru<number>({ maxEntries: 10, ttlMs: 1_000, now: time.now });
    lru.set('a', 1);
    time.advance(999);
    expect(lru.get('a')).toBe(1);
    time.advance(1);
    expect(lru.get('a')).toBeUndefined();
    expect(lru.size).toBe(0);
  });

  it('should keep nothing when its size is 0', () => {
    const lru = new TtlLru<number>({ maxEntries: 0, ttlMs: 1_000, now: Date.now });
    lru.set('a', 1);
    expect(lru.get('a')).toBeUndefined();
    expect(lru.size).toBe(0);
  });
});

describe('KeyCache', () => {
  const options = { maxKeys: 3, ttlMs: 60_000, maxUnknown: 2, unknownTtlMs: 5_000 };

  it('should answer a known key, null for a key known to be unknown, and undefined for one never seen', () => {
    const cache = new KeyCache(options);
    cache.set('hash-a', principal('a'));
    cache.set('hash-x', null);
    expect(cache.get('hash-a')).toEqual(principal('a'));
    expect(cache.get('hash-x')).toBeNull();
    expect(cache.get('hash-never')).toBeUndefined();
  });

  it('should forget a key by its id, and only that key', () => {
    const cache = new KeyCache(options);
    cache.set('hash-a', principal('a'));
    cache.set('hash-b', principal('b'));
    cache.forgetKey('a');
    expect(cache.get('hash-a')).toBeUndefined();
    expect(cache.get('hash-b')).toEqual(principal('b'));
    cache.forgetKey('not cached');
    expect(cache.size).toEqual({ keys: 1, unknown: 0 });
  });

  it('should still forget by id a key cached again after it was pushed out', () => {
    const cache = new KeyCache({ ...options, maxKeys: 1 });
    cache.set('hash-a', principal('a'));
    cache.set('hash-b', principal('b'));
    cache.set('hash-a', principal('a'));
    cache.forgetKey('a');
    expect(cache.get('hash-a')).toBeUndefined();
  });

  it('should keep unknown keys for their own shorter lifetime', () => {
    const time = clock();
    const cache = new KeyCache({ ...options, now: time.now });
    cache.set('hash-a', principal('a'));
    cache.set('hash-x', null);
    time.advance(options.unknownTtlMs);
    expect(cache.get('hash-x')).toBeUndefined();
    expect(cache.get('hash-a')).toEqual(principal('a'));
    time.advance(options.ttlMs);
    expect(cache.get('hash-a')).toBeUndefined();
  });

  it('should not let a flood of unknown keys push out good ones or grow past its caps', () => {
    const cache = new KeyCache(options);
    for (const id of ['a', 'b', 'c']) cache.set(`hash-${id}`, principal(id));
    for (let i = 0; i < 10_000; i++) cache.set(`hash-random-${i}`, null);
    expect(cache.size).toEqual({ keys: 3, unknown: 2 });
    for (const id of ['a', 'b', 'c']) expect(cache.get(`hash-${id}`)).toEqual(principal(id));
  });

  it('should hand out principals that callers cannot change for one another', () => {
    const cache = new KeyCache(options);
    cache.set('hash-a', principal('a'));
    const cached = cache.get('hash-a');
    expect(Object.isFrozen(cached)).toBe(true);
  });
});
