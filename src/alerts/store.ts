// Alert rules, alerts and delivery attempts in Postgres. Exactly-once firing across instances rests on the
// partial unique index Alert_one_open_per_rule (at most one unresolved alert per rule), not on any in-memory state.

import { randomUUID } from 'node:crypto';
import type { Label } from '../aggregation/labels.js';
import { driverErrorOf } from '../db.js';
import { badInput, type DomainError, notFound } from '../errors.js';
import {
  type Alert as AlertRow,
  type AlertRule as AlertRuleRow,
  type DeliveryChannel,
  Prisma,
  type PrismaClient,
} from '../generated/prisma/client.js';
import { isUuid } from '../ids.js';
import type { ConditionValues } from './evaluate.js';
import { labelItems, labelsOfItems } from './label-sets.js';
import { type NotificationKind, notificationTargets, queueRows } from './queue.js';
import {
  type Alert,
  type AlertCondition,
  type AlertRule,
  type AlertRuleDefinition,
  type AlertRuleInput,
  type AlertStatus,
  DEFAULT_NOTICE_LIMITS,
  type NoticeLimits,
  type Severity,
  validateRuleInput,
  type WebhookPolicy,
} from './rules.js';
import {
  activeWhere,
  SILENCE_LIMITS,
  type Silence,
  type SilenceInput,
  toSilence,
  validateSilenceInput,
} from './silences.js';

/** The index, created by the migrations, that allows one unresolved alert per rule and label set. */
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
  /** Label matchers the alert's label set must hold (alerts per label set). */
  labels?: readonly Label[] | null;
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
  // Notifications (issue 12)
  /** SMTP_URL is set: email notices are queued (otherwise only webhooks are). */
  emailEnabled?: boolean;
  /** MAX_SUMMARY_LENGTH, MIN_REPEAT_INTERVAL_SECONDS */
  notices?: NoticeLimits;
  /** MAX_SILENCES: silences not yet ended, at most. */
  maxSilences?: number;
  /** MAX_COMMENT_LENGTH: of a silence's or an acknowledgement's comment. */
  maxCommentLength?: number;
}

/** Who acknowledges, and why. */
export interface Acknowledgement {
  by: string;
  comment?: string | null;
}

export interface AlertStore {
  createRule(input: AlertRuleInput): Promise<AlertRule>;
  /** Replaces the whole rule, as `updateAlertRule(id, input)` does. */
  updateRule(id: string, input: AlertRuleInput): Promise<AlertRule>;
  /** Deletes the rule and, in the same transaction, resolves its open alerts, which nothing could resolve later. */
  deleteRule(id: string): Promise<{ deleted: boolean; resolved: Alert[] }>;
  listRules(): Promise<AlertRule[]>;
  getRule(id: string): Promise<AlertRule | null>;
  /** One entry per id, in order, null where there is no such rule: the shape a DataLoader wants. */
  getRulesByIds(ids: readonly string[]): Promise<(AlertRule | null)[]>;
  /**
   * Stores a FIRING alert for the label set `labels` (none: a rule without groupBy) and, in the same transaction,
   * queues its notifications to the rule's channels; null when the rule already has an unresolved one for that label
   * set (fired here or on another instance). When a silence matches, the alert is stored marked with it and nothing
   * is queued.
   */
  fireAlert(
    rule: NotifiedRule,
    message: string,
    values: ConditionValues,
    labels?: readonly Label[],
  ): Promise<Alert | null>;
  /**
   * Resolves the rule's unresolved alert for the label set `labels` (none by default) and returns it; null when
   * there is none (or another instance resolved it). Queues a resolution notice in the same transaction when the
   * rule asks for one and the firing was sent.
   */
  resolveAlerts(ruleId: string, labels?: readonly Label[]): Promise<Alert | null>;
  /** FIRING → ACKNOWLEDGED. Acknowledging again changes nothing; a resolved alert cannot be acknowledged. */
  acknowledgeAlert(id: string, acknowledgement: Acknowledgement): Promise<Alert>;
  /**
   * Brings each unresolved alert's silence up to date, then queues every notice that has fallen due: the firing of
   * an alert whose silence ended, and repeats. Each is claimed by a compare-and-set on the alert's notice count, in
   * the transaction that queues it, so it is queued once however many instances run this. Returns how many.
   */
  queueDueNotices(): Promise<number>;
  /** Queues the alert's current state to its rule's channels again (an admin's redelivery). */
  redeliverAlert(id: string): Promise<Alert>;
  createSilence(input: SilenceInput, createdBy: string): Promise<Silence>;
  /** Ends a silence now; one already over is returned as it is. */
  expireSilence(id: string): Promise<Silence>;
  /** Newest end first, at most MAX_SILENCES; `active` true/false keeps those in force / not in force. */
  listSilences(active?: boolean | null): Promise<Silence[]>;
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
    summary: row.summary,
    notifyOnResolve: row.notifyOnResolve,
    repeatIntervalSeconds: row.repeatIntervalSeconds,
    groupBy: row.groupBy,
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
    silencedBy: row.silencedBy,
    acknowledgedBy: row.acknowledgedBy,
    acknowledgeComment: row.acknowledgeComment,
    labels: labelsOfItems(row.labels),
  };
}

