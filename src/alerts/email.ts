// Alert emails over SMTP (nodemailer). One message per alert, addressed to all of the rule's recipients.
import { createTransport, type NodemailerError } from 'nodemailer';
import type { Notification, NotificationKind } from './queue.js';
import type { Alert } from './rules.js';
import { formatLabels } from './template.js';

export interface EmailNotifierOptions {
  /** e.g. smtp://user:pass@relay.example.com:587 or smtps://…:465 */
  smtpUrl: string;
  /** The From header, e.g. "Jackdaw Sentry <alerts@example.com>". */
  from: string;
  /** Limit on connecting, on the server's greeting and on each silence in the SMTP dialogue. */
  timeoutMs?: number;
}

/** What one attempt to send came to; nodemailer's errors are turned into this, never thrown. */
export interface EmailOutcome {
  ok: boolean;
  /** The server's SMTP reply code, when it sent one. */
  statusCode: number | null;
  error: string | null;
  /** False when the server refused the message for good (5xx), so sending it again would be refused again. */
  retryable: boolean;
}

export interface EmailNotifier {
  /** `deliveryId` makes the Message-ID, the same for every attempt, so mail software can drop a repeat. */
  send(notification: Notification, recipients: string[], deliveryId: string): Promise<EmailOutcome>;
  close(): void;
}

/** Put before the subject, so a mail reader's list tells a resolution or a repeat from a new firing. */
const SUBJECT_PREFIX: Record<NotificationKind, string> = {
  FIRING: '',
  REPEAT: '[still firing] ',
  RESOLVED: '[RESOLVED] ',
  REDELIVERY: '[redelivered] ',
};

export function emailSubject({
  kind,
  alert,
}: {
  kind: NotificationKind;
  alert: Pick<Alert, 'severity' | 'ruleName' | 'message'>;
}): string {
  return `${SUBJECT_PREFIX[kind]}[${alert.severity}] ${alert.ruleName}: ${alert.message}`;
}

export function emailText({ kind, alert }: Notification): string {
  const values = Object.entries(alert.values).map(([key, value]) => `  ${key} = ${value ?? 'no data'}`);
  return [
    `${alert.severity} alert: ${alert.ruleName}`,
    '',
    alert.message,
    '',
    `Notice:       ${kind}`,
    `Status:       ${alert.status}`,
    `Triggered at: ${alert.triggeredAt.toISOString()}`,
    ...(alert.resolvedAt ? [`Resolved at:  ${alert.resolvedAt.toISOString()}`] : []),
    ...(alert.acknowledgedBy ? [`Acknowledged: by ${alert.acknowledgedBy}`] : []),
    ...(alert.labels.length > 0 ? [`Labels:       ${formatLabels(alert.labels)}`] : []),
    `Rule id:      ${alert.ruleId}`,
    `Alert id:     ${alert.id}`,
    '',
    'Values:',
    ...values,
    '',
  ].join('\n');
}

const SMTP_REPLY_CODE = /^(\d{3})\b/;

function replyCode(response: string): number | null {
  const match = SMTP_REPLY_CODE.exec(response);
  return match?.[1] ? Number(match[1]) : null;
}

/** nodemailer's codes for failures before the server answered; their messages name the relay's address. */
const SMTP_FAILURES: Record<string, string> = {
  ETIMEDOUT: 'timed out',
  EDNS: 'host name not found',
  ETLS: 'TLS error',
  EAUTH: 'authentication failed',
};

/** Stored and shown to admins: the relay's own reply when it sent one, otherwise the kind of failure only. */
function describeFailure({ message, code, responseCode, response }: NodemailerError): string {
  if (responseCode) return response ?? message;
  if (code && SMTP_FAILURES[code]) return SMTP_FAILURES[code];
  return /ECONNREFUSED/.test(message) ? 'connection refused' : 'network error';
}

function failure(error: unknown): EmailOutcome {
  const failed = error as NodemailerError;
  return {
    ok: false,
    statusCode: failed.responseCode ?? null,
    error: describeFailure(failed),
    retryable: failed.permanent !== true,
  };
}

export function createEmailNotifier({
  smtpUrl,
  from,
  timeoutMs = 5_000, // 5 seconds: a relay slower than that is treated as down, and the notifier retries later
}: EmailNotifierOptions): EmailNotifier {
  const transport = createTransport({
    url: smtpUrl,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });

  async function send(notification: Notification, recipients: string[], deliveryId: string): Promise<EmailOutcome> {
    try {
      const info = await transport.sendMail({
        messageId: `<${deliveryId}@jackdaw-sentry>`,
        from,
        to: recipients,
        subject: emailSubject(notification),
        text: emailText(notification),
      });
      // The server may accept the message for some recipients and refuse others; it was still delivered.
      const error = info.rejected.length > 0 ? `refused recipients: ${info.rejected.join(', ')}` : null;
      return { ok: true, statusCode: replyCode(info.response), error, retryable: false };
    } catch (error) {
      return failure(error);
    }
  }

  return { send, close: () => transport.close() };
}
