// Alert emails over SMTP (nodemailer). One message per alert, addressed to all of the rule's recipients.
import { createTransport, type NodemailerError } from 'nodemailer';
import type { Alert } from './rules.js';

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
  send(alert: Alert, recipients: string[]): Promise<EmailOutcome>;
  close(): void;
}

export function emailSubject(alert: Pick<Alert, 'severity' | 'ruleName' | 'message'>): string {
  return `[${alert.severity}] ${alert.ruleName}: ${alert.message}`;
}

export function emailText(alert: Alert): string {
  const values = Object.entries(alert.values).map(([key, value]) => `  ${key} = ${value ?? 'no data'}`);
  return [
    `${alert.severity} alert: ${alert.ruleName}`,
    '',
    alert.message,
    '',
    `Status:       ${alert.status}`,
    `Triggered at: ${alert.triggeredAt.toISOString()}`,
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

function failure(error: unknown): EmailOutcome {
  const { message, responseCode, permanent } = error as NodemailerError;
  return {
    ok: false,
    statusCode: responseCode ?? null,
    error: message ?? String(error),
    retryable: permanent !== true,
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

  async function send(alert: Alert, recipients: string[]): Promise<EmailOutcome> {
    try {
      const info = await transport.sendMail({
        from,
        to: recipients,
        subject: emailSubject(alert),
        text: emailText(alert),
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
