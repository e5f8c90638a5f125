import { describe, expect, it } from 'vitest';
import { addValue, emptyStats, finalize, mergeInto } from '../../src/aggregation/stats.js';
import type { MetricSample, WindowSize } from '../../src/aggregation/types.js';
import { WINDOW_MS } from '../../src/aggregation/types.js';
import { type AlertPreview, type BacktestRule, backtestRule } from '../../src/alerts/backtest.js';
import { evaluateRule, indexAggregates, queriesForRules } from '../../src/alerts/evaluate.js';
import type { AlertCondition, NoDataState } from '../../src/alerts/rules.js';
import { random } from '../helpers/random.js';

const T0 = Date.parse('2026-03-01T00:00:00Z');

/**
 * The backtest's meaning written out the slow way: at every bucket boundary of the rule's finest window, each window's aggregate from scratch (the
 * 60 buckets of W/60 ending at that second, each holding the samples at or before it, merged in bucket order as the
 * stores do), the conditions, and a state machine of its own.
 */
function bruteForce(rule: BacktestRule, samples: MetricSample[], since: number, until: number): AlertPreview[] {
  const sorted = [...samples].sort((a, b) => a.timestamp - b.timestamp);
  const previews: AlertPreview[] = [];
  let pendingSince: number | null = null;
  let firing = false;
  let clearSince: number | null = null;
  let open: AlertPreview | null = null;
  const step = Math.min(...rule.conditions.map((c) => WINDOW_MS[c.window] / 60));
  for (let t = Math.ceil(since / step) * step; t <= until; t += step) {
    const aggregates = queriesForRules([rule]).map(({ metric, window }) => {
      const g = WINDOW_MS[window] / 60;
      const last = Math.floor(t / g);
      const first = last - 59;
      const merged = emptyStats();
      for (let index = first; index <= last; index++) {
        const bucket = emptyStats();
        for (const s of sorted)
          if (s.metric === metric && s.timestamp <= t && Math.floor(s.timestamp / g) === index)
            addValue(bucket, s.value);
        mergeInto(merged, bucket);
      }
      return finalize(metric, window, first * g, t, merged);
    });
    const { holds, values } = evaluateRule(rule, indexAggregates(aggregates));
    if (holds === null) continue; // KEEP over no data: nothing changes, timers included
    if (holds) {
      clearSince = null;
      if (firing) continue;
      pendingSince ??= t;
      if (t - pendingSince >= rule.forSeconds * 1_000) {
        firing = true;
        pendingSince = null;
        open = { firedAt: new Date(t), resolvedAt: null, values };
        previews.push(open);
      }
    } else {
      pendingSince = null;
      if (!firing) continue;
      clearSince ??= t;
      if (t - clearSince >= rule.keepFiringForSeconds * 1_000) {
        firing = false;
        clearSince = null;
        if (open) open.resolvedAt = new Date(t);
        open = null;
      }
    }
  }
  return previews;
}

function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)] as T;
}

/** Bursts of samples of two metrics with gaps between them, so windows fill, empty and hover near thresholds. */
function randomHistory(next: () => number, from: number, to: number): MetricSample[] {
  const samples: MetricSample[] = [];
  for (let burst = 0; burst < 2 + Math.floor(next() * 8); burst++) {
    const start = from + Math.floor(next() * (to - from));
    const length = Math.floor(next() * 120_000);
    const level = next() * 100;
    for (let i = 0; i < 5 + Math.floor(next() * 60); i++) {
      samples.push({
        metric: pick(next, ['a', 'b']),
        value: Math.round((level + (next() - 0.5) * 40) * 10) / 10,
        timestamp: start + Math.floor(next() * length),
      });
    }
  }
  return samples;
}

const AGGREGATIONS = ['COUNT', 'SUM', 'AVG', 'MIN', 'MAX', 'P50', 'P95', 'P99', 'STDDEV'] as const;

function randomRule(
  next: () => number,
  aggregations: readonly AlertCondition['aggregation'][] = AGGREGATIONS,
): BacktestRule {
  const conditions: AlertCondition[] = Array.from({ length: 1 + Math.floor(next() * 2) }, () => {
    const aggregation = pick(next, aggregations);
    return {
      metric: pick(next, ['a', 'b']),
      window: pick(next, ['M1', 'M5', 'M15'] as WindowSize[]),
      aggregation,
      // EQ holds rarely on random values: drawn less often, so that most rules fire now and then.
      operator: pick(next, ['GT', 'GT', 'GTE', 'LT', 'LT', 'LTE', 'EQ'] as const),
      threshold: aggregation === 'COUNT' ? Math.floor(next() * 10) : Math.round(20 + next() * 60),
    };
  });
  return {
    conditions,
    forSeconds: pick(next, [0, 0, 3, 30, 90]),
    keepFiringForSeconds: pick(next, [0, 0, 5, 45]),
    noDataState: pick(next, ['OK', 'KEEP', 'ALERTING'] as NoDataState[]),
  };
}

