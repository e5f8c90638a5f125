// Sends the queued notifications (queue.ts) to webhooks and email, recording every attempt as an AlertDelivery row.
// It works only while this instance leads the alert engine; the queue lives in Postgres, so a notification
// enqueued or left mid-retry by an instance that stopped or died is sent by whichever instance leads next.
// Work runs in the background, so a slow or failing receiver never delays the alert itself, nor `stop()`.

import { type Span, SpanKind } from '@opentelemetry/api';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Logger } from '../observability/logger.js';
import { ATTR, inSpan, SPAN, spanOutcome } from '../observability/tracing.js';
import { createEmailNotifier, type EmailNotifier } from './email.js';
import {
  claimDue,
  emailRecipients,
  finishRow,
  notificationOfPayload,
  type QueuedNotification,
  releaseRow,
  rescheduleRow,
} from './queue.js';
import { type AttemptOutcome, backoffDelayMs, postWebhook, type WebhookSecrets } from './webhook.js';

export interface AlertNotifierOptions {
  prisma: PrismaClient;
  logger: Logger;
  /** Whether this instance leads the alert engine: only the leader sends. */
  isLeader: () => boolean;
  /** WEBHOOK_SECRET (and WEBHOOK_SECRET_PREVIOUS); with no secret, webhooks are not sent. */
  webhookSecrets: WebhookSecrets;
  /** ALLOW_PRIVATE_WEBHOOK_TARGETS */
  allowPrivateTargets?: boolean;
  /** Limit on each attempt, per webhook or SMTP step. */
  timeoutMs?: number;
  /** Attempts per channel, the first included. */
  attempts?: number;
  /** Wait after the first failed attempt; doubles after each further one. */
  backoffMs?: number;
  /** How often the queue is looked at when nothing woke the notifier (a notification enqueued by another instance). */
  pollMs?: number;
  /** Notifications sent at once. */
  concurrency?: number;
  /** SMTP_URL; when unset no email is sent. */
  smtpUrl?: string;
  /** ALERT_EMAIL_FROM; required with smtpUrl. */
  emailFrom?: string;
  /**
   * Queues the notices that have fallen due (repeats, silences that ended: AlertStore.queueDueNotices), run by the
   * leader at every poll, so they are driven from the one place that sends.
   */
  queueDue?: () => Promise<number>;
}

export interface AlertNotifier {
  start(): void;
  /** Looks at the queue now: something was enqueued. */
  wake(): void;
  /** Stops sending and returns at once: attempts under way are abandoned and their rows left due. */
  stop(): Promise<void>;
}

function createEmail(smtpUrl: string | undefined, from: string | undefined, timeoutMs: number): EmailNotifier | null {
  if (!smtpUrl) return null;
  if (!from) throw new Error('ALERT_EMAIL_FROM must be set when SMTP_URL is set');
  return createEmailNotifier({ smtpUrl, from, timeoutMs });
}

