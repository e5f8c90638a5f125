// npm run bench:labels — label and series reads over the Redis aggregate store (and the in-process one): a group-by
// over 1,000 label values, a 60-point series read (total, one label set, a merge of 1,000 sets), a label listing,
// and what labels cost the apply. Writes its section of BENCHMARKS.md. Needs a real Redis at REDIS_URL; every key it
// writes is under a fresh prefix and deleted at the end.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { LabelledReads } from '../src/aggregation/labelled-reads.js';
import { MemoryAggregateStore } from '../src/aggregation/memory-store.js';
import { RedisAggregateStore } from '../src/aggregation/redis-store.js';
import { eventToSamples, type SampledEvent } from '../src/aggregation/samples.js';
import type { AggregateStore, MetricSample, WindowSize } from '../src/aggregation/types.js';
import { random } from '../test/helpers/random.js';
import { deleteKeys } from '../test/helpers/redis-keys.js';
import { integer, machineDescription, ms, quantile, writeSection } from './report.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECTION_HEADING = '## Labels and series (npm run bench:labels)';

const LABEL_VALUES = 1_000; // hosts, each its own label set
const SAMPLES_PER_SET = 60;
const SPREAD_MS = 5 * 60_000; // the samples cover the last five minutes: every M5 bucket of every set is written
const REPEATS = 40; // reads timed per case
const WARMUP = 3;
const APPLY_EVENTS = 20_000;
const EVENTS_PER_BATCH = 1_000;
const MAX_SETS_PER_READ = 2_000; // MAX_LABEL_SETS_PER_READ's default

/** 1,000 hosts in 4 regions, each with a latency per sample. */
function labelledEvents(end: number): SampledEvent[] {
  const next = random(5);
  const events: SampledEvent[] = [];
  for (let i = 0; i < LABEL_VALUES * SAMPLES_PER_SET; i++) {
    const host = i % LABEL_VALUES;
    events.push({
      type: 'PERFORMANCE_METRIC',
      timestamp: Math.round(end - next() * SPREAD_MS),
      data: {
        metric_name: 'latency',
        value: Math.exp(4 + next()),
        labels: { host: `h${host}`, region: `r${host % 4}` },
      },
    });
  }
  return events;
}

async function load(store: AggregateStore, events: SampledEvent[]): Promise<void> {
  for (let start = 0; start < events.length; start += EVENTS_PER_BATCH) {
    const samples = events.slice(start, start + EVENTS_PER_BATCH).flatMap((e) => eventToSamples(e).samples);
    await store.apply({ seqs: [String(start)], ids: [randomUUID()] }, samples);
  }
}

