// npm run bench:redis-calls — how long the aggregate store's Lua calls block Redis: the reads made for a client
// request (an `aggregates` read at the MAX_AGGREGATE_PAIRS budget, in one call and in AGGREGATE_READ_CHUNK calls),
// the series admission made at publish, and the stream processor's atomic apply at several batch sizes. Durations
// are Redis's own (SLOWLOG, in microseconds, the time the call held Redis), so it starts a redis-server of its own
// on a free port, with every call logged, and stops it at the end. Writes its section of BENCHMARKS.md.

import { type ChildProcess, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { runsWithinFields } from '../src/aggregation/apply-cost.js';
import { RedisAggregateStore } from '../src/aggregation/redis-store.js';
import { eventToSamples, type SampledEvent } from '../src/aggregation/samples.js';
import { type BatchSeries, seriesOfBatch } from '../src/aggregation/series.js';
import { type MetricSample, WINDOW_SIZES } from '../src/aggregation/types.js';
import { configWith } from '../src/config.js';
import { random } from '../test/helpers/random.js';
import { integer, machineDescription, quantile, writeSection } from './report.js';

const HEADING = '## Redis call durations (npm run bench:redis-calls)';
const config = configWith({});
const FILL_METRICS = 100; // × 5 windows = 500 pairs, the default MAX_AGGREGATE_PAIRS
const FILL_EVERY_MS = 30_000; // one sample per metric every 30 s over the last 24 h: every bucket of every window
const READ_WINDOWS = WINDOW_SIZES.slice(0, 5);
const READ_REPEATS = 3;
const ADMISSION_REPEATS = 200;
const READ_CHUNKS = [50, 20, 10, 5];
const APPLY_BATCHES = [5_000, 2_000, 1_000, 500];
const HEAVY_BATCHES = [500, 100];
const APPLY_REPEATS = 3;
const HEAVY_METRICS_PER_EVENT = 20;
const HEAVY_NAME_POOL = 1_000;

interface SlowlogEntry {
  durationUs: number;
  command: string;
}

async function startRedis(): Promise<{ redis: Redis; child: ChildProcess }> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
  ]);
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Ready to accept connections')) resolve();
    });
  });
  const redis = new Redis({ port, host: '127.0.0.1' });
  await redis.config('SET', 'slowlog-log-slower-than', '0');
  await redis.config('SET', 'slowlog-max-len', '100000');
  return { redis, child };
}

/** The commands the store sends itself; SLOWLOG also lists the ones its scripts run inside them. */
const STORE_COMMANDS = new Set(['evalsha', 'eval', 'zmscore', 'zscan']);

/** The calls `run` made, each with the time it held Redis. */
async function scriptCalls(redis: Redis, run: () => Promise<unknown>): Promise<number[]> {
  await redis.slowlog('RESET');
  await run();
  const entries = (await redis.slowlog('GET', -1)) as [number, number, number, string[]][];
  return entries
    .map(([, , durationUs, args]): SlowlogEntry => ({ durationUs, command: String(args[0]).toLowerCase() }))
    .filter((entry) => STORE_COMMANDS.has(entry.command))
    .map((entry) => entry.durationUs / 1_000);
}

const describeMs = (calls: number[]) =>
  `${calls.length} call${calls.length === 1 ? '' : 's'}, longest ${quantile(calls, 1).toFixed(1)} ms, p50 ${quantile(calls, 0.5).toFixed(1)} ms`;

