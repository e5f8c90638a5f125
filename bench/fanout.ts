// npm run bench:fanout — live fan-out at scale (issue 9): the same graphql-transport-ws clients, in the same run,
// against three servers one after the other:
//   ours   the real server (bench/server.ts: Postgres and Redis mode, its own database and key prefix);
//   plain  graphql-yoga + graphql-ws + graphql-redis-subscriptions, nothing stored, no auth (bench/plain-server.ts);
//   floor  a bare `ws` server sending one pre-built `next` frame per event to every socket (bench/floor-server.ts).
// Scenarios: A, 10,000 subscribers at 4 events/s (deliveries, latency, connect time, server memory); B, capacity
// (the most deliveries/s each server holds with p99 ≤ 500 ms); C, ours only, publish → subscriber latency under
// 10,000 events/s with one subscriber and 500 clients under 1,000 events/s. Writes its section of BENCHMARKS.md.
//
// Clients run in load-generator child processes (bench/fanout-client.ts). Every latency is publish → receive on one
// clock: ours and plain are stamped by this process just before publishing (ours through `publishEvents` over HTTP,
// plain on its Redis channel), the floor server stamps as it builds its frame. Everything is bounded: each wait has a
// limit, the run as a whole too, and every process, database and Redis key it made is removed at the end.

import { type ChildProcess, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import {
  type CollectResult,
  type ConnectResult,
  eventData,
  type FanoutEvent,
  type GeneratorCommand,
  type GeneratorReply,
  LatencyHistogram,
  mergeEventDeliveries,
  PROBE_SEQ,
  type StatusResult,
  wallClock,
} from './fanout-protocol.js';
import { listeningUrl, openFileLimit, processTreeRssBytes, spawnNode, stopChild } from './processes.js';
import { integer, machineDescription, ms as msFixed, quantile, writeSection } from './report.js';
import {
  type BenchServer,
  backgroundLoad,
  backlogDrained,
  graphql,
  PUBLISH_MANY,
  REDIS_URL,
  startBenchServer,
} from './server.js';

const HEADING = '## Live fan-out (npm run bench:fanout)';

const envInt = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const envList = (name: string, fallback: string[]) =>
  process.env[name] ? (process.env[name] as string).split(',').map((s) => s.trim()) : fallback;

// Every constant can be lowered for a quick run, e.g. FANOUT_SOCKETS=500 FANOUT_A_SECONDS=5.
const SERVERS = envList('FANOUT_SERVERS', ['floor', 'plain', 'ours']) as ServerName[];
const SCENARIOS = new Set(envList('FANOUT_SCENARIOS', ['A', 'B', 'C']));
const SOCKETS = envInt('FANOUT_SOCKETS', 10_000); // scenario A's subscribers
const GENERATORS = envInt('FANOUT_GENERATORS', 2); // load-generator processes the sockets are split over
const CONNECT_CONCURRENCY = envInt('FANOUT_CONNECT_CONCURRENCY', 100); // handshakes in flight per generator
const SOCKETS_PER_KEY = envInt('FANOUT_SOCKETS_PER_KEY', 1_000); // ours: one VIEWER key per this many sockets
const A_RATE = envInt('FANOUT_A_RATE', 4); // events/s
const A_SECONDS = envInt('FANOUT_A_SECONDS', 15);
const B_SOCKETS = envInt('FANOUT_B_SOCKETS', SOCKETS);
/**
 * Offered deliveries/s of each capacity step (events/s = step / B_SOCKETS); the first step missed ends the search.
 * Steps of 10,000 from 40,000 to 120,000, where this machine's servers top out, so that a share of the floor's
 * capacity is not rounded to 50 % or 100 % by steps that double.
 */
const B_STEPS = envList('FANOUT_B_STEPS', [
  '2500',
  '5000',
  '10000',
  '20000',
  '40000',
  '50000',
  '60000',
  '70000',
  '80000',
  '90000',
  '100000',
  '110000',
  '120000',
  '140000',
  '160000',
  '200000',
  '240000',
  '320000',
  '480000',
  '640000',
]).map(Number);
const B_SECONDS = envInt('FANOUT_B_SECONDS', 5);
const B_P99_LIMIT_MS = 500;
const C_SUBSCRIBER_LOAD = envInt('FANOUT_C_SUBSCRIBER_LOAD', 10_000); // background events/s, one subscriber
const C_CLIENTS = envInt('FANOUT_C_CLIENTS', 500);
const C_CLIENTS_LOAD = envInt('FANOUT_C_CLIENTS_LOAD', 1_000); // background events/s, C_CLIENTS subscribers
const C_MARKER_RATE = envInt('FANOUT_C_MARKER_RATE', 10); // timed events/s
const C_SECONDS = envInt('FANOUT_C_SECONDS', 10);
// Not held to the target, reported apart: the first ~10 markers to freshly joined sockets are sent 3-5x slower per
// socket (the send path's JIT warming, and the kernel's first writes on each new connection; BENCHMARKS.md, "Fan-out C:
// the first markers to new sockets").
const C_WARMUP_SECONDS = envInt('FANOUT_C_WARMUP_SECONDS', 3);
const PROBE_QUIET_MS = 250; // a probe's deliveries standing still this long: the next probe may go
const PROBE_UNANSWERED_MS = 1_000; // a probe nobody received by then: the next one goes anyway
const LIVE_TIMEOUT_MS = 60_000; // every socket must have had its first event by then
/**
 * How long deliveries are waited for after the last publish: at most `timeoutMs`, and no longer once none has arrived
 * for `quietMs`. A and C allow a server far behind to catch up; a capacity step need not (a delivery 10 s late fails
 * it anyway). A delivery not in by then counts as not received.
 */
interface Drain {
  timeoutMs: number;
  quietMs: number;
}
const A_DRAIN: Drain = { timeoutMs: envInt('FANOUT_A_DRAIN_TIMEOUT_MS', 60_000), quietMs: 10_000 };
const B_DRAIN: Drain = { timeoutMs: 10_000, quietMs: 3_000 };
const C_DRAIN: Drain = { timeoutMs: 30_000, quietMs: 10_000 };
const SETTLE_TIMEOUT_MS = 30_000; // stragglers (probes) before a timed step are waited for up to this
/** A capacity step holds only if the deliveries were received at ≥ this share of the rate offered. */
const B_MIN_ACHIEVED = 0.9;
const RSS_SAMPLE_MS = 500;
const PUBLISH_IN_FLIGHT = 64; // publish calls to ours at once; past it the publisher waits (and falls behind)
const RUN_TIMEOUT_MS = envInt('FANOUT_RUN_TIMEOUT_MS', 30 * 60_000); // the whole run, whatever happens

type ServerName = 'ours' | 'plain' | 'floor';

const SERVER_LABELS: Record<ServerName, string> = {
  ours: 'ours',
  plain: 'plain (yoga + graphql-ws + Redis)',
  floor: 'floor (bare `ws`)',
};

const sleep = (msToWait: number) => new Promise((resolve) => setTimeout(resolve, msToWait));

/** Cleanups run last-first, at the end of the run or when it is interrupted or times out. */
const cleanups: (() => Promise<void>)[] = [];
/** `stop` made safe to call twice (once when done with a server, again by the cleanups if something failed). */
function once(stop: () => Promise<void>): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= stop();
    return stopping;
  };
}

