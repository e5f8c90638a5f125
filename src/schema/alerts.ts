// Alert rules, alerts, their deliveries, and the alert subscriptions.

import type { AlertPreview } from '../alerts/backtest.js';
import type { AlertRuleState } from '../alerts/rule-states.js';
import {
  ALERT_STATUSES,
  type Alert,
  type AlertCondition,
  type AlertRule,
  COMPARISON_OPERATORS,
  NO_DATA_STATES,
  SEVERITIES,
} from '../alerts/rules.js';
import type { Silence } from '../alerts/silences.js';
import type { AlertDelivery } from '../alerts/store.js';
import type { Principal } from '../auth/keys.js';
import { builder } from '../builder.js';
import { DeliveryChannel as DeliveryChannels } from '../generated/prisma/enums.js';
import { AggregationEnum, LabelMatcherInput, LabelRef, WindowSizeEnum } from './metrics.js';
import { connectionType } from './pagination.js';
import { pageRows, readCost } from './read-cost.js';
import { shared } from './sharing.js';

const SeverityEnum = builder.enumType('Severity', { values: SEVERITIES });
const AlertStatusEnum = builder.enumType('AlertStatus', { values: ALERT_STATUSES });
const ComparisonOperatorEnum = builder.enumType('ComparisonOperator', {
  values: COMPARISON_OPERATORS,
  description: 'EQ holds when |value − threshold| < 0.001.',
});
const NoDataStateEnum = builder.enumType('NoDataState', {
  values: NO_DATA_STATES,
  description:
    "What a rule does while a condition's window holds no samples. OK: the condition is false (COUNT is 0 and " +
    'compares). KEEP: the rule stays in the state it is in, unless another condition with data fails. ALERTING: ' +
    'the condition holds.',
});
const DeliveryChannelEnum = builder.enumType('DeliveryChannel', { values: Object.values(DeliveryChannels) });

const AlertConditionRef = builder.objectRef<AlertCondition>('AlertCondition').implement({
  fields: (t) => ({
    metric: t.exposeString('metric'),
    window: t.field({ type: WindowSizeEnum, resolve: (c) => c.window }),
    aggregation: t.field({ type: AggregationEnum, resolve: (c) => c.aggregation }),
    operator: t.field({ type: ComparisonOperatorEnum, resolve: (c) => c.operator }),
    threshold: t.exposeFloat('threshold'),
    labels: t.field({
      type: [LabelRef],
      description: "Label matchers: the condition reads the merge of the metric's label sets holding them all",
      resolve: (c) => c.labels ?? [],
    }),
  }),
});

const AlertRuleRef = builder.objectRef<AlertRule>('AlertRule').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    severity: t.field({ type: SeverityEnum, resolve: (r) => r.severity }),
    enabled: t.exposeBoolean('enabled'),
    conditions: t.field({
      type: [AlertConditionRef],
      description: 'All must hold (AND)',
      resolve: (r) => r.conditions,
    }),
    forSeconds: t.exposeInt('forSeconds', { description: 'How long the conditions must hold before the rule fires' }),
    keepFiringForSeconds: t.exposeInt('keepFiringForSeconds', {
      description: 'How long the conditions must stop holding before a firing rule resolves',
    }),
    noDataState: t.field({ type: NoDataStateEnum, resolve: (r) => r.noDataState }),
    // Admins only: webhook URLs often carry tokens, and addresses are personal data.
    webhookUrls: t.exposeStringList('webhookUrls', { authScopes: { admin: true }, description: 'Admins only' }),
    emails: t.exposeStringList('emails', {
      authScopes: { admin: true },
      description: 'Notified for HIGH and CRITICAL alerts (admins only)',
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (r) => r.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (r) => r.updatedAt }),
    // Notifications (issue 12)
    summary: t.exposeString('summary', {
      nullable: true,
      description: 'Template of the alert message: {{rule}}, {{severity}}, {{metric}}, {{value}}, … (see README)',
    }),
    notifyOnResolve: t.exposeBoolean('notifyOnResolve', {
      description: 'Whether webhooks and emails are told when an alert they were told of resolves',
    }),
    repeatIntervalSeconds: t.exposeInt('repeatIntervalSeconds', {
      nullable: true,
      description: 'Re-notifies a firing, unacknowledged, unsilenced alert this often; null: never',
    }),
    groupBy: t.exposeStringList('groupBy', {
      description:
        'Label names: the rule fires one alert per combination of their values (each with its own state, silences ' +
        'and notices); empty: one alert for the rule',
    }),
  }),
});

