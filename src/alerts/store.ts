// Alert rules, alerts and delivery attempts in Postgres. Exactly-once firing across instances rests on the
// partial unique index Alert_one_open_per_rule (at most one unresolved alert per rule), not on any in-memory state.

import { randomUUID } from 'node:crypto';
import { driverErrorOf } from '../db.js';
import { badInput, type DomainError, notFound } from '../errors.js';
import type {
  Alert as AlertRow,
  AlertRule as AlertRuleRow,
  DeliveryChannel,
  Prisma,
  PrismaClient,
} from '../generated/prisma/client.js';
import { isUuid } from '../ids.js';
import type { ConditionValues } from './evaluate.js';
import { type NotificationTarget, queueRows } from './queue.js';
import {
  type Alert,
  type AlertCondition,
  type AlertRule,
  type AlertRuleDefinition,
  type AlertRuleInput,
  type AlertStatus,
  type Severity,
  validateRuleInput,
  type WebhookPolicy,
} from './rules.js';

/** The index, created by the migration, that allows one unresolved alert per rule. */
export const OPEN_ALERT_INDEX = 'Alert_one_open_per_rule';

export interface AlertDelivery {
  id: string;
  alertId: string;
  channel: DeliveryChannel;
  target: string;
  attempt: number;
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  at: Date;
}

/** Unset or empty lists do not filter. */
export interface AlertFilter {
  status?: readonly AlertStatus[] | null;
  severities?: readonly Severity[] | null;
  ruleIds?: readonly string[] | null;
}

export interface AlertPageQuery extends AlertFilter {
  limit: number;
  /** Alerts stored before this one (by seq), for the next page. */
  beforeSeq?: bigint | null;
}

/** An alert with its position in the order alerts were stored (what a page cursor holds). */
export interface SequencedAlert {
  seq: bigint;
  alert: Alert;
}

export interface AlertStoreOptions {
  /** Most alerts one replay (`alertsSince`) may return. */
  maxReplay?: number;
  /** What webhook URLs a rule may hold (the server's settings). Unset: none without a secret, no private targets. */
  webhooks?: WebhookPolicy;
}

export interface AlertStore {
  createRule(input: AlertRuleInput): Promise<AlertRule>;
  /** Replaces the whole rule, as `updateAlertRule(id, input)` does. */
  updateRule(id: string, input: AlertRuleInput): Promise<AlertRule>;
  /** Deletes the rule and, in the same transaction, resolves its open alert, which nothing could resolve later. */
  deleteRule(id: string): Promise<{ deleted: boolean; resolved: Alert | null }>;
  listRules(): Promise<AlertRule[]>;
  getRule(id: string): Promise<AlertRule | null>;
  /** One entry per id, in order, null where there is no such rule: the shape a DataLoader wants. */
  getRulesByIds(ids: readonly string[]): Promise<(AlertRule | null)[]>;
  /**
   * Stores a FIRING alert and, in the same transaction, queues its notifications to `targets`; null when the rule
   * already has an unresolved one (fired here or on another instance).
   */
  fireAlert(
    rule: Pick<AlertRule, 'id' | 'name' | 'severity'>,
    message: string,
    values: ConditionValues,
    targets?: NotificationTarget[],
  ): Promise<Alert | null>;
  /** Resolves the rule's unresolved alert and returns it; null when there is none (or another instance resolved it). */
  resolveAlerts(ruleId: string): Promise<Alert | null>;
  /** FIRING → ACKNOWLEDGED. Acknowledging again changes nothing; a resolved alert cannot be acknowledged. */
  acknowledgeAlert(id: string): Promise<Alert>;
  /** Every unresolved alert, oldest first. */
  openAlerts(): Promise<Alert[]>;
  /** Newest first, at most `limit`. */
  pageAlerts(query: AlertPageQuery): Promise<SequencedAlert[]>;
  /** How many alerts are not yet resolved. */
  countOpen(): Promise<number>;
  /** Every alert stored after the alert `alertId`, oldest first: what a subscriber that saw `alertId` missed. */
  /** At most `limit` alerts; more is BAD_USER_INPUT (read them with listAlerts instead): a replay must stay bounded. */
  alertsSince(alertId: string, filter?: AlertFilter, limit?: number): Promise<Alert[]>;
  /** One list per alert id, in order, each oldest attempt first. */
  deliveriesFor(alertIds: readonly string[]): Promise<AlertDelivery[][]>;
}