/** What of a rule its notices need: where they go, and whether it wants resolutions. */
export type NotifiedRule = Pick<
  AlertRule,
  'id' | 'name' | 'severity' | 'webhookUrls' | 'emails' | 'notifyOnResolve' | 'repeatIntervalSeconds'
>;

type Tx = Prisma.TransactionClient;

/**
 * The id of the silence in force that matches an alert of this rule, severity and label set (the one lasting
 * longest), or null: one subquery for the firing and for the silences' sync alike. A silence's lists each match all
 * when empty; its label matchers must all be among the alert's labels.
 */
function silenceSubquery(ruleId: Prisma.Sql, severity: Prisma.Sql, labels: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`(
    SELECT s."id" FROM "Silence" s
    WHERE s."startsAt" <= now() AND s."endsAt" > now()
      AND (coalesce(cardinality(s."ruleIds"), 0) = 0 OR ${ruleId} = ANY (s."ruleIds"))
      AND (coalesce(cardinality(s."severities"), 0) = 0 OR ${severity} = ANY (s."severities"))
      AND coalesce(s."labels", '{}') <@ coalesce(${labels}, '{}')
    ORDER BY s."endsAt" DESC, s."id" LIMIT 1)`;
}

async function matchingSilence(tx: Tx, ruleId: string, severity: Severity, labels: string[]): Promise<string | null> {
  const subquery = silenceSubquery(
    Prisma.sql`${ruleId}::uuid`,
    Prisma.sql`${severity}::"Severity"`,
    Prisma.sql`${labels}::text[]`,
  );
  const [match] = await tx.$queryRaw<{ id: string | null }[]>`SELECT ${subquery} AS "id"`;
  return match?.id ?? null;
}

type RuleData = Omit<AlertRuleDefinition, 'conditions'> & { conditions: Prisma.InputJsonValue };

