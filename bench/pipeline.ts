// npm run bench:pipeline — the event pipeline against the seed's targets, on a real server process with Postgres
// and Redis: publishEvents batch latency, sustained ingestion, event latency (publish → subscriber) under load,
// fan-out to 500 WebSocket clients, memory, and events lost, beside the raw Postgres ceiling of the same durable
// work. Writes its section of BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { type Client, createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import pg from 'pg';
import { WebSocket } from 'ws';
import { ID_DAY } from '../src/events/store.js';
import { newEventId } from '../src/ids.js';
import { integer, machineDescription, ms, quantile, writeSection } from './report.js';
import {
  type BenchServer,
  backgroundLoad,
  backlogDrained,
  graphql,
  POSTGRES_URL,
  PUBLISH_MANY,
  type PublishManyData,
  REDIS_URL,
  startBenchServer,
} from './server.js';

const HEADING = '## Event pipeline (npm run bench:pipeline)';
const BATCH = 1_000;
const BATCH_SAMPLES = 40; // sequential publishEvents calls of BATCH events
const SUSTAINED_SECONDS = 15;
const SUSTAINED_PUBLISHERS = 4;
const LOAD_RATES = [1_000, 10_000]; // background events/s while latency is measured
const MARKERS = 100; // timed events per latency measurement
const MARKER_INTERVAL_MS = 50;
const FANOUT_CLIENTS = 500;
const FANOUT_MARKERS = 40;

const perfEvent = (i: number) => ({
  type: 'PERFORMANCE_METRIC',
  data: { metric_name: `bench_metric_${i % 10}`, value: i % 997 },
});

async function batchLatency(server: BenchServer) {
  const times: number[] = [];
  for (let i = 0; i < BATCH_SAMPLES; i++) {
    const inputs = Array.from({ length: BATCH }, (_, j) => perfEvent(i * BATCH + j));
    const started = performance.now();
    await graphql(server, PUBLISH_MANY, { inputs });
    times.push(performance.now() - started);
  }
  return { p50: quantile(times, 0.5), p99: quantile(times, 0.99), max: Math.max(...times) };
}

async function sustained(server: BenchServer) {
  const deadline = performance.now() + SUSTAINED_SECONDS * 1_000;
  const acknowledged: string[] = [];
  let n = 0;
  await Promise.all(
    Array.from({ length: SUSTAINED_PUBLISHERS }, async () => {
      while (performance.now() < deadline) {
        const inputs = Array.from({ length: BATCH }, () => perfEvent(n++));
        const data = await graphql<PublishManyData>(server, PUBLISH_MANY, { inputs });
        acknowledged.push(...data.publishEvents.ids);
      }
    }),
  );
  const ingestSeconds = SUSTAINED_SECONDS;
  // How long the stream processor needs to broadcast and aggregate everything acknowledged.
  const drainSeconds = (await backlogDrained(server)) / 1_000;
  const counted = await graphql<{ aggregates: { count: number }[] }>(
    server,
    `{ aggregates(metrics: ["events_received"], windows: [M15]) { count } }`,
  );
  return {
    eventsPerSecond: acknowledged.length / ingestSeconds,
    acknowledged: acknowledged.length,
    drainSeconds,
    aggregatedCount: counted.aggregates[0]?.count ?? 0,
  };
}

/**
 * What Postgres alone does with the durable part of sustained ingestion: as many plain `pg` clients as there are
 * publishers, each inserting ${BATCH}-event batches (an Event row and an EventOutbox row per event, one statement per
 * batch, answering how many were new) into a fresh migrated database, for as long as the sustained run. No GraphQL,
 * no validation, no stream processor: the ceiling publishEvents is measured against.
 */
