// The partitions' leases and the live processors, in Redis (the plan is partitions.ts). Each processing process is a
// member: it announces itself on every heartbeat in one sorted set scored by Redis's clock, and members not heard of
// for a lease's time are dropped, so every member sees the same list. Embedded (no Redis), the one process is the only
// member and holds every partition, with no fence.
import { randomUUID } from 'node:crypto';
import { leaseKey, releaseLease, renewLease } from '../lease.js';
import type { RedisClient } from '../redis.js';

/** The partition count a member id says its member runs with (redisPartitionLeases' ids), or null. */
export function partitionsOfMember(member: string): number | null {
  const match = /^(\d+)\//.exec(member);
  return match ? Number(match[1]) : null;
}

/** A partition held: its fence for the aggregate store (undefined when none is needed). */
export interface HeldPartition {
  token: string | undefined;
}

export interface PartitionLeases {
  /** This process's member id. */
  readonly self: string;
  readonly partitions: number;
  /** Announces this member; answers the live members, this one included. */
  heartbeat(): Promise<string[]>;
  /** Takes the partition's lease if it is free. */
  take(partition: number): Promise<HeldPartition | null>;
  /** Renews a lease held; false when it was lost (it lapsed and another took it). */
  renew(partition: number, held: HeldPartition): Promise<boolean>;
  release(partition: number, held: HeldPartition): Promise<void>;
  /** Stops announcing this member, so the others take its share at their next heartbeat. */
  leave(): Promise<void>;
}

export function localPartitionLeases(partitions: number): PartitionLeases {
  const self = 'local';
  return {
    self,
    partitions,
    heartbeat: async () => [self],
    take: async () => ({ token: undefined }),
    renew: async () => true,
    release: async () => {},
    leave: async () => {},
  };
}

// KEYS[1]: members. ARGV: member, ttl (ms). Redis's clock, so members on machines whose clocks differ agree.
const HEARTBEAT_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;

export function membersKey(keyPrefix: string): string {
  return `${keyPrefix}processors:members`;
}

export function redisPartitionLeases(
  redis: RedisClient,
  keyPrefix: string,
  partitions: number,
  ttlMs: number,
  // The count leads the id, so members running another count (a misconfigured instance) can be told apart.
  self: string = `${partitions}/${randomUUID()}`,
): PartitionLeases {
  const members = membersKey(keyPrefix);
  const key = (partition: number) => leaseKey(keyPrefix, partition, partitions);
  return {
    self,
    partitions,
    async heartbeat() {
      return (await redis.eval(HEARTBEAT_SCRIPT, 1, members, self, ttlMs)) as string[];
    },
    async take(partition) {
      // A token of its own per tenure, naming the member (so an operator reading the key sees who holds it).
      const token = `${self}:${randomUUID()}`;
      return (await redis.set(key(partition), token, 'PX', ttlMs, 'NX')) === 'OK' ? { token } : null;
    },
    async renew(partition, held) {
      return held.token !== undefined && renewLease(redis, key(partition), held.token, ttlMs);
    },
    async release(partition, held) {
      if (held.token !== undefined) await releaseLease(redis, key(partition), held.token);
    },
    async leave() {
      await redis.zrem(members, self);
    },
  };
}
