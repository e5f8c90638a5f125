// The demo's story (scripts/demo-data.ts): each alert rule's condition holds over a minute that contains its incident
// and not over a minute of steady traffic, so the rules fire during the run and resolve after it.
import { describe, expect, it } from 'vitest';
import { DEMO_RULES, type DemoEvent, eventsAt, rateAt } from '../../scripts/demo-data.js';
import { random } from '../helpers/random.js';

const RATE = 30;

/** The events of one minute of the run, ending `endSecond` into it. */
function minuteEndingAt(endSecond: number, seed: number): DemoEvent[] {
  const next = random(seed);
  const events: DemoEvent[] = [];
  for (let second = endSecond - 60; second < endSecond; second++)
    events.push(...eventsAt(second, Math.round(rateAt(second, RATE)), next));
  return events;
}

/** What the server would compute for each rule's conditions over that minute (API.md, "How events become metrics"). */
function ruleHolds(ruleName: string, events: DemoEvent[]): boolean {
  const values = (metric: string): number[] =>
    events.flatMap(({ type, data }) => {
      if (metric === 'api_response_time' && type === 'PERFORMANCE_METRIC') return [data.value as number];
      if (metric === 'benchmark_success' && type === 'BENCHMARK_COMPLETED') return [data.success === false ? 0 : 1];
      if (metric === 'benchmark_total' && type === 'BENCHMARK_COMPLETED') return [1];
      if (metric === 'anomaly_count' && type === 'ANOMALY_DETECTED') return [1];
      return [];
    });
  const rule = DEMO_RULES.find((r) => r.name === ruleName);
  if (!rule) throw new Error(`no demo rule ${ruleName}`);
  return rule.conditions.every(({ metric, aggregation, operator, threshold }) => {
    const all = values(metric);
    const sum = all.reduce((a, b) => a + b, 0);
    const value = aggregation === 'SUM' ? sum : sum / all.length;
    if (operator === 'GT') return value > threshold;
    if (operator === 'GTE') return value >= threshold;
    return value < threshold;
  });
}

describe('demo data', () => {
  const cases: [string, number, number][] = [
    // rule, a minute ending in its incident, a minute of steady traffic after it
    ['demo: API latency high', 40, 110],
    ['demo: benchmarks failing', 60, 115],
    ['demo: anomaly burst', 85, 70],
  ];
  for (const [rule, firing, steady] of cases) {
    it(`should make "${rule}" hold over its incident's minute and not over a steady one`, () => {
      for (let seed = 1; seed <= 20; seed++) {
        expect(ruleHolds(rule, minuteEndingAt(firing, seed)), `seed ${seed}`).toBe(true);
        expect(ruleHolds(rule, minuteEndingAt(steady, seed)), `seed ${seed}`).toBe(false);
      }
    });
  }
});
