// The stream processor's lease: which instance may write the shared aggregates. One instance at a time holds it
// in Redis under `<prefix>{agg}:lease`, its value a random token; the aggregate store's scripts refuse any write whose
// fence is not the current holder's token (FENCE_CHECK_LUA), so a holder that lost the lease cannot undo a newer
// holder's work. Embedded (no Redis) the one process always holds it and no fence is needed.
import { randomUUID } from 'node:crypto';
import type { RedisClient } from './redis.js';

export interface Lease {
  /** Takes or renews the lease; resolves true while this instance holds it. */
  hold(): Promise<boolean>;
  /** The fencing token the aggregate store checks on every write, or undefined when no fencing is needed. */
  readonly token: string | undefined;
  release(): Promise<void>;
}

export const localLease: Lease = { hold: async () => true, token: undefined, release: async () => {} };

/**
 * The hash tag of the lease and the aggregate store's keys (aggregation/redis-store.ts): fenced scripts read the lease
 * beside the keys they write, and on a Redis Cluster a script's keys must all be in one hash slot.
 */
export const AGGREGATE_TAG = '{agg}';

export function leaseKey(keyPrefix: string): string {
  return `${keyPrefix}${AGGREGATE_TAG}:lease`;
}

// Redis keeps the first word of a script error as its code (a lone word would become "ERR FENCED").
const FENCED_CODE = 'FENCED';

/**
 * Lua that leaves a script with an error when a fence is given (ARGV[1], '' for none) and the lease (KEYS[1]) does
 * not hold it. Scripts that write fenced state start with it.
 */
export const FENCE_CHECK_LUA = `
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('${FENCED_CODE} the aggregation lease is held by another instance')
end
`;

/** A write refused because the writer no longer holds the lease. */
export class FencedError extends Error {
  constructor() {
    super('the aggregation lease is held by another instance');
    this.name = 'FencedError';
  }
}

/** Runs a fenced script, turning its fence refusal into FencedError. */
export async function fenced<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof Error && error.message.startsWith(`${FENCED_CODE} `)) throw new FencedError();
    throw error;
  }
}

// KEYS[1]: lease. ARGV: token, ttl (renew only).
const RENEW_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** A lease shared through Redis: taken with SET NX, renewed and released only by its own token. */
export function redisLease(redis: RedisClient, keyPrefix: string, ttlMs: number, token: string = randomUUID()): Lease {
  const key = leaseKey(keyPrefix);
  let held = false;
  return {
    token,
    async hold() {
      held = held
        ? (await redis.eval(RENEW_SCRIPT, 1, key, token, ttlMs)) === 1
        : (await redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK';
      return held;
    },
    async release() {
      // Given up at once, so another instance can take over without waiting for the TTL.
      if (held) await redis.eval(RELEASE_SCRIPT, 1, key, token);
      held = false;
    },
  };
}
