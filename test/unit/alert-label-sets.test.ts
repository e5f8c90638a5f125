import { describe, expect, it } from 'vitest';
import type { Label } from '../../src/aggregation/labels.js';
import type { MetricAggregate } from '../../src/aggregation/types.js';
import { aggregateKey, conditionKey, indexAggregates, nextRuleState } from '../../src/alerts/evaluate.js';
import {
  chooseLabelSets,
  evaluateLabelSet,
  labelItems,
  labelSetKey,
  labelSetQueries,
  labelSetsOfRule,
  labelsOfItems,
  readsLabels,
} from '../../src/alerts/label-sets.js';
import type { AlertCondition, AlertRuleDefinition } from '../../src/alerts/rules.js';
import { validateRuleInput } from '../../src/alerts/rules.js';
import { alertText, renderSummary, templateProblems } from '../../src/alerts/template.js';
import { NO_SAMPLES } from '../helpers/aggregates.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const policy = { secretSet: true, allowPrivateTargets: true };

const labels = (text: string): Label[] =>
  text === ''
    ? []
    : text.split(',').map((pair) => {
        const [name = '', value = ''] = pair.split('=');
        return { name, value };
      });

function cond(overrides: Partial<AlertCondition> = {}): AlertCondition {
  return {
    metric: 'parity',
    window: 'M5',
    aggregation: 'AVG',
    operator: 'LT',
    threshold: 0.5,
    labels: [],
    ...overrides,
  };
}

type Rule = Pick<AlertRuleDefinition, 'conditions' | 'groupBy'>;

function rule(overrides: Partial<Rule> = {}): Rule {
  return { conditions: [cond()], groupBy: ['competitor'], ...overrides };
}

/** What a store answers for a read of `metric` over the label sets `of`: avg is given, or the window is empty. */
function aggregate(metric: string, of: Label[], avg: number | null): MetricAggregate {
  const stats =
    avg === null
      ? NO_SAMPLES
      : { count: 1, sum: avg, avg, min: avg, max: avg, stddev: 0, p50: avg, p95: avg, p99: avg };
  return { metric, window: 'M5', labels: of, from: new Date(T0 - 300_000), to: new Date(T0), ...stats };
}

describe('readsLabels', () => {
  it('should tell rules over label sets from rules over totals', () => {
    expect(readsLabels(rule())).toBe(true);
    expect(readsLabels(rule({ groupBy: [] }))).toBe(false);
    expect(readsLabels(rule({ groupBy: [], conditions: [cond({ labels: labels('region=eu') })] }))).toBe(true);
    // Rules stored before matchers existed have none.
    expect(readsLabels({ groupBy: [], conditions: [{ ...cond(), labels: undefined }] })).toBe(false);
  });
});

describe('labelSetsOfRule', () => {
  const sets = new Map<string, Label[][]>([
    [
      'parity',
      [
        labels('competitor=acme,region=eu'),
        labels('competitor=acme,region=us'),
        labels('competitor=globex,region=eu'),
        labels('region=eu'), // no competitor: in no group
      ],
    ],
    ['latency', [labels('competitor=initech'), labels('competitor=acme')]],
  ]);

  it('should find one label set per value of the groupBy labels, sorted', () => {
    expect(labelSetsOfRule(rule(), sets)).toEqual([labels('competitor=acme'), labels('competitor=globex')]);
    expect(labelSetsOfRule(rule({ groupBy: ['region', 'competitor'] }), sets)).toEqual([
      labels('competitor=acme,region=eu'),
      labels('competitor=acme,region=us'),
      labels('competitor=globex,region=eu'),
    ]);
  });

  it("should keep to the sets a condition's matchers select, and join the conditions' sets", () => {
    const us = rule({ conditions: [cond({ labels: labels('region=us') })] });
    expect(labelSetsOfRule(us, sets)).toEqual([labels('competitor=acme')]);
    const two = rule({ conditions: [cond({ labels: labels('region=us') }), cond({ metric: 'latency' })] });
    expect(labelSetsOfRule(two, sets)).toEqual([labels('competitor=acme'), labels('competitor=initech')]);
  });

  it('should give a rule without groupBy its one empty set, and a metric without label sets none', () => {
    expect(labelSetsOfRule(rule({ groupBy: [] }), new Map())).toEqual([[]]);
    expect(labelSetsOfRule(rule(), new Map())).toEqual([]);
  });
});