function ruleData(input: AlertRuleInput, policy: WebhookPolicy, notices: NoticeLimits): RuleData {
  const validation = validateRuleInput(input, policy, notices);
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

function filterWhere({ status, severities, ruleIds, labels }: AlertFilter): Prisma.AlertWhereInput {
  return {
    ...(labels?.length ? { labels: { hasEvery: labelItems(labels) } } : {}),
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
    emailEnabled = false,
    notices = DEFAULT_NOTICE_LIMITS,
    maxSilences = SILENCE_LIMITS.maxSilences,
    maxCommentLength = SILENCE_LIMITS.maxCommentLength,
  }: AlertStoreOptions = {},
): AlertStore {
  /** Queues one notice about `alert` to every channel of `rule`. */
  function enqueue(tx: Tx, kind: NotificationKind, alert: Alert, rule: NotifiedRule) {
    const { targets } = notificationTargets(rule, emailEnabled);
    return tx.notificationDelivery.createMany({ data: queueRows(kind, alert, targets) });
  }

  /**
   * Resolves the rule's open alerts (of one label set, or all of them when `labels` is null) and, for each whose
   * firing was sent, queues the resolution when the rule wants it.
   */
  async function resolveOpen(
    tx: Tx,
    ruleId: string,
    labels: readonly Label[] | null,
    rule: NotifiedRule | null,
  ): Promise<Alert[]> {
    const rows = await tx.alert.updateManyAndReturn({
      where: { ruleId, ...OPEN, ...(labels === null ? {} : { labels: { equals: labelItems(labels) } }) },
      data: { status: 'RESOLVED', resolvedAt: new Date() },
    });
    const alerts: Alert[] = [];
    for (const row of rows) {
      const alert = toAlert(row);
      // Sent even if a silence began since: a receiver that was told of the firing can close what it opened.
      if (rule?.notifyOnResolve && row.notifiedAt !== null) await enqueue(tx, 'RESOLVED', alert, rule);
      alerts.push(alert);
    }
    return alerts;
  }

  function commentProblem(comment: string | null | undefined): string | null {
    if (comment != null && comment.length > maxCommentLength) {
      return `comment must be at most ${maxCommentLength} characters (MAX_COMMENT_LENGTH)`;
    }
    return null;
  }

  return {
    async createRule(input) {
      return toRule(await prisma.alertRule.create({ data: ruleData(input, webhooks, notices) }));
    },

    async updateRule(id, input) {
      const data = ruleData(input, webhooks, notices);
      if (!isUuid(id)) throw missing('alert rule', id);
      const [row] = await prisma.alertRule.updateManyAndReturn({ where: { id }, data });
      if (!row) throw missing('alert rule', id);
      return toRule(row);
    },

    async deleteRule(id) {
      if (!isUuid(id)) return { deleted: false, resolved: [] };
      return prisma.$transaction(async (tx) => {
        const [row] = await tx.$queryRaw<AlertRuleRow[]>`DELETE FROM "AlertRule" WHERE "id" = ${id}::uuid RETURNING *`;
        if (!row) return { deleted: false, resolved: [] };
        // Its resolutions go to the channels the rule had.
        return { deleted: true, resolved: await resolveOpen(tx, id, null, toRule(row)) };
      });
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

    async fireAlert(rule, message, values, labels = []) {
      // The id and time are chosen here so the queued payload is the alert exactly as stored.
      const triggeredAt = new Date();
      const items = labelItems(labels);
      try {
        return await prisma.$transaction(async (tx) => {
          const silencedBy = await matchingSilence(tx, rule.id, rule.severity, items);
          const row = await tx.alert.create({
            data: {
              id: randomUUID(),
              ruleId: rule.id,
              ruleName: rule.name,
              severity: rule.severity,
              message,
              values,
              triggeredAt,
              silencedBy,
              // A silenced alert's firing is sent when its silence ends, if it still fires (queueDueNotices).
              notifiedAt: silencedBy ? null : triggeredAt,
              notices: silencedBy ? 0 : 1,
              labels: items,
            },
          });
          const alert = toAlert(row);
          if (!silencedBy) await enqueue(tx, 'FIRING', alert, rule);
          return alert;
        });
      } catch (error) {
        // Another evaluation (here or on another instance) stored this rule's alert for this label set first: it is
        // already firing.
        if (isOpenAlertConflict(error)) return null;
        throw error;
      }
    },

    async resolveAlerts(ruleId, labels = []) {
      if (!isUuid(ruleId)) return null;
      return prisma.$transaction(async (tx) => {
        const rule = await tx.alertRule.findUnique({ where: { id: ruleId } });
        const [alert] = await resolveOpen(tx, ruleId, labels, rule && toRule(rule));
        return alert ?? null;
      });
    },

    async acknowledgeAlert(id, { by, comment }) {
      const problem = commentProblem(comment);
      if (problem) throw badInput(`invalid acknowledgement: ${problem}`, { problems: [problem] });
      if (!isUuid(id)) throw missing('alert', id);
      const [acknowledged] = await prisma.alert.updateManyAndReturn({
        where: { id, status: 'FIRING' },
        data: {
          status: 'ACKNOWLEDGED',
          acknowledgedAt: new Date(),
          acknowledgedBy: by,
          acknowledgeComment: comment?.trim() || null,
        },
      });
      if (acknowledged) return toAlert(acknowledged);
      const current = await prisma.alert.findUnique({ where: { id } });
      if (!current) throw missing('alert', id);
      if (current.status === 'RESOLVED') {
        throw badInput(`alert ${id} is resolved and can no longer be acknowledged`);
      }
      return toAlert(current);
    },

    async queueDueNotices() {
      // Silences first: an alert whose silence ended (or was expired) is unmarked here, and is then due below.
      await prisma.$executeRaw`
        UPDATE "Alert" AS a SET "silencedBy" = m."silence"
        FROM (
          SELECT o."id",
            ${silenceSubquery(Prisma.raw('o."ruleId"'), Prisma.raw('o."severity"'), Prisma.raw('o."labels"'))} AS "silence"
          FROM "Alert" o WHERE o."status" <> 'RESOLVED'
        ) AS m
        WHERE a."id" = m."id" AND a."silencedBy" IS DISTINCT FROM m."silence"`;
      // Due: never notified (silenced when it fired), or a repeat whose interval has passed. By this instance's clock,
      // which also wrote notifiedAt (fireAlert, below): skew between instances moves a repeat, never duplicates it.
      const now = new Date();
      const due = await prisma.$queryRaw<{ id: string; notices: number }[]>`
        SELECT a."id", a."notices" FROM "Alert" a JOIN "AlertRule" r ON r."id" = a."ruleId"
        WHERE a."status" = 'FIRING' AND a."silencedBy" IS NULL AND r."enabled" AND (
          a."notices" = 0
          OR (r."repeatIntervalSeconds" IS NOT NULL
              AND a."notifiedAt" <= ${now}::timestamptz - r."repeatIntervalSeconds" * interval '1 second'))
        ORDER BY a."seq"`;
      let queued = 0;
      for (const { id, notices: seen } of due) {
        const sent = await prisma.$transaction(async (tx) => {
          const [row] = await tx.alert.updateManyAndReturn({
            where: { id, notices: seen, status: 'FIRING', silencedBy: null },
            data: { notices: { increment: 1 }, notifiedAt: now },
          });
          const rule = row && (await tx.alertRule.findUnique({ where: { id: row.ruleId } }));
          if (!row || !rule) return false;
          await enqueue(tx, seen === 0 ? 'FIRING' : 'REPEAT', toAlert(row), toRule(rule));
          return true;
        });
        if (sent) queued++;
      }
      return queued;
    },

    async redeliverAlert(id) {
      if (!isUuid(id)) throw missing('alert', id);
      return prisma.$transaction(async (tx) => {
        const row = await tx.alert.findUnique({ where: { id } });
        if (!row) throw missing('alert', id);
        const rule = await tx.alertRule.findUnique({ where: { id: row.ruleId } });
        if (!rule) throw badInput(`alert ${id} cannot be redelivered: its rule was deleted, and with it its channels`);
        const { targets } = notificationTargets(toRule(rule), emailEnabled);
        if (targets.length === 0) {
          throw badInput(
            `alert ${id} cannot be redelivered: rule ${rule.id} has no channel to send it to ` +
              '(webhooks, or emails for HIGH and CRITICAL alerts with SMTP_URL set)',
          );
        }
        const alert = toAlert(row);
        await tx.notificationDelivery.createMany({ data: queueRows('REDELIVERY', alert, targets) });
        return alert;
      });
    },

    async createSilence(input, createdBy) {
      const now = new Date();
      const validation = validateSilenceInput(input, now, maxCommentLength);
      if (!validation.ok) {
        const { problems } = validation;
        throw badInput(`invalid silence: ${problems.join('; ')}`, { problems });
      }
      const silence = validation.value;
      const known = await prisma.alertRule.findMany({ where: { id: { in: silence.ruleIds } }, select: { id: true } });
      const unknown = silence.ruleIds.filter((id) => !known.some((rule) => rule.id === id));
      if (unknown.length > 0) {
        const problem = `ruleIds name no rule: ${unknown.join(', ')}`;
        throw badInput(`invalid silence: ${problem}`, { problems: [problem] });
      }
      if ((await prisma.silence.count({ where: { endsAt: { gt: now } } })) >= maxSilences) {
        throw badInput(`there are already ${maxSilences} silences not yet ended: expire some first`, {
          limit: 'MAX_SILENCES',
        });
      }
      const row = await prisma.silence.create({
        data: { ...silence, labels: labelItems(silence.labels), createdBy },
      });
      return toSilence(row, now);
    },

    async expireSilence(id) {
      if (!isUuid(id)) throw missing('silence', id);
      const row = await prisma.silence.findUnique({ where: { id } });
      if (!row) throw missing('silence', id);
      const now = new Date();
      if (row.endsAt <= now) return toSilence(row, now);
      // A silence that had not begun ends without ever having begun.
      const startsAt = row.startsAt < now ? row.startsAt : now;
      const [ended] = await prisma.silence.updateManyAndReturn({
        where: { id, endsAt: { gt: now } },
        data: { startsAt, endsAt: now },
      });
      return toSilence(ended ?? row, now);
    },

    async listSilences(active) {
      const now = new Date();
      const where = active == null ? {} : active ? activeWhere(now) : { NOT: activeWhere(now) };
      const rows = await prisma.silence.findMany({
        where,
        orderBy: [{ endsAt: 'desc' }, { id: 'asc' }],
        take: maxSilences,
      });
      return rows.map((row) => toSilence(row, now));
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
