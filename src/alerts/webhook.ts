// Webhook delivery: a signed JSON POST, retried with exponential backoff while the failure may be temporary.
// The retry loop (withRetries) is shared with the email channel.
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

export const SIGNATURE_HEADER = 'X-Jackdaw-Signature';

/** What one attempt to notify a channel came to; the notifier stores each as an AlertDelivery row. */
export interface DeliveryAttempt {
  /** 1 for the first attempt. */
  attempt: number;
  ok: boolean;
  /** The HTTP status (webhooks) or SMTP reply code (email), when the other side answered. */
  statusCode: number | null;
  error: string | null;
}

export interface AttemptOutcome {
  result: DeliveryAttempt;
  /** Whether trying again could succeed: false for a success and for a refusal that would only repeat. */
  retryable: boolean;
}

export interface RetryOptions {
  attempts: number;
  /** The wait after the first failed attempt; it doubles after each further one. */
  backoffMs: number;
  onAttempt?: (attempt: DeliveryAttempt) => void | Promise<void>;
}

export interface DeliverWebhookOptions extends RetryOptions {
  url: string;
  /** The JSON document to send, already serialized: the signature covers exactly these bytes. */
  body: string;
  secret: string;
  /** Limit on each attempt, from sending the request until the response headers arrive. */
  timeoutMs: number;
}

/** The value of the signature header: `sha256=<hex HMAC-SHA256 of the body keyed with the secret>`. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The wait after failed attempt `attempt` (1-based): backoffMs · 2^(attempt − 1). */
export function backoffDelayMs(backoffMs: number, attempt: number): number {
  return backoffMs * 2 ** (attempt - 1);
}

/** Runs `attemptOnce` until it succeeds, fails for good or uses up `attempts`; returns the last attempt. */
export async function withRetries(
  { attempts, backoffMs, onAttempt }: RetryOptions,
  attemptOnce: (attempt: number) => Promise<AttemptOutcome>,
): Promise<DeliveryAttempt> {
  for (let attempt = 1; ; attempt++) {
    const { result, retryable } = await attemptOnce(attempt);
    await onAttempt?.(result);
    if (result.ok || !retryable || attempt >= attempts) return result;
    await sleep(backoffDelayMs(backoffMs, attempt));
  }
}

/** A busy (429) or broken (5xx) receiver may recover; any other refusal would only be repeated. */
function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  // fetch reports every network failure as "fetch failed"; the cause says which (ECONNREFUSED, a TLS error…).
  if (error instanceof Error && error.cause instanceof Error) return `${error.message}: ${error.cause.message}`;
  return error instanceof Error ? error.message : String(error);
}

async function postOnce(
  { url, body, secret, timeoutMs }: DeliverWebhookOptions,
  attempt: number,
): Promise<AttemptOutcome> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', [SIGNATURE_HEADER]: signBody(body, secret) },
      body,
      // Following a redirect would resend the alert somewhere its owner did not name (and turn 301/302 into a GET).
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    // The reply's body is of no interest; cancelling it frees the connection.
    await response.body?.cancel();
    const result = {
      attempt,
      ok: response.ok,
      statusCode: response.status,
      error: response.ok ? null : `HTTP ${response.status}`,
    };
    return { result, retryable: !response.ok && isRetryableStatus(response.status) };
  } catch (error) {
    const result = { attempt, ok: false, statusCode: null, error: describeFetchError(error, timeoutMs) };
    return { result, retryable: true };
  }
}

/**
 * POSTs `body` to `url`, signed with `secret`, retrying network errors, timeouts, 5xx and 429 with exponential
 * backoff, up to `attempts` attempts. Reports every attempt to `onAttempt` and returns the last one. A failed delivery
 * is a result, not an exception; only an error thrown by `onAttempt` rejects.
 */
export function deliverWebhook(options: DeliverWebhookOptions): Promise<DeliveryAttempt> {
  return withRetries(options, (attempt) => postOnce(options, attempt));
}