describe('chooseLabelSets', () => {
  const found = ['a', 'b', 'c', 'd'].map((value) => [{ name: 'competitor', value }]);
  const tracked = (entries: [string, boolean][]) =>
    new Map(
      entries.map(([value, active]) => [
        `competitor=${value}`,
        { key: `competitor=${value}`, active, labels: labels(`competitor=${value}`) },
      ]),
    );

  it('should take every found set under the bound', () => {
    expect(chooseLabelSets(found, new Map(), 10)).toEqual({ sets: found, dropped: 0 });
  });

  it('should keep active sets first, even when no longer found, then tracked ones, then new ones in order', () => {
    const { sets, dropped } = chooseLabelSets(
      found,
      tracked([
        ['z', true],
        ['c', false],
      ]),
      3,
    );
    expect(sets.map(labelSetKey)).toEqual(['competitor=z', 'competitor=c', 'competitor=a']);
    expect(dropped).toBe(2);
  });

  it('should hold to the bound and count every found set left out, over random histories', () => {
    for (let run = 0; run < 200; run++) {
      const max = 1 + Math.floor(Math.random() * 5);
      const some = found.filter(() => Math.random() < 0.7);
      const before = tracked(
        found
          .filter(() => Math.random() < 0.5)
          .slice(0, max)
          .map(([l]) => [l?.value ?? '', Math.random() < 0.5]),
      );
      const { sets, dropped } = chooseLabelSets(some, before, max);
      const keys = sets.map(labelSetKey);
      expect(new Set(keys).size).toBe(keys.length);
      expect(keys.length).toBeLessThanOrEqual(max);
      for (const { key, active } of before.values()) if (active) expect(keys).toContain(key);
      const left = some.map(labelSetKey).filter((key) => !keys.includes(key));
      expect(dropped).toBe(left.length);
      if (left.length > 0) expect(keys.length).toBe(max);
    }
  });
});

describe('evaluateLabelSet', () => {
  const twoConditions = rule({
    conditions: [
      cond(),
      cond({ metric: 'latency', aggregation: 'AVG', operator: 'GT', threshold: 100, labels: labels('region=eu') }),
    ],
  });

  it("should read each condition over its matchers and the set's labels", () => {
    expect(labelSetQueries(twoConditions, labels('competitor=acme'))).toEqual([
      { metric: 'parity', window: 'M5', labels: labels('competitor=acme') },
      { metric: 'latency', window: 'M5', labels: labels('competitor=acme,region=eu') },
    ]);
  });

  it('should give each set its own verdict, with values keyed by the conditions as written', () => {
    const reads = indexAggregates([
      aggregate('parity', labels('competitor=acme'), 0.2),
      aggregate('latency', labels('competitor=acme,region=eu'), 300),
      aggregate('parity', labels('competitor=globex'), 0.9),
      aggregate('latency', labels('competitor=globex,region=eu'), 300),
    ]);
    const acme = evaluateLabelSet(twoConditions, labels('competitor=acme'), reads);
    expect(acme).toEqual({ holds: true, values: { 'avg(parity)[M5]': 0.2, 'avg(latency{region=eu})[M5]': 300 } });
    expect(evaluateLabelSet(twoConditions, labels('competitor=globex'), reads).holds).toBe(false);
    expect(() => evaluateLabelSet(twoConditions, labels('competitor=initech'), reads)).toThrow(/no aggregate was read/);
  });

  it('should treat a set whose window emptied as no data, so a firing one resolves under OK and stays under KEEP', () => {
    const reads = indexAggregates([aggregate('parity', labels('competitor=acme'), null)]);
    const set = labels('competitor=acme');
    const ok = evaluateLabelSet(rule(), set, reads);
    expect(ok.holds).toBe(false);
    expect(nextRuleState({ kind: 'firing' }, ok.holds, T0, { forSeconds: 0 }).transition).toBe('resolve');
    expect(evaluateLabelSet({ ...rule(), noDataState: 'KEEP' }, set, reads).holds).toBeNull();
  });
});