async function rawPostgresCeiling() {
  const database = `jackdaw_bench_raw_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const adminClient = new pg.Client({ connectionString: POSTGRES_URL });
  await adminClient.connect();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${database}`;
  try {
    await adminClient.query(`CREATE DATABASE "${database}"`);
    execFileSync('npx', ['tsx', 'src/migrate.ts', 'deploy'], {
      env: { ...process.env, DATABASE_URL: url.toString() },
      stdio: 'ignore',
    });
    const clients = Array.from(
      { length: SUSTAINED_PUBLISHERS },
      () => new pg.Client({ connectionString: url.toString() }),
    );
    await Promise.all(clients.map((c) => c.connect()));
    const deadline = performance.now() + SUSTAINED_SECONDS * 1_000;
    let n = 0;
    let stored = 0;
    await Promise.all(
      clients.map(async (client) => {
        while (performance.now() < deadline) {
          const now = new Date().toISOString();
          const ids: string[] = [];
          const types: string[] = [];
          const timestamps: string[] = [];
          const data: string[] = [];
          for (let i = 0; i < BATCH; i++) {
            const event = perfEvent(n++);
            ids.push(newEventId()); // as the server makes them
            types.push(event.type);
            timestamps.push(now);
            data.push(JSON.stringify(event.data));
          }
          const { rows } = await client.query<{ new: number }>(
            // The same work as the server's statement: ids claimed in "EventId", then the log and the outbox.
            `WITH batch AS MATERIALIZED (
               SELECT * FROM unnest($1::uuid[], $2::"EventType"[], $3::timestamptz[], $4::jsonb[]) AS t(id, type, ts, data)
             ), new_ids AS (
               INSERT INTO "EventId" (id, day, "timestamp") SELECT id, ${ID_DAY('id')}, ts FROM batch
               ON CONFLICT (id, day) DO NOTHING RETURNING id
             ), inserted AS (
               INSERT INTO "Event" (id, type, "timestamp", "receivedAt", data)
               SELECT b.id, b.type, b.ts, $5::timestamptz, b.data FROM batch b JOIN new_ids n ON n.id = b.id
               RETURNING seq, "timestamp"
             ), queued AS (
               INSERT INTO "EventOutbox" (seq, "timestamp") SELECT seq, "timestamp" FROM inserted
             )
             SELECT count(*)::int AS new FROM inserted`,
            [ids, types, timestamps, data, now],
          );
          stored += rows[0]?.new ?? 0;
        }
      }),
    );
    await Promise.all(clients.map((c) => c.end()));
    return { eventsPerSecond: stored / SUSTAINED_SECONDS, stored };
  } finally {
    await adminClient.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await adminClient.end();
  }
}

