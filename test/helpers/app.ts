// Real servers on free ports for end-to-end tests, with GraphQL clients over HTTP and graphql-ws.
import { randomUUID } from 'node:crypto';
import { type Client, createClient } from 'graphql-ws';
import { WebSocket } from 'ws';
import { type App, buildApp } from '../../src/app.js';
import { type Config, configWith } from '../../src/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { REDIS_URL } from './services.js';

export interface TestServer {
  app: App;
  url: string;
  wsUrl: string;
  adminKey: string;
  stop(): Promise<void>;
}

export interface TestServerOptions {
  databaseUrl?: string;
  /** Redis key prefix: set it to share Redis state between instances; unset means no Redis (in-process bus). */
  redisKeyPrefix?: string;
  redisUrl?: string;
  dataDir?: string;
  adminKey?: string;
  config?: Partial<Record<keyof Config, string | number>>;
}

export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const adminKey = options.adminKey ?? `test-admin-${randomUUID()}`;
  const config = configWith({
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisKeyPrefix ? (options.redisUrl ?? REDIS_URL) : undefined,
    REDIS_KEY_PREFIX: options.redisKeyPrefix,
    DATA_DIR: options.dataDir,
    ADMIN_API_KEY: adminKey,
    PROCESSOR_POLL_MS: 50,
    SHUTDOWN_GRACE_MS: 2_000,
    ...options.config,
  });
  const app = await buildApp(config, { logger: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent') });
  const url = await app.start(0, '127.0.0.1');
  return { app, url, wsUrl: url.replace(/^http/, 'ws'), adminKey, stop: () => app.stop() };
}

export interface GraphQLResponse<T = Record<string, unknown>> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; [k: string]: unknown } }[];
}

export async function gql<T = any>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  key?: string,
): Promise<GraphQLResponse<T>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as GraphQLResponse<T>;
}

/** Like gql, but fails the test on any GraphQL error. */
export async function gqlOk<T = any>(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  key: string,
): Promise<T> {
  const result = await gql<T>(url, query, variables, key);
  if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data as T;
}

export function wsClient(
  wsUrl: string,
  key: string | null,
  extra: Partial<Parameters<typeof createClient>[0]> = {},
): Client {
  return createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: key ? { authorization: `Bearer ${key}` } : {},
    retryAttempts: 0,
    lazy: true,
    ...extra,
  });
}

/** Collects subscription results; `next(n)` waits for the n-th one. */
export function subscribe<T = any>(client: Client, query: string, variables: Record<string, unknown> = {}) {
  const received: T[] = [];
  const errors: unknown[] = [];
  let waiters: { count: number; resolve: () => void }[] = [];
  let completed = false;
  const settle = () => {
    waiters = waiters.filter((w) => {
      if (received.length >= w.count || completed) w.resolve();
      return !(received.length >= w.count || completed);
    });
  };
  const dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (value) => {
        if (value.errors) errors.push(...value.errors);
        if (value.data) received.push(value.data as T);
        settle();
      },
      error: (error) => {
        errors.push(error);
        completed = true;
        settle();
      },
      complete: () => {
        completed = true;
        settle();
      },
    },
  );
  return {
    received,
    errors,
    get completed() {
      return completed;
    },
    /** Resolves when at least `count` results arrived (or the subscription ended); rejects after `timeoutMs`. */
    async waitFor(count: number, timeoutMs = 10_000): Promise<T[]> {
      if (received.length < count && !completed) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`timed out waiting for ${count} results, got ${received.length}`)),
            timeoutMs,
          );
          waiters.push({
            count,
            resolve: () => {
              clearTimeout(timer);
              resolve();
            },
          });
        });
      }
      return received;
    },
    dispose,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a truthy value (deferred-style waiting without fixed sleeps). */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}
