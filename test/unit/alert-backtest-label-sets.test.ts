import { describe, expect, it } from 'vitest';
import type { MetricSample, WindowSize } from '../../src/aggregation/types.js';
import { type AlertPreview, backtestRule } from '../../src/alerts/backtest.js';
import { backtestLabelSets, type LabelledBacktestRule } from '../../src/alerts/backtest-label-sets.js';
import type { AlertCondition } from '../../src/alerts/rules.js';
import { DomainError } from '../../src/errors.js';
import { random } from '../helpers/random.js';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const COMPETITORS = ['acme', 'globex', 'initech'];
const REGIONS = ['eu', 'us'];

function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)] as T;
}

/** Samples as the processor makes them from labelled events: the metric's total and its labelled series. */
function labelledSample(metric: string, labels: Record<string, string>, value: number, timestamp: number) {
  const part = Object.keys(labels)
    .sort()
    .map((name) => `${name}=${labels[name]}`)
    .join(',');
  return [
    { metric, value, timestamp },
    { metric: `${metric}{${part}}`, value, timestamp },
  ];
}

function randomHistory(next: () => number, from: number, to: number): MetricSample[] {
  const samples: MetricSample[] = [];
  for (let burst = 0; burst < 3 + Math.floor(next() * 8); burst++) {
    const start = from + Math.floor(next() * (to - from));
    const length = Math.floor(next() * 120_000);
    const level = next() * 100;
    const labels: Record<string, string> =
      next() < 0.15
        ? { region: pick(next, REGIONS) }
        : { competitor: pick(next, COMPETITORS), region: pick(next, REGIONS) };
    for (let i = 0; i < 5 + Math.floor(next() * 40); i++) {
      const value = Math.round((level + (next() - 0.5) * 40) * 10) / 10;
      samples.push(...labelledSample(pick(next, ['a', 'b']), labels, value, start + Math.floor(next() * length)));
    }
  }
  return samples;
}

function randomRule(next: () => number): LabelledBacktestRule {
  const conditions: AlertCondition[] = Array.from({ length: 1 + Math.floor(next() * 2) }, () => ({
    metric: pick(next, ['a', 'b']),
    window: pick(next, ['M1', 'M5'] as WindowSize[]),
    aggregation: pick(next, ['COUNT', 'AVG', 'MAX', 'P95'] as const),
    operator: pick(next, ['GT', 'LT'] as const),
    threshold: Math.round(20 + next() * 60),
    labels: next() < 0.5 ? [{ name: 'region', value: pick(next, REGIONS) }] : [],
  }));
  return {
    conditions,
    forSeconds: pick(next, [0, 30]),
    keepFiringForSeconds: 0,
    noDataState: 'OK',
    groupBy: ['competitor'],
  };
}

/**
 * The meaning written out another way: the competitors any condition sees (in series holding its matchers), and per
 * competitor the plain rule over the samples of the series holding its matchers and that competitor, read from the
 * series names by a pattern of its own.
 */
function expected(rule: LabelledBacktestRule, samples: MetricSample[], since: number, until: number) {
  const series = samples
    .map((sample) => ({ sample, match: /^(\w+)\{(.*)\}$/.exec(sample.metric) }))
    .filter(({ match }) => match !== null)
    .map(({ sample, match }) => ({
      sample,
      metric: match?.[1] ?? '',
      labels: new Map((match?.[2] ?? '').split(',').map((pair) => pair.split('=') as [string, string])),
    }));
  const holds = (labels: Map<string, string>, condition: AlertCondition, competitor: string | null) =>
    (condition.labels ?? []).every(({ name, value }) => labels.get(name) === value) &&
    (competitor === null ? labels.has('competitor') : labels.get('competitor') === competitor);
  const competitors = new Set<string>();
  for (const { metric, labels } of series) {
    for (const condition of rule.conditions)
      if (condition.metric === metric && holds(labels, condition, null))
        competitors.add(labels.get('competitor') ?? '');
  }
  const previews: AlertPreview[] = [];
  for (const competitor of [...competitors].sort()) {
    const plain = rule.conditions.map((condition, i) => ({ ...condition, metric: `c${i}`, labels: [] }));
    const own = rule.conditions.flatMap((condition, i) =>
      series
        .filter(({ metric, labels }) => metric === condition.metric && holds(labels, condition, competitor))
        .map(({ sample }) => ({ ...sample, metric: `c${i}` })),
    );
    for (const preview of backtestRule({ ...rule, conditions: plain }, own, since, until)) {
      const values = Object.values(preview.values);
      previews.push({
        ...preview,
        values: Object.fromEntries(rule.conditions.map((c, i) => [key(c), values[i] ?? null])),
        labels: [{ name: 'competitor', value: competitor }],
      });
    }
  }
  return previews.sort(
    (x, y) =>
      x.firedAt.getTime() - y.firedAt.getTime() ||
      ((x.labels?.[0]?.value ?? '') < (y.labels?.[0]?.value ?? '') ? -1 : 1),
  );
}