describe('labels of alerts', () => {
  it('should store a label set as sorted name=value items and read it back', () => {
    const set = labels('region=eu,competitor=acme');
    expect(labelItems(set)).toEqual(['competitor=acme', 'region=eu']);
    expect(labelsOfItems(labelItems(set))).toEqual(labels('competitor=acme,region=eu'));
    expect(labelsOfItems(['url=a=b'])).toEqual([{ name: 'url', value: 'a=b' }]);
  });

  it('should key matchers into the aggregate and condition keys, and leave keys without them as they were', () => {
    expect(aggregateKey({ metric: 'parity', window: 'M5' })).toBe('M5 parity');
    expect(aggregateKey({ metric: 'parity', window: 'M5', labels: labels('b=2,a=1') })).toBe('M5 parity{a=1,b=2}');
    expect(conditionKey(cond())).toBe('avg(parity)[M5]');
    expect(conditionKey(cond({ labels: labels('region=eu') }))).toBe('avg(parity{region=eu})[M5]');
  });

  it('should fill {{labels}} in summaries, and start a message without a summary with the label set', () => {
    const parts = { name: 'Parity', severity: 'HIGH' as const, conditions: [cond()] };
    expect(templateProblems('{{labels}}: {{value}}', 1)).toEqual([]);
    expect(renderSummary('{{rule}} for {{labels}}', parts, {}, labels('competitor=acme,region=eu'))).toBe(
      'Parity for competitor=acme, region=eu',
    );
    expect(renderSummary('[{{labels}}]', parts, {}, [])).toBe('[]');
    const values = { 'avg(parity)[M5]': 0.2 };
    expect(alertText({ ...parts, summary: null }, values, labels('competitor=acme'))).toBe(
      'competitor=acme: avg(parity)[M5] = 0.2 (< 0.5)',
    );
    expect(alertText({ ...parts, summary: null }, values)).toBe('avg(parity)[M5] = 0.2 (< 0.5)');
  });
});

describe('validation of matchers and groupBy', () => {
  const input = {
    name: 'Parity per competitor',
    severity: 'HIGH',
    conditions: [{ metric: 'parity', operator: 'LT', threshold: 0.5 }],
  };
  const problemsOf = (value: unknown) => {
    const result = validateRuleInput(value, policy);
    return result.ok ? [] : result.problems;
  };

  it('should keep good matchers and groupBy, sorted as given', () => {
    const result = validateRuleInput(
      { ...input, conditions: [{ ...input.conditions[0], labels: labels('region=eu') }], groupBy: ['competitor'] },
      policy,
    );
    expect(result.ok && result.value).toMatchObject({
      conditions: [{ labels: labels('region=eu') }],
      groupBy: ['competitor'],
    });
  });

  it('should name each bad matcher or groupBy name', () => {
    const withLabels = (l: unknown) => ({ ...input, conditions: [{ ...input.conditions[0], labels: l }] });
    expect(problemsOf(withLabels([{ name: '1bad', value: 'x' }]))).toEqual([
      expect.stringMatching(/^conditions\[0\]\.labels are not matchers: labels\[0\]\.name "1bad" is not a label name/),
    ]);
    expect(problemsOf(withLabels([{ name: 'a', value: 'x y' }]))).toEqual([
      expect.stringMatching(/^conditions\[0\]\.labels are not matchers: labels\[0\]\.value may hold only/),
    ]);
    expect(
      problemsOf(
        withLabels([
          { name: 'a', value: 'x' },
          { name: 'a', value: 'y' },
        ]),
      ),
    ).toEqual([expect.stringMatching(/names label "a" a second time/)]);
    expect(problemsOf(withLabels([{ name: 'a', value: 'x', op: 'ne' }]))).toEqual([
      'conditions[0].labels[0] has unknown field(s) op',
    ]);
    expect(problemsOf({ ...input, groupBy: ['competitor', 'competitor', 'no-dash'] })).toEqual([
      'groupBy[1] names label "competitor" a second time',
      'groupBy[2] is not a label name: 1 to 64 characters among letters, digits and "_", starting with a letter or "_"',
    ]);
    expect(problemsOf({ ...withLabels([{ name: 'competitor', value: 'acme' }]), groupBy: ['competitor'] })).toEqual([
      'groupBy names label "competitor", which conditions[0].labels match: group by it or match it, not both',
    ]);
    expect(problemsOf({ ...input, groupBy: Array.from({ length: 33 }, (_, i) => `l${i}`) })).toEqual([
      'groupBy must name at most 32 labels (no label set holds more)',
    ]);
  });
});
