// npm run bench:scale — partitioned stream processing (issue 14): processing throughput and end-to-end latency with
// 1 instance and 1 partition, 1 instance and 4 partitions, and 2 instances sharing 4 partitions, beside each other in
// one run, on one Postgres and one Redis. Each scenario gets a fresh database and Redis prefix and real server
// processes (dist/main.js, one process per instance: WEB_CONCURRENCY=0, so an instance is one process that serves and
// processes). Writes its section of BENCHMARKS.md.
//
// Throughput: the instances start on an empty outbox and settle their partitions; then EVENTS events are committed
// straight into the outbox (the publish statement, from this process, which wakes no processor: the instances poll
// only every PROCESSOR_POLL_MS, set to 10 minutes here), and one event published through GraphQL nudges them all at
// once. Throughput is the events processed (broadcast, aggregated, removed from the outbox) over the time from that
// nudge until the outbox is empty, polled every 20 ms.
// Latency: with the backlog gone, background events at LOAD_RATE events/s are published through the instances (in
// turn), and MARKERS marker events through the first one, each timed from its publish request to its eventPublished
// delivery on a WebSocket subscriber of the last instance.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { type Client, createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import pg from 'pg';
import { WebSocket } from 'ws';
import { openDatabase } from '../src/db.js';
import type { NewEvent } from '../src/events/model.js';
import { EventStore } from '../src/events/store.js';
import { connectCluster, connectRedis, type RedisClient } from '../src/redis.js';
import { startRedisCluster } from '../test/helpers/redis-cluster.js';
import { deleteKeys, scanKeys } from '../test/helpers/redis-keys.js';
import { listeningUrl, stopChild } from './processes.js';
import { integer, machineDescription, ms, quantile, writeSection } from './report.js';
import { admin, type BenchServer, backgroundLoad, graphql, POSTGRES_URL, PUBLISH_MANY, REDIS_URL } from './server.js';

const HEADING = '## Partitioned processing (npm run bench:scale)';
const EVENTS = Number(process.env.BENCH_SCALE_EVENTS ?? 100_000);
// The machine's load varies from minute to minute (other work shares it): the scenarios run in turn, ROUNDS times,
// and each is reported by its median round, so every scenario sees the same spread of load.
const ROUNDS = Number(process.env.BENCH_SCALE_ROUNDS ?? 3);
const INSERT_BATCH = 1_000;
const LOAD_RATE = 5_000; // background events/s while latency is measured
const MARKERS = 100;
const MARKER_INTERVAL_MS = 50;
const PASS_MARK = 1.3; // 2 instances × 4 partitions against 1 instance × 1 partition

interface Scenario {
  name: string;
  instances: number;
  partitions: number;
}

const ALL_SCENARIOS: Scenario[] = [
  { name: '1 instance, 1 partition', instances: 1, partitions: 1 },
  { name: '1 instance, 4 partitions', instances: 1, partitions: 4 },
  { name: '2 instances, 4 partitions', instances: 2, partitions: 4 },
];
// BENCH_SCALE_ONLY=1x1,2x4 runs some of them (instances x partitions).
const only = process.env.BENCH_SCALE_ONLY?.split(',');
const SCENARIOS = ALL_SCENARIOS.filter((s) => !only || only.includes(`${s.instances}x${s.partitions}`));

/**
 * Where the instances' Redis is: the one node, and a local 3-master Redis Cluster this run starts (BENCH_SCALE_CLUSTER=0
 * leaves it out). Every scenario runs on each topology, side by side in the table.
 */
interface Topology {
  name: string;
  env: Record<string, string>;
  connect(): RedisClient;
}
const ONE_NODE: Topology = { name: 'Redis (one node)', env: { REDIS_URL }, connect: () => connectRedis(REDIS_URL) };
const WITH_CLUSTER = process.env.BENCH_SCALE_CLUSTER !== '0';
const TOPOLOGIES: Topology[] = [ONE_NODE];