describe('backtestRule', () => {
  it('should equal evaluating at every step from scratch, over random histories and rules', () => {
    let fired = 0;
    let resolved = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const next = random(seed);
      const since = T0 + Math.floor(next() * 5_000);
      const until = since + 300_000 + Math.floor(next() * 300_000);
      const samples = randomHistory(next, since - 15 * 60_000, until);
      const rule = randomRule(next);
      const expected = bruteForce(rule, samples, since, until);
      expect({ seed, previews: backtestRule(rule, samples, since, until) }).toEqual({ seed, previews: expected });
      fired += expected.length;
      resolved += expected.filter((p) => p.resolvedAt).length;
    }
    // The histories must exercise firing and resolving, or the comparison above proves little.
    expect(fired).toBeGreaterThan(30);
    expect(resolved).toBeGreaterThan(15);
  });

  it('should equal evaluating at every step from scratch for percentiles, whose sketch bins slide and are lent', () => {
    let fired = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const next = random(1_000 + seed);
      const since = T0 + Math.floor(next() * 5_000);
      const until = since + 300_000 + Math.floor(next() * 300_000);
      const samples = randomHistory(next, since - 15 * 60_000, until);
      const rule = randomRule(next, ['P50', 'P95', 'P99']);
      const expected = bruteForce(rule, samples, since, until);
      expect({ seed, previews: backtestRule(rule, samples, since, until) }).toEqual({ seed, previews: expected });
      fired += expected.length;
    }
    expect(fired).toBeGreaterThan(20);
  });

  it('should fire after forSeconds and resolve after keepFiringForSeconds, with the values when it fired', () => {
    const rule: BacktestRule = {
      conditions: [{ metric: 'latency', window: 'M1', aggregation: 'MAX', operator: 'GT', threshold: 500 }],
      forSeconds: 10,
      keepFiringForSeconds: 20,
      noDataState: 'OK',
    };
    // One slow call at T0 + 0.5 s stays in the M1 window until its bucket leaves it, 60 s later.
    const samples = [{ metric: 'latency', value: 900, timestamp: T0 + 500 }];
    expect(backtestRule(rule, samples, T0, T0 + 300_000)).toEqual([
      {
        firedAt: new Date(T0 + 11_000), // visible at T0 + 1 s, pending for 10 s
        resolvedAt: new Date(T0 + 80_000), // gone at T0 + 60 s, kept firing 20 s
        values: { 'max(latency)[M1]': 900 },
      },
    ]);
  });

  it('should leave an alert still firing at the end without a resolution, and ignore samples after it', () => {
    const rule: BacktestRule = {
      conditions: [{ metric: 'latency', window: 'M5', aggregation: 'COUNT', operator: 'GTE', threshold: 1 }],
      forSeconds: 0,
      keepFiringForSeconds: 0,
      noDataState: 'OK',
    };
    const samples = [
      { metric: 'latency', value: 1, timestamp: T0 + 2_000 },
      { metric: 'latency', value: 1, timestamp: T0 + 90_000 },
    ];
    expect(backtestRule(rule, samples, T0, T0 + 60_000)).toEqual([
      // M5 is stepped through every 5 s, its bucket width: the sample at T0 + 2 s counts from T0 + 5 s.
      { firedAt: new Date(T0 + 5_000), resolvedAt: null, values: { 'count(latency)[M5]': 1 } },
    ]);
  });

  it('should fire over no data under ALERTING, and never under OK', () => {
    const rule = (noDataState: NoDataState): BacktestRule => ({
      conditions: [{ metric: 'latency', window: 'M1', aggregation: 'AVG', operator: 'GT', threshold: 500 }],
      forSeconds: 0,
      keepFiringForSeconds: 0,
      noDataState,
    });
    expect(backtestRule(rule('OK'), [], T0, T0 + 60_000)).toEqual([]);
    expect(backtestRule(rule('ALERTING'), [], T0, T0 + 60_000)).toEqual([
      { firedAt: new Date(T0), resolvedAt: null, values: { 'avg(latency)[M1]': null } },
    ]);
  });
});
