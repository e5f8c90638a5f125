// Alert rules, alerts, their deliveries, and the alert subscriptions.

import { fromAlertMessage } from '../alerts/engine.js';
import {
  ALERT_STATUSES,
  type Alert,
  type AlertCondition,
  type AlertRule,
  COMPARISON_OPERATORS,
  SEVERITIES,
} from '../alerts/rules.js';
import type { AlertDelivery } from '../alerts/store.js';
import { builder } from '../builder.js';
import { busIterator } from '../bus/subscription.js';
import { PageInfoRef, pageInfoOf } from './events.js';
import { AggregationEnum, WindowSizeEnum } from './metrics.js';

const SeverityEnum = builder.enumType('Severity', { values: SEVERITIES });
const AlertStatusEnum = builder.enumType('AlertStatus', { values: ALERT_STATUSES });
const ComparisonOperatorEnum = builder.enumType('ComparisonOperator', {
  values: COMPARISON_OPERATORS,
  description: 'EQ holds when |value − threshold| < 0.001.',
});
const DeliveryChannelEnum = builder.enumType('DeliveryChannel', { values: ['WEBHOOK', 'EMAIL'] as const });

const AlertConditionRef = builder.objectRef<AlertCondition>('AlertCondition').implement({
  fields: (t) => ({
    metric: t.exposeString('metric'),
    window: t.field({ type: WindowSizeEnum, resolve: (c) => c.window }),
    aggregation: t.field({ type: AggregationEnum, resolve: (c) => c.aggregation }),
    operator: t.field({ type: ComparisonOperatorEnum, resolve: (c) => c.operator }),
    threshold: t.exposeFloat('threshold'),
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
    // Admins only: webhook URLs often carry tokens, and addresses are personal data.
    webhookUrls: t.exposeStringList('webhookUrls', { authScopes: { admin: true }, description: 'Admins only' }),
    emails: t.exposeStringList('emails', {
      authScopes: { admin: true },
      description: 'Notified for HIGH and CRITICAL alerts (admins only)',
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (r) => r.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (r) => r.updatedAt }),
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
    deliveries: t.field({
      type: [AlertDeliveryRef],
      description: 'Every notification attempt, oldest first (admins only: targets may carry tokens)',
      authScopes: { admin: true },
      resolve: (a, _args, { loaders }) => loaders.alertDeliveries.load(a.id),
    }),
  }),
});

const AlertEdge = builder.objectRef<{ cursor: string; node: Alert }>('AlertEdge').implement({
  fields: (t) => ({ cursor: t.exposeString('cursor'), node: t.field({ type: AlertRef, resolve: (e) => e.node }) }),
});

const AlertConnectionRef = builder
  .objectRef<{ edges: { cursor: string; node: Alert }[]; pageInfo: { hasNextPage: boolean } }>('AlertConnection')
  .implement({
    fields: (t) => ({
      edges: t.field({ type: [AlertEdge], resolve: (c) => c.edges }),
      pageInfo: t.field({ type: PageInfoRef, resolve: (c) => pageInfoOf(c.edges, c.pageInfo.hasNextPage) }),
    }),
  });

const AlertConditionInput = builder.inputType('AlertConditionInput', {
  fields: (t) => ({
    metric: t.string({ required: true }),
    window: t.field({ type: WindowSizeEnum, defaultValue: 'M5' }),
    aggregation: t.field({ type: AggregationEnum, defaultValue: 'AVG' }),
    operator: t.field({ type: ComparisonOperatorEnum, required: true }),
    threshold: t.float({ required: true }),
  }),
});

const AlertRuleInput = builder.inputType('AlertRuleInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    severity: t.field({ type: SeverityEnum, required: true }),
    conditions: t.field({ type: [AlertConditionInput], required: true }),
    enabled: t.boolean({ defaultValue: true }),
    forSeconds: t.int({ defaultValue: 0 }),
    webhookUrls: t.stringList({ defaultValue: [] }),
    emails: t.stringList({ defaultValue: [] }),
  }),
});

