import { describe, expect, it } from 'vitest';
import type { MetricAggregate, WindowSize } from '../../src/aggregation/types.js';
import {
  alertMessage,
  compare,
  conditionKey,
  conditionValue,
  evaluateRule,
  firesAt,
  INACTIVE,
  indexAggregates,
  nextRuleState,
  queriesForRules,
  type RuleState,
} from '../../src/alerts/evaluate.js';
import type { AlertCondition } from '../../src/alerts/rules.js';
import { NO_SAMPLES } from '../helpers/aggregates.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

function aggregate(metric: string, window: WindowSize, stats: Partial<MetricAggregate> = {}): MetricAggregate {
  return {
    metric,
    window,
    labels: [],
    from: new Date(T0 - 60_000),
    to: new Date(T0),
    count: 4,
    sum: 40,
    avg: 10,
    min: 1,
    max: 20,
    stddev: 5,
    p50: 9,
    p95: 19,
    p99: 19.8,
    ...stats,
  };
}

function emptyAggregate(metric: string, window: WindowSize): MetricAggregate {
  return aggregate(metric, window, NO_SAMPLES);
}

function cond(overrides: Partial<AlertCondition> = {}): AlertCondition {
  return { metric: 'api_response_time', window: 'M5', aggregation: 'AVG', operator: 'GT', threshold: 5, ...overrides };
}

describe('conditionValue', () => {
  it.each([
    ['COUNT', 4],
    ['SUM', 40],
    ['AVG', 10],
    ['MIN', 1],
    ['MAX', 20],
    ['P50', 9],
    ['P95', 19],
    ['P99', 19.8],
    ['STDDEV', 5],
  ] as const)('should read %s from the aggregate', (aggregation, expected) => {
    expect(conditionValue(cond({ aggregation }), aggregate('api_response_time', 'M5'))).toBe(expected);
  });

  it.each(['SUM', 'AVG', 'MIN', 'MAX', 'P50', 'P95', 'P99', 'STDDEV'] as const)(
    'should give no %s over an empty window',
    (aggregation) => {
      expect(conditionValue(cond({ aggregation }), emptyAggregate('api_response_time', 'M5'))).toBeNull();
    },
  );

  it('should count 0 over an empty window', () => {
    expect(conditionValue(cond({ aggregation: 'COUNT' }), emptyAggregate('api_response_time', 'M5'))).toBe(0);
  });
});

describe('compare', () => {
  it.each([
    ['GT', 5.1, 5, true],
    ['GT', 5, 5, false],
    ['GTE', 5, 5, true],
    ['GTE', 4.9, 5, false],
    ['LT', 4.9, 5, true],
    ['LT', 5, 5, false],
    ['LTE', 5, 5, true],
    ['LTE', 5.1, 5, false],
    ['EQ', 5, 5, true],
    ['EQ', 100.0009, 100, true],
    ['EQ', 99.9991, 100, true],
    ['EQ', 100.002, 100, false],
    ['EQ', 0.001, 0, false],
    ['EQ', -0.0005, 0, true],
    ['EQ', 0.1 + 0.2, 0.3, true],
  ] as const)('%s: %s against %s should be %s', (operator, value, threshold, expected) => {
    expect(compare(operator, value, threshold)).toBe(expected);
  });
});