function toRule(row: AlertRuleRow): AlertRule {
  return {
    id: row.id,
    name: row.name,
    severity: row.severity,
    enabled: row.enabled,
    // Validated before it was stored (validateRuleInput), so the JSON has this shape.
    conditions: row.conditions as unknown as AlertCondition[],
    forSeconds: row.forSeconds,
    keepFiringForSeconds: row.keepFiringForSeconds,
    noDataState: row.noDataState,
    webhookUrls: row.webhookUrls,
    emails: row.emails,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function toAlert(row: AlertRow): Alert {
  return {
    id: row.id,
    ruleId: row.ruleId,
    ruleName: row.ruleName,
    severity: row.severity,
    message: row.message,
    // Written only by fireAlert, from ConditionValues.
    values: row.values as Alert['values'],
    status: row.status,
    triggeredAt: row.triggeredAt,
    resolvedAt: row.resolvedAt,
    acknowledgedAt: row.acknowledgedAt,
  };
}

type RuleData = Omit<AlertRuleDefinition, 'conditions'> & { conditions: Prisma.InputJsonValue };

function ruleData(input: AlertRuleInput, policy: WebhookPolicy): RuleData {
  const validation = validateRuleInput(input, policy);
  if (!validation.ok) {
    const { problems } = validation;
    throw badInput(`invalid alert rule: ${problems.join('; ')}`, { problems });
  }
  return { ...validation.value, conditions: validation.value.conditions as unknown as Prisma.InputJsonValue };
}

function missing(what: string, id: string): DomainError {
  return notFound(`no ${what} with id ${id}`);
}

function isOpenAlertConflict(error: unknown): boolean {
  const cause = driverErrorOf(error);
  return (
    cause?.kind === 'UniqueConstraintViolation' &&
    cause.constraint !== undefined &&
    'index' in cause.constraint &&
    cause.constraint.index === OPEN_ALERT_INDEX
  );
}

function filterWhere({ status, severities, ruleIds }: AlertFilter): Prisma.AlertWhereInput {
  return {
    ...(status?.length ? { status: { in: [...status] } } : {}),
    ...(severities?.length ? { severity: { in: [...severities] } } : {}),
    ...(ruleIds?.length ? { ruleId: { in: ruleIds.filter(isUuid) } } : {}),
  };
}

const OPEN: Prisma.AlertWhereInput = { status: { not: 'RESOLVED' } };

export function createAlertStore(
  prisma: PrismaClient,
  {
    maxReplay = 500, // bounds the work and the response of one replay
    webhooks = { secretSet: false, allowPrivateTargets: false },
  }: AlertStoreOptions = {},
): AlertStore {
  function resolveOpen(ruleId: string) {
    return prisma.alert.updateManyAndReturn({
      where: { ruleId, ...OPEN },
      data: { status: 'RESOLVED', resolvedAt: new Date() },
    });
  }

  return {
    async createRule(input) {
      return toRule(await prisma.alertRule.create({ data: ruleData(input, webhooks) }));
    },

    async updateRule(id, input) {
      const data = ruleData(input, webhooks);
      if (!isUuid(id)) throw missing('alert rule', id);
      const [row] = await prisma.alertRule.updateManyAndReturn({ where: { id }, data });
      if (!row) throw missing('alert rule', id);
      return toRule(row);
    },

    async deleteRule(id) {
      if (!isUuid(id)) return { deleted: false, resolved: null };
      const [{ count }, [resolved]] = await prisma.$transaction([
        prisma.alertRule.deleteMany({ where: { id } }),
        resolveOpen(id),
      ]);
      return { deleted: count > 0, resolved: resolved ? toAlert(resolved) : null };
    },

    async listRules() {
      const rows = await prisma.alertRule.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
      return rows.map(toRule);
    },

    async getRule(id) {
      if (!isUuid(id)) return null;
      const row = await prisma.alertRule.findUnique({ where: { id } });
      return row ? toRule(row) : null;
    },

    async getRulesByIds(ids) {
      const rows = await prisma.alertRule.findMany({ where: { id: { in: ids.filter(isUuid) } } });
      const byId = new Map(rows.map((row) => [row.id, toRule(row)]));
      return ids.map((id) => byId.get(id) ?? null);
    },

    async fireAlert(rule, message, values, targets = []) {
      // The id and time are chosen here so the queued payload is the alert exactly as stored.
      const alert: Alert = {
        id: randomUUID(),
        ruleId: rule.id,
        ruleName: rule.name,
        severity: rule.severity,
        message,
        values,
        status: 'FIRING',
        triggeredAt: new Date(),
        resolvedAt: null,
        acknowledgedAt: null,
      };
      try {
        const [row] = await prisma.$transaction([
          prisma.alert.create({
            data: {
              id: alert.id,
              ruleId: rule.id,
              ruleName: rule.name,
              severity: rule.severity,
              message,
              values,
              triggeredAt: alert.triggeredAt,
            },
          }),
          prisma.notificationDelivery.createMany({ data: queueRows(alert, targets) }),
        ]);
        return toAlert(row);
      } catch (error) {
        // Another evaluation (here or on another instance) stored this rule's alert first: it is already firing.
        if (isOpenAlertConflict(error)) return null;
        throw error;
      }
    },

    async resolveAlerts(ruleId) {
      if (!isUuid(ruleId)) return null;
      const [row] = await resolveOpen(ruleId);
      return row ? toAlert(row) : null;
    },

    async acknowledgeAlert(id) {
      if (!isUuid(id)) throw missing('alert', id);
      const [acknowledged] = await prisma.alert.updateManyAndReturn({
        where: { id, status: 'FIRING' },
        data: { status: 'ACKNOWLEDGED', acknowledgedAt: new Date() },
      });
      if (acknowledged) return toAlert(acknowledged);
      const current = await prisma.alert.findUnique({ where: { id } });
      if (!current) throw missing('alert', id);
      if (current.status === 'RESOLVED') {
        throw badInput(`alert ${id} is resolved and can no longer be acknowledged`);
      }
      return toAlert(current);
    },

    async openAlerts() {
      const rows = await prisma.alert.findMany({ where: OPEN, orderBy: { seq: 'asc' } });
      return rows.map(toAlert);
    },

    async pageAlerts({ limit, beforeSeq, ...filter }) {
      const rows = await prisma.alert.findMany({
        where: { ...filterWhere(filter), ...(beforeSeq == null ? {} : { seq: { lt: beforeSeq } }) },
        orderBy: { seq: 'desc' },
        take: limit,
      });
      return rows.map((row) => ({ seq: row.seq, alert: toAlert(row) }));
    },

    countOpen() {
      return prisma.alert.count({ where: OPEN });
    },

    async alertsSince(alertId, filter = {}, limit = maxReplay) {
      const from = isUuid(alertId)
        ? await prisma.alert.findUnique({ where: { id: alertId }, select: { seq: true } })
        : null;
      if (!from) throw missing('alert', alertId);
      const rows = await prisma.alert.findMany({
        where: { ...filterWhere(filter), seq: { gt: from.seq } },
        orderBy: { seq: 'asc' },
        take: limit + 1,
      });
      if (rows.length > limit) {
        throw badInput(
          `more than ${limit} alerts were fired since ${alertId}: ` +
            'read them with the alerts query, then subscribe after the newest',
        );
      }
      return rows.map(toAlert);
    },

    async deliveriesFor(alertIds) {
      const rows: AlertDelivery[] = await prisma.alertDelivery.findMany({
        where: { alertId: { in: alertIds.filter(isUuid) } },
        orderBy: [{ at: 'asc' }, { attempt: 'asc' }],
      });
      const byAlert = new Map<string, AlertDelivery[]>(alertIds.map((id) => [id, []]));
      for (const row of rows) byAlert.get(row.alertId)?.push(row);
      return alertIds.map((id) => byAlert.get(id) ?? []);
    },
  };
}
