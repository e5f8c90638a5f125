// Sends a stored alert to its rule's webhooks and, for HIGH and CRITICAL, its emails, recording every attempt.
// Work runs in the background so that a slow or failing receiver never delays the subscribers' alert.

import { SpanKind } from '@opentelemetry/api';
import type { DeliveryChannel, PrismaClient } from '../generated/prisma/client.js';
import type { Logger } from '../observability/logger.js';
import { ATTR, inSpan, SPAN, spanOutcome } from '../observability/tracing.js';
import { createEmailNotifier, type EmailNotifier } from './email.js';
import type { Alert, AlertRule, Severity } from './rules.js';
import { type DeliveryAttempt, deliverWebhook, withRetries } from './webhook.js';

/** The contract sends email only for these severities; webhooks get every alert. */
export const EMAIL_SEVERITIES: ReadonlySet<Severity> = new Set(['HIGH', 'CRITICAL']);

export interface AlertNotifierOptions {
  prisma: PrismaClient;
  logger: Logger;
  /** Key of the HMAC in the X-Jackdaw-Signature header (WEBHOOK_SECRET). */
  webhookSecret: string;
  /** Limit on each attempt, per webhook or SMTP step. */
  timeoutMs?: number;
  /** Attempts per channel, the first included. */
  attempts?: number;
  /** Wait after the first failed attempt; doubles after each further one. */
  backoffMs?: number;
  /** SMTP_URL; when unset no email is sent. */
  smtpUrl?: string;
  /** ALERT_EMAIL_FROM; required with smtpUrl. */
  emailFrom?: string;
}

export interface AlertNotifier {
  /** Starts delivering `alert` to the channels of `rule` and returns at once. */
  notify(alert: Alert, rule: AlertRule): void;
  /** Resolves once every delivery started so far has finished (succeeded or used up its attempts). */
  drain(): Promise<void>;
  /** Drains, then closes the SMTP transport. */
  close(): Promise<void>;
}

/** The JSON document POSTed to webhooks; `alert.status` tells a firing from a resolved one. */
export function webhookPayload(alert: Alert): string {
  return JSON.stringify({ alert });
}

function createEmail(smtpUrl: string | undefined, from: string | undefined, timeoutMs: number): EmailNotifier | null {
  if (!smtpUrl) return null;
  if (!from) throw new Error('ALERT_EMAIL_FROM must be set when SMTP_URL is set');
  return createEmailNotifier({ smtpUrl, from, timeoutMs });
}

export function createAlertNotifier({
  prisma,
  logger,
  webhookSecret,
  timeoutMs = 5_000, // 5 seconds: a receiver slower than that is treated as down and retried
  attempts = 5, // with the default backoff, retries span 7.5 s of waiting: enough to ride out a restart
  backoffMs = 500, // 0.5 s, 1 s, 2 s, 4 s between the 5 attempts
  smtpUrl,
  emailFrom,
}: AlertNotifierOptions): AlertNotifier {
  const email = createEmail(smtpUrl, emailFrom, timeoutMs);
  const inFlight = new Set<Promise<void>>();
  let closed = false;

  /** Stores one attempt. A failure to store is logged, and never stops the delivery itself. */
  async function record(alert: Alert, channel: DeliveryChannel, target: string, attempt: DeliveryAttempt) {
    try {
      await prisma.alertDelivery.create({ data: { alertId: alert.id, channel, target, ...attempt } });
    } catch (error) {
      const context = { err: error, alertId: alert.id, channel, attempt: attempt.attempt };
      logger.error(context, 'could not record an alert delivery attempt');
    }
  }

  /** `target` is what the log may show: webhook URLs often carry a token, and addresses are personal data. */
  function logOutcome(alert: Alert, channel: DeliveryChannel, target: string, last: DeliveryAttempt) {
    const context = { alertId: alert.id, ruleId: alert.ruleId, channel, target, attempts: last.attempt };
    if (last.ok) logger.info(context, 'alert delivered');
    else logger.warn({ ...context, statusCode: last.statusCode, error: last.error }, 'alert delivery failed');
  }

  async function sendWebhook(alert: Alert, url: string, body: string) {
    const last = await deliverWebhook({
      url,
      body,
      secret: webhookSecret,
      timeoutMs,
      attempts,
      backoffMs,
      onAttempt: (attempt) => record(alert, 'WEBHOOK', url, attempt),
    });
    logOutcome(alert, 'WEBHOOK', new URL(url).origin, last);
    return last;
  }

  async function sendEmail(alert: Alert, mailer: EmailNotifier, recipients: string[]) {
    const target = recipients.join(', ');
    const last = await withRetries(
      { attempts, backoffMs, onAttempt: (attempt) => record(alert, 'EMAIL', target, attempt) },
      async (attempt) => {
        const { retryable, ...outcome } = await mailer.send(alert, recipients);
        return { result: { attempt, ...outcome }, retryable };
      },
    );
    logOutcome(alert, 'EMAIL', `${recipients.length} recipient(s)`, last);
    return last;
  }

  /** A span per channel, a child of the firing's (notify runs in its context). */
  async function traced(alert: Alert, channel: DeliveryChannel, target: string, send: () => Promise<DeliveryAttempt>) {
    const attributes = { [ATTR.alertId]: alert.id, [ATTR.channel]: channel, [ATTR.target]: target };
    await inSpan(SPAN.notify, { kind: SpanKind.CLIENT, attributes }, async (span) => {
      const last = await send();
      spanOutcome(span, last.attempt, last.ok ? null : (last.error ?? 'not delivered'));
    });
  }

  /** Every channel of the rule, each independent of the others. */
  function deliveries(alert: Alert, rule: AlertRule): Promise<void>[] {
    const body = webhookPayload(alert);
    const sends = rule.webhookUrls.map((url) =>
      traced(alert, 'WEBHOOK', new URL(url).origin, () => sendWebhook(alert, url, body)),
    );
    if (EMAIL_SEVERITIES.has(alert.severity) && rule.emails.length > 0) {
      if (email)
        sends.push(
          traced(alert, 'EMAIL', `${rule.emails.length} recipient(s)`, () => sendEmail(alert, email, rule.emails)),
        );
      else logger.warn({ alertId: alert.id, ruleId: rule.id }, 'alert emails skipped: SMTP_URL is not set');
    }
    return sends;
  }

  async function deliverAll(alert: Alert, rule: AlertRule) {
    const results = await Promise.allSettled(deliveries(alert, rule));
    for (const result of results) {
      if (result.status === 'rejected') {
        logger.error({ err: result.reason, alertId: alert.id, ruleId: rule.id }, 'alert notification crashed');
      }
    }
  }

  function notify(alert: Alert, rule: AlertRule) {
    if (closed) throw new Error('the alert notifier is closed');
    const task = deliverAll(alert, rule).finally(() => inFlight.delete(task));
    inFlight.add(task);
  }

  async function drain() {
    // Loop: a delivery may have been started while we waited for the others.
    while (inFlight.size > 0) await Promise.all(inFlight);
  }

  async function close() {
    closed = true;
    await drain();
    email?.close();
  }

  return { notify, drain, close };
}