const key = (c: AlertCondition) =>
  `${c.aggregation.toLowerCase()}(${c.metric}${c.labels?.length ? `{${c.labels.map((l) => `${l.name}=${l.value}`).join(',')}}` : ''})[${c.window}]`;

describe('backtestLabelSets', () => {
  it('should backtest each competitor on its own series, over random labelled histories and rules', () => {
    let fired = 0;
    const competitorsFired = new Set<string>();
    for (let seed = 1; seed <= 40; seed++) {
      const next = random(seed);
      const since = T0 + Math.floor(next() * 5_000);
      const until = since + 300_000 + Math.floor(next() * 300_000);
      const samples = randomHistory(next, since - 5 * 60_000, until);
      const rule = randomRule(next);
      // Distinct conditions give distinct keys in `expected`'s reading of the values.
      if (new Set(rule.conditions.map(key)).size < rule.conditions.length) continue;
      const want = expected(rule, samples, since, until);
      expect({ seed, previews: backtestLabelSets(rule, samples, since, until, 10) }).toEqual({ seed, previews: want });
      fired += want.length;
      for (const preview of want) competitorsFired.add(preview.labels?.[0]?.value ?? '');
    }
    expect(fired).toBeGreaterThan(20);
    expect(competitorsFired).toEqual(new Set(COMPETITORS));
  });

  it('should fire one competitor and not the other, with the values keyed as the conditions are written', () => {
    const samples = [
      ...labelledSample('parity', { competitor: 'acme', region: 'eu' }, 10, T0 + 1_000),
      ...labelledSample('parity', { competitor: 'acme', region: 'us' }, -100, T0 + 1_000),
      ...labelledSample('parity', { competitor: 'globex', region: 'eu' }, 0, T0 + 1_000),
    ];
    const rule: LabelledBacktestRule = {
      conditions: [
        {
          metric: 'parity',
          window: 'M1',
          aggregation: 'AVG',
          operator: 'GT',
          threshold: 1,
          labels: [{ name: 'region', value: 'eu' }],
        },
      ],
      forSeconds: 0,
      keepFiringForSeconds: 0,
      noDataState: 'OK',
      groupBy: ['competitor'],
    };
    expect(backtestLabelSets(rule, samples, T0, T0 + 120_000, 10)).toEqual([
      {
        firedAt: new Date(T0 + 1_000),
        resolvedAt: new Date(T0 + 61_000),
        values: { 'avg(parity{region=eu})[M1]': 10 },
        labels: [{ name: 'competitor', value: 'acme' }],
      },
    ]);
    // Without groupBy, one alert over every eu series merged (acme's 10 and globex's 0 average 5).
    expect(backtestLabelSets({ ...rule, groupBy: [] }, samples, T0, T0 + 120_000, 10)).toMatchObject([
      { firedAt: new Date(T0 + 1_000), values: { 'avg(parity{region=eu})[M1]': 5 }, labels: [] },
    ]);
  });

  it('should refuse a history with more label sets than a rule may track', () => {
    const samples = COMPETITORS.flatMap((competitor) => labelledSample('parity', { competitor }, 10, T0 + 1_000));
    const rule: LabelledBacktestRule = {
      conditions: [{ metric: 'parity', window: 'M1', aggregation: 'AVG', operator: 'GT', threshold: 1 }],
      forSeconds: 0,
      keepFiringForSeconds: 0,
      noDataState: 'OK',
      groupBy: ['competitor'],
    };
    expect(() => backtestLabelSets(rule, samples, T0, T0 + 60_000, 2)).toThrow(DomainError);
    expect(() => backtestLabelSets(rule, samples, T0, T0 + 60_000, 2)).toThrow(/finds 3 label sets in the history/);
    expect(backtestLabelSets(rule, samples, T0, T0 + 60_000, 3)).toHaveLength(3);
  });
});