/** Adds the local cluster's topology; its stop is called at the end of the run. */
async function addClusterTopology(): Promise<() => Promise<void>> {
  const cluster = await startRedisCluster({ masters: 3 });
  TOPOLOGIES.push({
    name: 'Redis Cluster (3 masters)',
    env: { REDIS_CLUSTER_NODES: cluster.nodesSetting },
    connect: () => connectCluster(cluster.nodes),
  });
  return () => cluster.stop();
}

interface Instance {
  url: string;
  wsUrl: string;
  adminKey: string;
  child: ChildProcess;
}

interface Deployment {
  databaseUrl: string;
  prefix: string;
  adminKey: string;
  instances: Instance[];
  stop(): Promise<void>;
}

/** This process's environment without a Redis of its own: each topology names its Redis. */
const { REDIS_URL: _url, REDIS_CLUSTER_NODES: _nodes, ...inheritedEnv } = process.env;

async function deploy(scenario: Scenario, topology: Topology): Promise<Deployment> {
  const database = `jackdaw_bench_scale_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${database}`;
  const databaseUrl = url.toString();
  await admin(`CREATE DATABASE "${database}"`);
  execFileSync('npx', ['tsx', 'src/migrate.ts', 'deploy'], {
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: 'ignore',
  });
  const prefix = `bench-scale:${randomUUID().slice(0, 8)}:`;
  const adminKey = `bench-admin-${randomUUID()}`;
  const instances: Instance[] = [];
  for (let i = 0; i < scenario.instances; i++) {
    const child = spawn(process.execPath, ['--enable-source-maps', 'dist/main.js'], {
      env: {
        ...inheritedEnv,
        NODE_ENV: 'production',
        DATABASE_URL: databaseUrl,
        ...topology.env,
        REDIS_KEY_PREFIX: prefix,
        ADMIN_API_KEY: adminKey,
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        WEB_CONCURRENCY: '0',
        PROCESSOR_PARTITIONS: String(scenario.partitions),
        PROCESSOR_POLL_MS: '600000', // woken by publishes only, so the backlog waits for the nudge
        RATE_LIMIT_PER_SECOND: '1000000',
        MAX_CONNECTIONS_PER_KEY: '10000',
        MAX_UNAUTHENTICATED_SOCKETS_PER_ADDRESS: '100000',
        WS_CONNECTS_PER_ADDRESS_PER_MINUTE: '0',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const listening = await listeningUrl(child);
    instances.push({ url: listening, wsUrl: listening.replace(/^http/, 'ws'), adminKey, child });
  }
  return {
    databaseUrl,
    prefix,
    adminKey,
    instances,
    async stop() {
      await Promise.all(instances.map((instance) => stopChild(instance.child)));
      await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      const redis = topology.connect();
      await deleteKeys(redis, `${prefix}*`);
      await redis.quit();
    },
  };
}

/** Waits until every partition's lease is held, by as many instances as can hold one. */
async function settled(redis: RedisClient, deployment: Deployment, scenario: Scenario): Promise<void> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const keys = await scanKeys(redis, `${deployment.prefix}*:agg:lease`);
    // One GET a key: on a cluster the leases are in as many slots as partitions.
    const holders = await Promise.all(keys.map((key) => redis.get(key)));
    const members = new Set(holders.filter(Boolean).map((token) => String(token).split(':')[0]));
    if (keys.length === scenario.partitions && members.size === Math.min(scenario.instances, scenario.partitions))
      return;
    if (performance.now() > deadline) throw new Error(`partitions not settled: ${keys.length} held by ${members.size}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const perfEvent = (i: number) => ({ metric_name: `bench_metric_${i % 10}`, value: i % 997 });

/** Commits `count` events straight into the log and outbox, as the publish statement does. */
async function backlog(databaseUrl: string, count: number): Promise<void> {
  const db = await openDatabase({ url: databaseUrl, dataDir: '' });
  try {
    const store = new EventStore(db);
    for (let n = 0; n < count; n += INSERT_BATCH) {
      const events: NewEvent[] = Array.from({ length: Math.min(INSERT_BATCH, count - n) }, (_, i) => {
        const data = perfEvent(n + i);
        return {
          id: randomUUID(),
          type: 'PERFORMANCE_METRIC',
          timestamp: new Date(),
          data,
          dataJson: JSON.stringify(data),
        };
      });
      await store.insertBatch(events, new Date());
    }
  } finally {
    await db.close();
  }
}

async function outboxSize(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM "EventOutbox"`);
  return rows[0]?.n ?? 0;
}

async function throughput(deployment: Deployment): Promise<{ eventsPerSecond: number; seconds: number }> {
  await backlog(deployment.databaseUrl, EVENTS);
  const client = new pg.Client({ connectionString: deployment.databaseUrl });
  await client.connect();
  try {
    const queued = await outboxSize(client);
    const started = performance.now();
    // One publish nudges every processor (processor:nudge on the bus).
    await graphql(server(deployment.instances[0] as Instance), PUBLISH_MANY, {
      inputs: [{ type: 'PERFORMANCE_METRIC', data: perfEvent(0) }],
    });
    while ((await outboxSize(client)) > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    const seconds = (performance.now() - started) / 1_000;
    return { eventsPerSecond: (queued + 1) / seconds, seconds };
  } finally {
    await client.end();
  }
}

/** What backgroundLoad and graphql need of a server. */
function server(instance: Instance): BenchServer {
  return { url: instance.url, adminKey: instance.adminKey } as BenchServer;
}

function wsClient(instance: Instance): Client {
  return createClient({
    url: instance.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${instance.adminKey}` },
    retryAttempts: 0,
  });
}

/** Publish-to-delivery latency of timed marker events under a background load spread over the instances. */
async function latency(deployment: Deployment): Promise<{ p50: number; p99: number; received: number }> {
  const publisher = deployment.instances[0] as Instance;
  const subscriberInstance = deployment.instances.at(-1) as Instance;
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const client = wsClient(subscriberInstance);
  let live: () => void = () => {};
  const isLive = new Promise<void>((resolve) => {
    live = resolve;
  });
  client.subscribe(
    { query: `subscription { eventPublished(types: [INSIGHT_GENERATED]) { id } }` },
    {
      next: ({ data }) => {
        live();
        const id = (data as { eventPublished: { id: string } }).eventPublished.id;
        const sent = sentAt.get(id);
        if (sent !== undefined) latencies.push(performance.now() - sent);
      },
      error: () => {},
      complete: () => {},
    },
  );
  let warm = true;
  void isLive.then(() => {
    warm = false;
  });
  while (warm) {
    await graphql(server(publisher), PUBLISH_MANY, { inputs: [{ type: 'INSIGHT_GENERATED', data: { warmup: true } }] });
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const stopLoad = new AbortController();
  const loads = deployment.instances.map((instance) =>
    backgroundLoad(server(instance), LOAD_RATE / deployment.instances.length, stopLoad.signal, (i) => ({
      type: 'PERFORMANCE_METRIC',
      data: perfEvent(i),
    })),
  );
  for (let i = 0; i < MARKERS; i++) {
    const id = randomUUID();
    sentAt.set(id, performance.now());
    await graphql(server(publisher), PUBLISH_MANY, { inputs: [{ id, type: 'INSIGHT_GENERATED', data: { i } }] });
    await new Promise((resolve) => setTimeout(resolve, MARKER_INTERVAL_MS));
  }
  const deadline = performance.now() + 10_000;
  while (latencies.length < MARKERS && performance.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  stopLoad.abort();
  await Promise.all(loads);
  await client.dispose();
  return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), received: latencies.length };
}

interface Result {
  topology: string;
  scenario: Scenario;
  eventsPerSecond: number;
  seconds: number;
  p50: number;
  p99: number;
  received: number;
}

async function run(scenario: Scenario, topology: Topology): Promise<Result> {
  const deployment = await deploy(scenario, topology);
  const redis = topology.connect();
  try {
    await settled(redis, deployment, scenario);
    const { eventsPerSecond, seconds } = await throughput(deployment);
    const { p50, p99, received } = await latency(deployment);
    const result = { topology: topology.name, scenario, eventsPerSecond, seconds, p50, p99, received };
    console.log(
      `${topology.name}, ${scenario.name}: ${integer(eventsPerSecond)} events/s (${EVENTS} in ${seconds.toFixed(1)} s); ` +
        `latency p50 ${ms(p50)}, p99 ${ms(p99)} (${received}/${MARKERS} markers)`,
    );
    return result;
  } finally {
    await redis.quit();
    await deployment.stop();
  }
}

/** Whether other work shared the machine, as its load average says. */
function loadNote(): string {
  const load = os.loadavg()[0] ?? 0;
  return load > os.cpus().length
    ? 'more runnable work than cores, so other work (other sessions) shared the machine during the run and the figures carry its noise.'
    : 'the machine was about as quiet as it gets.';
}

async function main(): Promise<void> {
  execFileSync('npm', ['run', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const redis = new Redis(REDIS_URL);
  const machine = await machineDescription(redis);
  const rounds: Result[] = [];
  const stopCluster = WITH_CLUSTER ? await addClusterTopology() : null;
  try {
    for (let round = 0; round < ROUNDS; round++)
      for (const topology of TOPOLOGIES) for (const scenario of SCENARIOS) rounds.push(await run(scenario, topology));
  } finally {
    await redis.quit();
    await stopCluster?.();
  }
  // Each scenario's median round by throughput (its latency from that same round).
  const results = TOPOLOGIES.flatMap((topology) =>
    SCENARIOS.map((scenario) => {
      const runs = rounds
        .filter((r) => r.topology === topology.name && r.scenario === scenario)
        .sort((a, b) => a.eventsPerSecond - b.eventsPerSecond);
      return { ...(runs[Math.floor((runs.length - 1) / 2)] as Result), all: runs.map((r) => r.eventsPerSecond) };
    }),
  );
  const rows = results.map(
    (r) =>
      `| ${r.topology} | ${r.scenario.name} | ${integer(r.eventsPerSecond)} | ${r.all.map(integer).join(', ')} | ${ms(r.p50)} | ${ms(r.p99)} | ${r.received}/${MARKERS} |`,
  );
  const verdicts = TOPOLOGIES.map((topology) => {
    const of = (instances: number, partitions: number) =>
      results.find(
        (r) =>
          r.topology === topology.name && r.scenario.instances === instances && r.scenario.partitions === partitions,
      );
    const base = of(1, 1);
    const scaled = of(2, 4);
    if (!base || !scaled) return '';
    const ratio = scaled.eventsPerSecond / base.eventsPerSecond;
    return `- ${topology.name}: 2 instances × 4 partitions process **${ratio.toFixed(2)}×** the events/s of 1 instance × 1 partition (pass mark ${PASS_MARK}×: **${ratio >= PASS_MARK ? 'met' : 'not met'}**).`;
  });
  const section = `${HEADING}

Measured ${new Date().toISOString().slice(0, 10)} on ${machine}. Method: each scenario on a fresh database and Redis
prefix, its instances real server processes (\`dist/main.js\`, \`WEB_CONCURRENCY=0\`: one process per instance that
serves and processes), the scenarios run in turn ${ROUNDS} times and each reported by its median round;
${integer(EVENTS)} events committed straight into the outbox while the settled instances
wait, then one publish nudges them all; **throughput** is those events broadcast, aggregated and removed from the outbox
over the time from the nudge until the outbox is empty. **Latency** is publish request to \`eventPublished\` delivery
(on a subscriber of the last instance) of ${MARKERS} marker events published every ${MARKER_INTERVAL_MS} ms through the first
instance, under ${integer(LOAD_RATE)} background events/s spread over the instances. Everything (Postgres, Redis, the
instances and this load generator) shares the machine's cores.

| Redis | scenario | events/s processed (median) | each round | latency p50 | latency p99 | markers delivered |
| --- | --- | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}

${verdicts.filter(Boolean).join('\n')}

Load average ${os.loadavg()[0]?.toFixed(2)} at the end, on ${os.cpus().length} cores: ${loadNote()}
`;
  writeSection(HEADING, section);
  console.log(section);
}

await main();
