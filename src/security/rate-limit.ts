// Operations per API key per second (rate-limiter-flexible). With Redis the limit is global: every instance counts
// in the same Redis key. While Redis is unreachable each process falls back to counting alone in memory, so the
// limit still holds per serving process and no request waits on a dead Redis. Without Redis (one process) it is per
// instance.
import type { Plugin } from '@envelop/core';
import type { GraphQLError } from 'graphql';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Principal } from '../auth/keys.js';
import type { RedisClient } from '../redis.js';
import { graphQLError } from '../transport/errors.js';

export interface RateLimiter {
  /** Counts one operation for `key`; resolves with the milliseconds to wait when over the limit, else null. */
  consume(key: string): Promise<number | null>;
  /** Gives back one counted operation (one that turned out not to count against the limit). */
  refund(key: string): Promise<void>;
}

export interface RateLimiterOptions {
  perSecond: number;
  redis: RedisClient | null;
  keyPrefix: string;
}

/** Null when the limit is switched off (0). */
export function createRateLimiter({ perSecond, redis, keyPrefix }: RateLimiterOptions): RateLimiter | null {
  return createWindowLimiter({ points: perSecond, durationSeconds: 1, redis, name: `${keyPrefix}ratelimit` });
}

export interface WindowLimiterOptions {
  /** What may be counted per key within a window; 0 switches the limiter off. */
  points: number;
  durationSeconds: number;
  redis: RedisClient | null;
  /** The Redis key prefix of this limiter's counters. */
  name: string;
}

/**
 * A count per key over fixed windows: global through Redis when there is one, in memory (this process) without it
 * or while it is unreachable. Null when switched off.
 */
export function createWindowLimiter({
  points,
  durationSeconds,
  redis,
  name,
}: WindowLimiterOptions): RateLimiter | null {
  if (points === 0) return null;
  const window = { points, duration: durationSeconds };
  const memory = new RateLimiterMemory(window);
  const limiter = redis
    ? new RateLimiterRedis({
        ...window,
        storeClient: redis,
        keyPrefix: name,
        rejectIfRedisNotReady: true,
        insuranceLimiter: memory,
      })
    : memory;
  return {
    async consume(key) {
      try {
        await limiter.consume(key);
        return null;
      } catch (outcome) {
        if (outcome instanceof RateLimiterRes) return Math.max(1, outcome.msBeforeNext);
        throw outcome; // the memory limiter does not fail, so this is a bug, not a Redis outage
      }
    },
    async refund(key) {
      await limiter.reward(key, 1);
    },
  };
}

export interface LimitedContext {
  principal?: Principal | null;
  /** Present over HTTP only (yoga's Fetch request). */
  request?: unknown;
  /** The client's address (client-address.ts), set by both transports. */
  clientAddress?: string;
}

/** Counts one operation of the caller; resolves with the error to answer when it is over the limit. */
export type RateLimitCheck = (context: LimitedContext) => Promise<GraphQLError | null>;

/** Operations without a valid key are counted per client address. */
export function rateLimitCheck(limiter: RateLimiter, perSecond: number): RateLimitCheck {
  return async (context) => {
    const key = context.principal ? `key:${context.principal.keyId}` : `address:${context.clientAddress ?? 'unknown'}`;
    const waitMs = await limiter.consume(key);
    if (waitMs === null) return null;
    const retryAfterSeconds = Math.ceil(waitMs / 1000);
    return graphQLError(
      'RATE_LIMITED',
      `more than ${perSecond} operations per second with this API key; retry in ${waitMs} ms`,
      { retryAfterMs: waitMs },
      // yoga turns this into the HTTP status and header, and leaves it out of the body.
      context.request ? { status: 429, headers: { 'Retry-After': String(retryAfterSeconds) } } : undefined,
    );
  };
}

/**
 * Refuses an operation over the limit with RATE_LIMITED before it executes, over HTTP (status 429 with
 * Retry-After) and WebSocket alike. (Shared WebSocket subscriptions, which start no execution of their own, call
 * the same check in transport/websocket.ts.)
 */
export function rateLimitPlugin(refusal: RateLimitCheck): Plugin {
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const error = await refusal(args.contextValue as LimitedContext);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const error = await refusal(args.contextValue as LimitedContext);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}
