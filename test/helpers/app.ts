// Real servers on free ports for end-to-end tests, with GraphQL clients over HTTP and graphql-ws.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type DocumentNode, print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import { WebSocket } from 'ws';
import { type App, buildApp } from '../../src/app.js';
import { firstAdminKeyFile } from '../../src/auth/first-admin.js';
import { type Config, configWith } from '../../src/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { REDIS_URL } from './services.js';
import { deferred, Recording } from './waits.js';

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
  /** A Redis Cluster's nodes (REDIS_CLUSTER_NODES) in place of one Redis; used with `redisKeyPrefix`. */
  redisClusterNodes?: string;
  dataDir?: string;
  /** null: none configured, so the server generates the first admin key (and keeps it in `dataDir`). */
  adminKey?: string | null;
  config?: Partial<Record<keyof Config, string | number>>;
}

export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const configuredKey = options.adminKey === null ? undefined : (options.adminKey ?? `test-admin-${randomUUID()}`);
  // An embedded server the test gave no folder gets one of its own, removed when it stops: never the project's
  // ./.data, which `npm start` uses (and one process at a time may hold).
  const ownDataDir =
    options.databaseUrl || options.dataDir ? null : await mkdtemp(path.join(tmpdir(), 'jackdaw-test-data-'));
  const config = configWith({
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisKeyPrefix && !options.redisClusterNodes ? (options.redisUrl ?? REDIS_URL) : undefined,
    REDIS_CLUSTER_NODES: options.redisKeyPrefix ? options.redisClusterNodes : undefined,
    REDIS_KEY_PREFIX: options.redisKeyPrefix,
    DATA_DIR: options.dataDir ?? ownDataDir ?? undefined,
    ADMIN_API_KEY: configuredKey,
    PROCESSOR_POLL_MS: 50,
    SHUTDOWN_GRACE_MS: 2_000,
    ...options.config,
  });
  const app = await buildApp(config, { logger: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent') });
  const url = await app.start(0, '127.0.0.1');
  const adminKey = configuredKey ?? (await readFile(firstAdminKeyFile(config.DATA_DIR), 'utf8')).trim();
  const stop = async () => {
    await app.stop();
    if (ownDataDir) await rm(ownDataDir, { recursive: true, force: true });
  };
  return { app, url, wsUrl: url.replace(/^http/, 'ws'), adminKey, stop };
}

export interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; [k: string]: unknown } }[];
}

/** The variables of an operation: optional when it needs none. */
export type VariablesArg<V> = Record<string, never> extends V ? [variables?: V] : [variables: V];

/** The arguments after the document: variables (optional when the operation needs none), then the API key. */
type OperationArgs<V> = Record<string, never> extends V ? [variables?: V, key?: string] : [variables: V, key?: string];

/**
 * One operation over HTTP. A typed document (`graphql(...)` from ../generated) types the variables and the result;
 * a string is for what the schema's types would refuse (malformed documents, wrong variables), with `unknown` data.
 */
export async function gql<R, V>(
  url: string,
  document: TypedDocumentNode<R, V>,
  ...args: OperationArgs<NoInfer<V>>
): Promise<GraphQLResponse<R>>;
export async function gql(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  key?: string,
): Promise<GraphQLResponse<unknown>>;
export async function gql(
  url: string,
  query: string | DocumentNode,
  variables: unknown = {},
  key?: string,
): Promise<GraphQLResponse<unknown>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query: typeof query === 'string' ? query : print(query), variables }),
  });
  return (await res.json()) as GraphQLResponse<unknown>;
}

