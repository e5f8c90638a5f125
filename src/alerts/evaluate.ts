// Rule evaluation and the per-rule alert state machine. Pure: the caller reads the aggregates and keeps the state.
import { type Label, labelPartOfLabels } from '../aggregation/labels.js';
import type { AggregateQuery, MetricAggregate } from '../aggregation/types.js';
import type { AlertCondition, AlertRuleDefinition, ComparisonOperator, NoDataState } from './rules.js';

/** The contract's meaning of EQ: |value − threshold| < EQ_TOLERANCE, so that float noise does not defeat it. */
export const EQ_TOLERANCE = 0.001;

/** The value of each condition, keyed by `conditionKey`; null when the window was empty. */
export type ConditionValues = Record<string, number | null>;

export interface RuleEvaluation {
  /** Null: no data under noDataState KEEP, and no other condition fails, so the rule's state stays as it is. */
  holds: boolean | null;
  values: ConditionValues;
}

/**
 * Where a rule is in its life: `pending` waits out `forSeconds`; resolving returns it to `inactive`. A firing rule
 * whose conditions stopped holding at `clearSince` waits out `keepFiringForSeconds` before it resolves.
 * Times are epoch milliseconds.
 */
export type RuleState =
  | { kind: 'inactive' }
  | { kind: 'pending'; since: number }
  | { kind: 'firing'; clearSince?: number };

/** How long a rule's conditions must hold before it fires, and stop holding before it resolves. */
export type RuleTiming = Pick<AlertRuleDefinition, 'forSeconds'> &
  Partial<Pick<AlertRuleDefinition, 'keepFiringForSeconds'>>;

export type RuleTransition = 'fire' | 'resolve' | null;

export const INACTIVE: RuleState = { kind: 'inactive' };
const FIRING: RuleState = { kind: 'firing' };

const MS_PER_SECOND = 1_000;

/** `{a=x,b=y}` (names sorted) after a metric or condition read with label matchers; nothing without. */
function labelSuffix(labels: readonly Label[] | undefined): string {
  return labels?.length ? `{${labelPartOfLabels(labels)}}` : '';
}

/** Key of an aggregate in the map `evaluateRule` reads, e.g. "M5 api_response_time" or "M5 parity{competitor=a}". */
export function aggregateKey({ metric, window, labels }: Pick<AggregateQuery, 'metric' | 'window' | 'labels'>): string {
  // The window comes first and never contains a space, so the key is unambiguous whatever the metric name holds.
  return `${window} ${metric}${labelSuffix(labels)}`;
}

/**
 * Key of a condition's value in `RuleEvaluation.values` and in stored alerts: `<aggregation>(<metric>)[<window>]`
 * with the aggregation in lower case, e.g. "avg(api_response_time)[M5]", and the condition's own label matchers
 * after the metric, e.g. "avg(parity{region=eu})[M5]" (a groupBy's labels are the alert's, not the key's).
 * Written for people reading an alert.
 */
export function conditionKey({
  aggregation,
  metric,
  window,
  labels,
}: Omit<AlertCondition, 'labels'> & { labels?: Label[] }): string {
  return `${aggregation.toLowerCase()}(${metric}${labelSuffix(labels)})[${window}]`;
}

export function indexAggregates(aggregates: Iterable<MetricAggregate>): Map<string, MetricAggregate> {
  return new Map([...aggregates].map((aggregate) => [aggregateKey(aggregate), aggregate]));
}

/** The aggregates a set of rules needs, each once, so that the caller reads them all in one round trip. */
export function queriesForRules(rules: Iterable<Pick<AlertRuleDefinition, 'conditions'>>): AggregateQuery[] {
  const queries = new Map<string, AggregateQuery>();
  for (const { conditions } of rules) {
    for (const { metric, window, labels } of conditions) {
      const query = labels?.length ? { metric, window, labels } : { metric, window };
      queries.set(aggregateKey(query), query);
    }
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

/**
 * Whether all conditions hold (AND), and the value of every condition, for the alert to show. A condition whose
 * window holds no samples is "no data": under noDataState OK (the default) it compares as any other (false, but
 * COUNT is 0); under ALERTING it holds; under KEEP it neither holds nor fails, so unless another condition fails the
 * verdict is null (keep the state).
 */
export function evaluateRule(
  rule: Pick<AlertRuleDefinition, 'conditions'> & { noDataState?: NoDataState },
  aggregatesByKey: ReadonlyMap<string, MetricAggregate>,
): RuleEvaluation {
  const noDataState = rule.noDataState ?? 'OK';
  const values: ConditionValues = {};
  let holds = true;
  let keep = false;
  for (const condition of rule.conditions) {
    const key = aggregateKey(condition);
    const aggregate = aggregatesByKey.get(key);
    // Reading too few aggregates is a bug in the caller; treating it as an empty window would hide it.
    if (!aggregate) throw new Error(`no aggregate was read for "${key}": build the reads with queriesForRules`);
    const value = conditionValue(condition, aggregate);
    values[conditionKey(condition)] = value;
    if (aggregate.count === 0 && noDataState !== 'OK') keep ||= noDataState === 'KEEP';
    else holds &&= value !== null && compare(condition.operator, value, condition.threshold);
  }
  return { holds: holds && keep ? null : holds, values };
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
 * `forSeconds`) → firing → (once they have not held for `keepFiringForSeconds`) resolved, which is inactive again,
 * so the rule may fire later. A null verdict (no data under KEEP) changes nothing. `now` is epoch milliseconds.
 */
export function nextRuleState(
  state: RuleState,
  holds: boolean | null,
  now: number,
  { forSeconds, keepFiringForSeconds = 0 }: RuleTiming,
): { state: RuleState; transition: RuleTransition } {
  if (holds === null) return { state, transition: null };
  if (!holds) {
    if (state.kind !== 'firing') return { state: INACTIVE, transition: null };
    const clearSince = state.clearSince ?? now;
    if (now - clearSince >= keepFiringForSeconds * MS_PER_SECOND) return { state: INACTIVE, transition: 'resolve' };
    return { state: { kind: 'firing', clearSince }, transition: null };
  }
  if (state.kind === 'firing') return { state: FIRING, transition: null };
  const since = state.kind === 'pending' ? state.since : now;
  if (now - since >= forSeconds * MS_PER_SECOND) return { state: FIRING, transition: 'fire' };
  return { state: { kind: 'pending', since }, transition: null };
}

/** When a pending rule fires if its conditions go on holding (epoch ms); null in any other state. */
export function firesAt(state: RuleState, { forSeconds }: RuleTiming): number | null {
  return state.kind === 'pending' ? state.since + forSeconds * MS_PER_SECOND : null;
}
