// npm run bench:aggregate — aggregation throughput of RedisAggregateStore against the seed's per-sample sorted
// sets, and memory growth (Redis and in-process) as one metric receives 1M samples. Writes its section of
// BENCHMARKS.md. Needs a real Redis at REDIS_URL; every key it writes is under a fresh prefix and deleted at the end.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Redis } from 'ioredis';
import { MemoryAggregateStore } from '../src/aggregation/memory-store.js';
import { RedisAggregateStore } from '../src/aggregation/redis-store.js';
import { eventToSamples, type SampledEvent } from '../src/aggregation/samples.js';
import { type AppliedBatch, type MetricSample, WINDOW_MS, WINDOW_SIZES } from '../src/aggregation/types.js';
import { random } from '../test/helpers/random.js';
import { deleteKeys, scanKeys } from '../test/helpers/redis-keys.js';
import { integer, machineDescription, writeSection } from './report.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECTION_HEADING = '## Aggregation (npm run bench:aggregate)';

const THROUGHPUT_EVENTS = 200_000;
// The baseline runs ~15× slower: it gets the first events of the same stream, so the bench stays near two minutes.
const BASELINE_EVENTS = 30_000;
const WARMUP_EVENTS = 20_000;
const EVENTS_PER_BATCH = 1_000; // the outbox batch the stream processor applies at once
const EVENT_SPREAD_MS = 3 * 60_000; // event times cover the last three minutes, in arrival order with jitter
const EVENT_JITTER_MS = 2_000;
const MEMORY_CHECKPOINTS = [100_000, 500_000, 1_000_000];
const MEMORY_BATCH_SAMPLES = 10_000;
const MEMORY_SPREAD_MS = 10 * 60_000; // one metric's samples cover the last ten minutes: buckets saturate early

function logNormal(next: () => number, mu: number, sigma: number): number {
  return Math.exp(mu + sigma * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()));
}

const PERFORMANCE_METRICS: Record<string, (next: () => number) => number> = {
  api_response_time: (next) => logNormal(next, 5, 0.6),
  cpu_usage: (next) => 20 + 60 * next(),
  memory_usage: (next) => 1_000 + 3_000 * next(),
  error_rate: (next) => (next() < 0.8 ? 0 : next() * 5),
  queue_depth: (next) => Math.floor(next() * 50),
};

/** A realistic mix: mostly performance metrics, then benchmarks, competitive updates, anomalies and insights. */
function realisticEvents(count: number, end: number, seed: number): SampledEvent[] {
  const next = random(seed);
  const start = end - EVENT_SPREAD_MS;
  const metrics = Object.entries(PERFORMANCE_METRICS);
  return Array.from({ length: count }, (_, i) => {
    const timestamp = Math.round(start + (EVENT_SPREAD_MS * i) / count - next() * EVENT_JITTER_MS);
    const roll = next();
    if (roll < 0.5) {
      const [metricName, sampleValue] = metrics[Math.floor(next() * metrics.length)] as [
        string,
        (random: () => number) => number,
      ];
      return { type: 'PERFORMANCE_METRIC', timestamp, data: { metric_name: metricName, value: sampleValue(next) } };
    }
    if (roll < 0.7) {
      const metrics = { latency_ms: logNormal(next, 4, 0.5), throughput_rps: 500 + 1_500 * next() };
      return { type: 'BENCHMARK_COMPLETED', timestamp, data: { metrics, success: next() < 0.9 } };
    }
    if (roll < 0.9) {
      const metrics = { competitive_parity: 0.7 + 0.3 * next(), market_share: 100 * next() };
      return { type: 'COMPETITIVE_UPDATE', timestamp, data: { metrics } };
    }
    if (roll < 0.95) return { type: 'ANOMALY_DETECTED', timestamp, data: { severity: 'high' } };
    return { type: 'INSIGHT_GENERATED', timestamp, data: { text: 'parity improved' } };
  });
}

function batchesOf(events: SampledEvent[]): Array<{ applied: AppliedBatch; samples: MetricSample[] }> {
  const batches = [];
  for (let i = 0; i < events.length; i += EVENTS_PER_BATCH) {
    const batch = events.slice(i, i + EVENTS_PER_BATCH);
    // The processor records each batch's event ids with its seqs, so the bench carries as many.
    const applied = { seqs: batch.map((_, j) => String(i + j)), ids: batch.map(() => randomUUID()) };
    batches.push({ applied, events: batch });
  }
  // Mapping events to samples is timed for both contenders: it is part of aggregating.
  return batches.map(({ applied, events: batch }) => ({
    applied,
    samples: batch.flatMap((e) => eventToSamples(e).samples),
  }));
}

