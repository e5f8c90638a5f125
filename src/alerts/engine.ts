// The alert engine. It runs on the instance holding the alert lease (src/events/processor.ts, `isServing`), so rules
// are evaluated in one place, on changes heard from every instance's partitions; the partial unique index on open alerts makes "one alert per transition" hold even if two instances
// briefly both believe they lead. It evaluates the rules naming a metric whenever that metric changes, and every
// rule at least once per `intervalMs`.

import type { LabelledReads } from '../aggregation/labelled-reads.js';
import type { Label } from '../aggregation/labels.js';
import type { AggregateStore } from '../aggregation/types.js';
import { WindowCache } from '../aggregation/window-cache.js';
import type { Bus, Unsubscribe } from '../bus/bus.js';
import { toAlertMessage } from '../bus/codecs.js';
import type { RuleStateMessage } from '../bus/topics.js';
import type { Ingestion } from '../events/ingest.js';
import type { Logger } from '../observability/logger.js';
import { ATTR, activeTraceparent, inSpan, SPAN, type Traced } from '../observability/tracing.js';
import {
  type ConditionValues,
  evaluateRule,
  firesAt,
  INACTIVE,
  indexAggregates,
  nextRuleState,
  queriesForRules,
  type RuleState,
} from './evaluate.js';
import { LabelSetRules, publicState } from './label-set-rules.js';
import { readsLabels } from './label-sets.js';
import type { AlertNotifier } from './notifier.js';
import type { Alert, AlertRule } from './rules.js';
import type { AlertStore } from './store.js';
import { alertText } from './template.js';

/** Alerts recorded per publish when a new leader re-records the open ones (well under the batch limit). */
const RECORD_CHUNK = 500;

/** Every rule's state and values are published this often; a change of state at once (alertRuleState). */
const STATE_SNAPSHOT_MS = 1_000;
/** Rule states per bus message, so that no message grows with the number of rules. */
const STATE_CHUNK = 500;

export interface AlertEngineOptions {
  store: AlertStore;
  aggregates: AggregateStore;
  bus: Bus;
  /** Records each firing as an ALERT_TRIGGERED event (id = alert id, so it is recorded once). */
  ingestion: Ingestion;
  notifier: AlertNotifier;
  logger: Logger;
  isLeader: () => boolean;
  intervalMs: number;
  /**
   * ALERT_WINDOW_REFRESH_MS: the window cache is dropped and every rule evaluated from the store this often, so a
   * change notice lost on the bus (a subscriber reconnecting, a publish failing after its apply) is seen within it.
   */
  windowRefreshMs: number;
  now?: () => number;
  /** Rules with label matchers or groupBy read through these (label-set-rules.ts). */
  labelSets: {
    reads: LabelledReads;
    /** MAX_ALERT_LABEL_SETS_PER_RULE */
    maxPerRule: number;
  };
}

export class AlertEngine {
  private rules: AlertRule[] | null = null;
  /** Bumped by each change notice, so a listing that started before one does not replace what it said. */
  private rulesVersion = 0;
  /** State broadcasts, in order, apart from the evaluations (which do not wait for them). */
  private statesPublished: Promise<void> = Promise.resolve();
  private states = new Map<string, RuleState>();
  private seeded = false;
  private timer: NodeJS.Timeout | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private stopListening: Unsubscribe | null = null;
  /** Metrics waiting for an evaluation ('all' for every rule), merged while one runs: at most one run is queued. */
  private pending: Set<string> | 'all' | null = null;
  private running: Promise<void> | null = null;
  private readonly now: () => number;
  /** The last values of each enabled rule, for the state snapshots. */
  private values = new Map<string, ConditionValues>();
  private lastSnapshotAt = -Infinity;
  /** The windows the rules read, each bucket read again only once a write touched it (told through `evaluate`). */
  private readonly windows: WindowCache;
  /** Rules over label sets: their states, one per label set, are kept there, not in `states`. */
  private readonly labelled: LabelSetRules;