async function main() {
  const { redis, child } = await startRedis();
  try {
    const machine = await machineDescription(redis);
    const next = random(7);
    const now = Date.now();
    const keyPrefix = 'bench:';
    const whole = new RedisAggregateStore({ redis, keyPrefix, readChunk: 1_000_000 });

    // State to read: FILL_METRICS metrics with samples over the last 24 h, values spread over three decades.
    const fill: MetricSample[] = [];
    for (let m = 0; m < FILL_METRICS; m++) {
      for (let t = now - 24 * 3_600_000 + FILL_EVERY_MS; t <= now; t += FILL_EVERY_MS) {
        fill.push({ metric: `fill_${m}`, value: 10 ** (3 * next()), timestamp: t });
      }
    }
    for (let i = 0; i < fill.length; i += 20_000)
      await whole.apply({ seqs: [String(i)], ids: [`fill-${i}`] }, fill.slice(i, i + 20_000));
    const keys = await redis.dbsize();

    const queries = Array.from({ length: FILL_METRICS }, (_, m) => `fill_${m}`).flatMap((metric) =>
      READ_WINDOWS.map((window) => ({ metric, window })),
    );
    const readRows: string[] = [];
    for (const [label, store] of [
      ['one call', whole],
      ...READ_CHUNKS.map(
        (chunk) =>
          [
            `AGGREGATE_READ_CHUNK ${chunk}${chunk === config.AGGREGATE_READ_CHUNK ? ' (default)' : ''}`,
            new RedisAggregateStore({ redis, keyPrefix, readChunk: chunk }),
          ] as const,
      ),
    ] as const) {
      const calls: number[] = [];
      for (let r = 0; r < READ_REPEATS; r++)
        calls.push(...(await scriptCalls(redis, () => store.read(queries, Date.now()))));
      readRows.push(
        `| \`aggregates\` read at the budget, ${label} | ${queries.length} pairs (${FILL_METRICS} metrics × ${READ_WINDOWS.length} windows), ${READ_REPEATS} reads | ${describeMs(calls)} |`,
      );
    }

    // Series admission with the default limits: a batch naming 10 live series; one naming as many new series as a
    // key may start in a minute (admitted); one naming MAX_SERIES new ones, the most a batch may (refused).
    const limits = { maxNewPerMinute: config.MAX_NEW_SERIES_PER_MINUTE, maxSeries: config.MAX_SERIES };
    const batchOf = (names: string[]) =>
      new Map<string, BatchSeries>(names.map((name, index) => [name, { newest: now, index }]));
    const named = (prefix: string, count: number) => batchOf(Array.from({ length: count }, (_, m) => `${prefix}_${m}`));
    const admitKnown = await scriptCalls(redis, () => whole.admitSeries(named('fill', 10), 'a', limits, now));
    const perMinute = named('minute', config.MAX_NEW_SERIES_PER_MINUTE);
    const admitBudget = await scriptCalls(redis, () => whole.admitSeries(perMinute, 'b', limits, now));
    const flood = named('flood', config.MAX_SERIES);
    const admitFlood = await scriptCalls(redis, () => whole.admitSeries(flood, 'c', limits, now));
    // What the check adds to a publish of 1,000 events naming known series, as the client waits for it: finding the
    // batch's series, then the round trip (a ZMSCORE of its 10 names).
    const publishBatch = Array.from({ length: 1_000 }, (_, i) => ({
      type: 'PERFORMANCE_METRIC' as const,
      timestamp: now,
      data: { metric_name: `fill_${i % 10}`, value: i },
    }));
    const stepMs: number[] = [];
    for (let r = 0; r < ADMISSION_REPEATS; r++) {
      const started = performance.now();
      await whole.admitSeries(seriesOfBatch(publishBatch, now), 'd', limits, now);
      stepMs.push(performance.now() - started);
    }

    // The processor's apply: a batch of events as the pipeline benchmark sends them (10 metrics), and a heavy one
    // (COMPETITIVE_UPDATE events of 20 metrics each from 1,000 names, event times over the last 5 minutes).
    const samplesOf = (events: SampledEvent[]) =>
      events.flatMap((event) => [
        ...eventToSamples(event).samples,
        { metric: 'events_received', value: 1, timestamp: event.timestamp },
      ]);
    const pipelineEvents = (count: number): SampledEvent[] =>
      Array.from({ length: count }, (_, i) => ({
        type: 'PERFORMANCE_METRIC',
        timestamp: Date.now(),
        data: { metric_name: `bench_metric_${i % 10}`, value: i % 997 },
      }));
    // As the aggregation benchmark's stream: mixed types, 12 metrics, event times over the last 3 minutes.
    const mixedEvents = (count: number): SampledEvent[] =>
      Array.from({ length: count }, (): SampledEvent => {
        const timestamp = Date.now() - Math.floor(next() * 3 * 60_000);
        const kind = next();
        if (kind < 0.6) {
          const metric = ['api_response_time', 'cpu_usage', 'memory_usage', 'error_rate', 'queue_depth'][
            Math.floor(next() * 5)
          ];
          return { type: 'PERFORMANCE_METRIC', timestamp, data: { metric_name: metric, value: 10 ** (3 * next()) } };
        }
        if (kind < 0.8) {
          const metrics = { duration_ms: 10 ** (4 * next()), throughput: 1_000 * next(), score: 100 * next() };
          return { type: 'BENCHMARK_COMPLETED', timestamp, data: { success: next() < 0.9, metrics } };
        }
        if (kind < 0.95) {
          const metrics = { competitive_parity: next(), price_index: 100 * next() };
          return { type: 'COMPETITIVE_UPDATE', timestamp, data: { metrics } };
        }
        return { type: 'ANOMALY_DETECTED', timestamp, data: {} };
      });
    const heavyEvents = (count: number): SampledEvent[] =>
      Array.from({ length: count }, () => ({
        type: 'COMPETITIVE_UPDATE',
        timestamp: Date.now() - Math.floor(next() * 5 * 60_000),
        data: {
          metrics: Object.fromEntries(
            Array.from({ length: HEAVY_METRICS_PER_EVENT }, () => [
              `heavy_${Math.floor(next() * HEAVY_NAME_POOL)}`,
              next() * 100,
            ]),
          ),
        },
      }));
    const applyRows: string[] = [];
    for (const [name, make] of [
      ['pipeline mix (10 metrics, 1 sample + events_received per event)', pipelineEvents],
      ['mixed types, 12 metrics, event times over the last 3 min', mixedEvents],
      [
        `heavy (${HEAVY_METRICS_PER_EVENT} metrics per event from ${integer(HEAVY_NAME_POOL)} names, last 5 min)`,
        heavyEvents,
      ],
    ] as const) {
      for (const size of make === heavyEvents ? HEAVY_BATCHES : APPLY_BATCHES) {
        const whole1: number[] = [];
        const runs: number[] = [];
        let runCount = 0;
        for (let r = 0; r < APPLY_REPEATS; r++) {
          const events = make(size);
          const samples = samplesOf(events);
          whole1.push(
            ...(await scriptCalls(redis, () => whole.apply({ seqs: [String(r)], ids: [`apply-${r}`] }, samples))),
          );
          // As the stream processor applies it: in event-time order, in runs within PROCESSOR_MAX_FIELDS_PER_APPLY.
          const inTimeOrder = [...events].sort((a, b) => a.timestamp - b.timestamp);
          const perEvent = inTimeOrder.map((event) => samplesOf([event]));
          const cut = runsWithinFields(
            perEvent,
            (s) => s,
            config.PROCESSOR_MAX_FIELDS_PER_APPLY,
            () => whole.applyCost(),
          );
          runCount += cut.length;
          for (const run of cut)
            runs.push(
              ...(await scriptCalls(redis, () => whole.apply({ seqs: [String(r)], ids: [`run-${r}`] }, run.flat()))),
            );
        }
        const marker = size === config.PROCESSOR_BATCH_SIZE ? ' (PROCESSOR_BATCH_SIZE)' : '';
        applyRows.push(
          `| ${name} | ${integer(size)}${marker} | ${describeMs(whole1)} | ${(runCount / APPLY_REPEATS).toFixed(1)} calls per batch; ${describeMs(runs)} |`,
        );
      }
    }

    const section = [
      HEADING,
      '',
      `Run ${new Date().toISOString()} on ${machine}; a redis-server of the benchmark's own, every call logged (SLOWLOG), so the figures are the time each call held Redis, not round trips.`,
      '',
      `State: ${FILL_METRICS} metrics with a sample every 30 s over the last 24 h (every bucket of every window filled, values over three decades): ${integer(keys)} keys.`,
      '',
      '| call | what | time holding Redis |',
      '| --- | --- | --: |',
      ...readRows,
      `| series admission at publish | a batch naming 10 live series (one ZMSCORE, no write) | ${describeMs(admitKnown)} |`,
      `| series admission at publish | a batch naming MAX_NEW_SERIES_PER_MINUTE (${integer(config.MAX_NEW_SERIES_PER_MINUTE)}) new series: admitted | ${describeMs(admitBudget)} |`,
      `| the admission step of a publish, as the client waits (not Redis time) | 1,000 events naming 10 live series: finding them + one round trip, ${ADMISSION_REPEATS} times | p50 ${quantile(stepMs, 0.5).toFixed(2)} ms, p99 ${quantile(stepMs, 0.99).toFixed(2)} ms |`,
      `| series admission at publish | a batch naming MAX_SERIES (${integer(config.MAX_SERIES)}) new series, the most a batch may: refused | ${describeMs(admitFlood)} |`,
      '',
      `The stream processor's atomic apply (with its record of the batch), ${APPLY_REPEATS} batches each: a whole batch in one call, and as the processor applies it, in runs that write at most PROCESSOR_MAX_FIELDS_PER_APPLY (${integer(config.PROCESSOR_MAX_FIELDS_PER_APPLY)}) hash fields each:`,
      '',
      '| events | batch size | one call: time holding Redis | in runs within the budget: time holding Redis per call |',
      '| --- | --: | --: | --: |',
      ...applyRows,
      '',
      'An apply costs by the hash fields it writes (six statistics per bucket touched, one per sketch bin in it), not by its events: events spread over minutes touch up to ~170 buckets per metric whatever the batch size, so the stream processor cuts each batch into runs by fields, not by events.',
      '',
    ].join('\n');
    console.info(section);
    writeSection(HEADING, section);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
    child.kill();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