/** The seed's write path, kept cost-equivalent: per sample and window one ZADD and one ZREMRANGEBYSCORE. */
async function baselineApply(redis: Redis, prefix: string, samples: MetricSample[], batchId: string): Promise<void> {
  const pipeline = redis.pipeline();
  samples.forEach(({ metric, value, timestamp }, i) => {
    for (const window of WINDOW_SIZES) {
      const key = `${prefix}metrics:${metric}:${window}`;
      // Unique members: the seed used the value as member, which silently dropped repeated values.
      pipeline.zadd(key, timestamp, `${value}:${batchId}:${i}`);
      pipeline.zremrangebyscore(key, '-inf', timestamp - WINDOW_MS[window]);
    }
  });
  await pipeline.exec();
}

async function timeEventsPerSecond(
  events: SampledEvent[],
  apply: (applied: AppliedBatch, samples: MetricSample[]) => Promise<void>,
) {
  const started = performance.now();
  let samples = 0;
  for (const batch of batchesOf(events)) {
    samples += batch.samples.length;
    await apply(batch.applied, batch.samples);
  }
  const seconds = (performance.now() - started) / 1_000;
  return { eventsPerSecond: events.length / seconds, samplesPerSecond: samples / seconds, seconds };
}

async function redisMemory(redis: Redis, pattern: string): Promise<{ keys: number; bytes: number }> {
  const keys = await scanKeys(redis, pattern);
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', 0);
  const sizes = (await pipeline.exec()) ?? [];
  return { keys: keys.length, bytes: sizes.reduce((total, [, size]) => total + Number(size ?? 0), 0) };
}

interface ThroughputResult {
  ours: Awaited<ReturnType<typeof timeEventsPerSecond>>;
  baseline: Awaited<ReturnType<typeof timeEventsPerSecond>>;
  oursMemory: { keys: number; bytes: number };
  baselineMemory: { keys: number; bytes: number };
}

async function benchThroughput(redis: Redis, prefix: string): Promise<ThroughputResult> {
  const now = Date.now();
  const warmup = realisticEvents(WARMUP_EVENTS, now, 1);
  const events = realisticEvents(THROUGHPUT_EVENTS, now, 2);
  const store = new RedisAggregateStore({ redis, keyPrefix: `${prefix}ours:` });
  const warmStore = new RedisAggregateStore({ redis, keyPrefix: `${prefix}warm:` });

  await timeEventsPerSecond(warmup, (applied, samples) => warmStore.apply(applied, samples));
  await timeEventsPerSecond(warmup, (applied, samples) =>
    baselineApply(redis, `${prefix}warm:`, samples, applied.seqs[0] ?? ''),
  );
  await deleteKeys(redis, `${prefix}warm:*`);

  const ours = await timeEventsPerSecond(events, (applied, samples) => store.apply(applied, samples));
  const baselineEvents = events.slice(0, BASELINE_EVENTS);
  const baseline = await timeEventsPerSecond(baselineEvents, (applied, samples) =>
    baselineApply(redis, `${prefix}base:`, samples, applied.seqs[0] ?? ''),
  );
  return {
    ours,
    baseline,
    oursMemory: await redisMemory(redis, `${prefix}ours:*`),
    baselineMemory: await redisMemory(redis, `${prefix}base:*`),
  };
}

/** One metric, samples over a fixed ten minutes, in batches generated on the fly so they cost no heap. */
function* flatMetricBatches(total: number, end: number): Generator<MetricSample[]> {
  const next = random(3);
  for (let done = 0; done < total; done += MEMORY_BATCH_SAMPLES) {
    yield Array.from({ length: MEMORY_BATCH_SAMPLES }, () => ({
      metric: 'flat_metric',
      value: logNormal(next, 5, 0.6),
      timestamp: Math.round(end - next() * MEMORY_SPREAD_MS),
    }));
  }
}

interface MemoryCheckpoint {
  samples: number;
  redisKeys: number;
  redisBytes: number;
  memoryBuckets: number;
  heapBytes: number;
}

const collectGarbage: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

