import { describe, expect, it } from 'vitest';
import {
  LABEL_CAPS,
  labelPartOf,
  labelsProblem,
  matchersProblem,
  parseLabelPart,
  seriesName,
  splitSeries,
} from '../../src/aggregation/labels.js';
import { eventToSamples } from '../../src/aggregation/samples.js';
import { seriesOfBatch } from '../../src/aggregation/series.js';
import { type EventLimits, validateBatch } from '../../src/events/model.js';

const limits = { maxLabels: 2, maxValueLength: 8 };

describe('labelsProblem', () => {
  it('should accept no labels, an empty object and labels within the bounds', () => {
    expect(labelsProblem(undefined, limits)).toBeNull();
    expect(labelsProblem({}, limits)).toBeNull();
    expect(labelsProblem({ region: 'eu-w.1', _h: 'a/b@c+:e' }, limits)).toBeNull();
    expect(labelsProblem({ v: 'x'.repeat(8) }, limits)).toBeNull();
  });

  it.each([
    [[1], 'data.labels must be an object'],
    ['eu', 'data.labels must be an object'],
    [{ a: 'x', b: 'y', c: 'z' }, 'has 3 labels, more than the limit of 2'],
    [{ '1a': 'x' }, 'name "1a" is not a label name'],
    [{ 'a-b': 'x' }, 'is not a label name'],
    [{ ['x'.repeat(65)]: 'x' }, 'is not a label name'],
    [{ a: 1 }, 'data.labels.a must be a string'],
    [{ a: null }, 'data.labels.a must be a string'],
    [{ a: '' }, 'data.labels.a is empty'],
    [{ a: 'x'.repeat(9) }, 'data.labels.a is 9 characters, more than 8'],
    [{ a: 'x,y' }, 'data.labels.a may hold only'],
    [{ a: 'x}' }, 'may hold only'],
    [{ a: 'x=y' }, 'may hold only'],
    [{ a: 'é' }, 'may hold only'],
    [{ a: 'a b' }, 'may hold only'],
  ])('should refuse %j', (labels, message) => {
    expect(labelsProblem(labels, limits)).toContain(message);
  });
});

describe('series names', () => {
  it('should name a label set with its names sorted, and parse back', () => {
    const part = labelPartOf({ labels: { zone: 'b', app: 'web' } });
    expect(part).toBe('app=web,zone=b');
    const name = seriesName('latency', part as string);
    expect(name).toBe('latency{app=web,zone=b}');
    expect(splitSeries(name)).toEqual({ metric: 'latency', labelPart: 'app=web,zone=b' });
    expect(splitSeries('latency')).toEqual({ metric: 'latency', labelPart: null });
    expect(parseLabelPart('app=web,zone=b')).toEqual([
      { name: 'app', value: 'web' },
      { name: 'zone', value: 'b' },
    ]);
  });

  it('should give no label part to no labels, empty labels or labels past the hard caps', () => {
    expect(labelPartOf({})).toBeNull();
    expect(labelPartOf({ labels: {} })).toBeNull();
    expect(labelPartOf({ labels: { a: 'x,y' } })).toBeNull();
    const many = Object.fromEntries(Array.from({ length: LABEL_CAPS.maxLabels + 1 }, (_, i) => [`l${i}`, 'v']));
    expect(labelPartOf({ labels: many })).toBeNull();
  });
});

describe('eventToSamples with labels', () => {
  it('should add every metric of the event to its label set as well as to its total', () => {
    const { samples } = eventToSamples({
      type: 'BENCHMARK_COMPLETED',
      timestamp: 1,
      data: { metrics: { score: 3, bad: 'x' }, labels: { vendor: 'acme' } },
    });
    expect(samples.map((s) => `${s.metric}=${s.value}`)).toEqual([
      'score=3',
      'benchmark_total=1',
      'benchmark_success=1',
      'score{vendor=acme}=3',
      'benchmark_total{vendor=acme}=1',
      'benchmark_success{vendor=acme}=1',
      'rejected_metric_values=1',
    ]);
  });

  it('should count a label set as a series of its own, the server metrics under labels too', () => {
    const series = seriesOfBatch(
      [{ type: 'ANOMALY_DETECTED', timestamp: 1_000, data: { labels: { vendor: 'acme' } } }],
      1_000,
    );
    expect([...series.keys()]).toEqual(['anomaly_count{vendor=acme}']);
  });
});

describe('matchersProblem', () => {
  it('should accept distinct, well-formed matchers and group-by names', () => {
    expect(matchersProblem([{ name: 'a', value: 'x' }], ['b'])).toBeNull();
  });

  it.each([
    [[{ name: 'a b', value: 'x' }], [], 'labels[0].name "a b" is not a label name'],
    [[{ name: 'a', value: '' }], [], 'labels[0].value is empty'],
    [[{ name: 'a', value: 'x,y' }], [], 'labels[0].value may hold only'],
    [
      [
        { name: 'a', value: 'x' },
        { name: 'a', value: 'y' },
      ],
      [],
      'labels[1] names label "a" a second time',
    ],
    [[{ name: 'a', value: 'x' }], ['a'], 'by[0] names label "a"'],
    [[], ['{'], 'by[0] "{" is not a label name'],
    [[], Array.from({ length: 33 }, (_, i) => `l${i}`), 'more than any label set holds'],
  ])('should refuse %j by %j', (matchers, by, message) => {
    expect(matchersProblem(matchers, by)).toContain(message);
  });
});

describe('validateBatch with labels', () => {
  const eventLimits: EventLimits = {
    maxBatchSize: 10,
    maxFutureSkewMs: 60_000,
    maxEventBytes: 10_000,
    maxDepth: 8,
    maxAgeMs: 86_400_000,
    maxMetricMagnitude: 1e15,
    maxMetricsPerEvent: 10,
    labels: limits,
    retentionDays: 30,
  };

  it('should refuse a batch whose event has bad labels, naming the event and the label', () => {
    const result = validateBatch(
      [
        { type: 'ANOMALY_DETECTED', data: { labels: { a: 'x' } } },
        { type: 'ANOMALY_DETECTED', data: { labels: { a: 'x'.repeat(9) } } },
      ],
      0,
      eventLimits,
    );
    expect(result).toMatchObject({ ok: false, index: 1, problem: 'data.labels.a is 9 characters, more than 8' });
  });
});