/** Like gql, but fails the test on any GraphQL error. */
export async function gqlOk<R, V>(
  url: string,
  document: TypedDocumentNode<R, V>,
  ...args: OperationArgs<NoInfer<V>>
): Promise<R>;
export async function gqlOk(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  key?: string,
): Promise<unknown>;
export async function gqlOk(
  url: string,
  query: string | DocumentNode,
  variables?: Record<string, unknown>,
  key?: string,
): Promise<unknown> {
  const result = await gql(url, typeof query === 'string' ? query : print(query), variables, key);
  if (result.errors?.length || result.data == null) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data;
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

export interface Subscription<T> {
  received: T[];
  errors: unknown[];
  readonly completed: boolean;
  /** Resolves when at least `count` results arrived (or the subscription ended); rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<T[]>;
  /** Resolves when `check(received)` holds (or the subscription ended); rejects after `timeoutMs`. */
  until(check: (received: T[]) => boolean, timeoutMs?: number): Promise<T[]>;
  /** Resolves with the result at `index` (0 for the first) once it arrived; rejects if the subscription ends first. */
  result(index: number, timeoutMs?: number): Promise<T>;
  dispose(): void;
}

/** Collects subscription results, typed from the document (a string query gives `unknown` results). */
export function subscribe<R, V>(
  client: Client,
  document: TypedDocumentNode<R, V>,
  ...variables: VariablesArg<NoInfer<V>>
): Subscription<R>;
export function subscribe(client: Client, query: string, variables?: Record<string, unknown>): Subscription<unknown>;
export function subscribe(
  client: Client,
  query: string | DocumentNode,
  variables: Record<string, unknown> = {},
): Subscription<unknown> {
  const received = new Recording<unknown>();
  const errors: unknown[] = [];
  let completed = false;
  const dispose = client.subscribe(
    { query: typeof query === 'string' ? query : print(query), variables },
    {
      next: (value) => {
        if (value.errors) errors.push(...value.errors);
        if (value.data) received.push(value.data);
        else received.push(); // errors only: waiters look again
      },
      error: (error) => {
        errors.push(error);
        completed = true;
        received.push();
      },
      complete: () => {
        completed = true;
        received.push();
      },
    },
  );
  const until = (check: (items: unknown[]) => boolean, timeoutMs = 25_000) =>
    received.until((items) => completed || check(items), timeoutMs);
  return {
    received: received.items,
    errors,
    get completed() {
      return completed;
    },
    waitFor: (count, timeoutMs) => until((items) => items.length >= count, timeoutMs),
    until,
    async result(index, timeoutMs) {
      const items = await until((items) => items.length > index, timeoutMs);
      if (index >= items.length)
        throw new Error(`the subscription ended after ${items.length} results: ${JSON.stringify(errors)}`);
      return items[index];
    },
    dispose,
  };
}

/**
 * Resolves once `count` more WebSocket subscribers have joined a shared subscription group on `server` (a join
 * resolves when its group is live on the bus).
 */
export function subscribersJoined(server: TestServer, count = 1): Promise<void> {
  const { shared } = server.app.webSocket;
  const joinNext = shared.join.bind(shared);
  const live = deferred();
  let remaining = count;
  // Left in place once resolved, as a plain pass-through: another wait may have wrapped this one meanwhile.
  shared.join = async (...args) => {
    const joined = await joinNext(...args);
    if (Symbol.asyncIterator in joined && --remaining === 0) live.resolve();
    return joined;
  };
  return live.promise;
}

/**
 * Resolves once the stream processor has applied everything stored so far (broadcast, aggregates and the
 * processor's counters included): the instance holding its lease drains the outbox. With the lease free (a restarted
 * Redis forgot it), the first instance takes it by draining.
 */
/**
 * Waits until the outbox is empty: each server's processor drains the partitions it holds (the servers given share
 * them); partitions held elsewhere are waited for.
 */
export async function processed(first: TestServer, ...others: TestServer[]): Promise<void> {
  const servers = [first, ...others];
  for (;;) {
    await Promise.all(servers.map((server) => server.app.runtime.processor.drain()));
    if ((await first.app.runtime.eventStore.outboxSize()) === 0) return;
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `check` until it returns a truthy value. Only for what nothing reports (an external process coming back, a
 * lease expiring): wait on the event instead wherever there is one (see waits.ts, `subscribersJoined`, `processed`).
 */
export async function eventually<T>(
  check: () => Promise<T> | T,
  timeoutMs = 25_000,
  everyMs = 25,
): Promise<NonNullable<T>> {
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