async function cleanUp(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error) => console.error(error));
}

// ---------------------------------------------------------------------------------------------------------------
// Load generators

class Generator {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly child: ChildProcess) {}

  /** Sends one command and resolves with its one reply; commands to one generator run one at a time. */
  ask<R extends GeneratorReply>(command: GeneratorCommand): Promise<R> {
    const answer = this.chain.then(
      () =>
        new Promise<R>((resolve, reject) => {
          const onExit = () => reject(new Error('a load generator exited'));
          this.child.once('exit', onExit);
          this.child.once('message', (reply: R) => {
            this.child.off('exit', onExit);
            resolve(reply);
          });
          this.child.send(command);
        }),
    );
    this.chain = answer.catch(() => {});
    return answer;
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}

async function startGenerators(): Promise<Generator[]> {
  const script = fileURLToPath(new URL('./fanout-client.ts', import.meta.url));
  const generators = Array.from({ length: GENERATORS }, () => new Generator(spawnNode(script, {})));
  cleanups.push(async () => {
    await Promise.all(generators.map((g) => g.stop()));
  });
  await askAll(generators, { cmd: 'status' }); // booted: connect times must not include tsx starting up
  return generators;
}

const askAll = <R extends GeneratorReply>(generators: Generator[], command: GeneratorCommand) =>
  Promise.all(generators.map((g) => g.ask<R>(command)));

