// Labels, group-by and series over both aggregate stores (in process, and real Redis), checked against the raw
// values: label sets are stored as series of their own, and reads merge them.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabelledReads } from '../../src/aggregation/labelled-reads.js';
import type { Label } from '../../src/aggregation/labels.js';
import { MemoryAggregateStore } from '../../src/aggregation/memory-store.js';
import { RedisAggregateStore } from '../../src/aggregation/redis-store.js';
import { eventToSamples } from '../../src/aggregation/samples.js';
import type { AggregateStore, MetricAggregate, MetricSample } from '../../src/aggregation/types.js';
import { granularityMs, windowBuckets } from '../../src/aggregation/windows.js';
import { DomainError } from '../../src/errors.js';
import { random } from '../helpers/random.js';
import { deleteKeys } from '../helpers/redis-keys.js';
import { REDIS_URL, redisKeyPrefix } from '../helpers/services.js';

const filePrefix = redisKeyPrefix();
let redis: Redis;
let subjects = 0;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  await deleteKeys(redis, `${filePrefix}*`);
  await redis.quit();
});

interface Backend {
  name: string;
  create(now: number): AggregateStore;
}

const backends: Backend[] = [
  { name: 'MemoryAggregateStore', create: (now) => new MemoryAggregateStore({ clock: () => now }) },
  {
    name: 'RedisAggregateStore',
    // A read chunk of 2 windows, so merges of many sets and groups are read in several calls and merged here.
    create: (now) =>
      new RedisAggregateStore({ redis, keyPrefix: `${filePrefix}${++subjects}:`, clock: () => now, readChunk: 2 }),
  },
];

interface Observation {
  labels: Record<string, string>;
  value: number;
  timestamp: number;
}

const REGIONS = ['eu', 'us', 'ap'];
const HOSTS = ['h1', 'h2', 'h3', 'h4'];

/** Latency observations over the last 5 minutes, labelled by region and host (ap has no host label). */
function observations(now: number, size: number): Observation[] {
  const next = random(11);
  return Array.from({ length: size }, () => {
    const region = REGIONS[Math.floor(next() * REGIONS.length)] as string;
    const labels: Record<string, string> =
      region === 'ap' ? { region } : { region, host: HOSTS[Math.floor(next() * HOSTS.length)] as string };
    return {
      labels,
      value: Math.round(Math.exp(2 + 2 * next()) * 100) / 100,
      timestamp: Math.round(now - next() * 290_000),
    };
  });
}

function samplesOf(list: Observation[]): MetricSample[] {
  return list.flatMap(
    ({ labels, value, timestamp }) =>
      eventToSamples({ type: 'PERFORMANCE_METRIC', timestamp, data: { metric_name: 'latency', value, labels } })
        .samples,
  );
}

const holds = (o: Observation, matchers: Label[]) => matchers.every((m) => o.labels[m.name] === m.value);

/** What a window holds of the observations matching `matchers`, from the raw values. */
function exact(list: Observation[], matchers: Label[], at: number) {
  const { first, last } = windowBuckets('M5', at);
  const g = granularityMs('M5');
  const values = list
    .filter((o) => holds(o, matchers) && o.timestamp >= first * g && o.timestamp < (last + 1) * g)
    .map((o) => o.value)
    .sort((a, b) => a - b);
  const quantile = (q: number) => values[Math.floor(q * (values.length - 1))] as number;
  return {
    count: values.length,
    sum: values.reduce((a, b) => a + b, 0),
    min: values[0],
    max: values.at(-1),
    p50: quantile(0.5),
    p95: quantile(0.95),
    p99: quantile(0.99),
  };
}

function expectExact(aggregate: MetricAggregate, list: Observation[], matchers: Label[], at: number): void {
  const want = exact(list, matchers, at);
  expect(aggregate).toMatchObject({ count: want.count, min: want.min, max: want.max });
  expect(aggregate.sum).toBeCloseTo(want.sum, 6);
  // Merged sketches keep the sketch's bound (0.5 %) on top of the rank rounding the brute force makes.
  for (const p of ['p50', 'p95', 'p99'] as const) {
    expect(Math.abs((aggregate[p] as number) / want[p] - 1), `${p} of ${JSON.stringify(matchers)}`).toBeLessThan(0.02);
  }
}

