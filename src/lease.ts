// Leases in Redis: which instance may write a partition's aggregates (one lease per partition of the outbox,
// `<prefix>{p<n>of<P>}:agg:lease`, beside that partition's keys), and which one evaluates alert rules
// (`<prefix>alerts:lease`). A lease's value is a random token; the aggregate store's scripts refuse any write whose
// fence is not the current holder's token (FENCE_CHECK_LUA), so a holder that lost the lease cannot undo a newer
// holder's work. Embedded (no Redis) the one process always holds them and no fence is needed.
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
 * The Redis Cluster hash tag of one partition's keys: every key of a partition (its lease, applied-batch marker,
 * buckets and label indexes) carries it, so they share one hash slot and one Lua call may name them all. The count
 * is part of it: aggregates kept under another partition count are another state, never merged with this one.
 */
export function partitionTag(partition: number, partitions: number): string {
  return `{p${partition}of${partitions}}`;
}

/** The lease of one partition of the outbox (the only writer of its aggregates). */
export function leaseKey(keyPrefix: string, partition = 0, partitions = 1): string {
  return `${keyPrefix}${partitionTag(partition, partitions)}:agg:lease`;
}

/** The lease of the alert engine: one instance evaluates the rules, whoever processes the partitions. */
export function alertLeaseKey(keyPrefix: string): string {
  return `${keyPrefix}alerts:lease`;
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

/** Renews a lease held under `token`; resolves whether it is still held. */
export async function renewLease(redis: RedisClient, key: string, token: string, ttlMs: number): Promise<boolean> {
  return (await redis.eval(RENEW_SCRIPT, 1, key, token, ttlMs)) === 1;
}

/** Gives a lease up at once if `token` still holds it, so another instance can take over without waiting. */
export async function releaseLease(redis: RedisClient, key: string, token: string): Promise<void> {
  await redis.eval(RELEASE_SCRIPT, 1, key, token);
}

/** A lease (its full key) shared through Redis: taken with SET NX, renewed and released only by its own token. */
export function redisLease(redis: RedisClient, key: string, ttlMs: number, token: string = randomUUID()): Lease {
  let held = false;
  return {
    token,
    async hold() {
      held = held
        ? await renewLease(redis, key, token, ttlMs)
        : (await redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK';
      return held;
    },
    async release() {
      // Given up at once, so another instance can take over without waiting for the TTL.
      if (held) await releaseLease(redis, key, token);
      held = false;
    },
  };
}
