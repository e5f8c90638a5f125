// The backtest of a rule over label sets (label-sets.ts): each label set the history holds is backtested on its
// own, as the live engine keeps a state per label set. A label set's condition reads the samples of the label sets
// its matchers and the set's labels select, merged into one series: the answer live reads give by merging the sets'
// buckets (counts, minimum, maximum and sketch bins alike; sums up to floating-point rounding). Pure.
import { type Label, matchesAll, parseLabelPart, sortedLabels, splitSeries } from '../aggregation/labels.js';
import type { MetricSample } from '../aggregation/types.js';
import { badInput } from '../errors.js';
import { type AlertPreview, type BacktestRule, backtestRule } from './backtest.js';
import { conditionKey } from './evaluate.js';
import { labelSetKey, labelSetsOfRule } from './label-sets.js';
import type { AlertRuleDefinition } from './rules.js';

export type LabelledBacktestRule = BacktestRule & Pick<AlertRuleDefinition, 'groupBy'>;

/** A condition's samples in a derived rule go under a name of its own, which no metric can have (`{` is not allowed). */
const conditionSeries = (index: number) => `{condition ${index}}`;

/**
 * The alerts `rule` would have raised per label set between `since` and `until`, from `samples` holding the
 * metrics' labelled series (`metric{a=x}`) as well as their totals; sorted by when they fired, then by label set.
 * More label sets than `maxLabelSets` is BAD_USER_INPUT (MAX_ALERT_LABEL_SETS_PER_RULE), as when a rule is saved.
 */
export function backtestLabelSets(
  rule: LabelledBacktestRule,
  samples: readonly MetricSample[],
  since: number,
  until: number,
  maxLabelSets: number,
): AlertPreview[] {
  const totals = new Map<string, MetricSample[]>();
  const labelled = new Map<string, { labels: Label[]; samples: MetricSample[] }[]>();
  const setsOf = new Map<string, Map<string, { labels: Label[]; samples: MetricSample[] }>>();
  for (const sample of samples) {
    const { metric, labelPart } = splitSeries(sample.metric);
    if (labelPart === null) {
      const list = totals.get(metric) ?? [];
      list.push(sample);
      totals.set(metric, list);
      continue;
    }
    const sets = setsOf.get(metric) ?? new Map();
    setsOf.set(metric, sets);
    const set = sets.get(labelPart) ?? { labels: parseLabelPart(labelPart), samples: [] };
    sets.set(labelPart, set);
    set.samples.push(sample);
  }
  for (const [metric, sets] of setsOf) labelled.set(metric, [...sets.values()]);
  const setsByMetric = new Map([...labelled].map(([metric, sets]) => [metric, sets.map((set) => set.labels)]));
  const labelSets = labelSetsOfRule(rule, setsByMetric);
  if (labelSets.length > maxLabelSets) {
    throw badInput(
      `groupBy ${rule.groupBy.join(', ')} finds ${labelSets.length} label sets in the history, more than a rule may ` +
        `track (MAX_ALERT_LABEL_SETS_PER_RULE = ${maxLabelSets}): match more labels or shorten the range`,
      { limit: 'MAX_ALERT_LABEL_SETS_PER_RULE' },
    );
  }

  const previews: AlertPreview[] = [];
  for (const set of labelSets) {
    const derived: BacktestRule = {
      ...rule,
      conditions: rule.conditions.map((condition, i) => ({ ...condition, metric: conditionSeries(i), labels: [] })),
    };
    const derivedSamples: MetricSample[] = [];
    for (const [i, condition] of rule.conditions.entries()) {
      const matchers = sortedLabels([...(condition.labels ?? []), ...set]);
      const source =
        matchers.length === 0
          ? (totals.get(condition.metric) ?? [])
          : (labelled.get(condition.metric) ?? [])
              .filter(({ labels }) => matchesAll(labels, matchers))
              .flatMap((matched) => matched.samples);
      for (const { value, timestamp } of source) derivedSamples.push({ metric: conditionSeries(i), value, timestamp });
    }
    for (const preview of backtestRule(derived, derivedSamples, since, until)) {
      // Values keyed by the conditions as written, as the live alerts show them.
      const values = Object.fromEntries(
        rule.conditions.map((condition, i) => [
          conditionKey(condition),
          preview.values[conditionKey(derived.conditions[i] ?? condition)] ?? null,
        ]),
      );
      previews.push({ ...preview, values, labels: set });
    }
  }
  return previews.sort(
    (a, b) =>
      a.firedAt.getTime() - b.firedAt.getTime() || (labelSetKey(a.labels ?? []) < labelSetKey(b.labels ?? []) ? -1 : 1),
  );
}