  constructor(private readonly options: AlertEngineOptions) {
    this.now = options.now ?? Date.now;
    this.windows = new WindowCache(options.aggregates);
    this.labelled = new LabelSetRules({
      reads: options.labelSets.reads,
      maxLabelSetsPerRule: options.labelSets.maxPerRule,
      logger: options.logger,
      fire: (rule, values, labels) => this.fireTraced(rule, values, labels),
      resolve: (ruleId, labels) => this.resolve(ruleId, labels),
    });
  }

  async start(): Promise<void> {
    const stopRules = await this.options.bus.subscribe('alertRules:changed', () => {
      this.rules = null;
      this.rulesVersion += 1;
    });
    // From every instance: the partitions are processed wherever their leases are held, the rules evaluated here.
    // Not awaited: evaluations are merged inside the engine.
    // Every instance's engine hears them, leading or not, so its window cache is right when it comes to lead.
    const stopMetrics = await this.options.bus.subscribe('metrics:changed', ({ metrics, since }) => {
      this.evaluate(metrics, since && new Map(Object.entries(since))).catch((error) =>
        this.options.logger.warn({ err: error }, 'alert evaluation failed'),
      );
    });
    this.stopListening = () => {
      stopRules();
      stopMetrics();
    };
    this.timer = setInterval(() => {
      // Only the rules are read again here: the windows cached are read again when a notice names their metric, or at
      // the next refresh (windowRefreshMs), which bounds what a lost notice costs. The rules are listed apart from the evaluations, which
      // go on with the list they have meanwhile rather than wait behind the listing.
      this.refreshRules()
        .catch((error) => this.options.logger.warn({ err: error }, 'alert rules not listed'))
        .then(() => this.evaluate(null))
        .catch((error) => this.options.logger.warn({ err: error }, 'alert evaluation failed'));
    }, this.options.intervalMs);
    this.refreshTimer = setInterval(() => {
      this.windows.clear();
      this.evaluate(null).catch((error) => this.options.logger.warn({ err: error }, 'alert evaluation failed'));
    }, this.options.windowRefreshMs);
  }

  private async refreshRules(): Promise<void> {
    const version = this.rulesVersion;
    const rules = (await this.options.store.listRules()).filter((r) => r.enabled);
    // A change announced while listing may not be in this list: the next evaluation lists again.
    if (version === this.rulesVersion) this.rules = rules;
  }

  async stop(): Promise<void> {
    this.stopListening?.();
    if (this.timer) clearInterval(this.timer);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.pending = null;
    await this.running;
    await this.statesPublished;
  }

  /**
   * Evaluates the rules naming any of `metrics` (all rules when null). Evaluations never overlap, and requests that
   * arrive while one runs are merged into the next, so a slow store cannot make a queue of them grow.
   *
   * Naming a metric says it was written: the engine reads its buckets again, those from `since`'s time of that
   * metric on (its oldest sample written; all of them when not given). Only this tells the engine that the aggregates
   * changed, so every write of the store must be followed by a call naming its metrics, or by `aggregatesReplaced`.
   */
  evaluate(metrics: string[] | null, since?: ReadonlyMap<string, number>): Promise<void> {
    for (const metric of metrics ?? []) this.windows.invalidate(metric, since?.get(metric));
    if (metrics === null) this.pending = 'all';
    else if (this.pending !== 'all') {
      this.pending ??= new Set();
      for (const metric of metrics) this.pending.add(metric);
    }
    return this.kick();
  }

  /** The store was written without the engine being told which metrics (a rebuild, another instance leading). */
  aggregatesReplaced(): void {
    this.windows.clear();
  }