builder.queryFields((t) => ({
  alertRules: t.field({
    type: [AlertRuleRef],
    authScopes: { viewer: true },
    resolve: (_root, _args, { services }) => services.alerts.store.listRules(),
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
    args: {
      first: t.arg.int({ defaultValue: 50 }),
      after: t.arg.string(),
      status: t.arg({ type: [AlertStatusEnum] }),
      severities: t.arg({ type: [SeverityEnum] }),
      ruleId: t.arg.id(),
    },
    resolve: (_root, args, { services }) =>
      services.alerts.store.listAlerts({ ...args, ruleId: args.ruleId == null ? null : String(args.ruleId) }),
  }),
}));

builder.mutationFields((t) => ({
  createAlertRule: t.field({
    type: AlertRuleRef,
    authScopes: { admin: true },
    args: { input: t.arg({ type: AlertRuleInput, required: true }) },
    resolve: async (_root, { input }, { services }) => {
      const rule = await services.alerts.store.createRule(input);
      await services.alerts.rulesChanged(rule.id);
      return rule;
    },
  }),
  updateAlertRule: t.field({
    type: AlertRuleRef,
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: AlertRuleInput, required: true }) },
    resolve: async (_root, { id, input }, { services }) => {
      const rule = await services.alerts.store.updateRule(String(id), input);
      await services.alerts.rulesChanged(rule.id);
      return rule;
    },
  }),
  deleteAlertRule: t.field({
    type: 'Boolean',
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, { services }) => {
      const { deleted, resolved } = await services.alerts.store.deleteRule(String(id));
      if (!deleted) return false;
      await services.alerts.rulesChanged(String(id), resolved);
      return true;
    },
  }),
  acknowledgeAlert: t.field({
    type: AlertRef,
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, { services }) => services.alerts.store.acknowledgeAlert(String(id)),
  }),
}));

builder.subscriptionFields((t) => ({
  alertTriggered: t.field({
    type: AlertRef,
    description:
      'Alerts as they fire. With `after`, first every alert fired since that one (from storage), then live ones.',
    authScopes: { viewer: true },
    args: { severities: t.arg({ type: [SeverityEnum] }), ruleIds: t.arg.idList(), after: t.arg.id() },
    subscribe: (_root, { severities, ruleIds, after }, { services }) => {
      const wantedSeverities = severities?.length ? new Set<string>(severities) : null;
      const wantedRules = ruleIds?.length ? new Set(ruleIds.map(String)) : null;
      return busIterator({
        bus: services.bus,
        topic: 'alerts:triggered',
        select: (message) =>
          (!wantedSeverities || wantedSeverities.has(message.severity)) &&
          (!wantedRules || wantedRules.has(message.ruleId))
            ? [fromAlertMessage(message)]
            : [],
        maxBuffered: services.config.SUBSCRIPTION_BUFFER,
        key: (alert) => alert.id,
        initial:
          after == null
            ? undefined
            : () => services.alerts.store.alertsSince(String(after), { severities, ruleIds: ruleIds?.map(String) }),
      });
    },
    resolve: (alert) => alert,
  }),
  alertResolved: t.field({
    type: AlertRef,
    authScopes: { viewer: true },
    args: { ruleIds: t.arg.idList() },
    subscribe: (_root, { ruleIds }, { services }) => {
      const wanted = ruleIds?.length ? new Set(ruleIds.map(String)) : null;
      return busIterator({
        bus: services.bus,
        topic: 'alerts:resolved',
        select: (message) => (!wanted || wanted.has(message.ruleId) ? [fromAlertMessage(message)] : []),
        maxBuffered: services.config.SUBSCRIPTION_BUFFER,
      });
    },
    resolve: (alert) => alert,
  }),
}));
