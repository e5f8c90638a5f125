// Alert rules and alerts as the API serves them. A change to the rules is stored, then told to every instance's
// engine on the bus; a rule deleted while firing has its alert resolved in the same transaction and announced.
import { checkMatchers, type LabelledReads } from '../aggregation/labelled-reads.js';
import type { Label } from '../aggregation/labels.js';
import type { Bus } from '../bus/bus.js';
import { fromAlertMessage, toAlertMessage } from '../bus/codecs.js';
import { busIterator } from '../bus/subscription.js';
import {
  type Connection,
  decodeCursor,
  encodeCursor,
  type PageRules,
  pageSize,
  seqOf,
  toConnection,
} from '../pagination.js';
import type { AlertPreview } from './backtest.js';
import type { Backtester } from './backtester.js';
import { checkRuleLabelSets } from './label-set-rules.js';
import { readsLabels } from './label-sets.js';
import { type AlertRuleState, RuleStateBoard } from './rule-states.js';
import {
  type Alert,
  type AlertRule,
  type AlertRuleInput,
  type AlertStatus,
  type Severity,
  validateRuleInput,
} from './rules.js';
import type { Silence, SilenceInput } from './silences.js';
import type { Acknowledgement, AlertDelivery, AlertStore } from './store.js';

export interface AlertPageArgs {
  first?: number | null;
  after?: string | null;
  status?: readonly AlertStatus[] | null;
  severities?: readonly Severity[] | null;
  ruleId?: string | null;
  labels?: readonly Label[] | null;
}

export interface AlertTriggeredArgs {
  severities?: readonly Severity[] | null;
  ruleIds?: readonly string[] | null;
  /** Replays every alert fired after this one first. */
  after?: string | null;
}

export interface AlertServiceOptions {
  store: AlertStore;
  bus: Bus;
  pages: PageRules;
  /** Messages waiting for a slow subscriber before its subscription ends with OVERLOADED (SUBSCRIPTION_BUFFER). */
  subscriptionBuffer: number;
  backtester: Backtester;
  /** Rules over label sets are checked against these bounds when saved (label-set-rules.ts). */
  labelSets: {
    reads: LabelledReads;
    /** MAX_ALERT_LABEL_SETS_PER_RULE */
    maxPerRule: number;
  };
  now?: () => number;
}

// The label-set check needs the rule's conditions and groupBy only; the store checks the rest against the policy.
const ANY_TARGET = { secretSet: true, allowPrivateTargets: true };

// Inside, a cursor is the alert's seq.
const CURSOR_KEY = /^\d{1,19}$/;

export class AlertService {
  private readonly ruleStates: RuleStateBoard;

  constructor(private readonly options: AlertServiceOptions) {
    this.ruleStates = new RuleStateBoard(options.bus, options.subscriptionBuffer);
  }

  async stop(): Promise<void> {
    await this.ruleStates.stop();
  }

  /** Each rule's state (inactive, pending, firing) and condition values at once, then as they change. */
  subscribeRuleStates(ruleIds?: readonly string[] | null): AsyncIterableIterator<AlertRuleState> {
    return this.ruleStates.subscribe(ruleIds);
  }

  listRules(): Promise<AlertRule[]> {
    return this.options.store.listRules();
  }

  /** One entry per id, in order, null where there is no such rule (a DataLoader's batch). */
  rulesByIds(ids: readonly string[]): Promise<(AlertRule | null)[]> {
    return this.options.store.getRulesByIds(ids);
  }

  /** One list per alert id, in order, each oldest attempt first (a DataLoader's batch). */
  deliveriesFor(alertIds: readonly string[]): Promise<AlertDelivery[][]> {
    return this.options.store.deliveriesFor(alertIds);
  }

  /** Alerts, newest first. */
  async listAlerts({ first, after, ruleId, ...filter }: AlertPageArgs): Promise<Connection<Alert>> {
    checkMatchers(filter.labels ?? []);
    const size = pageSize(first, this.options.pages);
    const beforeSeq = after ? decodeCursor(after, CURSOR_KEY, ([digits]) => seqOf(digits)) : null;
    const rows = await this.options.store.pageAlerts({
      ...filter,
      ruleIds: ruleId ? [ruleId] : null,
      beforeSeq,
      limit: size + 1,
    });
    return toConnection(rows, size, ({ seq, alert }) => ({ cursor: encodeCursor(seq.toString()), node: alert }));
  }