const AlertDeliveryRef = builder.objectRef<AlertDelivery>('AlertDelivery').implement({
  description: 'One attempt to notify a channel about an alert.',
  fields: (t) => ({
    channel: t.field({ type: DeliveryChannelEnum, resolve: (d) => d.channel }),
    target: t.exposeString('target'),
    attempt: t.exposeInt('attempt'),
    ok: t.exposeBoolean('ok'),
    statusCode: t.exposeInt('statusCode', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    at: t.field({ type: 'DateTime', resolve: (d) => d.at }),
  }),
});

const AlertRef = builder.objectRef<Alert>('Alert').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    rule: t.field({
      type: AlertRuleRef,
      nullable: true,
      description: 'Null once the rule is deleted',
      resolve: (a, _args, { loaders }) => loaders.alertRule.load(a.ruleId),
    }),
    ruleId: t.exposeID('ruleId'),
    ruleName: t.exposeString('ruleName'),
    severity: t.field({ type: SeverityEnum, resolve: (a) => a.severity }),
    message: t.exposeString('message'),
    values: t.field({ type: 'JSON', description: 'The aggregate values that made it fire', resolve: (a) => a.values }),
    status: t.field({ type: AlertStatusEnum, resolve: (a) => a.status }),
    triggeredAt: t.field({ type: 'DateTime', resolve: (a) => a.triggeredAt }),
    resolvedAt: t.field({ type: 'DateTime', nullable: true, resolve: (a) => a.resolvedAt }),
    acknowledgedAt: t.field({ type: 'DateTime', nullable: true, resolve: (a) => a.acknowledgedAt }),
    // Notifications (issue 12)
    silencedBy: t.exposeID('silencedBy', {
      nullable: true,
      description: 'The silence holding its notifications back, while one matches',
    }),
    acknowledgedBy: t.exposeString('acknowledgedBy', { nullable: true, description: "The acknowledging key's name" }),
    acknowledgeComment: t.exposeString('acknowledgeComment', { nullable: true }),
    labels: t.field({
      type: [LabelRef],
      description: "The label set it fired for (its rule's groupBy labels); empty for a rule without groupBy",
      resolve: (a) => a.labels,
    }),
    deliveries: t.field({
      type: [AlertDeliveryRef],
      description: 'Every notification attempt, oldest first (admins only: targets may carry tokens)',
      authScopes: { admin: true },
      resolve: (a, _args, { loaders }) => loaders.alertDeliveries.load(a.id),
    }),
  }),
});

const AlertConnectionRef = connectionType('Alert', AlertRef);

const RuleStateEnum = builder.enumType('RuleState', {
  values: ['INACTIVE', 'PENDING', 'FIRING'] as const,
  description: 'PENDING: the conditions hold, for less than forSeconds so far.',
});

const AlertRuleStateRef = builder.objectRef<AlertRuleState>('AlertRuleState').implement({
  description: "A rule's state as the alert engine last evaluated it.",
  fields: (t) => ({
    ruleId: t.exposeID('ruleId'),
    labels: t.field({
      type: [LabelRef],
      description: 'The label set this state is of, for a rule with groupBy (one state per label set it tracks)',
      resolve: (s) => s.labels,
    }),
    state: t.field({ type: RuleStateEnum, resolve: (s) => s.state }),
    values: t.field({ type: 'JSON', description: 'The current value of each condition', resolve: (s) => s.values }),
    pendingSince: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.pendingSince }),
    firesAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When a pending rule fires if its conditions go on holding',
      resolve: (s) => s.firesAt,
    }),
    at: t.field({ type: 'DateTime', description: 'When it was evaluated', resolve: (s) => s.at }),
  }),
});

const AlertPreviewRef = builder.objectRef<AlertPreview>('AlertPreview').implement({
  description: 'A firing a rule would have had over the stored history (previewAlertRule).',
  fields: (t) => ({
    firedAt: t.field({ type: 'DateTime', resolve: (p) => p.firedAt }),
    resolvedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'Null when it was still firing at `until`',
      resolve: (p) => p.resolvedAt,
    }),
    values: t.field({ type: 'JSON', description: 'The condition values when it fired', resolve: (p) => p.values }),
    labels: t.field({
      type: [LabelRef],
      description: 'The label set it fired for, for a rule with groupBy; empty otherwise',
      resolve: (p) => p.labels ?? [],
    }),
  }),
});

