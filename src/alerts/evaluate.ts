// Rule evaluation and the per-rule alert state machine. Pure: the caller reads the aggregates and keeps the state.
import type { AggregateQuery, MetricAggregate } from '../aggregation/types.js';
import type { AlertCondition, AlertRuleDefinition, ComparisonOperator } from './rules.js';

/** The contract's meaning of EQ: |value − threshold| < EQ_TOLERANCE, so that float noise does not defeat it. */
export const EQ_TOLERANCE = 0.001;

/** The value of each condition, keyed by `conditionKey`; null when the window was empty. */
export type ConditionValues = Record<string, number | null>;

export interface RuleEvaluation {
  holds: boolean;
  values: ConditionValues;
}

/** Where a rule is in its life: `pending` waits out `forSeconds`; resolving returns it to `inactive`. */
export type RuleState = { kind: 'inactive' } | { kind: 'pending'; since: number } | { kind: 'firing' };

export type RuleTransition = 'fire' | 'resolve' | null;

export const INACTIVE: RuleState = { kind: 'inactive' };

const MS_PER_SECOND = 1_000;

/** Key of an aggregate in the map `evaluateRule` reads, e.g. "M5 api_response_time". */
export function aggregateKey({ metric, window }: AggregateQuery): string {
  // The window comes first and never contains a space, so the key is unambiguous whatever the metric name holds.
  return `${window} ${metric}`;
}

/**
 * Key of a condition's value in `RuleEvaluation.values` and in stored alerts: `<aggregation>(<metric>)[<window>]`
 * with the aggregation in lower case, e.g. "avg(api_response_time)[M5]". Written for people reading an alert.
 */
export function conditionKey({ aggregation, metric, window }: AlertCondition): string {
  return `${aggregation.toLowerCase()}(${metric})[${window}]`;
}

export function indexAggregates(aggregates: Iterable<MetricAggregate>): Map<string, MetricAggregate> {
  return new Map([...aggregates].map((aggregate) => [aggregateKey(aggregate), aggregate]));
}

/** The aggregates a set of rules needs, each once, so that the caller reads them all in one round trip. */
export function queriesForRules(rules: Iterable<Pick<AlertRuleDefinition, 'conditions'>>): AggregateQuery[] {
  const queries = new Map<string, AggregateQuery>();
  for (const { conditions } of rules) {
    for (const { metric, window } of conditions) queries.set(aggregateKey({ metric, window }), { metric, window });
  }
  return [...queries.values()];
}

/** The number a condition compares; null over an empty window, except COUNT, which is 0 there. */
export function conditionValue(condition: AlertCondition, aggregate: MetricAggregate): number | null {
  if (condition.aggregation === 'COUNT') return aggregate.count;
  if (aggregate.count === 0) return null;
  switch (condition.aggregation) {
    case 'SUM':
      return aggregate.sum;
    case 'AVG':
      return aggregate.avg;
    case 'MIN':
      return aggregate.min;
    case 'MAX':
      return aggregate.max;
    case 'P50':
      return aggregate.p50;
    case 'P95':
      return aggregate.p95;
    case 'P99':
      return aggregate.p99;
    case 'STDDEV':
      return aggregate.stddev;
  }
}

export function compare(operator: ComparisonOperator, value: number, threshold: number): boolean {
  switch (operator) {
    case 'GT':
      return value > threshold;
    case 'GTE':
      return value >= threshold;
    case 'LT':
      return value < threshold;
    case 'LTE':
      return value <= threshold;
    case 'EQ':
      return Math.abs(value - threshold) < EQ_TOLERANCE;
  }
}

/** Whether all conditions hold (AND), and the value of every condition, for the alert to show. */
export function evaluateRule(
  rule: Pick<AlertRuleDefinition, 'conditions'>,
  aggregatesByKey: ReadonlyMap<string, MetricAggregate>,
): RuleEvaluation {
  const values: ConditionValues = {};
  let holds = true;
  for (const condition of rule.conditions) {
    const key = aggregateKey(condition);
    const aggregate = aggregatesByKey.get(key);
    // Reading too few aggregates is a bug in the caller; treating it as an empty window would hide it.
    if (!aggregate) throw new Error(`no aggregate was read for "${key}": build the reads with queriesForRules`);
    const value = conditionValue(condition, aggregate);
    values[conditionKey(condition)] = value;
    holds &&= value !== null && compare(condition.operator, value, condition.threshold);
  }
  return { holds, values };
}

// ASCII, so that the message reads the same in an email subject, a chat webhook and a log line.
const OPERATOR_SYMBOLS: Record<ComparisonOperator, string> = { GT: '>', GTE: '>=', LT: '<', LTE: '<=', EQ: '=' };

/** A one-line account of why a rule fired, e.g. "avg(api_response_time)[M5] = 812.5 (> 500)". */
export function alertMessage(rule: Pick<AlertRuleDefinition, 'conditions'>, values: ConditionValues): string {
  return rule.conditions
    .map((condition) => {
      const key = conditionKey(condition);
      const value = values[key];
      return `${key} = ${value ?? 'no data'} (${OPERATOR_SYMBOLS[condition.operator]} ${condition.threshold})`;
    })
    .join(' and ');
}

/**
 * One step of a rule's state machine: inactive → pending (while the conditions have held for less than
 * `forSeconds`) → firing → resolved, which is inactive again, so the rule may fire later.
 * `now` and `pending.since` are epoch milliseconds.
 */
export function nextRuleState(
  state: RuleState,
  holds: boolean,
  now: number,
  forSeconds: number,
): { state: RuleState; transition: RuleTransition } {
  if (!holds) return { state: INACTIVE, transition: state.kind === 'firing' ? 'resolve' : null };
  if (state.kind === 'firing') return { state, transition: null };
  const since = state.kind === 'pending' ? state.since : now;
  if (now - since >= forSeconds * MS_PER_SECOND) return { state: { kind: 'firing' }, transition: 'fire' };
  return { state: { kind: 'pending', since }, transition: null };
}