  countOpen(): Promise<number> {
    return this.options.store.countOpen();
  }

  async createRule(input: AlertRuleInput): Promise<AlertRule> {
    await this.checkLabelSets(input);
    const rule = await this.options.store.createRule(input);
    await this.rulesChanged(rule.id);
    return rule;
  }

  async updateRule(id: string, input: AlertRuleInput): Promise<AlertRule> {
    await this.checkLabelSets(input);
    const rule = await this.options.store.updateRule(id, input);
    await this.rulesChanged(rule.id);
    return rule;
  }

  /** False when there was no such rule. */
  async deleteRule(id: string): Promise<boolean> {
    const { deleted, resolved } = await this.options.store.deleteRule(id);
    if (!deleted) return false;
    await this.rulesChanged(id);
    for (const alert of resolved) {
      await this.options.bus.publish('alerts:resolved', toAlertMessage(alert)).catch(() => {});
    }
    return true;
  }

  /** When a rule would have fired and resolved over the stored history (backtest.ts). */
  previewAlertRule(input: AlertRuleInput, since: Date, until: Date | null): Promise<AlertPreview[]> {
    return this.options.backtester.preview(input, since, until);
  }

  acknowledgeAlert(id: string, acknowledgement: Acknowledgement): Promise<Alert> {
    return this.options.store.acknowledgeAlert(id, acknowledgement);
  }

  /** Queued in Postgres; the leader's notifier sends it within its poll interval, wherever this runs. */
  redeliverAlert(id: string): Promise<Alert> {
    return this.options.store.redeliverAlert(id);
  }

  // Silences take effect through the store: the leader reads them at every fire and every poll (queueDueNotices).
  createSilence(input: SilenceInput, createdBy: string): Promise<Silence> {
    return this.options.store.createSilence(input, createdBy);
  }

  expireSilence(id: string): Promise<Silence> {
    return this.options.store.expireSilence(id);
  }

  listSilences(active?: boolean | null): Promise<Silence[]> {
    return this.options.store.listSilences(active);
  }

  /** Alerts as they fire; with `after`, first every alert fired since that one (from storage), with no gap. */
  subscribeTriggered({ severities, ruleIds, after }: AlertTriggeredArgs): AsyncIterableIterator<Alert> {
    const wantedSeverities = severities?.length ? new Set<string>(severities) : null;
    const wantedRules = ruleIds?.length ? new Set(ruleIds) : null;
    return busIterator({
      bus: this.options.bus,
      topic: 'alerts:triggered',
      select: (message) =>
        (!wantedSeverities || wantedSeverities.has(message.severity)) &&
        (!wantedRules || wantedRules.has(message.ruleId))
          ? [fromAlertMessage(message)]
          : [],
      maxBuffered: this.options.subscriptionBuffer,
      key: (alert) => alert.id,
      initial: after == null ? undefined : () => this.options.store.alertsSince(after, { severities, ruleIds }),
    });
  }

  subscribeResolved(ruleIds?: readonly string[] | null): AsyncIterableIterator<Alert> {
    const wanted = ruleIds?.length ? new Set(ruleIds) : null;
    return busIterator({
      bus: this.options.bus,
      topic: 'alerts:resolved',
      select: (message) => (!wanted || wanted.has(message.ruleId) ? [fromAlertMessage(message)] : []),
      maxBuffered: this.options.subscriptionBuffer,
    });
  }

  /** A rule past the label-set bounds is refused before anything is stored; an invalid one is the store's to refuse. */
  private async checkLabelSets(input: AlertRuleInput): Promise<void> {
    const validation = validateRuleInput(input, ANY_TARGET);
    if (!validation.ok || !readsLabels(validation.value)) return;
    const { reads, maxPerRule } = this.options.labelSets;
    await checkRuleLabelSets(validation.value, reads, maxPerRule, (this.options.now ?? Date.now)());
  }

  /** Every instance's engine reloads its rules. Stored first: a missed message costs one evaluation interval. */
  private async rulesChanged(ruleId: string): Promise<void> {
    await this.options.bus.publish('alertRules:changed', { id: ruleId }).catch(() => {});
  }
}
