// Rules over label sets (issue 12 item 10): a condition's label matchers, and a rule's `groupBy`, which splits it
// into one alert per combination of the named labels' values (per competitor, say), as Alertmanager keeps one alert
// per label set. Pure: which label sets a rule tracks, what each one reads, and its verdict from what was read.

import type { LabelledQuery } from '../aggregation/labelled-reads.js';
import { type Label, labelPartOfLabels, matchesAll, sortedLabels } from '../aggregation/labels.js';
import type { MetricAggregate } from '../aggregation/types.js';
import { aggregateKey, evaluateRule, type RuleEvaluation } from './evaluate.js';
import type { AlertRuleDefinition } from './rules.js';

type LabelledRule = Pick<AlertRuleDefinition, 'conditions' | 'groupBy'> &
  Partial<Pick<AlertRuleDefinition, 'noDataState'>>;

/** Whether a rule reads label sets (and so is evaluated per label set) rather than only metric totals. */
export function readsLabels(rule: Pick<AlertRuleDefinition, 'conditions' | 'groupBy'>): boolean {
  return rule.groupBy.length > 0 || rule.conditions.some((condition) => (condition.labels?.length ?? 0) > 0);
}

/** The key a label set is known by (its label part, `a=x,b=y`; empty for the one set of a rule without groupBy). */
export function labelSetKey(labels: readonly Label[]): string {
  return labelPartOfLabels(labels);
}

/**
 * The label sets of a rule found in the metrics' label sets: one per combination of the groupBy labels' values
 * among the sets that some condition's matchers select and that hold every groupBy label, sorted by key. A rule
 * without groupBy has one, the empty set.
 */
export function labelSetsOfRule(rule: LabelledRule, setsByMetric: ReadonlyMap<string, readonly Label[][]>): Label[][] {
  if (rule.groupBy.length === 0) return [[]];
  const found = new Map<string, Label[]>();
  for (const condition of rule.conditions) {
    for (const set of setsByMetric.get(condition.metric) ?? []) {
      if (!matchesAll(set, condition.labels ?? [])) continue;
      const values = rule.groupBy.map((name) => set.find((label) => label.name === name));
      if (values.some((label) => label === undefined)) continue;
      const labels = sortedLabels(values as Label[]);
      found.set(labelSetKey(labels), labels);
    }
  }
  return [...found.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, labels]) => labels);
}

export interface TrackedLabelSet {
  key: string;
  /** Pending or firing: it must go on being evaluated, or it would never resolve. */
  active: boolean;
}

/**
 * The label sets to evaluate, at most `max`: the active ones first (always, so each can resolve), then those
 * already tracked, then newly found ones in key order. `dropped` counts found sets left out (MAX_ALERT_LABEL_SETS_PER_RULE).
 */
export function chooseLabelSets(
  found: readonly Label[][],
  tracked: ReadonlyMap<string, TrackedLabelSet & { labels: Label[] }>,
  max: number,
): { sets: Label[][]; dropped: number } {
  const chosen = new Map<string, Label[]>();
  for (const { key, active, labels } of tracked.values()) if (active) chosen.set(key, labels);
  const foundByKey = new Map(found.map((labels) => [labelSetKey(labels), labels]));
  for (const [key, labels] of foundByKey) if (tracked.has(key) && chosen.size < max) chosen.set(key, labels);
  let dropped = 0;
  for (const [key, labels] of foundByKey) {
    if (chosen.has(key)) continue;
    if (chosen.size < max) chosen.set(key, labels);
    else dropped++;
  }
  return { sets: [...chosen.values()], dropped };
}

/** What one condition reads for a label set: its own matchers and the set's labels (validation keeps them apart). */
function labelsOf(conditionLabels: readonly Label[] = [], set: readonly Label[]): Label[] {
  return sortedLabels([...conditionLabels, ...set]);
}

/** The reads one label set of a rule needs. */
export function labelSetQueries(rule: LabelledRule, set: readonly Label[]): LabelledQuery[] {
  return rule.conditions.map(({ metric, window, labels }) => ({ metric, window, labels: labelsOf(labels, set) }));
}

/**
 * A label set's verdict, from aggregates indexed by `aggregateKey` of the reads `labelSetQueries` made. Values are
 * keyed by the conditions as written (conditionKey), so every label set of a rule shows the same keys.
 */
export function evaluateLabelSet(
  rule: LabelledRule,
  set: readonly Label[],
  aggregatesByKey: ReadonlyMap<string, MetricAggregate>,
): RuleEvaluation {
  const byCondition = new Map<string, MetricAggregate>();
  for (const condition of rule.conditions) {
    const read = aggregateKey({ ...condition, labels: labelsOf(condition.labels, set) });
    const aggregate = aggregatesByKey.get(read);
    if (!aggregate) throw new Error(`no aggregate was read for "${read}": build the reads with labelSetQueries`);
    byCondition.set(aggregateKey(condition), aggregate);
  }
  return evaluateRule(rule, byCondition);
}

/**
 * A label set as stored in the `labels` columns: "name=value" items sorted by name, so that equal sets are equal
 * arrays (the open-alert index) and a silence's matchers are a subset of an alert's (`<@`).
 */
export function labelItems(labels: readonly Label[]): string[] {
  return sortedLabels(labels).map(({ name, value }) => `${name}=${value}`);
}

export function labelsOfItems(items: readonly string[]): Label[] {
  return items.map((item) => {
    const equals = item.indexOf('=');
    return { name: item.slice(0, equals), value: item.slice(equals + 1) };
  });
}
