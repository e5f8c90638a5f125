// The alert engine's rules over label sets (label-sets.ts): each label set of a rule has its own state, values and
// alert, as each plain rule has in the engine. Kept apart from the engine's plain rules so that those evaluate as
// before, in one read for all of them; a rule here reads its label sets on its own, so that one rule past a bound
// (MAX_LABEL_SETS_PER_READ) fails alone.

import type { LabelledReads } from '../aggregation/labelled-reads.js';
import type { Label } from '../aggregation/labels.js';
import type { RuleStateMessage } from '../bus/topics.js';
import { badInput } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { type ConditionValues, firesAt, INACTIVE, indexAggregates, nextRuleState, type RuleState } from './evaluate.js';
import {
  chooseLabelSets,
  evaluateLabelSet,
  labelSetKey,
  labelSetQueries,
  labelSetsOfRule,
  type TrackedLabelSet,
} from './label-sets.js';
import type { Alert, AlertRule, AlertRuleDefinition } from './rules.js';

interface Tracked extends TrackedLabelSet {
  labels: Label[];
  state: RuleState;
  values: ConditionValues;
}

export interface LabelSetRulesOptions {
  reads: LabelledReads;
  /** MAX_ALERT_LABEL_SETS_PER_RULE */
  maxLabelSetsPerRule: number;
  logger: Logger;
  /** Fires the rule's alert for one label set (the engine's, which stores, records and broadcasts it). */
  fire(rule: AlertRule, values: ConditionValues, labels: Label[]): Promise<void>;
  resolve(ruleId: string, labels: Label[]): Promise<void>;
}

/**
 * Refuses (BAD_USER_INPUT) a rule that already finds more label sets than it may track, or whose conditions' matchers
 * select more label sets than one read may merge, before it is stored. Each of its label sets' reads merges a subset
 * of what its conditions' matchers select, so checking those bounds them all.
 */
export async function checkRuleLabelSets(
  rule: Pick<AlertRuleDefinition, 'conditions' | 'groupBy'>,
  reads: LabelledReads,
  maxLabelSetsPerRule: number,
  at: number,
): Promise<void> {
  for (const query of labelSetQueries(rule, [])) if (query.labels?.length) await reads.check(query, at);
  if (rule.groupBy.length === 0) return;
  const setsByMetric = new Map<string, Label[][]>();
  for (const { metric } of rule.conditions) {
    if (!setsByMetric.has(metric)) setsByMetric.set(metric, await reads.labelSets(metric, at));
  }
  const found = labelSetsOfRule(rule, setsByMetric).length;
  if (found > maxLabelSetsPerRule) {
    throw badInput(
      `groupBy ${rule.groupBy.join(', ')} finds ${found} label sets, more than a rule may track ` +
        `(MAX_ALERT_LABEL_SETS_PER_RULE = ${maxLabelSetsPerRule}): match more labels or group by fewer`,
      { limit: 'MAX_ALERT_LABEL_SETS_PER_RULE' },
    );
  }
}

export type PublicState = RuleStateMessage['state'];

export function publicState(state: RuleState): PublicState {
  return state.kind === 'inactive' ? 'INACTIVE' : state.kind === 'pending' ? 'PENDING' : 'FIRING';
}

export class LabelSetRules {
  /** Per rule id, its label sets by key. */
  private readonly rules = new Map<string, Map<string, Tracked>>();
  /** Rules whose found label sets were past the bound at their last evaluation (warned about once). */
  private readonly overLimit = new Set<string>();

  constructor(private readonly options: LabelSetRulesOptions) {}

  clear(): void {
    this.rules.clear();
    this.overLimit.clear();
  }

  /** A new leader starts from what is stored: a label set with an open alert is firing. */
  seed(alert: Alert): void {
    this.setsOf(alert.ruleId).set(labelSetKey(alert.labels), {
      key: labelSetKey(alert.labels),
      active: true,
      labels: alert.labels,
      state: { kind: 'firing' },
      values: {},
    });
  }

  /** Rules no longer here (deleted, disabled, or no longer reading labels) have their firing label sets resolved. */
  async forget(current: ReadonlySet<string>): Promise<void> {
    for (const [ruleId, sets] of this.rules) {
      if (current.has(ruleId)) continue;
      for (const set of sets.values()) if (set.state.kind === 'firing') await this.options.resolve(ruleId, set.labels);
      this.rules.delete(ruleId);
      this.overLimit.delete(ruleId);
    }
  }