const SilenceRef = builder.objectRef<Silence>('Silence').implement({
  description: 'Holds back the notifications of the alerts it matches (every list it names must hold the alert).',
  fields: (t) => ({
    id: t.exposeID('id'),
    ruleIds: t.exposeIDList('ruleIds'),
    severities: t.field({ type: [SeverityEnum], resolve: (s) => s.severities }),
    labels: t.field({
      type: [LabelRef],
      description: "Label matchers the alert's label set must hold (empty: any)",
      resolve: (s) => s.labels,
    }),
    startsAt: t.field({ type: 'DateTime', resolve: (s) => s.startsAt }),
    endsAt: t.field({ type: 'DateTime', resolve: (s) => s.endsAt }),
    comment: t.exposeString('comment'),
    createdBy: t.exposeString('createdBy'),
    active: t.exposeBoolean('active', { description: 'In force now' }),
  }),
});

const SilenceInput = builder.inputType('SilenceInput', {
  fields: (t) => ({
    ruleIds: t.idList(),
    severities: t.field({ type: [SeverityEnum] }),
    labels: t.field({ type: [LabelMatcherInput], description: "Matchers the alert's label set must hold" }),
    startsAt: t.field({ type: 'DateTime', description: 'Default: now' }),
    endsAt: t.field({ type: 'DateTime', required: true }),
    comment: t.string({ required: true }),
  }),
});

/** Who did it, as an alert or a silence keeps it. */
function actor(principal: Principal | null): string {
  return principal?.name ?? 'unknown';
}

const AlertConditionInput = builder.inputType('AlertConditionInput', {
  fields: (t) => ({
    metric: t.string({ required: true }),
    window: t.field({ type: WindowSizeEnum, defaultValue: 'M5' }),
    aggregation: t.field({ type: AggregationEnum, defaultValue: 'AVG' }),
    operator: t.field({ type: ComparisonOperatorEnum, required: true }),
    threshold: t.float({ required: true }),
    labels: t.field({
      type: [LabelMatcherInput],
      description: "Reads the merge of the metric's label sets holding all of these (default: the metric's total)",
    }),
  }),
});

const AlertRuleInput = builder.inputType('AlertRuleInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    severity: t.field({ type: SeverityEnum, required: true }),
    conditions: t.field({ type: [AlertConditionInput], required: true }),
    enabled: t.boolean({ defaultValue: true }),
    forSeconds: t.int({ defaultValue: 0 }),
    keepFiringForSeconds: t.int({ defaultValue: 0 }),
    noDataState: t.field({ type: NoDataStateEnum, defaultValue: 'OK' }),
    webhookUrls: t.stringList({ defaultValue: [] }),
    emails: t.stringList({ defaultValue: [] }),
    // Notifications (issue 12)
    summary: t.string(),
    notifyOnResolve: t.boolean({ defaultValue: true }),
    repeatIntervalSeconds: t.int(),
    groupBy: t.stringList({
      description:
        'Label names: one alert per combination of their values (at most MAX_ALERT_LABEL_SETS_PER_RULE label sets)',
    }),
  }),
});

builder.queryFields((t) => ({
  alertRules: t.field({
    type: [AlertRuleRef],
    authScopes: { viewer: true },
    resolve: (_root, _args, { services }) => services.alerts.listRules(),
  }),
  alertRule: t.field({
    type: AlertRuleRef,
    nullable: true,
    authScopes: { viewer: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, { loaders }) => loaders.alertRule.load(String(id)),
  }),
  alerts: t.field({
    type: AlertConnectionRef,
    description: 'Alerts, newest first.',
    authScopes: { viewer: true },
    extensions: readCost({ rows: pageRows }),
    args: {
      first: t.arg.int({ defaultValue: 50 }),
      after: t.arg.string(),
      status: t.arg({ type: [AlertStatusEnum] }),
      severities: t.arg({ type: [SeverityEnum] }),
      ruleId: t.arg.id(),
      labels: t.arg({
        type: [LabelMatcherInput],
        description: 'Only alerts whose label set holds all of these (alerts of rules with groupBy)',
      }),
    },
    resolve: (_root, args, { services }) =>
      services.alerts.listAlerts({ ...args, ruleId: args.ruleId == null ? null : String(args.ruleId) }),
  }),
  silences: t.field({
    type: [SilenceRef],
    description: 'Newest end first (at most MAX_SILENCES). active: true, those in force; false, the others.',
    authScopes: { viewer: true },
    args: { active: t.arg.boolean() },
    resolve: (_root, { active }, { services }) => services.alerts.listSilences(active),
  }),
}));