function heapUsed(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

async function benchMemory(redis: Redis, prefix: string): Promise<MemoryCheckpoint[]> {
  const now = Date.now();
  const keyPrefix = `${prefix}flat:`;
  const redisStore = new RedisAggregateStore({ redis, keyPrefix });
  const heapBefore = heapUsed();
  const memoryStore = new MemoryAggregateStore();
  const checkpoints: MemoryCheckpoint[] = [];
  let applied = 0;
  for (const samples of flatMetricBatches(Math.max(...MEMORY_CHECKPOINTS), now)) {
    await redisStore.apply({ seqs: [String(applied)], ids: [randomUUID()] }, samples);
    await memoryStore.apply({ seqs: [String(applied)], ids: [randomUUID()] }, samples);
    applied += samples.length;
    if (!MEMORY_CHECKPOINTS.includes(applied)) continue;
    const { keys, bytes } = await redisMemory(redis, `${keyPrefix}*`);
    const heapBytes = heapUsed() - heapBefore;
    checkpoints.push({
      samples: applied,
      redisKeys: keys,
      redisBytes: bytes,
      memoryBuckets: memoryStore.bucketCount(),
      heapBytes,
    });
  }
  await memoryStore.close();
  return checkpoints;
}

const megabytes = (bytes: number) => `${(bytes / 1_048_576).toFixed(2)} MB`;

function report(machine: string, throughput: ThroughputResult, memory: MemoryCheckpoint[]): string {
  const { ours, baseline, oursMemory, baselineMemory } = throughput;
  const perEvent = ours.samplesPerSecond / ours.eventsPerSecond;
  return [
    SECTION_HEADING,
    '',
    `Run ${new Date().toISOString()} on ${machine}.`,
    '',
    '### Throughput',
    '',
    `Method: ${integer(THROUGHPUT_EVENTS)} realistic events (performance metrics, benchmarks, competitive updates, anomalies, insights; ` +
      `${Object.keys(PERFORMANCE_METRICS).length + 7} metrics, ${perEvent.toFixed(2)} samples per event) with event times over the last ` +
      `${EVENT_SPREAD_MS / 60_000} minutes in arrival order, mapped by \`eventToSamples\` and applied sequentially in batches of ` +
      `${integer(EVENTS_PER_BATCH)} events, after a ${integer(WARMUP_EVENTS)}-event warm-up. RedisAggregateStore pre-merges each batch ` +
      'into per-bucket deltas and applies them with the batch record in one Lua call. The baseline is the seed design: per sample, ' +
      'ZADD + ZREMRANGEBYSCORE into six sorted sets (one per window), pipelined per batch to be fair, with unique members ' +
      '(the seed keyed values as members and lost repeats); being much slower, it gets only the first ' +
      `${integer(BASELINE_EVENTS)} events of the same stream (smaller sets, if anything, favour it). Both include the ` +
      'event→sample mapping; same Redis, same run.',
    '',
    '| | RedisAggregateStore | baseline (sorted sets) |',
    '| --- | ---: | ---: |',
    `| events/s | ${integer(ours.eventsPerSecond)} | ${integer(baseline.eventsPerSecond)} |`,
    `| samples/s | ${integer(ours.samplesPerSecond)} | ${integer(baseline.samplesPerSecond)} |`,
    `| events aggregated | ${integer(THROUGHPUT_EVENTS)} in ${ours.seconds.toFixed(2)} s | ${integer(BASELINE_EVENTS)} in ${baseline.seconds.toFixed(2)} s |`,
    `| Redis keys / memory afterwards | ${integer(oursMemory.keys)} / ${megabytes(oursMemory.bytes)} | ${integer(baselineMemory.keys)} / ${megabytes(baselineMemory.bytes)} |`,
    `| speed-up | **${(ours.eventsPerSecond / baseline.eventsPerSecond).toFixed(1)}×** | 1× |`,
    '',
    '### Memory as one metric receives 1M samples',
    '',
    `Method: samples of one metric with event times over a fixed ${MEMORY_SPREAD_MS / 60_000} minutes, applied in batches of ` +
      `${integer(MEMORY_BATCH_SAMPLES)} to a RedisAggregateStore and a MemoryAggregateStore. Redis: \`MEMORY USAGE key SAMPLES 0\` ` +
      "summed over the store's keys. In-process: heap used after a forced GC, minus the heap before the store existed. " +
      'Flat figures mean memory grows with buckets (metrics × time covered), not with samples.',
    '',
    '| samples | Redis keys | Redis memory | in-process buckets | in-process heap |',
    '| ---: | ---: | ---: | ---: | ---: |',
    ...memory.map(
      (c) =>
        `| ${integer(c.samples)} | ${integer(c.redisKeys)} | ${megabytes(c.redisBytes)} | ${integer(c.memoryBuckets)} | ${megabytes(c.heapBytes)} |`,
    ),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const redis = new Redis(REDIS_URL);
  const prefix = `bench:${randomUUID().slice(0, 8)}:`;
  try {
    const machine = await machineDescription(redis);
    const throughput = await benchThroughput(redis, prefix);
    const memory = await benchMemory(redis, prefix);
    const section = report(machine, throughput, memory);
    console.log(section);
    writeSection(SECTION_HEADING, section);
  } finally {
    await deleteKeys(redis, `${prefix}*`);
    await redis.quit();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