export function createAlertNotifier({
  prisma,
  logger,
  isLeader,
  webhookSecrets,
  allowPrivateTargets = false,
  timeoutMs = 5_000, // 5 seconds: a receiver slower than that is treated as down and retried
  attempts = 5, // with the default backoff, retries span 7.5 s of waiting: enough to ride out a restart
  backoffMs = 500, // 0.5 s, 1 s, 2 s, 4 s between the 5 attempts
  pollMs = 1_000,
  concurrency = 32, // each is a socket waiting on a receiver, not CPU
  smtpUrl,
  emailFrom,
  queueDue = async () => 0,
}: AlertNotifierOptions): AlertNotifier {
  const email = createEmail(smtpUrl, emailFrom, timeoutMs);
  // An email attempt is bounded per SMTP step (connect, greeting, each silence), so by a few timeouts; past the
  // claim, the row is due again for another instance, and a duplicate is what the idempotency key is for.
  const claimMs = 4 * timeoutMs + 1_000;
  const stopping = new AbortController();
  const inFlight = new Set<Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();
  let poller: NodeJS.Timeout | null = null;
  let ticking = false;
  let again = false;

  function later(delayMs: number) {
    const timer = setTimeout(() => {
      timers.delete(timer);
      wake();
    }, delayMs);
    timers.add(timer);
  }

  async function attempt(row: QueuedNotification): Promise<AttemptOutcome | null> {
    if (row.channel === 'WEBHOOK') {
      if (!webhookSecrets.current) {
        return {
          result: { ok: false, statusCode: null, error: 'not sent: WEBHOOK_SECRET is not set' },
          retryable: false,
        };
      }
      return postWebhook({
        url: row.target,
        body: row.payload,
        secrets: webhookSecrets,
        deliveryId: row.id,
        timeoutMs,
        allowPrivateTargets,
        signal: stopping.signal,
      });
    }
    if (!email)
      return { result: { ok: false, statusCode: null, error: 'not sent: SMTP_URL is not set' }, retryable: false };
    const { retryable, ...result } = await email.send(
      notificationOfPayload(row.payload),
      emailRecipients(row.target),
      row.id,
    );
    return { result, retryable };
  }

  /** `target` is what the log may show: webhook URLs often carry a token, and addresses are personal data. */
  function logOutcome(row: QueuedNotification, outcome: AttemptOutcome, done: boolean) {
    const target = row.channel === 'WEBHOOK' ? 'webhook' : `${emailRecipients(row.target).length} recipient(s)`;
    const { alertId, id: deliveryId, kind, channel, attempts } = row;
    const context = { alertId, deliveryId, kind, channel, target, attempts };
    const { ok, statusCode, error } = outcome.result;
    if (ok) logger.info(context, 'alert delivered');
    else if (done) logger.warn({ ...context, statusCode, error }, 'alert delivery failed');
    else logger.info({ ...context, statusCode, error }, 'alert delivery attempt failed; retrying');
  }

  /** Each attempt is a span, a child of the firing's (its trace context is queued with the row). */
  function traced(row: QueuedNotification) {
    const attributes = {
      [ATTR.alertId]: row.alertId,
      [ATTR.channel]: row.channel,
      [ATTR.target]:
        row.channel === 'WEBHOOK' ? new URL(row.target).origin : `${emailRecipients(row.target).length} recipient(s)`,
      [ATTR.attempt]: row.attempts,
    };
    const parent = row.traceparent ?? null;
    return inSpan(SPAN.notify, { kind: SpanKind.CLIENT, parent, attributes }, (span) => deliver(row, span));
  }

  async function deliver(row: QueuedNotification, span: Span) {
    const outcome = await attempt(row);
    if (!outcome) {
      // Abandoned for the stop: whoever leads next sends it at once.
      await releaseRow(prisma, row.id).catch(() => {});
      return;
    }
    spanOutcome(span, outcome.result.ok ? null : (outcome.result.error ?? 'not delivered'));
    const done = outcome.result.ok || !outcome.retryable || row.attempts >= attempts;
    const delayMs = backoffDelayMs(backoffMs, row.attempts);
    const record = prisma.alertDelivery.create({
      data: {
        alertId: row.alertId,
        channel: row.channel,
        target: row.target,
        attempt: row.attempts,
        ...outcome.result,
      },
    });
    // The attempt and what follows from it are stored together; on failure the claim lapses and it is tried again.
    await prisma.$transaction([record, done ? finishRow(prisma, row.id) : rescheduleRow(prisma, row.id, delayMs)]);
    logOutcome(row, outcome, done);
    if (!done) later(delayMs);
  }

  async function tick() {
    if (stopping.signal.aborted || !isLeader()) return;
    const room = concurrency - inFlight.size;
    if (room <= 0) return;
    const rows = await claimDue(prisma, room, claimMs);
    for (const row of rows) {
      const task = traced(row)
        .catch((error) => logger.error({ err: error, deliveryId: row.id }, 'alert notification failed to run'))
        .finally(() => {
          inFlight.delete(task);
          wake();
        });
      inFlight.add(task);
    }
  }

  /** Ticks never overlap; a wake during one runs one more afterwards. */
  function wake() {
    if (stopping.signal.aborted) return;
    if (ticking) {
      again = true;
      return;
    }
    ticking = true;
    tick()
      .catch((error) => logger.warn({ err: error }, 'notification queue could not be read'))
      .finally(() => {
        ticking = false;
        if (again) {
          again = false;
          wake();
        }
      });
  }

  let queueing: Promise<void> | null = null;
  /** What has fallen due is queued, then the queue looked at; a slow database never stacks these up. */
  function poll() {
    if (stopping.signal.aborted || !isLeader() || queueing) return wake();
    queueing = queueDue()
      .then(
        () => {},
        (error) => logger.warn({ err: error }, 'due notifications could not be queued'),
      )
      .finally(() => {
        queueing = null;
        wake();
      });
  }

  return {
    start() {
      if (!email) logger.info('alert emails are off: SMTP_URL is not set');
      poller ??= setInterval(poll, pollMs);
      poll();
    },
    wake,
    async stop() {
      stopping.abort();
      if (poller) clearInterval(poller);
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      email?.close();
      // Webhook attempts end at the abort and give their rows back; an email under way is not waited for.
      const running = [...inFlight, ...(queueing ? [queueing] : [])];
      await Promise.race([Promise.allSettled(running), new Promise((resolve) => setTimeout(resolve, 100).unref())]);
    },
  };
}