builder.queryFields((t) => ({
  previewAlertRule: t.field({
    type: [AlertPreviewRef],
    description:
      'Backtest: when `input` would have fired and resolved between `since` and `until` (default now), evaluated ' +
      'over the stored events as they stand, with the buckets and semantics of live evaluation, at whole seconds. ' +
      'Reads at most MAX_BACKTEST_ROWS events (admins only).',
    authScopes: { admin: true },
    args: {
      input: t.arg({ type: AlertRuleInput, required: true }),
      since: t.arg({ type: 'DateTime', required: true }),
      until: t.arg({ type: 'DateTime' }),
    },
    resolve: (_root, { input, since, until }, { services }) =>
      services.alerts.previewAlertRule(input, since, until ?? null),
  }),
}));

builder.mutationFields((t) => ({
  createAlertRule: t.field({
    type: AlertRuleRef,
    authScopes: { admin: true },
    args: { input: t.arg({ type: AlertRuleInput, required: true }) },
    resolve: (_root, { input }, { services }) => services.alerts.createRule(input),
  }),
  updateAlertRule: t.field({
    type: AlertRuleRef,
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: AlertRuleInput, required: true }) },
    resolve: (_root, { id, input }, { services }) => services.alerts.updateRule(String(id), input),
  }),
  deleteAlertRule: t.field({
    type: 'Boolean',
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, { services }) => services.alerts.deleteRule(String(id)),
  }),
  acknowledgeAlert: t.field({
    type: AlertRef,
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }), comment: t.arg.string() },
    resolve: (_root, { id, comment }, { services, principal }) =>
      services.alerts.acknowledgeAlert(String(id), { by: actor(principal), comment }),
  }),
  redeliverAlert: t.field({
    type: AlertRef,
    description: "Sends the alert's notification again to its rule's channels, as it stands now",
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, { services }) => services.alerts.redeliverAlert(String(id)),
  }),
  createSilence: t.field({
    type: SilenceRef,
    authScopes: { admin: true },
    args: { input: t.arg({ type: SilenceInput, required: true }) },
    resolve: (_root, { input }, { services, principal }) =>
      services.alerts.createSilence({ ...input, ruleIds: input.ruleIds?.map(String) }, actor(principal)),
  }),
  expireSilence: t.field({
    type: SilenceRef,
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, { services }) => services.alerts.expireSilence(String(id)),
  }),
}));

builder.subscriptionFields((t) => ({
  alertTriggered: t.field({
    type: AlertRef,
    extensions: shared({ snapshot: false, perSubscriberWith: 'after' }),
    description:
      'Alerts as they fire. With `after`, first every alert fired since that one (from storage), then live ones.',
    authScopes: { viewer: true },
    args: { severities: t.arg({ type: [SeverityEnum] }), ruleIds: t.arg.idList(), after: t.arg.id() },
    subscribe: (_root, { severities, ruleIds, after }, { services }) =>
      services.alerts.subscribeTriggered({
        severities,
        ruleIds: ruleIds?.map(String),
        after: after == null ? null : String(after),
      }),
    resolve: (alert) => alert,
  }),
  alertRuleState: t.field({
    type: AlertRuleStateRef,
    description:
      "Each rule's state and condition values at once (every enabled rule, or those in `ruleIds`), then each " +
      'change: of state at once, of values at most once a second.',
    authScopes: { viewer: true },
    args: { ruleIds: t.arg.idList() },
    subscribe: (_root, { ruleIds }, { services }) => services.alerts.subscribeRuleStates(ruleIds?.map(String)),
    resolve: (state) => state,
  }),
  alertResolved: t.field({
    type: AlertRef,
    extensions: shared({ snapshot: false }),
    authScopes: { viewer: true },
    args: { ruleIds: t.arg.idList() },
    subscribe: (_root, { ruleIds }, { services }) => services.alerts.subscribeResolved(ruleIds?.map(String)),
    resolve: (alert) => alert,
  }),
}));