describe.each(backends)('$name with labels', (backend) => {
  const now = Date.now();
  const list = observations(now, 3_000);
  let store: AggregateStore;
  let reads: LabelledReads;

  beforeAll(async () => {
    store = backend.create(now);
    reads = new LabelledReads(store, 100);
    const samples = samplesOf(list);
    for (let start = 0; start < samples.length; start += 700) {
      await store.apply({ seqs: [String(start)], ids: [`e${start}`] }, samples.slice(start, start + 700));
    }
  });

  it('should keep the total as the plain metric, and list no labelled series as a metric name', async () => {
    const [total] = await reads.read([{ metric: 'latency', window: 'M5' }], now);
    expectExact(total as MetricAggregate, list, [], now);
    expect(total?.labels).toEqual([]);
    expect(await store.metricNames(now)).toEqual(['latency']);
  });

  it('should answer one label set exactly, and a merge of sets within the sketch bound', async () => {
    const cases: Label[][] = [
      [
        { name: 'region', value: 'eu' },
        { name: 'host', value: 'h2' },
      ],
      [{ name: 'region', value: 'us' }],
      [{ name: 'host', value: 'h3' }],
      [{ name: 'region', value: 'ap' }],
    ];
    const results = await reads.read(
      cases.map((labels) => ({ metric: 'latency', window: 'M5' as const, labels })),
      now,
    );
    results.forEach((aggregate, i) => {
      expectExact(aggregate, list, cases[i] as Label[], now);
    });
    // Labels come back sorted by name.
    expect(results[0]?.labels).toEqual([
      { name: 'host', value: 'h2' },
      { name: 'region', value: 'eu' },
    ]);
  });

  it('should answer an empty window for labels no set holds', async () => {
    const [none] = await reads.read(
      [{ metric: 'latency', window: 'M5', labels: [{ name: 'region', value: 'mars' }] }],
      now,
    );
    expect(none).toMatchObject({ count: 0, sum: 0, p99: null, labels: [{ name: 'region', value: 'mars' }] });
  });

  it('should list label names and values of a metric, sorted', async () => {
    expect(await reads.labelNames('latency', now)).toEqual(['host', 'region']);
    expect(await reads.labelValues('latency', 'region', 100, now)).toEqual(['ap', 'eu', 'us']);
    expect(await reads.labelValues('latency', 'host', 2, now)).toEqual(['h1', 'h2']);
    expect(await reads.labelNames('unknown', now)).toEqual([]);
  });

  it('should group by a label, ranked by the chosen aggregation, the top first', async () => {
    const byCount = await reads.groups(
      { metric: 'latency', window: 'M5', by: ['region'], orderBy: 'COUNT', descending: true, first: 10 },
      now,
    );
    const counts = REGIONS.map((region) => ({
      region,
      count: exact(list, [{ name: 'region', value: region }], now).count,
    }));
    counts.sort((a, b) => b.count - a.count);
    expect(byCount.map((g) => g.labels)).toEqual(counts.map(({ region }) => [{ name: 'region', value: region }]));
    for (const group of byCount) expectExact(group, list, group.labels, now);

    const byMax = await reads.groups(
      { metric: 'latency', window: 'M5', by: ['host'], orderBy: 'MAX', descending: false, first: 2 },
      now,
    );
    const maxima = HOSTS.map((host) => ({
      host,
      max: exact(list, [{ name: 'host', value: host }], now).max as number,
    }));
    maxima.sort((a, b) => a.max - b.max);
    expect(byMax.map((g) => g.labels[0]?.value)).toEqual(maxima.slice(0, 2).map((m) => m.host));
  });

  it('should group within matchers, and by several labels', async () => {
    const groups = await reads.groups(
      {
        metric: 'latency',
        window: 'M5',
        by: ['host'],
        labels: [{ name: 'region', value: 'eu' }],
        orderBy: 'SUM',
        descending: true,
        first: 100,
      },
      now,
    );
    expect(groups.length).toBe(HOSTS.length);
    for (const group of groups) {
      expect(group.labels.map((l) => l.name)).toEqual(['host', 'region']);
      expectExact(group, list, group.labels, now);
    }
    const sums = groups.map((g) => g.sum);
    expect(sums).toEqual([...sums].sort((a, b) => b - a));
    const pairs = await reads.groups(
      { metric: 'latency', window: 'M5', by: ['region', 'host'], orderBy: 'COUNT', descending: true, first: 100 },
      now,
    );
    // ap carries no host: its sets are left out of a group-by on host.
    expect(pairs.length).toBe(2 * HOSTS.length);
  });

  it("should answer a window's 60 points, each the bucket's values, merged over the matching sets", async () => {
    const matchers = [{ name: 'region', value: 'eu' }];
    const points = await reads.readPoints({ metric: 'latency', window: 'M5', labels: matchers }, now);
    const { first, granularity } = windowBuckets('M5', now);
    expect(points.map((p) => p.at)).toEqual(Array.from({ length: 60 }, (_, i) => (first + i) * granularity));
    for (const point of points) {
      const inBucket = list.filter(
        (o) => holds(o, matchers) && o.timestamp >= point.at && o.timestamp < point.at + granularity,
      );
      expect(point.count).toBe(inBucket.length);
      if (inBucket.length > 0) expect(point.max).toBe(Math.max(...inBucket.map((o) => o.value)));
      else expect(point).toMatchObject({ sum: 0, min: null, p50: null });
    }
    const [window] = await reads.read([{ metric: 'latency', window: 'M5', labels: matchers }], now);
    expect(points.reduce((a, p) => a + p.count, 0)).toBe(window?.count);
  });

  it('should refuse a read merging more label sets than MAX_LABEL_SETS_PER_READ, naming the limit', async () => {
    const narrow = new LabelledReads(store, 3);
    const refusal = narrow.read([{ metric: 'latency', window: 'M5', labels: [{ name: 'region', value: 'eu' }] }], now);
    await expect(refusal).rejects.toBeInstanceOf(DomainError);
    await expect(refusal).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: /MAX_LABEL_SETS_PER_READ/ });
    await expect(
      narrow.groups(
        { metric: 'latency', window: 'M5', by: ['host'], orderBy: 'COUNT', descending: true, first: 5 },
        now,
      ),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    // Three sets fit.
    const [one] = await narrow.read(
      [{ metric: 'latency', window: 'M5', labels: [{ name: 'region', value: 'ap' }] }],
      now,
    );
    expect(one?.count).toBeGreaterThan(0);
  });

  it('should keep labels through a rebuild', async () => {
    const rebuilt = backend.create(now);
    async function* chunks() {
      yield samplesOf(list);
    }
    await rebuilt.rebuild(chunks());
    const again = new LabelledReads(rebuilt, 100);
    expect(await again.labelNames('latency', now)).toEqual(['host', 'region']);
    const query = { metric: 'latency', window: 'M5' as const, labels: [{ name: 'host', value: 'h1' }] };
    const [rebuiltAggregate] = await again.read([query], now);
    const [appliedAggregate] = await reads.read([query], now);
    // Applied in batches or at once, the buckets merged in another order: equal but for floating-point rounding.
    const { count, min, max, p50, p99, labels } = appliedAggregate as MetricAggregate;
    expect(rebuiltAggregate).toMatchObject({ count, min, max, p50, p99, labels });
    expect(rebuiltAggregate?.sum).toBeCloseTo(appliedAggregate?.sum as number, 6);
  });
});

describe('label sets past 24 hours', () => {
  it.each(backends)('$name should forget a label set with no sample in the last 24 hours', async (backend) => {
    const now = Date.now();
    const store = backend.create(now);
    const old = now - 23 * 3_600_000; // still aggregated now, past the horizon an hour on
    const samples = eventToSamples({
      type: 'PERFORMANCE_METRIC',
      timestamp: old,
      data: { metric_name: 'm', value: 1, labels: { a: 'x' } },
    }).samples;
    await store.apply({ seqs: ['1'], ids: ['e1'] }, samples);
    expect(await store.labelSets('m', now)).toEqual(['a=x']);
    expect(await store.labelSets('m', now + 3_600_000 + 1_000)).toEqual([]);
  });
});