describe('evaluateRule', () => {
  const latency = cond({ metric: 'api_response_time', aggregation: 'AVG', operator: 'GT', threshold: 500 });
  const errors = cond({ metric: 'error_count', window: 'M1', aggregation: 'SUM', operator: 'GTE', threshold: 3 });

  it('should hold when all conditions hold, and report each value by its key', () => {
    const aggregates = indexAggregates([
      aggregate('api_response_time', 'M5', { avg: 812.5 }),
      aggregate('error_count', 'M1', { sum: 3 }),
    ]);
    expect(evaluateRule({ conditions: [latency, errors] }, aggregates)).toEqual({
      holds: true,
      values: { 'avg(api_response_time)[M5]': 812.5, 'sum(error_count)[M1]': 3 },
    });
  });

  it('should not hold when any condition fails (AND), and still report every value', () => {
    const aggregates = indexAggregates([
      aggregate('api_response_time', 'M5', { avg: 812.5 }),
      aggregate('error_count', 'M1', { sum: 2 }),
    ]);
    expect(evaluateRule({ conditions: [latency, errors] }, aggregates)).toEqual({
      holds: false,
      values: { 'avg(api_response_time)[M5]': 812.5, 'sum(error_count)[M1]': 2 },
    });
  });

  it('should be false over an empty window, whatever the operator', () => {
    const aggregates = indexAggregates([emptyAggregate('api_response_time', 'M5')]);
    for (const operator of ['GT', 'GTE', 'LT', 'LTE', 'EQ'] as const) {
      const rule = { conditions: [cond({ operator, threshold: 0 })] };
      expect(evaluateRule(rule, aggregates)).toEqual({ holds: false, values: { 'avg(api_response_time)[M5]': null } });
    }
  });

  it('should let COUNT = 0 hold over an empty window', () => {
    const aggregates = indexAggregates([emptyAggregate('heartbeat', 'M1')]);
    const rule = {
      conditions: [cond({ metric: 'heartbeat', window: 'M1', aggregation: 'COUNT', operator: 'EQ', threshold: 0 })],
    };
    expect(evaluateRule(rule, aggregates)).toEqual({ holds: true, values: { 'count(heartbeat)[M1]': 0 } });
  });

  it('should tell apart the same metric over different windows', () => {
    const aggregates = indexAggregates([
      aggregate('api_response_time', 'M1', { avg: 900 }),
      aggregate('api_response_time', 'H1', { avg: 100 }),
    ]);
    const rule = {
      conditions: [cond({ window: 'M1', threshold: 500 }), cond({ window: 'H1', operator: 'LT', threshold: 200 })],
    };
    expect(evaluateRule(rule, aggregates)).toEqual({
      holds: true,
      values: { 'avg(api_response_time)[M1]': 900, 'avg(api_response_time)[H1]': 100 },
    });
  });

  it('should refuse to evaluate without an aggregate it needs', () => {
    expect(() => evaluateRule({ conditions: [latency] }, indexAggregates([]))).toThrow(/M5 api_response_time/);
  });
});

describe('queriesForRules', () => {
  it('should ask for each metric and window once, whatever the aggregations and rules', () => {
    const rules = [
      { conditions: [cond({ aggregation: 'AVG' }), cond({ aggregation: 'P99' }), cond({ window: 'M1' })] },
      { conditions: [cond({ aggregation: 'COUNT' }), cond({ metric: 'anomaly_count', aggregation: 'SUM' })] },
    ];
    expect(queriesForRules(rules)).toEqual([
      { metric: 'api_response_time', window: 'M5' },
      { metric: 'api_response_time', window: 'M1' },
      { metric: 'anomaly_count', window: 'M5' },
    ]);
  });

  it('should ask for nothing when there are no rules', () => {
    expect(queriesForRules([])).toEqual([]);
  });
});

describe('conditionKey and alertMessage', () => {
  it('should key a value as aggregation(metric)[window]', () => {
    expect(conditionKey(cond({ aggregation: 'P95', metric: 'latency.ms', window: 'H6' }))).toBe('p95(latency.ms)[H6]');
  });

  it('should explain every condition in one line', () => {
    const rule = {
      conditions: [
        cond({ threshold: 500 }),
        cond({ metric: 'errors', aggregation: 'COUNT', operator: 'GTE', threshold: 3 }),
      ],
    };
    const values = { 'avg(api_response_time)[M5]': 812.5, 'count(errors)[M5]': 4 };
    expect(alertMessage(rule, values)).toBe(
      'avg(api_response_time)[M5] = 812.5 (> 500) and count(errors)[M5] = 4 (>= 3)',
    );
  });
});