async function timed(run: () => Promise<unknown>): Promise<{ p50: number; p99: number; max: number }> {
  for (let i = 0; i < WARMUP; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return { p50: quantile(times, 0.5), p99: quantile(times, 0.99), max: Math.max(...times) };
}

async function readCases(store: AggregateStore, window: WindowSize) {
  const reads = new LabelledReads(store, MAX_SETS_PER_READ);
  const at = () => Date.now();
  return {
    groupBy: await timed(() =>
      reads.groups({ metric: 'latency', window, by: ['host'], orderBy: 'P99', descending: true, first: 100 }, at()),
    ),
    seriesTotal: await timed(() => reads.readPoints({ metric: 'latency', window }, at())),
    seriesOneSet: await timed(() =>
      reads.readPoints({ metric: 'latency', window, labels: [{ name: 'host', value: 'h7' }] }, at()),
    ),
    seriesMerge: await timed(() =>
      reads.readPoints({ metric: 'latency', window, labels: [{ name: 'region', value: 'r1' }] }, at()),
    ),
    labelValues: await timed(() => reads.labelValues('latency', 'host', 1_000, at())),
  };
}

/** Events per second the store applies, unlabelled and with two labels per event (same values and times). */
async function applyRate(store: () => AggregateStore, labelled: boolean): Promise<number> {
  const end = Date.now();
  const next = random(9);
  const events: SampledEvent[] = Array.from({ length: APPLY_EVENTS }, (_, i) => ({
    type: 'PERFORMANCE_METRIC',
    timestamp: Math.round(end - next() * 60_000),
    data: {
      metric_name: `m${i % 5}`,
      value: next() * 100,
      ...(labelled ? { labels: { host: `h${i % 50}`, region: `r${i % 4}` } } : {}),
    },
  }));
  const batches: MetricSample[][] = [];
  for (let start = 0; start < events.length; start += EVENTS_PER_BATCH) {
    batches.push(events.slice(start, start + EVENTS_PER_BATCH).flatMap((e) => eventToSamples(e).samples));
  }
  const target = store();
  const started = performance.now();
  for (const [i, samples] of batches.entries()) await target.apply({ seqs: [String(i)], ids: [randomUUID()] }, samples);
  return APPLY_EVENTS / ((performance.now() - started) / 1_000);
}

async function main(): Promise<void> {
  const redis = new Redis(REDIS_URL);
  const prefix = `bench-labels-${randomUUID()}:`;
  try {
    const machine = await machineDescription(redis);
    const events = labelledEvents(Date.now());
    const redisStore = new RedisAggregateStore({ redis, keyPrefix: `${prefix}reads:` });
    const memoryStore = new MemoryAggregateStore();
    let started = performance.now();
    await load(redisStore, events);
    const loadRedisS = (performance.now() - started) / 1_000;
    started = performance.now();
    await load(memoryStore, events);
    const loadMemoryS = (performance.now() - started) / 1_000;
    console.info(
      `loaded ${integer(events.length)} events: Redis ${loadRedisS.toFixed(1)} s, memory ${loadMemoryS.toFixed(1)} s`,
    );

    const results = {
      'Redis, M5': await readCases(redisStore, 'M5'),
      'Redis, H24': await readCases(redisStore, 'H24'),
      'in process, M5': await readCases(memoryStore, 'M5'),
    };
    console.info(results);
    let applies = 0;
    const applyStore = () => new RedisAggregateStore({ redis, keyPrefix: `${prefix}apply${++applies}:` });
    const unlabelled = await applyRate(applyStore, false);
    const labelled = await applyRate(applyStore, true);
    console.info({ unlabelled, labelled });

    const row = (name: string, r: Awaited<ReturnType<typeof readCases>>) =>
      `| ${name} | ${ms(r.groupBy.p50)} / ${ms(r.groupBy.p99)} | ${ms(r.seriesTotal.p50)} / ${ms(r.seriesTotal.p99)} | ${ms(r.seriesOneSet.p50)} / ${ms(r.seriesOneSet.p99)} | ${ms(r.seriesMerge.p50)} / ${ms(r.seriesMerge.p99)} | ${ms(r.labelValues.p50)} / ${ms(r.labelValues.p99)} |`;
    const section = `${SECTION_HEADING}

Run on ${new Date().toISOString().slice(0, 10)}: ${machine}. The load average says how busy the machine was; the
load generator, Postgres and Redis share its cores with the code measured.

One metric with ${integer(LABEL_VALUES)} label sets (\`host\` h0…h999, \`region\` r0…r3, ${SAMPLES_PER_SET} samples each
over the last five minutes, ${integer(events.length)} events: every M5 bucket of every set written), read through
\`LabelledReads\` as the resolvers read, ${REPEATS} times each after ${WARMUP} warm-up reads (p50 / p99):

| store, window | group-by host, top 100 by P99 (1,000 groups) | 60-point series, total | series, one label set | series, merge of 250 sets (region) | 1,000 label values |
| --- | --: | --: | --: | --: | --: |
${row('Redis, M5', results['Redis, M5'])}
${row('Redis, H24', results['Redis, H24'])}
${row('in process, M5', results['in process, M5'])}

A group-by reads 60 buckets of each of the 1,000 sets (60,000 hashes), in calls of \`AGGREGATE_READ_CHUNK\` (10)
windows' worth (600 buckets) one after another, so Redis serves other clients between them; the series of one set is
one call of 60 buckets. Applying ${integer(APPLY_EVENTS)} events in batches of ${EVENTS_PER_BATCH} (5 metrics; with labels, 2 labels
per event, 100 label sets in all, so twice the samples): ${integer(unlabelled)} events/s unlabelled, ${integer(labelled)} events/s labelled.
An unlabelled event costs what it did before labels (one look-up of \`data.labels\`, absent); a labelled one writes
its samples twice, the second time into the buckets of its label set's series: 105 series here instead of 5, each
with its own buckets in six windows, so the apply writes many more hash fields and runs several times slower. Label
sets are series, and cost what series cost.
`;
    writeSection(SECTION_HEADING, section);
    console.info(section);
  } finally {
    await deleteKeys(redis, `${prefix}*`);
    await redis.quit();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
