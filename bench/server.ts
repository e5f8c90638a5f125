// A real server for benchmarks, in a child process of its own (so the load generator does not share its event
// loop), on a fresh Postgres database and Redis prefix that are removed afterwards.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort } from '../test/helpers/ports.js';
import { deleteKeys } from '../test/helpers/redis-keys.js';

export const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface BenchServer {
  url: string;
  wsUrl: string;
  adminKey: string;
  /** REDIS_KEY_PREFIX: its keys and bus channels start with it. */
  keyPrefix: string;
  pid: number;
  /** Resident memory of the server process, from its own /metrics. */
  rssBytes(): Promise<number>;
  /** /health with its details (which production shows only to the metrics token). */
  health(): Promise<{ checks: Record<string, { detail?: Record<string, unknown> }> }>;
  stop(): Promise<void>;
}

/** Runs one statement on the Postgres server's maintenance database (CREATE / DROP DATABASE). */
export async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

let built = false;

/** Compiles the server once per benchmark run, as `npm start` does before it runs `dist/main.js`. */
function buildOnce(): void {
  if (built) return;
  execFileSync('npm', ['run', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
  built = true;
}

export async function startBenchServer(env: Record<string, string> = {}): Promise<BenchServer> {
  buildOnce();
  const database = `jackdaw_bench_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const databaseUrl = new URL(POSTGRES_URL);
  databaseUrl.pathname = `/${database}`;
  await admin(`CREATE DATABASE "${database}"`);
  execFileSync('npx', ['tsx', 'src/migrate.ts', 'deploy'], {
    env: { ...process.env, DATABASE_URL: databaseUrl.toString() },
    stdio: 'ignore',
  });
  const prefix = `bench:${randomUUID().slice(0, 8)}:`;
  const adminKey = `bench-admin-${randomUUID()}`;
  // Production hides /metrics and /health's details from strangers: the benchmark reads them with this token.
  const metricsToken = `bench-metrics-${randomUUID()}`;
  const internals = { headers: { authorization: `Bearer ${metricsToken}` } };
  // BENCH_SERVER_NODE_ARGS, e.g. `--cpu-prof`, profiles the server under the benchmark's load.
  const nodeArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, '--enable-source-maps', 'dist/main.js'], {
    env: {
      ...process.env,
      // As the Dockerfile runs it (graphql-js, for one, skips its development-only checks).
      NODE_ENV: 'production',
      DATABASE_URL: databaseUrl.toString(),
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      ADMIN_API_KEY: adminKey,
      METRICS_TOKEN: metricsToken,
      // A port chosen here: with 0, serving processes listening with SO_REUSEPORT would each get a port of their own.
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      // The benchmarks measure the pipeline, not the abuse limits: lift those out of the way.
      RATE_LIMIT_PER_SECOND: '1000000',
      MAX_CONNECTIONS_PER_KEY: '10000',
      // Every load generator connects from 127.0.0.1: the per-address limits would count them all as one client.
      MAX_UNAUTHENTICATED_SOCKETS_PER_ADDRESS: '100000',
      WS_CONNECTS_PER_ADDRESS_PER_MINUTE: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (\S+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening`)));
  });
  return {
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    adminKey,
    keyPrefix: prefix,
    pid: child.pid as number,
    async rssBytes() {
      const text = await (await fetch(url.replace('/graphql', '/metrics'), internals)).text();
      return Number(/^jackdaw_process_resident_memory_bytes (\S+)/m.exec(text)?.[1] ?? Number.NaN);
    },
    async health() {
      return (await fetch(url.replace('/graphql', '/health'), internals)).json();
    },
    async stop() {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
      await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      const redis = new Redis(REDIS_URL);
      await deleteKeys(redis, `${prefix}*`);
      await redis.quit();
    },
  };
}

/**
 * Waits until the stream processor has broadcast and aggregated every event committed so far (/health's outbox
 * backlog is 0), polling every 100 ms; resolves with how long that took, in ms. Past `timeoutMs`, rejects.
 */
export async function backlogDrained(server: BenchServer, timeoutMs = 180_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    const health = await server.health();
    if (health.checks.streamProcessor?.detail?.outboxBacklog === 0) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`the outbox was not drained within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The `data` of a successful answer; `T` is what the caller's operation selects. */
export async function graphql<T>(
  server: BenchServer,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminKey}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (body.errors?.length) throw new Error(JSON.stringify(body.errors));
  return body.data as T;
}

export const PUBLISH_MANY = `mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { accepted ids } }`;
export interface PublishManyData {
  publishEvents: { accepted: number; ids: string[] };
}

/** Publishes `eventsPerSecond` background events in batches until `signal` aborts; returns acknowledged ids. */
export async function backgroundLoad(
  server: BenchServer,
  eventsPerSecond: number,
  signal: AbortSignal,
  makeEvent: (i: number) => Record<string, unknown>,
): Promise<{ acknowledged: number; failed: number }> {
  const batchSize = Math.min(1_000, Math.max(1, Math.round(eventsPerSecond / 20)));
  const intervalMs = (batchSize / eventsPerSecond) * 1_000;
  const inFlight = new Set<Promise<void>>();
  let acknowledged = 0;
  let failed = 0;
  let n = 0;
  const started = performance.now();
  for (let tick = 0; !signal.aborted; tick++) {
    const due = started + tick * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (inFlight.size >= 16) await Promise.race(inFlight); // the server is behind: do not pile up requests
    const inputs = Array.from({ length: batchSize }, () => makeEvent(n++));
    const request = graphql<PublishManyData>(server, PUBLISH_MANY, { inputs }).then(
      (d) => {
        acknowledged += d.publishEvents.accepted;
      },
      () => {
        failed += batchSize;
      },
    );
    inFlight.add(request);
    request.finally(() => inFlight.delete(request));
  }
  await Promise.all(inFlight);
  return { acknowledged, failed };
}