describe('nextRuleState', () => {
  it('should fire at once when forSeconds is 0', () => {
    expect(nextRuleState(INACTIVE, true, T0, { forSeconds: 0 })).toEqual({
      state: { kind: 'firing' },
      transition: 'fire',
    });
  });

  it('should stay inactive while the conditions do not hold', () => {
    expect(nextRuleState(INACTIVE, false, T0, { forSeconds: 0 })).toEqual({ state: INACTIVE, transition: null });
  });

  it('should wait out forSeconds in pending before firing', () => {
    const pending = nextRuleState(INACTIVE, true, T0, { forSeconds: 30 });
    expect(pending).toEqual({ state: { kind: 'pending', since: T0 }, transition: null });
    expect(nextRuleState(pending.state, true, T0 + 29_999, { forSeconds: 30 })).toEqual({
      state: { kind: 'pending', since: T0 },
      transition: null,
    });
    expect(nextRuleState(pending.state, true, T0 + 30_000, { forSeconds: 30 })).toEqual({
      state: { kind: 'firing' },
      transition: 'fire',
    });
  });

  it('should start the wait again when the conditions stop holding while pending', () => {
    const pending: RuleState = { kind: 'pending', since: T0 };
    const broken = nextRuleState(pending, false, T0 + 20_000, { forSeconds: 30 });
    expect(broken).toEqual({ state: INACTIVE, transition: null });
    const again = nextRuleState(broken.state, true, T0 + 25_000, { forSeconds: 30 });
    expect(again.state).toEqual({ kind: 'pending', since: T0 + 25_000 });
    expect(nextRuleState(again.state, true, T0 + 40_000, { forSeconds: 30 }).transition).toBeNull();
    expect(nextRuleState(again.state, true, T0 + 55_000, { forSeconds: 30 }).transition).toBe('fire');
  });

  it('should not fire again while firing', () => {
    const firing: RuleState = { kind: 'firing' };
    expect(nextRuleState(firing, true, T0, { forSeconds: 0 })).toEqual({ state: firing, transition: null });
    expect(nextRuleState(firing, true, T0 + 3_600_000, { forSeconds: 30 })).toEqual({
      state: firing,
      transition: null,
    });
  });

  it('should resolve when the conditions stop holding, and may fire again after', () => {
    const resolved = nextRuleState({ kind: 'firing' }, false, T0, { forSeconds: 0 });
    expect(resolved).toEqual({ state: INACTIVE, transition: 'resolve' });
    expect(nextRuleState(resolved.state, true, T0 + 1_000, { forSeconds: 0 }).transition).toBe('fire');
  });

  it('should go through a whole life one evaluation a second', () => {
    const forSeconds = 2;
    const holdsAt = [false, true, true, true, true, false, false, true, true, true];
    let state: RuleState = INACTIVE;
    const transitions: (string | null)[] = [];
    holdsAt.forEach((holds, second) => {
      const step = nextRuleState(state, holds, T0 + second * 1_000, { forSeconds });
      state = step.state;
      transitions.push(step.transition);
    });
    expect(transitions).toEqual([null, null, null, 'fire', null, 'resolve', null, null, null, 'fire']);
  });
});