  private kick(): Promise<void> {
    this.running ??= this.drain().finally(() => {
      this.running = null;
      // Asked for while the last run was finishing: run again rather than wait for the next tick.
      if (this.pending)
        this.kick().catch((error) => this.options.logger.warn({ err: error }, 'alert evaluation failed'));
    });
    return this.running;
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      const metrics = this.pending;
      this.pending = null;
      await this.evaluateOnce(metrics === 'all' ? null : [...metrics]);
    }
  }

  private async evaluateOnce(metrics: string[] | null): Promise<void> {
    if (!this.options.isLeader()) {
      // Another instance evaluates; our view of rule states is stale from now on.
      this.seeded = false;
      this.states.clear();
      this.values.clear();
      this.windows.clear();
      this.labelled.clear();
      return;
    }
    if (!this.seeded) await this.seed();
    this.rules ??= (await this.options.store.listRules()).filter((r) => r.enabled);
    const rules = this.rules;
    const labelledIds = new Set(rules.filter(readsLabels).map((r) => r.id));
    await this.resolveVanished(new Set(rules.filter((r) => !labelledIds.has(r.id)).map((r) => r.id)));
    await this.labelled.forget(labelledIds);
    const changed = metrics && new Set(metrics);
    const dueAll = changed ? rules.filter((r) => r.conditions.some((c) => changed.has(c.metric))) : rules;
    if (dueAll.length === 0) return;
    const now = this.now();
    // Rules over label sets are evaluated after these, apart (label-set-rules.ts): they never delay the others.
    const due = dueAll.filter((r) => !labelledIds.has(r.id));
    const aggregates = indexAggregates(await this.windows.read(queriesForRules(due), now));
    const moved: AlertRule[] = [];
    for (const rule of due) {
      const { holds, values } = evaluateRule(rule, aggregates);
      const before = this.states.get(rule.id) ?? INACTIVE;
      this.values.set(rule.id, values);
      const { state, transition } = nextRuleState(before, holds, now, rule);
      try {
        if (transition === 'fire') await this.fireTraced(rule, values, []);
        if (transition === 'resolve') await this.resolve(rule.id);
        this.states.set(rule.id, state);
        if (publicState(state) !== publicState(before) || firesAt(state, rule) !== firesAt(before, rule))
          moved.push(rule);
      } catch (error) {
        // The transition is retried at the next evaluation; the other rules go on.
        this.options.logger.warn({ err: error, ruleId: rule.id }, 'alert transition failed');
      }
    }
    const labelledDue = dueAll.filter((r) => labelledIds.has(r.id));
    if (labelledDue.length > 0) moved.push(...(await this.labelled.evaluate(labelledDue, now)));
    this.publishStates(rules, moved, now);
  }

  /**
   * Changes of state at once; every rule's state and values at most once per STATE_SNAPSHOT_MS. Taken now, sent
   * after the broadcasts before them, while the next evaluation runs.
   */
  private publishStates(rules: AlertRule[], moved: AlertRule[], now: number): void {
    const complete = now - this.lastSnapshotAt >= STATE_SNAPSHOT_MS;
    const publishing = complete ? rules : moved;
    if (publishing.length === 0) return;
    if (complete) this.lastSnapshotAt = now;
    const at = new Date(now).toISOString();
    const states = publishing.flatMap((rule) =>
      readsLabels(rule) ? this.labelled.stateMessages(rule, at) : [this.stateMessage(rule, at)],
    );
    this.statesPublished = this.statesPublished.then(() => this.sendStates(states, complete));
  }

  private async sendStates(states: RuleStateMessage[], complete: boolean): Promise<void> {
    for (let i = 0; i < states.length; i += STATE_CHUNK) {
      // A snapshot's last chunk says it is complete: rules in none of its chunks are gone.
      await this.options.bus
        .publish('alertRules:state', {
          states: states.slice(i, i + STATE_CHUNK),
          complete: complete && i + STATE_CHUNK >= states.length,
        })
        .catch((error) => this.options.logger.warn({ err: error }, 'rule state broadcast failed'));
    }
  }

  private stateMessage(rule: AlertRule, at: string): RuleStateMessage {
    const state = this.states.get(rule.id) ?? INACTIVE;
    const fires = firesAt(state, rule);
    return {
      ruleId: rule.id,
      state: publicState(state),
      values: this.values.get(rule.id) ?? {},
      pendingSince: state.kind === 'pending' ? new Date(state.since).toISOString() : null,
      firesAt: fires === null ? null : new Date(fires).toISOString(),
      at,
    };
  }

  /** A new leader starts from what is stored: rules (or label sets) with an open alert are firing. */
  private async seed(): Promise<void> {
    this.states.clear();
    this.labelled.clear();
    const open = await this.options.store.openAlerts();
    const labelled = new Set((await this.options.store.listRules()).filter(readsLabels).map((r) => r.id));
    for (const alert of open) {
      if (labelled.has(alert.ruleId) || alert.labels.length > 0) this.labelled.seed(alert);
      else this.states.set(alert.ruleId, { kind: 'firing' });
    }
    // A previous leader may have died between storing an alert and recording it; recording again is harmless.
    for (let i = 0; i < open.length; i += RECORD_CHUNK) await this.record(open.slice(i, i + RECORD_CHUNK));
    this.rules = null;
    this.seeded = true;
  }

  /** Rules deleted or disabled while firing resolve: nothing would resolve them later. */
  private async resolveVanished(enabled: Set<string>): Promise<void> {
    for (const [ruleId, state] of this.states) {
      if (enabled.has(ruleId)) continue;
      if (state.kind === 'firing') await this.resolve(ruleId);
      this.states.delete(ruleId);
      this.values.delete(ruleId);
    }
  }

  /** A firing has a trace of its own: its notifications and its deliveries to subscribers continue it. */
  private fireTraced(rule: AlertRule, values: ConditionValues, labels: Label[]): Promise<void> {
    const attributes = { [ATTR.ruleId]: rule.id, [ATTR.severity]: rule.severity };
    return inSpan(SPAN.fire, { parent: null, attributes }, () => this.fire(rule, values, labels));
  }

  private async fire(rule: AlertRule, values: ConditionValues, labels: Label[]): Promise<void> {
    const { store, notifier, logger } = this.options;
    // Its notifications are queued in the same transaction (unless a silence holds them back): stored, the alert
    // will be sent whatever happens next.
    const alert = await store.fireAlert(rule, alertText(rule, values, labels), values, labels);
    if (!alert) return; // already firing: fired by a previous leader
    const { silencedBy } = alert;
    logger.info(
      { alertId: alert.id, ruleId: rule.id, severity: rule.severity, silencedBy, labels: alert.labels },
      'alert fired',
    );
    notifier.wake();
    // Stored is what subscribers catch up from (alertTriggered(after:)), so it is announced at once; the history
    // event follows. A failed record is retried when a leader next starts (seed), not by firing again.
    const traced: Alert & Traced = { ...alert, traceparent: activeTraceparent() };
    await this.broadcast('alerts:triggered', traced);
    await this.record([alert]).catch((error) => logger.warn({ err: error, alertId: alert.id }, 'alert not recorded'));
  }

  /** Firings in the event history. Each event's id is its alert's, so recording one again changes nothing. */
  private async record(alerts: Alert[]): Promise<void> {
    const events = alerts.map((alert) => ({
      id: alert.id,
      type: 'ALERT_TRIGGERED' as const,
      timestamp: alert.triggeredAt,
      data: {
        alertId: alert.id,
        ruleId: alert.ruleId,
        ruleName: alert.ruleName,
        severity: alert.severity,
        message: alert.message,
        values: alert.values,
        // The label set as the event's own labels (name → value), as events carry them.
        ...(alert.labels.length > 0
          ? { labels: Object.fromEntries(alert.labels.map(({ name, value }) => [name, value])) }
          : {}),
      },
    }));
    await this.options.ingestion.publish(events, { internal: true });
  }

  /** Subscribers that miss a broadcast (the bus is down) catch up with `alertTriggered(after:)` from storage. */
  private async broadcast(topic: 'alerts:triggered' | 'alerts:resolved', alert: Alert): Promise<void> {
    await this.options.bus
      .publish(topic, toAlertMessage(alert))
      .catch((error) => this.options.logger.warn({ err: error, alertId: alert.id, topic }, 'alert broadcast failed'));
  }

  private async resolve(ruleId: string, labels: Label[] = []): Promise<void> {
    const alert = await this.options.store.resolveAlerts(ruleId, labels);
    if (!alert) return;
    this.options.logger.info({ alertId: alert.id, ruleId, labels }, 'alert resolved');
    await this.broadcast('alerts:resolved', alert);
  }
}
