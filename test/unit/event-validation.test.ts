import { describe, expect, it } from 'vitest';
import { type EventLimits, type PublishEventInput, validateBatch } from '../../src/events/model.js';

const DAY_MS = 24 * 60 * 60_000;
const limits: EventLimits = {
  maxBatchSize: 3,
  maxFutureSkewMs: 5 * 60_000,
  maxEventBytes: 1_000,
  maxDepth: 4,
  maxAgeMs: 30 * DAY_MS,
  retentionDays: 60,
  maxMetricMagnitude: 1e15,
  maxMetricsPerEvent: 3,
};
const now = Date.parse('2026-11-27T12:00:00Z');
const event = (over: Partial<PublishEventInput> = {}): PublishEventInput => ({
  type: 'ANOMALY_DETECTED',
  data: {},
  ...over,
});
const problem = (input: PublishEventInput) => {
  const result = validateBatch([event(), input], now, limits);
  return result.ok ? null : `${result.index}: ${result.problem}`;
};

describe('validateBatch', () => {
  it('should accept good events, defaulting id and timestamp', () => {
    const result = validateBatch([event({ data: { s: 'ok 😀', literal: '\\u0000' } })], now, limits);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.events[0]?.timestamp.getTime()).toBe(now);
    expect(result.events[0]?.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each([
    [{ data: [1] }, 'data must be a JSON object'],
    [{ data: null }, 'data must be a JSON object'],
    [{ id: 'nope' }, 'is not a UUID'],
    [{ data: { a: { b: { c: { d: {} } } } } }, 'nested more than 4 levels'],
    [{ data: { s: 'x'.repeat(2_000) } }, 'more than the limit of 1000'],
    [{ data: { s: 'a\u0000b' } }, 'NUL character'],
    [{ data: { 'k\u0000': 1 } }, 'NUL character'],
    [{ data: { s: '\ud800' } }, 'unpaired surrogate'],
    [{ timestamp: new Date(now + 6 * 60_000) }, 'in the future'],
    [{ timestamp: new Date('0000-12-31T23:59:59.999Z') }, 'outside the years 1 to 9999'],
    [{ timestamp: new Date(Number.NaN) }, 'not a valid date'],
    [{ data: { a: [[[{}]]] } }, 'nested more than 4 levels'],
  ] as [Partial<PublishEventInput>, string][])('should name event 1 and the problem for %j', (over, says) => {
    expect(problem(event(over))).toMatch(new RegExp(`^1: .*${says.replace(/[()]/g, '\\$&')}`));
  });

  it('should accept a timestamp just inside the future and past bounds', () => {
    expect(problem(event({ timestamp: new Date(now + 5 * 60_000) }))).toBeNull();
    expect(problem(event({ timestamp: new Date(now - 30 * DAY_MS) }))).toBeNull();
  });

  it("should refuse a client's timestamp older than the bound, naming the event, but not the server's own", () => {
    expect(problem(event({ timestamp: new Date(now - 30 * DAY_MS - 1) }))).toMatch(
      /^1: .*more than 720 hours in the past/,
    );
    expect(problem(event({ timestamp: new Date(now - 31 * DAY_MS) }))).toMatch(/^1: .*in the past/);
    const old = [event({ timestamp: new Date(now - 59 * DAY_MS) })];
    expect(validateBatch(old, now, limits, 'server').ok).toBe(true);
  });

  it('should refuse a timestamp older than the retention, from a client or the server, naming the retention', () => {
    const edge = now - 60 * DAY_MS;
    expect(problem(event({ timestamp: new Date(edge) }))).toMatch(/^1: .*in the past/);
    for (const publisher of ['client', 'server'] as const) {
      const result = validateBatch([event(), event({ timestamp: new Date(edge - 1) })], now, limits, publisher);
      expect(result).toMatchObject({ ok: false, index: 1 });
      expect(result.ok ? null : result.problem).toMatch(
        /older than the event retention of 60 days \(EVENT_RETENTION_DAYS\)/,
      );
      expect(validateBatch([event({ timestamp: new Date(edge) })], now, limits, 'server').ok).toBe(true);
    }
    // The retention is named even when the age limit is as long: it is what the client needs to hear of.
    const same = { ...limits, retentionDays: 30 };
    const result = validateBatch([event({ timestamp: new Date(now - 30 * DAY_MS - 1) })], now, same);
    expect(result.ok ? null : result.problem).toMatch(/event retention of 30 days/);
  });

  it('should refuse ALERT_TRIGGERED from a client, and accept it from the server', () => {
    const forged = event({ type: 'ALERT_TRIGGERED', data: { alertId: 'x' } });
    expect(problem(forged)).toMatch(/^1: ALERT_TRIGGERED events are the server's own record/);
    expect(validateBatch([forged], now, limits, 'server').ok).toBe(true);
  });

  it.each(['anomaly_count', 'benchmark_total', 'benchmark_success', 'events_received', 'rejected_metric_values'])(
    'should refuse the server metric %s in data.metrics and as metric_name, naming it',
    (name) => {
      for (const type of ['BENCHMARK_COMPLETED', 'COMPETITIVE_UPDATE'] as const) {
        const result = validateBatch(
          [event(), event({ type, data: { metrics: { fine: 1, [name]: 5 } } })],
          now,
          limits,
        );
        expect(result).toMatchObject({ ok: false, index: 1, metric: name });
      }
      const named = event({ type: 'PERFORMANCE_METRIC', data: { metric_name: name, value: 1 } });
      expect(problem(named)).toMatch(new RegExp(`^1: metric "${name}" is computed by the server`));
    },
  );

  it('should refuse a metric value beyond the magnitude limit, naming event and metric, and accept it at the limit', () => {
    const big = (value: number) => event({ type: 'COMPETITIVE_UPDATE', data: { metrics: { parity: value } } });
    expect(problem(big(1e15))).toBeNull();
    expect(problem(big(-1e15))).toBeNull();
    expect(validateBatch([event(), big(-1.7e308)], now, limits)).toMatchObject({
      ok: false,
      index: 1,
      metric: 'parity',
    });
    const perf = event({ type: 'PERFORMANCE_METRIC', data: { metric_name: 'latency', value: 2e15 } });
    expect(problem(perf)).toMatch(/^1: data.value of metric "latency" is 2000000000000000, beyond the largest/);
  });

  it.each([
    ['PERFORMANCE_METRIC', { value: 1 }, 'data.metric_name', 'must be a string for PERFORMANCE_METRIC, got missing'],
    ['PERFORMANCE_METRIC', { metric_name: 7, value: 1 }, 'data.metric_name', 'must be a string .* got a number'],
    ['PERFORMANCE_METRIC', { metric_name: 'cpu' }, 'data.value', 'must be a number .* got missing'],
    ['PERFORMANCE_METRIC', { metric_name: 'cpu', value: '5' }, 'data.value', 'must be a number .* got a string'],
    ['PERFORMANCE_METRIC', { metric_name: 'cpu', value: null }, 'data.value', 'must be a number .* got null'],
    ['COMPETITIVE_UPDATE', { metrics: { parity: 'high' } }, 'data.metrics.parity', 'must be a number'],
    ['COMPETITIVE_UPDATE', { metrics: [1, 2] }, 'data.metrics', 'must be an object .* got an array'],
    ['BENCHMARK_COMPLETED', { metrics: { ok: 1, bad: true } }, 'data.metrics.bad', 'must be a number'],
    ['BENCHMARK_COMPLETED', { success: 'yes' }, 'data.success', 'must be true or false'],
    ['ANOMALY_DETECTED', { labels: { region: 3 } }, 'data.labels.region', 'must be a string'],
    ['INSIGHT_GENERATED', { labels: 'eu' }, 'data.labels', 'must be an object'],
    [
      'PERFORMANCE_METRIC',
      { metric_name: 'cpu', value: 1, labels: { a: 'x', b: ['y'] } },
      'data.labels.b',
      'must be a string .* got an array',
    ],
  ] as const)('should refuse a %s event whose data is %j, naming the event and %s', (type, data, field, says) => {
    const result = validateBatch([event(), event({ type, data })], now, limits);
    expect(result).toMatchObject({ ok: false, index: 1, field });
    expect(result.ok ? '' : result.problem).toMatch(new RegExp(`^${field.replace(/\./g, '\\.')} ${says}`));
  });

  it('should accept every shape with extra fields of any kind, and a value of 0', () => {
    const extra = { note: 'free text', nested: { any: [1, 'two', null] } };
    const result = validateBatch(
      [
        event({ type: 'PERFORMANCE_METRIC', data: { metric_name: 'cpu', value: 0, labels: { host: 'a' }, ...extra } }),
        event({ type: 'BENCHMARK_COMPLETED', data: { metrics: { ms: 1.5 }, success: false, ...extra } }),
        event({ type: 'COMPETITIVE_UPDATE', data: { ...extra } }),
      ],
      now,
      limits,
    );
    expect(result.ok).toBe(true);
  });

  it('should refuse more metrics in one event than the limit, naming the first one past it', () => {
    const metrics = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`m${i}`, i]));
    expect(problem(event({ type: 'BENCHMARK_COMPLETED', data: { metrics: metrics(3) } }))).toBeNull();
    const result = validateBatch([event({ type: 'BENCHMARK_COMPLETED', data: { metrics: metrics(4) } })], now, limits);
    expect(result).toMatchObject({ ok: false, index: 0, metric: 'm3' });
    expect(result.ok ? '' : result.problem).toMatch(/data.metrics has 4 entries, more than the limit of 3/);
  });

  it('should accept data nested exactly to the limit, and count bytes, not characters, against the size limit', () => {
    expect(problem(event({ data: { a: { b: { c: {} } } } }))).toBeNull();
    expect(problem(event({ data: { a: [[{}]] } }))).toBeNull();
    // 340 three-byte characters: under 1,000 characters of JSON, over 1,000 bytes.
    expect(problem(event({ data: { s: '€'.repeat(340) } }))).toMatch(/^1: data is 1\d{3} bytes/);
    expect(problem(event({ data: { s: '€'.repeat(320) } }))).toBeNull();
  });

  it('should refuse a batch over the size limit without naming an event', () => {
    const result = validateBatch([event(), event(), event(), event()], now, limits);
    expect(result).toEqual({ ok: false, index: null, problem: 'a batch holds at most 3 events, got 4' });
  });
});