describe('noDataState', () => {
  const latency = cond({ metric: 'api_response_time', aggregation: 'AVG', operator: 'GT', threshold: 500 });
  const calls = cond({ metric: 'calls', window: 'M1', aggregation: 'COUNT', operator: 'LT', threshold: 1 });
  const errors = cond({ metric: 'error_count', window: 'M1', aggregation: 'SUM', operator: 'GTE', threshold: 3 });
  const empty = indexAggregates([
    emptyAggregate('api_response_time', 'M5'),
    emptyAggregate('calls', 'M1'),
    aggregate('error_count', 'M1', { sum: 2 }),
  ]);

  it('OK should keep the behaviour of a rule without it: false over an empty window, except COUNT, which is 0', () => {
    expect(evaluateRule({ conditions: [latency], noDataState: 'OK' }, empty).holds).toBe(false);
    expect(evaluateRule({ conditions: [calls], noDataState: 'OK' }, empty)).toEqual({
      holds: true,
      values: { 'count(calls)[M1]': 0 },
    });
  });

  it('ALERTING should count a condition over an empty window as holding, COUNT included', () => {
    expect(evaluateRule({ conditions: [latency], noDataState: 'ALERTING' }, empty)).toEqual({
      holds: true,
      values: { 'avg(api_response_time)[M5]': null },
    });
    const countAbove = cond({ metric: 'calls', window: 'M1', aggregation: 'COUNT', operator: 'GT', threshold: 5 });
    expect(evaluateRule({ conditions: [countAbove], noDataState: 'ALERTING' }, empty).holds).toBe(true);
    // Another condition with data that fails still decides.
    expect(evaluateRule({ conditions: [latency, errors], noDataState: 'ALERTING' }, empty).holds).toBe(false);
  });

  it('KEEP should give no verdict over an empty window, unless a condition with data fails', () => {
    expect(evaluateRule({ conditions: [latency], noDataState: 'KEEP' }, empty).holds).toBeNull();
    expect(evaluateRule({ conditions: [calls], noDataState: 'KEEP' }, empty).holds).toBeNull();
    expect(evaluateRule({ conditions: [latency, errors], noDataState: 'KEEP' }, empty).holds).toBe(false);
    const data = indexAggregates([aggregate('api_response_time', 'M5', { avg: 600 })]);
    expect(evaluateRule({ conditions: [latency], noDataState: 'KEEP' }, data).holds).toBe(true);
  });

  it('a null verdict should leave every state as it is, timers included', () => {
    const states: RuleState[] = [INACTIVE, { kind: 'pending', since: T0 }, { kind: 'firing', clearSince: T0 }];
    for (const state of states) {
      expect(nextRuleState(state, null, T0 + 3_600_000, { forSeconds: 1, keepFiringForSeconds: 1 })).toEqual({
        state,
        transition: null,
      });
    }
  });
});

describe('keepFiringForSeconds', () => {
  const timing = { forSeconds: 0, keepFiringForSeconds: 10 };

  it('should resolve only once the conditions have stopped holding for that long', () => {
    const cleared = nextRuleState({ kind: 'firing' }, false, T0, timing);
    expect(cleared).toEqual({ state: { kind: 'firing', clearSince: T0 }, transition: null });
    expect(nextRuleState(cleared.state, false, T0 + 9_999, timing)).toEqual({
      state: { kind: 'firing', clearSince: T0 },
      transition: null,
    });
    expect(nextRuleState(cleared.state, false, T0 + 10_000, timing)).toEqual({
      state: INACTIVE,
      transition: 'resolve',
    });
  });

  it('should start the wait afresh when the conditions hold again in between (flapping)', () => {
    const cleared = nextRuleState({ kind: 'firing' }, false, T0, timing);
    const back = nextRuleState(cleared.state, true, T0 + 5_000, timing);
    expect(back).toEqual({ state: { kind: 'firing' }, transition: null });
    const clearedAgain = nextRuleState(back.state, false, T0 + 6_000, timing);
    expect(nextRuleState(clearedAgain.state, false, T0 + 15_000, timing).transition).toBeNull();
    expect(nextRuleState(clearedAgain.state, false, T0 + 16_000, timing).transition).toBe('resolve');
  });

  it('should not hold back a pending rule: it returns to inactive at once', () => {
    expect(nextRuleState({ kind: 'pending', since: T0 }, false, T0 + 1_000, { ...timing, forSeconds: 30 })).toEqual({
      state: INACTIVE,
      transition: null,
    });
  });

  it('firesAt should be when a pending rule fires, and null otherwise', () => {
    expect(firesAt({ kind: 'pending', since: T0 }, { forSeconds: 30 })).toBe(T0 + 30_000);
    expect(firesAt(INACTIVE, { forSeconds: 30 })).toBeNull();
    expect(firesAt({ kind: 'firing' }, { forSeconds: 30 })).toBeNull();
  });
});