function wsClient(server: BenchServer): Client {
  return createClient({
    url: server.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${server.adminKey}` },
    retryAttempts: 0,
  });
}

/** Subscribes `clients` sockets to marker events; returns per-delivery latencies of `markers` timed publishes. */
async function deliveryLatency(server: BenchServer, clients: number, markers: number, loadRate: number) {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const received = new Map<string, number>();
  const sockets = Array.from({ length: clients }, () => wsClient(server));
  const ready = sockets.map(
    (client) =>
      new Promise<void>((resolve) => {
        let first = true;
        client.subscribe(
          { query: `subscription { eventPublished(types: [INSIGHT_GENERATED]) { id } }` },
          {
            next: ({ data }) => {
              const id = (data as { eventPublished: { id: string } }).eventPublished.id;
              const at = performance.now();
              if (first) {
                first = false;
                resolve();
              }
              const sent = sentAt.get(id);
              if (sent !== undefined) {
                latencies.push(at - sent);
                received.set(id, (received.get(id) ?? 0) + 1);
              }
            },
            error: () => resolve(),
            complete: () => {},
          },
        );
      }),
  );
  // Warm-up markers until every socket has its subscription live.
  let warm = true;
  void Promise.all(ready).then(() => {
    warm = false;
  });
  while (warm) {
    await graphql(server, PUBLISH_MANY, { inputs: [{ type: 'INSIGHT_GENERATED', data: { warmup: true } }] });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const controller = new AbortController();
  const load =
    loadRate > 0
      ? backgroundLoad(server, loadRate, controller.signal, perfEvent)
      : Promise.resolve({ acknowledged: 0, failed: 0 });
  await new Promise((resolve) => setTimeout(resolve, 1_000)); // let the load settle
  const acknowledgements: number[] = [];
  for (let i = 0; i < markers; i++) {
    const id = randomUUID();
    const sent = performance.now();
    sentAt.set(id, sent);
    await graphql(server, PUBLISH_MANY, { inputs: [{ id, type: 'INSIGHT_GENERATED', data: { marker: i } }] });
    acknowledgements.push(performance.now() - sent);
    await new Promise((resolve) => setTimeout(resolve, MARKER_INTERVAL_MS));
  }
  const deadline = performance.now() + 10_000;
  while (latencies.length < markers * clients && performance.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  controller.abort();
  const { acknowledged, failed } = await load;
  await Promise.all(sockets.map((s) => s.dispose()));
  return {
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    ackP50: quantile(acknowledgements, 0.5),
    delivered: latencies.length,
    expected: markers * clients,
    loadAcknowledged: acknowledged,
    loadFailed: failed,
  };
}

async function main(): Promise<void> {
  const redis = new Redis(REDIS_URL);
  const machine = await machineDescription(redis);
  await redis.quit();
  const server = await startBenchServer();
  try {
    console.log('batch latency…');
    const batch = await batchLatency(server);
    console.log('raw Postgres ceiling…');
    const ceiling = await rawPostgresCeiling();
    console.log('sustained ingestion…');
    const load = await sustained(server);
    const ofCeiling = (100 * load.eventsPerSecond) / ceiling.eventsPerSecond;
    const latency = [];
    for (const rate of LOAD_RATES) {
      console.log(`event latency at ${rate}/s…`);
      latency.push({ rate, ...(await deliveryLatency(server, 1, MARKERS, rate)) });
    }
    console.log(`fan-out to ${FANOUT_CLIENTS} clients…`);
    const fanout = await deliveryLatency(server, FANOUT_CLIENTS, FANOUT_MARKERS, 1_000);
    const rss = await server.rssBytes();
    const section = [
      HEADING,
      '',
      `Run ${new Date().toISOString()} on ${machine}. One server instance (compiled, \`NODE_ENV=production node dist/main.js\`, in Postgres and ` +
        'Redis mode: a primary, one processing process and one serving process per core, as `npm start` runs it) and the ' +
        'load generator in another process on the same 2 cores, over loopback HTTP and graphql-ws; memory is summed over ' +
        "the instance's processes.",
      '',
      '| measure | method | result | seed target |',
      '| --- | --- | ---: | --- |',
      `| \`publishEvents\` of ${integer(BATCH)} events | ${BATCH_SAMPLES} sequential calls; time to acknowledgement (committed to Postgres) | p50 ${ms(batch.p50)}, p99 ${ms(batch.p99)} | |`,
      `| raw Postgres ceiling | ${SUSTAINED_PUBLISHERS} plain \`pg\` clients, each inserting ${integer(BATCH)}-event batches (EventId + Event + EventOutbox rows, ids made as the server makes them, one statement per batch) into a fresh migrated database for ${SUSTAINED_SECONDS} s, just before the sustained run; no server | ${integer(ceiling.eventsPerSecond)} events/s stored (${integer(ceiling.stored)}) | |`,
      `| sustained ingestion | ${SUSTAINED_PUBLISHERS} publishers sending ${integer(BATCH)}-event batches for ${SUSTAINED_SECONDS} s | **${integer(load.eventsPerSecond)} events/s** acknowledged (${integer(load.acknowledged)}), **${ofCeiling.toFixed(0)} %** of the raw Postgres ceiling | 10,000+ events/s; issue 9: ≥ 50 % of the ceiling (goal 70 %) |`,
      `| processing backlog | time for the stream processor to broadcast and aggregate all of them once publishing stopped | ${load.drainSeconds.toFixed(1)} s | queue backlog < 1 s |`,
      `| events lost | every event acknowledged so far (batch and sustained runs) vs counted by the aggregates (\`events_received\`, M15) | ${integer(BATCH_SAMPLES * BATCH + load.acknowledged)} vs ${integer(load.aggregatedCount)} | < 0.1 % |`,
      ...latency.map(
        (l) =>
          `| event latency at ${integer(l.rate)} events/s | ${MARKERS} marker events, publish call → \`eventPublished\` received by a subscriber, while ${integer(l.rate)} events/s of background load run (${integer(l.loadAcknowledged)} acknowledged, ${integer(l.loadFailed)} refused) | p50 ${ms(l.p50)}, p99 ${ms(l.p99)} (${l.delivered}/${l.expected} delivered; the publish call itself: p50 ${ms(l.ackP50)}) | < 100 ms |`,
      ),
      `| WebSocket fan-out | ${FANOUT_CLIENTS} graphql-ws clients subscribed; ${FANOUT_MARKERS} markers under 1,000 events/s of load; every delivery timed | p50 ${ms(fanout.p50)}, p99 ${ms(fanout.p99)} (${integer(fanout.delivered)}/${integer(fanout.expected)} delivered) | 500+ clients, < 50 ms |`,
      `| server memory | resident set size at the end, from \`/metrics\` | ${(rss / 2 ** 20).toFixed(0)} MB | < 4 GB |`,
      '',
    ].join('\n');
    console.log(section);
    writeSection(HEADING, section);
  } finally {
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