async function status(generators: Generator[]) {
  const all = await askAll<StatusResult>(generators, { cmd: 'status' });
  return {
    open: all.reduce((n, s) => n + s.open, 0),
    live: all.reduce((n, s) => n + s.live, 0),
    received: all.reduce((n, s) => n + s.received, 0),
    delivered: all.reduce((n, s) => n + s.delivered, 0),
    allLiveAt: all.every((s) => s.allLiveAt !== null || s.open === 0)
      ? Math.max(...all.map((s) => s.allLiveAt ?? 0))
      : null,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The three servers, behind one shape

interface Target {
  name: ServerName;
  wsUrl: string;
  /** API keys the clients authenticate with (ignored by plain and floor). */
  keys: string[];
  /** Publishes one ANOMALY_DETECTED event carrying `seq` and its send time `sentAt`; rejects if it was refused. */
  publish(seq: number, sentAt: number): Promise<void>;
  /** The server's process and its descendants. */
  pid: number;
  ours?: BenchServer;
  /** Ours: each event's send → broadcast on the Redis bus by the stream processor (ms), by sequence number. */
  broadcasts?: Map<number, number>;
  stop(): Promise<void>;
}

async function startOurs(): Promise<Target> {
  const keyCount = Math.ceil(Math.max(SOCKETS, B_SOCKETS, C_CLIENTS) / SOCKETS_PER_KEY);
  const server = await startBenchServer({
    // Each VIEWER key holds SOCKETS_PER_KEY sockets; the limit leaves room for sockets still closing.
    MAX_CONNECTIONS_PER_KEY: String(2 * SOCKETS_PER_KEY),
    RATE_LIMIT_PER_SECOND: '0',
  });
  const stopServer = once(() => server.stop());
  cleanups.push(stopServer);
  const watch = await watchBroadcasts(server);
  const stopWatch = once(watch.stop);
  cleanups.push(stopWatch);
  const stop = async () => {
    try {
      await stopWatch();
    } finally {
      await stopServer();
    }
  };
  const keys: string[] = [];
  for (let i = 0; i < keyCount; i++) {
    const { createApiKey } = await graphql<{ createApiKey: { key: string } }>(
      server,
      `mutation($name: String!) { createApiKey(name: $name, role: VIEWER) { key } }`,
      { name: `fanout viewer ${i}` },
    );
    keys.push(createApiKey.key);
  }
  return {
    name: 'ours',
    wsUrl: server.wsUrl,
    keys,
    pid: server.pid,
    ours: server,
    broadcasts: watch.broadcasts,
    async publish(seq, sentAt) {
      const inputs = [{ type: 'ANOMALY_DETECTED', data: eventData(seq, sentAt) }];
      await graphql(server, PUBLISH_MANY, { inputs });
    },
    stop,
  };
}

/**
 * Listens on ours' bus, beside the serving processes, for the stream processor's broadcasts of timed events: one hop
 * of the way publish → subscriber, to tell a late broadcast from a late delivery. Parses only messages with a timed
 * event in them (the background load's batches have none).
 */
async function watchBroadcasts(server: BenchServer) {
  const broadcasts = new Map<number, number>();
  const subscriber = new Redis(REDIS_URL);
  subscriber.on('error', (error: Error) => console.warn('bus watcher:', error.message));
  subscriber.on('pmessage', (_pattern: string, _channel: string, message: string) => {
    const at = wallClock();
    if (!message.includes('"bench_seq"')) return;
    const { events } = JSON.parse(message) as { events: { data: { bench_seq?: number; sent_at?: number } }[] };
    for (const { data } of events)
      if (typeof data.bench_seq === 'number' && typeof data.sent_at === 'number')
        broadcasts.set(data.bench_seq, at - data.sent_at);
  });
  // The server adds its database's name to the prefix (src/redis-namespace.ts).
  await subscriber.psubscribe(`${server.keyPrefix}*bus:events:published`);
  return { broadcasts, stop: () => subscriber.quit().then(() => undefined) };
}

async function startBare(name: 'plain' | 'floor', publisher: Redis): Promise<Target> {
  const channel = `bench:fanout:${randomUUID().slice(0, 8)}:events`; // a channel, not a key: nothing to remove
  const script = fileURLToPath(new URL(`./${name}-server.ts`, import.meta.url));
  const child = spawnNode(script, { FANOUT_REDIS_URL: REDIS_URL, FANOUT_CHANNEL: channel });
  const stop = once(() => stopChild(child));
  cleanups.push(stop);
  const url = await listeningUrl(child);
  return {
    name,
    wsUrl: url.replace(/^http/, 'ws'),
    keys: ['no-auth'],
    pid: child.pid as number,
    async publish(seq, sentAt) {
      const now = new Date().toISOString();
      const event: FanoutEvent = {
        id: randomUUID(),
        type: 'ANOMALY_DETECTED',
        timestamp: now,
        receivedAt: now,
        data: eventData(seq, sentAt),
      };
      await publisher.publish(channel, JSON.stringify(event));
    },
    stop,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Measuring

interface ConnectFigures {
  requested: number;
  acked: number;
  failed: number;
  failures: Record<string, number>;
  /** Start → every socket acknowledged and its subscribe sent. */
  ackMs: number;
  /** Start → every socket has received an event (so its subscription is live); NaN if some never did. */
  liveMs: number;
}

/** Opens `count` sockets split over the generators, then publishes probes until every socket has one. */
async function connectAll(target: Target, generators: Generator[], count: number): Promise<ConnectFigures> {
  const started = wallClock();
  const results = await Promise.all(
    generators.map((g, n) =>
      g.ask<ConnectResult>({
        cmd: 'connect',
        url: target.wsUrl,
        keys: target.keys,
        indices: Array.from({ length: count }, (_, i) => i).filter((i) => i % generators.length === n),
        concurrency: CONNECT_CONCURRENCY,
      }),
    ),
  );
  const acked = results.reduce((n, r) => n + r.acked, 0);
  const failures: Record<string, number> = {};
  for (const r of results)
    for (const [reason, n] of Object.entries(r.failures)) failures[reason] = (failures[reason] ?? 0) + n;
  const ackMs = Math.max(...results.map((r) => r.lastAckAt)) - started;
  const liveMs = await probeUntilLive(target, generators, started);
  await settle(generators);
  return { requested: count, acked, failed: count - acked, failures, ackMs, liveMs };
}

/**
 * Publishes probe events one at a time (the next once the last one's deliveries stand still, or nobody got it) until
 * every open socket has received one; returns start → the moment the last socket did, NaN if some never did. One
 * probe at a time keeps a server that fans out slowly from being buried under probes.
 */
async function probeUntilLive(target: Target, generators: Generator[], started: number): Promise<number> {
  const deadline = performance.now() + LIVE_TIMEOUT_MS;
  while (performance.now() < deadline) {
    const before = (await status(generators)).received;
    const publishedAt = performance.now();
    await target.publish(PROBE_SEQ, wallClock()).catch(() => {});
    let last = before;
    let lastChange = performance.now();
    for (;;) {
      await sleep(50);
      const s = await status(generators);
      if (s.allLiveAt !== null && s.live === s.open) return s.allLiveAt - started;
      if (s.received !== last) {
        last = s.received;
        lastChange = performance.now();
      }
      const stood = performance.now() - lastChange;
      if (last > before && stood > PROBE_QUIET_MS) break;
      if (last === before && performance.now() - publishedAt > PROBE_UNANSWERED_MS) break;
      if (performance.now() > deadline) return Number.NaN;
    }
  }
  return Number.NaN;
}

/** Waits until no event has arrived for a second (the probes' and earlier steps' stragglers), within limits. */
async function settle(generators: Generator[]): Promise<void> {
  const deadline = performance.now() + SETTLE_TIMEOUT_MS;
  let last = -1;
  while (performance.now() < deadline) {
    const { received } = await status(generators);
    if (received === last) return;
    last = received;
    await sleep(1_000);
  }
}

interface StepFigures {
  sockets: number;
  rate: number;
  events: number;
  published: number;
  publishFailed: number;
  publishFailures: Record<string, number>;
  expected: number;
  delivered: number;
  /** Over the deliveries expected: Infinity when more than half (p50) or 1 % (p99) never arrived. */
  p50: number;
  p99: number;
  /** Only of the deliveries received. */
  max: number;
  /** Deliveries per second offered (sockets × events/s). */
  offered: number;
  /** Deliveries received per second, first delivery to last. */
  achieved: number;
  /** How far the publisher fell behind its schedule at worst. */
  publishLagMs: number;
  errors: number;
  closedByServer: Record<string, number>;
  rssPeak?: { bytes: number; processes: number };
  /** The events whose last delivery came latest, latest first. */
  slowest: EventTrace[];
  /** The median event's time from its first delivery to its last (fanOutMs). */
  spreadP50: number;
}

/** One timed event's way, in ms after it was sent: acknowledged, broadcast on the bus (ours), first and last delivery. */
interface EventTrace {
  seq: number;
  acknowledgedMs: number;
  broadcastMs: number;
  firstMs: number;
  lastMs: number;
  deliveries: number;
}

const SLOWEST_TRACED = 5;

/** Every event of a step, the one whose last delivery was latest (or that some socket never got) first. */
function eventTraces(
  firstSeq: number,
  events: number,
  sockets: number,
  acknowledged: Map<number, number>,
  broadcasts: Map<number, number> | undefined,
  collected: CollectResult[],
): EventTrace[] {
  const deliveries = mergeEventDeliveries(collected.map((c) => c.perEvent));
  const traces = Array.from({ length: events }, (_, i): EventTrace => {
    const seq = firstSeq + i;
    const [, count, fastest, slowest] = deliveries.get(seq) ?? [seq, 0, Number.NaN, Number.NaN];
    return {
      seq,
      acknowledgedMs: acknowledged.get(seq) ?? Number.NaN,
      broadcastMs: broadcasts?.get(seq) ?? Number.NaN,
      firstMs: fastest,
      lastMs: count < sockets ? Number.POSITIVE_INFINITY : slowest,
      deliveries: count,
    };
  });
  return traces.sort((a, b) => b.lastMs - a.lastMs);
}

/** First to last delivery: how long its fan-out to every socket took; Infinity when some socket never got it. */
const fanOutMs = (t: EventTrace, sockets: number) =>
  t.deliveries < sockets ? Number.POSITIVE_INFINITY : t.lastMs - t.firstMs;

/**
 * Publishes `count` events at `rate`/s (each stamped as it goes), the first numbered `firstSeq`; `acknowledged` has
 * each one's send → acknowledgement time.
 */
async function publishAtRate(target: Target, rate: number, count: number, firstSeq: number) {
  const intervalMs = 1_000 / rate;
  const inFlight = new Set<Promise<void>>();
  const acknowledged = new Map<number, number>();
  let failed = 0;
  const failures: Record<string, number> = {};
  let lagMs = 0;
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const due = started + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    while (inFlight.size >= PUBLISH_IN_FLIGHT) await Promise.race(inFlight);
    lagMs = Math.max(lagMs, performance.now() - due);
    const seq = firstSeq + i;
    const sentAt = wallClock();
    const call = target.publish(seq, sentAt).then(
      () => {
        acknowledged.set(seq, wallClock() - sentAt);
      },
      (error: unknown) => {
        failed++;
        // fetch's own message is only "fetch failed": the cause says what happened to the connection.
        const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
        const reason = `${error instanceof Error ? error.message : String(error)}${cause}`.slice(0, 160);
        failures[reason] = (failures[reason] ?? 0) + 1;
      },
    );
    inFlight.add(call);
    call.finally(() => inFlight.delete(call));
  }
  await Promise.all(inFlight);
  return { published: count - failed, failed, failures, lagMs, acknowledged };
}

let nextSeq = 1;

/** One timed step: `rate` events/s for `seconds` to every open socket, then every delivery waited for (bounded). */
async function step(
  target: Target,
  generators: Generator[],
  sockets: number,
  rate: number,
  seconds: number,
  drain: Drain,
): Promise<StepFigures> {
  const events = Math.max(1, Math.round(rate * seconds));
  const firstSeq = nextSeq;
  nextSeq += events;
  await askAll(generators, { cmd: 'window', from: firstSeq, to: firstSeq + events - 1 });
  const published = await publishAtRate(target, rate, events, firstSeq);
  // A publish the server refused is a delivery missed, like one it lost.
  const expected = sockets * events;
  const lastPublish = performance.now();
  let last = -1;
  let lastChange = performance.now();
  while (performance.now() - lastPublish < drain.timeoutMs) {
    const { delivered } = await status(generators);
    if (delivered >= expected) break;
    if (delivered !== last) {
      last = delivered;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > drain.quietMs) break;
    await sleep(100);
  }
  const collected = await askAll<CollectResult>(generators, { cmd: 'collect' });
  // The floor stamps its own send time: the publisher's acknowledgement says nothing against it.
  const acknowledged = target.name === 'floor' ? new Map() : published.acknowledged;
  const traces = eventTraces(firstSeq, events, sockets, acknowledged, target.broadcasts, collected);
  const histogram = new LatencyHistogram();
  const closedByServer: Record<string, number> = {};
  for (const c of collected) {
    histogram.merge(c.histogram);
    for (const [code, n] of Object.entries(c.closedByServer)) closedByServer[code] = (closedByServer[code] ?? 0) + n;
  }
  const delivered = collected.reduce((n, c) => n + c.delivered, 0);
  const lastReceiveAt = Math.max(...collected.map((c) => c.lastReceiveAt));
  const firstReceiveAt = Math.min(...collected.filter((c) => c.delivered > 0).map((c) => c.firstReceiveAt));
  return {
    sockets,
    rate,
    events,
    published: published.published,
    publishFailed: published.failed,
    publishFailures: published.failures,
    expected,
    delivered,
    // Over every delivery expected: one never received counts as slower than all that were.
    p50: histogram.quantile(0.5, expected),
    p99: histogram.quantile(0.99, expected),
    max: histogram.count > 0 ? histogram.max : Number.NaN,
    offered: sockets * rate,
    // Over the span deliveries arrived in: a server that falls behind stretches it (the floor stamps its own send
    // time, so its latency cannot show a queue of events waiting for it; this does).
    achieved: delivered > 1 ? delivered / ((lastReceiveAt - firstReceiveAt) / 1_000) : 0,
    publishLagMs: published.lagMs,
    errors: collected.reduce((n, c) => n + c.errors, 0),
    closedByServer,
    slowest: traces.slice(0, SLOWEST_TRACED),
    spreadP50: quantile(
      traces.map((t) => fanOutMs(t, sockets)),
      0.5,
    ),
  };
}

/** Samples the server's resident memory (whole process tree) while `work` runs; returns the peak with its result. */
async function withRssPeak<T>(pid: number, work: () => Promise<T>) {
  let peak = processTreeRssBytes(pid);
  const timer = setInterval(() => {
    const now = processTreeRssBytes(pid);
    if (now.bytes > peak.bytes) peak = now;
  }, RSS_SAMPLE_MS);
  try {
    return { result: await work(), peak };
  } finally {
    clearInterval(timer);
  }
}

const holds = (s: StepFigures) =>
  s.delivered >= s.expected && s.p99 <= B_P99_LIMIT_MS && s.achieved >= B_MIN_ACHIEVED * s.offered;

interface ServerFigures {
  name: ServerName;
  connect?: ConnectFigures;
  a?: StepFigures;
  b: StepFigures[];
  capacity?: number;
  c?: { subscriber: MarkerFigures; clients: MarkerFigures; drainedMs: number };
  /** The floor's C: the same clients and markers with nothing else to do, the fan-out alone. */
  cFanOut?: MarkerFigures;
}

/** Each scenario on a server of its own, freshly started: a server left behind by one must not skew the next. */
async function measureServer(
  name: ServerName,
  generators: Generator[],
  start: () => Promise<Target>,
): Promise<ServerFigures> {
  const figures: ServerFigures = { name, b: [] };
  if (SCENARIOS.has('A')) {
    const target = await start();
    console.log(`[${name}] A: connecting ${integer(SOCKETS)} sockets…`);
    const { result, peak } = await withRssPeak(target.pid, async () => {
      const connect = await connectAll(target, generators, SOCKETS);
      console.log(`[${name}] A:`, connect);
      console.log(`[${name}] A: ${A_RATE} events/s for ${A_SECONDS} s…`);
      return { connect, a: await step(target, generators, connect.acked, A_RATE, A_SECONDS, A_DRAIN) };
    });
    figures.connect = result.connect;
    figures.a = { ...result.a, rssPeak: peak };
    console.log(`[${name}] A:`, figures.a);
    await askAll(generators, { cmd: 'close' });
    await target.stop();
  }
  if (SCENARIOS.has('B')) {
    const target = await start();
    console.log(`[${name}] B: connecting ${integer(B_SOCKETS)} sockets…`);
    const { acked } = await connectAll(target, generators, B_SOCKETS);
    for (const offered of B_STEPS) {
      const rate = offered / acked;
      console.log(`[${name}] B: ${integer(offered)} deliveries/s (${rate.toFixed(1)} events/s)…`);
      const result = await step(target, generators, acked, rate, B_SECONDS, B_DRAIN);
      figures.b.push(result);
      console.log(`[${name}] B:`, { ...result, closedByServer: undefined });
      if (!holds(result)) break;
      figures.capacity = result.offered;
      await settle(generators);
    }
    await askAll(generators, { cmd: 'close' });
    await target.stop();
  }
  if (SCENARIOS.has('C') && name === 'ours') {
    const target = await start();
    figures.c = await scenarioC(target, target.ours as BenchServer, generators);
    await target.stop();
  }
  // Only as the baseline of ours' C, which the report shows beside it.
  if (SCENARIOS.has('C') && name === 'floor' && SERVERS.includes('ours')) {
    const target = await start();
    console.log(`[floor] C: ${C_CLIENTS} clients, markers alone…`);
    figures.cFanOut = await markersUnderLoad(target, null, generators, C_CLIENTS, 0);
    console.log('[floor] C:', figures.cFanOut);
    await target.stop();
  }
  return figures;
}

// ---------------------------------------------------------------------------------------------------------------
// Scenario C: ours only, latency under background load of another event type

interface MarkerFigures {
  clients: number;
  load: number;
  /** The markers' first seconds to the freshly joined clients, before the timed step. */
  warmup: StepFigures | null;
  step: StepFigures;
  loadAcknowledged: number;
  loadFailed: number;
}

const loadEvent = (i: number) => ({
  type: 'PERFORMANCE_METRIC',
  data: { metric_name: `fanout_load_${i % 10}`, value: i % 997 },
});

/** Markers to `clients` sockets under `load` background events/s published to `server` (none without one). */
async function markersUnderLoad(
  target: Target,
  server: BenchServer | null,
  generators: Generator[],
  clients: number,
  load: number,
): Promise<MarkerFigures> {
  await connectAll(target, generators, clients);
  const controller = new AbortController();
  const background = server
    ? backgroundLoad(server, load, controller.signal, loadEvent)
    : Promise.resolve({ acknowledged: 0, failed: 0 });
  if (server) await sleep(1_000); // let the load settle
  const warmup =
    C_WARMUP_SECONDS > 0 ? await step(target, generators, clients, C_MARKER_RATE, C_WARMUP_SECONDS, C_DRAIN) : null;
  const timed = await step(target, generators, clients, C_MARKER_RATE, C_SECONDS, C_DRAIN);
  console.log(`[${target.name}] C: the slowest markers (ms after sending)`, timed.slowest);
  controller.abort();
  const { acknowledged, failed } = await background;
  await askAll(generators, { cmd: 'close' });
  return { clients, load, warmup, step: timed, loadAcknowledged: acknowledged, loadFailed: failed };
}

async function scenarioC(target: Target, server: BenchServer, generators: Generator[]) {
  console.log(`[ours] C: 1 subscriber under ${integer(C_SUBSCRIBER_LOAD)} events/s…`);
  const subscriber = await markersUnderLoad(target, server, generators, 1, C_SUBSCRIBER_LOAD);
  console.log('[ours] C:', subscriber);
  // The next step measures its own load, not the previous one's backlog.
  const drainedMs = await backlogDrained(server);
  console.log(`[ours] C: the backlog of the first load drained in ${integer(drainedMs)} ms`);
  console.log(`[ours] C: ${C_CLIENTS} clients under ${integer(C_CLIENTS_LOAD)} events/s…`);
  const clients = await markersUnderLoad(target, server, generators, C_CLIENTS, C_CLIENTS_LOAD);
  console.log('[ours] C:', clients);
  return { subscriber, clients, drainedMs };
}

// ---------------------------------------------------------------------------------------------------------------
// Report

/** Milliseconds; a quantile among deliveries never received says so; a dash when nothing was measured. */
const ms = (n: number) => (Number.isNaN(n) ? '—' : n === Number.POSITIVE_INFINITY ? 'not received' : msFixed(n));
const mb = (bytes: number) => `${integer(bytes / 2 ** 20)} MB`;
const seconds = (msValue: number) => (Number.isFinite(msValue) ? `${(msValue / 1_000).toFixed(2)} s` : 'never');
const verdict = (met: boolean | undefined) => (met === undefined ? '—' : met ? 'met' : '**missed**');
/** `a / b` of two p99s, either of which may be Infinity (more than 1 % not received). */
const ratio = (a: number, b: number, aName: string, bName: string) => {
  if (a === Number.POSITIVE_INFINITY && b === Number.POSITIVE_INFINITY) return '— (neither received 99 %)';
  if (b === Number.POSITIVE_INFINITY) return `— (${bName} did not receive 99 %)`;
  if (a === Number.POSITIVE_INFINITY) return `∞ (${aName} did not receive 99 %)`;
  return Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : '—';
};
const delivery = (s: StepFigures) => {
  const refused = Object.entries(s.publishFailures)
    .map(([reason, n]) => `${integer(n)} × ${reason.replaceAll('|', '\\|')}`)
    .join('; ');
  return `${integer(s.delivered)} / ${integer(s.expected)}${refused ? ` (publishes failed: ${refused})` : ''}`;
};
const closes = (s: StepFigures) =>
  Object.entries(s.closedByServer)
    .map(([code, n]) => `${integer(n)} closed ${code}`)
    .join(', ');

function scenarioATable(figures: ServerFigures[]): string[] {
  const by = new Map(figures.map((f) => [f.name, f]));
  const ours = by.get('ours');
  const plain = by.get('plain');
  const floor = by.get('floor');
  const cell = (f: ServerFigures | undefined, pick: (f: ServerFigures) => string) => (f ? pick(f) : '—');
  const row = (label: string, pick: (f: ServerFigures) => string, target: string, met?: boolean) =>
    `| ${label} | ${SERVERS.map((name) => cell(by.get(name), pick)).join(' | ')} | ${target} | ${verdict(met)} |`;
  const a = (f: ServerFigures) => f.a as StepFigures;
  const oursA = ours?.a;
  const p99Vs = (other: ServerFigures | undefined) => (oursA && other?.a ? other.a.p99 / oursA.p99 : Number.NaN);
  const lines = [
    `| ${integer(SOCKETS)} subscribers, ${A_RATE} events/s for ${A_SECONDS} s | ${SERVERS.map((n) => SERVER_LABELS[n]).join(' | ')} | target (ours) | ours |`,
    `| --- | ${SERVERS.map(() => '---:').join(' | ')} | --- | --- |`,
    row(
      'deliveries received / expected',
      (f) => delivery(a(f)),
      'all delivered',
      oursA ? oursA.delivered >= oursA.expected && oursA.publishFailed === 0 : undefined,
    ),
    row('latency p50', (f) => ms(a(f).p50), ''),
    row(
      'latency p99',
      (f) => `**${ms(a(f).p99)}**`,
      "≥ 4× lower than plain's, ≤ 1.5× floor's",
      oursA && plain?.a && floor?.a ? p99Vs(plain) >= 4 && oursA.p99 <= 1.5 * floor.a.p99 : undefined,
    ),
    row('latency max (of those received)', (f) => ms(a(f).max), ''),
    row('connected (all `connection_ack`s, subscribes sent)', (f) => seconds((f.connect as ConnectFigures).ackMs), ''),
    row(
      'connected + subscribed (every socket has had its first event)',
      (f) => seconds((f.connect as ConnectFigures).liveMs),
      '≤ 5 s',
      ours?.connect ? ours.connect.liveMs <= 5_000 : undefined,
    ),
    row(
      'sockets refused or failed',
      (f) => {
        const c = f.connect as ConnectFigures;
        const reasons = Object.entries(c.failures).map(([reason, n]) => `${integer(n)} ${reason}`);
        const closed = closes(a(f));
        return [integer(c.failed), ...reasons, closed].filter(Boolean).join('; ');
      },
      '0',
      ours?.connect ? ours.connect.failed === 0 && !closes(a(ours)) : undefined,
    ),
    row(
      'server RSS, peak (process tree)',
      (f) =>
        `${mb(a(f).rssPeak?.bytes ?? 0)} (${a(f).rssPeak?.processes} process${a(f).rssPeak?.processes === 1 ? '' : 'es'})`,
      '≤ 1 GB',
      oursA?.rssPeak ? oursA.rssPeak.bytes <= 2 ** 30 : undefined,
    ),
    row('publisher lag at worst (behind schedule)', (f) => ms(a(f).publishLagMs), ''),
  ];
  const ratios: string[] = [];
  if (oursA && plain?.a)
    ratios.push(`plain's p99 / ours: **${ratio(plain.a.p99, oursA.p99, 'plain', 'ours')}** (target ≥ 4×)`);
  if (oursA && floor?.a)
    ratios.push(`ours / floor's p99: **${ratio(oursA.p99, floor.a.p99, 'ours', 'floor')}** (target ≤ 1.5×)`);
  return ratios.length ? [...lines, '', `${ratios.join('; ')}.`] : lines;
}

function scenarioBTable(figures: ServerFigures[]): string[] {
  const lines = [
    '| server | offered deliveries/s | sockets × events/s | received / expected | achieved deliveries/s | p50 | p99 | holds |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const f of figures)
    for (const s of f.b)
      lines.push(
        `| ${f.name} | ${integer(s.offered)} | ${integer(s.sockets)} × ${s.rate.toFixed(1)} | ${delivery(s)} | ${integer(s.achieved)} | ${ms(s.p50)} | ${ms(s.p99)} | ${holds(s) ? 'yes' : 'no'} |`,
      );
  const capacity = (name: ServerName) => figures.find((f) => f.name === name)?.capacity ?? 0;
  const ran = (name: ServerName) => figures.some((f) => f.name === name && f.b.length > 0);
  lines.push('');
  /** The highest step held; below the first when none was, at least the last when all were. */
  const capacityText = (name: ServerName) => {
    const steps = figures.find((f) => f.name === name)?.b ?? [];
    if (!capacity(name)) return `< ${integer(B_STEPS[0] ?? 0)}`;
    const heldAll = steps.length === B_STEPS.length && steps.every(holds);
    return `${heldAll ? '≥ ' : ''}${integer(capacity(name))}`;
  };
  const summary = SERVERS.filter(ran).map((name) => `${name} **${capacityText(name)}**`);
  lines.push(`Capacity (highest step held): ${summary.join(', ')} deliveries/s.`);
  if (ran('ours')) {
    // A floor that held every step has no capacity measured, only a bound: no share of it can be given.
    const floorSteps = figures.find((f) => f.name === 'floor')?.b ?? [];
    const floorBounded = floorSteps.length === B_STEPS.length && floorSteps.every(holds);
    const ofFloor =
      ran('floor') && capacity('floor') > 0 && !floorBounded ? capacity('ours') / capacity('floor') : Number.NaN;
    lines.push(
      '',
      '| measure | result | target | ours |',
      '| --- | ---: | --- | --- |',
      `| ours' capacity | ${capacityText('ours')} deliveries/s | ≥ 200,000/s | ${verdict(capacity('ours') >= 200_000)} |`,
      `| ours / floor's capacity | ${Number.isFinite(ofFloor) ? `${(ofFloor * 100).toFixed(0)} %` : '—'} | ≥ 80 % | ${verdict(Number.isFinite(ofFloor) ? ofFloor >= 0.8 : undefined)} |`,
    );
  }
  return lines;
}

function scenarioCTable(c: NonNullable<ServerFigures['c']>, fanOut: MarkerFigures | undefined): string[] {
  const rows = (m: MarkerFigures, label: string, limit: number | null) => {
    const line = (step: StepFigures, what: string, target: string, met: string) =>
      `| ${label}${what} | ${integer(step.events)} markers at ${C_MARKER_RATE}/s | ${delivery(step)} | p50 ${ms(step.p50)}, **p99 ${ms(step.p99)}**, max ${ms(step.max)} | ${target} | ${met} |`;
    const timed = line(
      m.step,
      m.warmup ? ', timed after the warm-up' : '',
      limit === null ? 'a baseline' : `p99 ≤ ${limit} ms`,
      limit === null ? '—' : verdict(m.step.delivered >= m.step.expected && m.step.p99 <= limit),
    );
    const background = `| ${label}: background | ${integer(m.loadAcknowledged)} events acknowledged, ${integer(m.loadFailed)} refused | | | | |`;
    return [
      ...(m.warmup ? [line(m.warmup, ', warm-up (first markers)', 'measured, not held to the target', '—')] : []),
      timed,
      ...(m.load > 0 ? [background] : []),
    ];
  };
  const steps: [MarkerFigures, string][] = [
    [c.subscriber, 'ours, 1 subscriber'],
    [c.clients, `ours, ${integer(c.clients.clients)} clients`],
    ...(fanOut ? [[fanOut, `floor, ${integer(fanOut.clients)} clients`] as [MarkerFigures, string]] : []),
  ];
  const slowest = ([m, label]: [MarkerFigures, string]) =>
    m.step.slowest.map(
      (t) =>
        `| ${label} | ${t.seq} | ${ms(t.acknowledgedMs)} | ${ms(t.broadcastMs)} | ${ms(t.firstMs)} | ${ms(t.lastMs)} | ${ms(fanOutMs(t, m.step.sockets))} |`,
    );
  return [
    '| server | method | received / expected | publish → subscriber | target | ours |',
    '| --- | --- | ---: | ---: | --- | --- |',
    ...rows(c.subscriber, `ours: 1 subscriber under ${integer(c.subscriber.load)} events/s`, 50),
    ...rows(c.clients, `ours: ${integer(c.clients.clients)} clients under ${integer(c.clients.load)} events/s`, 25),
    ...(fanOut ? rows(fanOut, `floor (bare \`ws\`): ${integer(fanOut.clients)} clients, markers alone`, null) : []),
    '',
    `Where the time went, for the ${SLOWEST_TRACED} markers of each timed step whose last delivery came latest, in ms after the marker was sent: \`publishEvents\` acknowledged (the commit), the stream processor's broadcast seen on the Redis bus by a subscriber in the benchmark's own process (which is busy publishing, so it may see a broadcast after a client saw its delivery), and the first and last of the marker's deliveries; the fan-out is the time from the first to the last. The median marker's fan-out: ${steps.map(([m, label]) => `${label} ${ms(m.step.spreadP50)}`).join(', ')}.`,
    '',
    '| timed step | marker | acknowledged | on the bus | first delivery | last delivery | fan-out |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...steps.flatMap(slowest),
  ];
}

/** The FANOUT_* settings this run was given, so a reduced run says so. */
function overrides(): string {
  const set = Object.entries(process.env)
    .filter(([name]) => name.startsWith('FANOUT_'))
    .map(([name, value]) => `\`${name}=${value}\``);
  return set.length ? `Run with ${set.join(', ')}; the defaults otherwise.` : 'Run with the defaults (full scale).';
}

function report(machine: string, figures: ServerFigures[], runSeconds: number): string {
  const ours = figures.find((f) => f.name === 'ours');
  const lines = [
    HEADING,
    '',
    `Run ${new Date().toISOString()} on ${machine}, ${os.loadavg()[0]?.toFixed(2)} at the end; the run took ${integer(runSeconds)} s. ${overrides()}`,
    '',
    'Method:',
    '',
    `- The same clients, in the same run, against three servers one after the other, each a child process of its own, sharing the 2 cores with ${GENERATORS} load-generator processes, Postgres and Redis. The clients are raw \`ws\` sockets speaking graphql-transport-ws: \`connection_init\` with a bearer key, then \`subscribe\` to \`eventPublished(types: [ANOMALY_DETECTED]) { id type timestamp data }\`; every \`next\` is timed.`,
    `- **ours**: the real server (\`dist/main.js\`, compiled from \`src/main.ts\`, in Postgres and Redis mode, a fresh database and key prefix), its sockets spread over VIEWER keys made with \`createApiKey\` (${integer(SOCKETS_PER_KEY)} sockets a key), events published one per \`publishEvents\` call over HTTP with the admin key. **plain**: graphql-yoga + graphql-ws (\`useServer\`, operations through \`yoga.getEnveloped\`) + graphql-redis-subscriptions, the same Event type and subscription, storing nothing, no auth; events are \`PUBLISH\`ed on its Redis channel. **floor**: a bare \`ws\` server that answers the handshake and, for each event from its Redis channel, builds one \`next\` frame and writes it to every socket.`,
    "- Latency is publish → receipt on one clock (`performance.timeOrigin + performance.now()`, which agrees across this machine's processes to microseconds). Ours' events are stamped just before their `publishEvents` call (so the commit, the stream processor, the bus and the fan-out are all inside), plain's just before `PUBLISH`, the floor's as it builds its frame. Expected deliveries are sockets × events published; p50 and p99 are taken over all of them, a delivery never received ranking above every one that was (so a p99 reads `not received` when more than 1 % never arrived); quantiles come from 1 %-wide histogram buckets.",
    `- Connecting: ${CONNECT_CONCURRENCY} handshakes in flight per generator. "Connected" is when every socket has its \`connection_ack\` and has sent its subscribe; "subscribed" is when every socket has received a probe event, published one at a time from then on (the next once the last one's deliveries stop), so it is an upper bound that includes one delivery.`,
    `- RSS is VmRSS summed over the server's process and all its descendants (ours runs compiled, as \`npm start\` runs it: \`node dist/main.js\`; plain and floor run under tsx, whose esbuild service is one of their descendants when it runs; all three with \`NODE_ENV=production\`), sampled every ${RSS_SAMPLE_MS} ms while connecting and during A.`,
    `- Each scenario runs on a freshly started server (a server left far behind by A must not skew B). A delivery not received ${integer(A_DRAIN.timeoutMs / 1_000)} s (A), ${integer(B_DRAIN.timeoutMs / 1_000)} s (B) or ${integer(C_DRAIN.timeoutMs / 1_000)} s (C) after the last publish, or once none has arrived for ${integer(A_DRAIN.quietMs / 1_000)} s (A, C) or ${integer(B_DRAIN.quietMs / 1_000)} s (B), counts as not received; so does every delivery of an event the server refused to publish.`,
    '',
  ];
  if (figures.some((f) => f.a))
    lines.push(`### A: ${integer(SOCKETS)} subscribers at ${A_RATE} events/s`, '', ...scenarioATable(figures), '');
  if (figures.some((f) => f.b.length > 0))
    lines.push(
      '### B: capacity',
      '',
      `${integer(B_SOCKETS)} sockets; each step publishes for ${B_SECONDS} s at the events/s that offers its deliveries/s. A step holds when every delivery arrives, p99 ≤ ${B_P99_LIMIT_MS} ms, and deliveries arrive at ≥ ${B_MIN_ACHIEVED * 100} % of the rate offered ("achieved": deliveries over the span from the first to the last, which a server falling behind stretches; this is what shows the floor's own queue, since it stamps its send time); the first step missed ends a server's search. The load generators share the 2 cores with the server, so past some rate they, not the server, are the limit: the floor's capacity here is a lower bound.`,
      '',
      ...scenarioBTable(figures),
      '',
    );
  if (ours?.c)
    lines.push(
      '### C: publish → subscriber latency under load (ours; the floor beside it)',
      '',
      `Background \`publishEvents\` batches of PERFORMANCE_METRIC events (which the subscription filters out) at the rate shown; ANOMALY_DETECTED markers, each in a call of its own, timed at every subscriber: first ${C_WARMUP_SECONDS} s of them just after the clients joined (the warm-up row), then ${C_SECONDS} s timed against the target. The warm-up is reported apart because the first ~10 markers to freshly joined sockets are sent 3–5× slower per socket than the rest (a bare \`ws\` server sending to 250 fresh sockets shows the same: its first rounds take 6–13 ms, later ones 2–4 ms; raw socket writes show part of it). The JIT part is paid once per process; the kernel part by every newly joined client, in production too. The two loads run one after the other on the same server; between them the run waits until the stream processor has broadcast and aggregated every event of the first (its outbox empty: ${integer(ours.c.drainedMs)} ms in this run), so that the 500 clients' markers meet their own load, not the first one's backlog. The floor's row, when the floor ran: the same clients and markers from the bare \`ws\` server (stamped as it builds each frame, no load, nothing stored), what the fan-out to them costs on this machine by itself.`,
      '',
      ...scenarioCTable(ours.c, figures.find((f) => f.name === 'floor')?.cFanOut),
      '',
    );
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const runStarted = performance.now();
  const needed = Math.max(SOCKETS, B_SOCKETS) + 1_024;
  if (openFileLimit() < needed)
    throw new Error(
      `the open-file limit (${openFileLimit()}) is below the ${needed} the servers need: run \`npm run bench:fanout\`, which raises it, or \`ulimit -n ${needed}\` first`,
    );
  const redis = new Redis(REDIS_URL);
  cleanups.push(async () => {
    await redis.quit();
  });
  const machine = await machineDescription(redis);
  const generators = await startGenerators();
  const figures: ServerFigures[] = [];
  for (const name of SERVERS) {
    const start = () => {
      console.log(`[${name}] starting…`);
      return name === 'ours' ? startOurs() : startBare(name, redis);
    };
    figures.push(await measureServer(name, generators, start));
  }
  const section = report(machine, figures, (performance.now() - runStarted) / 1_000);
  console.log(section);
  writeSection(HEADING, section);
  // Biome formats Markdown too (tables aligned): the file stays lint-clean after a run.
  try {
    execFileSync('npx', ['biome', 'format', '--write', 'BENCHMARKS.md'], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      stdio: 'ignore',
    });
  } catch (error) {
    console.error('could not format BENCHMARKS.md; run `npx biome format --write BENCHMARKS.md`:', error);
  }
}

const runTimer = setTimeout(() => {
  console.error(`bench:fanout: still running after ${RUN_TIMEOUT_MS / 60_000} min; stopping`);
  cleanUp().finally(() => process.exit(1));
}, RUN_TIMEOUT_MS);
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    cleanUp().finally(() => process.exit(130));
  });

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanUp();
    clearTimeout(runTimer);
  });
