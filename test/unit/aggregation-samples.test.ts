import { describe, expect, it } from 'vitest';
import {
  eventToSamples,
  isValidMetricName,
  REJECTED_VALUES_METRIC,
  type SampledEvent,
} from '../../src/aggregation/samples.js';

const timestamp = Date.UTC(2025, 0, 1, 12);

function samplesOf(type: SampledEvent['type'], data: unknown) {
  return eventToSamples({ type, timestamp, data });
}

function valuesOf(type: SampledEvent['type'], data: unknown): Record<string, number> {
  const { samples } = samplesOf(type, data);
  expect(samples.every((s) => s.timestamp === timestamp)).toBe(true);
  return Object.fromEntries(samples.map((s) => [s.metric, s.value]));
}

describe('eventToSamples', () => {
  describe('BENCHMARK_COMPLETED', () => {
    it('should add every numeric metric, one benchmark and one success', () => {
      expect(valuesOf('BENCHMARK_COMPLETED', { metrics: { latency_ms: 12.5, errors: 0 }, success: true })).toEqual({
        latency_ms: 12.5,
        errors: 0,
        benchmark_total: 1,
        benchmark_success: 1,
      });
    });

    it('should count a success when `success` is absent or anything but false', () => {
      expect(valuesOf('BENCHMARK_COMPLETED', {}).benchmark_success).toBe(1);
      expect(valuesOf('BENCHMARK_COMPLETED', { success: 'false' }).benchmark_success).toBe(1);
      expect(valuesOf('BENCHMARK_COMPLETED', null)).toEqual({ benchmark_total: 1, benchmark_success: 1 });
    });

    it('should add a success of 0 when success is false, so the window sum is 0 rather than empty', () => {
      expect(valuesOf('BENCHMARK_COMPLETED', { metrics: { latency_ms: 3 }, success: false })).toEqual({
        latency_ms: 3,
        benchmark_total: 1,
        benchmark_success: 0,
      });
    });

    it('should reject non-finite and non-numeric values and count them in a metric of their own', () => {
      const metrics = { a: 'x', b: Number.NaN, c: Infinity, d: null, e: {}, f: true, g: -Infinity, ok: -2 };
      const result = samplesOf('BENCHMARK_COMPLETED', { metrics });
      expect(result.rejected).toBe(7);
      expect(result.samples).toEqual([
        { metric: 'ok', value: -2, timestamp },
        { metric: 'benchmark_total', value: 1, timestamp },
        { metric: 'benchmark_success', value: 1, timestamp },
        { metric: REJECTED_VALUES_METRIC, value: 7, timestamp },
      ]);
    });

    it('should reject entries with invalid names and values sent under the reserved rejected-values name', () => {
      const metrics = { '9lives': 1, 'with space': 2, [REJECTED_VALUES_METRIC]: 100, fine: 3 };
      const result = samplesOf('BENCHMARK_COMPLETED', { metrics });
      expect(result.rejected).toBe(3);
      expect(valuesOf('BENCHMARK_COMPLETED', { metrics })).toEqual({
        fine: 3,
        benchmark_total: 1,
        benchmark_success: 1,
        [REJECTED_VALUES_METRIC]: 3,
      });
    });

    it('should count a `metrics` that is not an object as one rejected value', () => {
      expect(samplesOf('BENCHMARK_COMPLETED', { metrics: 'fast' }).rejected).toBe(1);
      expect(samplesOf('BENCHMARK_COMPLETED', { metrics: [1, 2] }).rejected).toBe(1);
    });
  });

  describe('COMPETITIVE_UPDATE', () => {
    it('should add every numeric metric and nothing else', () => {
      expect(valuesOf('COMPETITIVE_UPDATE', { metrics: { competitive_parity: 0.93, market_share: 0 } })).toEqual({
        competitive_parity: 0.93,
        market_share: 0,
      });
    });

    it('should reject a non-numeric metric', () => {
      const result = samplesOf('COMPETITIVE_UPDATE', { metrics: { competitive_parity: '0.93' } });
      expect(result).toEqual({ samples: [{ metric: REJECTED_VALUES_METRIC, value: 1, timestamp }], rejected: 1 });
    });
  });

  describe('PERFORMANCE_METRIC', () => {
    it('should add metric_name → value', () => {
      expect(valuesOf('PERFORMANCE_METRIC', { metric_name: 'api_response_time', value: 231.5 })).toEqual({
        api_response_time: 231.5,
      });
    });

    it('should add a value of 0', () => {
      expect(valuesOf('PERFORMANCE_METRIC', { metric_name: 'error_rate', value: 0 })).toEqual({ error_rate: 0 });
    });

    it.each([
      ['a string value', { metric_name: 'cpu', value: '5' }],
      ['a NaN value', { metric_name: 'cpu', value: Number.NaN }],
      ['no value', { metric_name: 'cpu' }],
      ['an invalid name', { metric_name: 'cpu load', value: 5 }],
      ['no name', { value: 5 }],
      ['no data', null],
    ])('should reject %s', (_, data) => {
      expect(samplesOf('PERFORMANCE_METRIC', data)).toEqual({
        samples: [{ metric: REJECTED_VALUES_METRIC, value: 1, timestamp }],
        rejected: 1,
      });
    });
  });

  it('should add one anomaly per ANOMALY_DETECTED', () => {
    expect(valuesOf('ANOMALY_DETECTED', { severity: 'high' })).toEqual({ anomaly_count: 1 });
  });

  it.each(['INSIGHT_GENERATED', 'ALERT_TRIGGERED'] as const)('should add nothing for %s', (type) => {
    expect(samplesOf(type, { metrics: { x: 1 }, metric_name: 'y', value: 2 })).toEqual({ samples: [], rejected: 0 });
  });
});

describe('isValidMetricName', () => {
  it.each(['a', '_private', 'api.response_time:p99-eu', `m${'x'.repeat(127)}`])('should accept %s', (name) => {
    expect(isValidMetricName(name)).toBe(true);
  });

  it.each(['', '1abc', '-abc', '.abc', 'a b', 'naïve', 'a/b', `m${'x'.repeat(128)}`])('should reject "%s"', (name) => {
    expect(isValidMetricName(name)).toBe(false);
  });
});
