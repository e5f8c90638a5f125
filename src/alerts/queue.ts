// The notification queue in Postgres (model NotificationDelivery): what is enqueued with a firing alert, and how the
// notifier claims, reschedules and finishes rows. A claim moves the row's nextAttemptAt past the longest an attempt
// can take, so a row whose instance dies mid-attempt becomes due again by itself, for whichever instance leads then.
import type { DeliveryChannel, NotificationKind, Prisma, PrismaClient } from '../generated/prisma/client.js';
import { activeTraceparent } from '../observability/tracing.js';
import type { Alert, AlertRule, Severity } from './rules.js';

/** The contract sends email only for these severities; webhooks get every alert. */
const EMAIL_SEVERITIES: ReadonlySet<Severity> = new Set(['HIGH', 'CRITICAL']);

/** Email recipients are stored joined by this; an address (rules.ts validates them) holds neither ',' nor ' '. */
const RECIPIENT_SEPARATOR = ', ';

export interface NotificationTarget {
  channel: DeliveryChannel;
  /** The webhook URL, or the email recipients joined. */
  target: string;
}

export type { NotificationKind };

/** What a queued row sends: the kind of notice, and the alert as it stood when the notice was queued. */
export interface Notification {
  kind: NotificationKind;
  alert: Alert;
}

export interface QueuedNotification extends NotificationTarget {
  id: string;
  alertId: string;
  kind: NotificationKind;
  payload: string;
  /** Counting the attempt just claimed. */
  attempts: number;
  /** The firing's trace context, when it was traced. */
  traceparent: string | null;
}

/**
 * The JSON document POSTed to webhooks: `kind` says which notice it is (FIRING, REPEAT, RESOLVED, REDELIVERY) and
 * `alert.id` pairs a resolution with its firing; `alert.status` is the alert's status when the notice was queued.
 */
function webhookPayload(kind: NotificationKind, alert: Alert): string {
  return JSON.stringify({ kind, alert });
}

/** The notice back from a stored payload, the alert's dates revived. Rows queued before `kind` existed are firings. */
export function notificationOfPayload(payload: string): Notification {
  const { kind = 'FIRING', alert } = JSON.parse(payload) as {
    kind?: NotificationKind;
    alert: Alert & Record<keyof Alert, unknown>;
  };
  const date = (value: unknown) => (value == null ? null : new Date(value as string));
  return {
    kind,
    alert: {
      ...alert,
      triggeredAt: new Date(alert.triggeredAt as unknown as string),
      resolvedAt: date(alert.resolvedAt),
      acknowledgedAt: date(alert.acknowledgedAt),
      // Rows queued before alerts per label set have none.
      labels: (alert.labels as Alert['labels'] | undefined) ?? [],
    },
  };
}

export function emailRecipients(target: string): string[] {
  return target.split(RECIPIENT_SEPARATOR);
}

/** The channels an alert of `rule` goes to: every webhook, and one email to all recipients when it is due one. */
export function notificationTargets(
  rule: Pick<AlertRule, 'webhookUrls' | 'emails' | 'severity'>,
  emailEnabled: boolean,
): { targets: NotificationTarget[]; emailSkipped: boolean } {
  const targets: NotificationTarget[] = rule.webhookUrls.map((url) => ({ channel: 'WEBHOOK', target: url }));
  const wantsEmail = EMAIL_SEVERITIES.has(rule.severity) && rule.emails.length > 0;
  if (wantsEmail && emailEnabled) targets.push({ channel: 'EMAIL', target: rule.emails.join(RECIPIENT_SEPARATOR) });
  return { targets, emailSkipped: wantsEmail && !emailEnabled };
}

/**
 * The rows of one notice about `alert`, inserted in the transaction that decided it is due (and in the span of the
 * firing, whose context they keep). Each row's id is its idempotency key: one per notice and channel.
 */
export function queueRows(
  kind: NotificationKind,
  alert: Alert,
  targets: NotificationTarget[],
): Prisma.NotificationDeliveryCreateManyInput[] {
  const payload = webhookPayload(kind, alert);
  const traceparent = activeTraceparent() ?? null;
  return targets.map(({ channel, target }) => ({ alertId: alert.id, kind, channel, target, payload, traceparent }));
}

/** Takes up to `limit` due rows, counting an attempt on each and holding it for `claimMs`. */
export function claimDue(prisma: PrismaClient, limit: number, claimMs: number): Promise<QueuedNotification[]> {
  return prisma.$queryRaw<QueuedNotification[]>`
    UPDATE "NotificationDelivery"
    SET "attempts" = "attempts" + 1, "nextAttemptAt" = now() + ${claimMs}::int * interval '1 millisecond'
    WHERE "id" IN (
      SELECT "id" FROM "NotificationDelivery" WHERE "nextAttemptAt" <= now()
      ORDER BY "nextAttemptAt" LIMIT ${limit}::int FOR UPDATE SKIP LOCKED
    )
    RETURNING "id", "alertId", "kind"::text AS "kind", "channel"::text AS "channel", "target", "payload", "attempts",
      "traceparent"`;
}

/** Due again after `delayMs` (a backoff), by the database's clock like the claim. */
export function rescheduleRow(prisma: PrismaClient, id: string, delayMs: number) {
  return prisma.$executeRaw`
    UPDATE "NotificationDelivery" SET "nextAttemptAt" = now() + ${delayMs}::int * interval '1 millisecond'
    WHERE "id" = ${id}::uuid`;
}

/** Gives back a claim whose attempt was abandoned (the notifier stopped): due at once, the attempt not counted. */
export function releaseRow(prisma: PrismaClient, id: string) {
  return prisma.$executeRaw`
    UPDATE "NotificationDelivery" SET "nextAttemptAt" = now(), "attempts" = "attempts" - 1 WHERE "id" = ${id}::uuid`;
}

export function finishRow(prisma: PrismaClient, id: string) {
  return prisma.notificationDelivery.deleteMany({ where: { id } });
}