  /** Evaluates each rule's label sets at `now`; returns the rules of which a label set moved (state or firesAt). */
  async evaluate(rules: readonly AlertRule[], now: number): Promise<AlertRule[]> {
    const moved: AlertRule[] = [];
    const setsByMetric = new Map<string, Label[][]>();
    for (const rule of rules) {
      try {
        for (const { metric } of rule.conditions) {
          if (rule.groupBy.length > 0 && !setsByMetric.has(metric)) {
            setsByMetric.set(metric, await this.options.reads.labelSets(metric, now));
          }
        }
        if (await this.evaluateRule(rule, setsByMetric, now)) moved.push(rule);
      } catch (error) {
        // The rule is evaluated again at the next tick; the other rules go on.
        this.options.logger.warn({ err: error, ruleId: rule.id }, 'alert evaluation of label sets failed');
      }
    }
    return moved;
  }

  private async evaluateRule(
    rule: AlertRule,
    setsByMetric: ReadonlyMap<string, Label[][]>,
    now: number,
  ): Promise<boolean> {
    const tracked = this.setsOf(rule.id);
    const found = labelSetsOfRule(rule, setsByMetric);
    const max = this.options.maxLabelSetsPerRule;
    const { sets, dropped } = chooseLabelSets(found, tracked, max);
    this.warnOverLimit(rule, found.length, dropped);
    const queries = sets.flatMap((labels) => labelSetQueries(rule, labels));
    const aggregates = indexAggregates(await this.options.reads.read(queries, now, setsByMetric));
    const foundKeys = new Set(found.map(labelSetKey));
    let moved = false;
    for (const labels of sets) {
      const key = labelSetKey(labels);
      const before = tracked.get(key)?.state ?? INACTIVE;
      const { holds, values } = evaluateLabelSet(rule, labels, aggregates);
      const { state, transition } = nextRuleState(before, holds, now, rule);
      try {
        if (transition === 'fire') await this.options.fire(rule, values, labels);
        if (transition === 'resolve') await this.options.resolve(rule.id, labels);
      } catch (error) {
        // The transition is retried at the next evaluation; the other label sets go on.
        this.options.logger.warn({ err: error, ruleId: rule.id, labels: key }, 'alert transition failed');
        continue;
      }
      // A label set no longer found (its series aged out) is kept only while it has a state to wind down.
      if (state.kind === 'inactive' && !foundKeys.has(key)) tracked.delete(key);
      else tracked.set(key, { key, labels, state, values, active: state.kind !== 'inactive' });
      if (publicState(state) !== publicState(before) || firesAt(state, rule) !== firesAt(before, rule)) moved = true;
    }
    const chosen = new Set(sets.map(labelSetKey));
    for (const key of tracked.keys()) if (!chosen.has(key)) tracked.delete(key);
    return moved;
  }

  /** Logged when a rule first finds more label sets than it may track, and again after it came back under. */
  private warnOverLimit(rule: AlertRule, found: number, dropped: number): void {
    if (dropped === 0) {
      this.overLimit.delete(rule.id);
      return;
    }
    if (this.overLimit.has(rule.id)) return;
    this.overLimit.add(rule.id);
    this.options.logger.warn(
      { ruleId: rule.id, found, dropped, limit: this.options.maxLabelSetsPerRule },
      'alert rule finds more label sets than MAX_ALERT_LABEL_SETS_PER_RULE: the others are not evaluated',
    );
  }

  /** One state per tracked label set (a rule that tracks none shows one INACTIVE state without labels). */
  stateMessages(rule: AlertRule, at: string): RuleStateMessage[] {
    const sets = [...(this.rules.get(rule.id)?.values() ?? [])];
    if (sets.length === 0) {
      return [{ ruleId: rule.id, labels: [], state: 'INACTIVE', values: {}, pendingSince: null, firesAt: null, at }];
    }
    return sets.map(({ labels, state, values }) => {
      const fires = firesAt(state, rule);
      return {
        ruleId: rule.id,
        labels,
        state: publicState(state),
        values,
        pendingSince: state.kind === 'pending' ? new Date(state.since).toISOString() : null,
        firesAt: fires === null ? null : new Date(fires).toISOString(),
        at,
      };
    });
  }

  private setsOf(ruleId: string): Map<string, Tracked> {
    let sets = this.rules.get(ruleId);
    if (!sets) {
      sets = new Map();
      this.rules.set(ruleId, sets);
    }
    return sets;
  }
}
