// One webhook attempt: a signed JSON POST to a checked address (targets.ts). Retries are the delivery queue's
// (notifier.ts), which stores each attempt; this file only says what an attempt came to.
import { createHmac } from 'node:crypto';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { checkLiteralTarget, guardedLookup, PRIVATE_TARGET } from './targets.js';

/** HMAC of the body alone, kept as it always was for receivers that already check it. */
export const SIGNATURE_HEADER = 'X-Jackdaw-Signature';
/** Unix seconds when the request was signed; covered by the v2 signature, so a receiver can refuse old replays. */
export const TIMESTAMP_HEADER = 'X-Jackdaw-Timestamp';
/** `t=<timestamp>,sha256=<hex>[,sha256=<hex>]`: HMAC of `<timestamp>.<body>`, once per valid secret (rotation). */
export const SIGNATURE_V2_HEADER = 'X-Jackdaw-Signature-V2';
/** The same for every attempt of one notification, so a receiver can drop a repeat. */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/** What one attempt to notify a channel came to; the notifier stores each as an AlertDelivery row. */
export interface AttemptResult {
  ok: boolean;
  /** The HTTP status (webhooks) or SMTP reply code (email), when the other side answered. */
  statusCode: number | null;
  /** Stored and shown to admins: what went wrong, never an address or a URL. */
  error: string | null;
}

export interface AttemptOutcome {
  result: AttemptResult;
  /** Whether trying again could succeed: false for a success and for a refusal that would only repeat. */
  retryable: boolean;
}

export interface WebhookSecrets {
  /** WEBHOOK_SECRET: signs both headers. */
  current: string;
  /** WEBHOOK_SECRET_PREVIOUS during a rotation: a second v2 signature, so receivers still on it keep verifying. */
  previous?: string;
}

export interface PostWebhookOptions {
  url: string;
  /** The JSON document to send, already serialized: the signatures cover exactly these bytes. */
  body: string;
  secrets: WebhookSecrets;
  /** The notification's id: the idempotency key. */
  deliveryId: string;
  /** Limit on the attempt, from sending the request until the response headers arrive. */
  timeoutMs: number;
  /** ALLOW_PRIVATE_WEBHOOK_TARGETS */
  allowPrivateTargets: boolean;
  /** Aborts the attempt when the notifier stops. */
  signal: AbortSignal;
  now?: () => number;
}

function hmac(secret: string, data: string): string {
  return createHmac('sha256', secret).update(data).digest('hex');
}

/** The value of the signature header: `sha256=<hex HMAC-SHA256 of the body keyed with the secret>`. */
export function signBody(body: string, secret: string): string {
  return `sha256=${hmac(secret, body)}`;
}

/** The v2 header's value: the timestamp, then one signature of `<timestamp>.<body>` per secret. */
export function signTimestamped(body: string, timestamp: number, secrets: WebhookSecrets): string {
  const keys = [secrets.current, ...(secrets.previous ? [secrets.previous] : [])];
  return [`t=${timestamp}`, ...keys.map((key) => `sha256=${hmac(key, `${timestamp}.${body}`)}`)].join(',');
}

export function webhookHeaders(
  body: string,
  secrets: WebhookSecrets,
  deliveryId: string,
  timestamp: number,
): Record<string, string> {
  return {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
    [SIGNATURE_HEADER]: signBody(body, secrets.current),
    [TIMESTAMP_HEADER]: String(timestamp),
    [SIGNATURE_V2_HEADER]: signTimestamped(body, timestamp, secrets),
    [IDEMPOTENCY_HEADER]: deliveryId,
  };
}

/** The wait after failed attempt `attempt` (1-based): backoffMs · 2^(attempt − 1). */
export function backoffDelayMs(backoffMs: number, attempt: number): number {
  return backoffMs * 2 ** (attempt - 1);
}

/** A busy (429) or broken (5xx) receiver may recover; any other refusal would only be repeated. */
function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

const TLS_ERROR = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_)/;

/**
 * What a failed connection is stored as: a kind of failure an admin can act on, without the address, port or
 * URL (the stored error must not tell an admin what answers where inside the network, and URLs may hold tokens).
 */
export function describeNetworkError(error: unknown): { error: string; retryable: boolean } {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? '';
  if (code === PRIVATE_TARGET) {
    return {
      error: 'refused: the host is a private or reserved address (ALLOW_PRIVATE_WEBHOOK_TARGETS is off)',
      retryable: false,
    };
  }
  if (code === 'ECONNREFUSED') return { error: 'connection refused', retryable: true };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { error: 'host name not found', retryable: true };
  if (code === 'ECONNRESET' || code === 'EPIPE') return { error: 'connection reset', retryable: true };
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return { error: 'host unreachable', retryable: true };
  if (TLS_ERROR.test(code)) return { error: `TLS error (${code})`, retryable: true };
  return { error: 'network error', retryable: true };
}

/** One POST; resolves with its outcome, never rejects. `signal` aborting (the notifier stopping) resolves null. */
export function postWebhook({
  url,
  body,
  secrets,
  deliveryId,
  timeoutMs,
  allowPrivateTargets,
  signal,
  now = Date.now,
}: PostWebhookOptions): Promise<AttemptOutcome | null> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const target = new URL(url);
  return new Promise((resolve) => {
    try {
      if (!allowPrivateTargets) checkLiteralTarget(target);
    } catch (error) {
      const { error: description, retryable } = describeNetworkError(error);
      return resolve({ result: { ok: false, statusCode: null, error: description }, retryable });
    }
    const timestamp = Math.floor(now() / 1000);
    const options: RequestOptions = {
      method: 'POST',
      headers: webhookHeaders(body, secrets, deliveryId, timestamp),
      signal: AbortSignal.any([signal, timeout]),
      // No connection pool: every attempt resolves (and checks) the name afresh.
      agent: false,
      ...(allowPrivateTargets ? {} : { lookup: guardedLookup }),
    };
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(target, options, (response) => {
      // Redirects are not followed (the alert would go somewhere its owner did not name): a 3xx is a refusal.
      const status = response.statusCode ?? 0;
      const ok = status >= 200 && status < 300;
      // The reply's body is of no interest.
      response.destroy();
      resolve({
        result: { ok, statusCode: status, error: ok ? null : `HTTP ${status}` },
        retryable: !ok && isRetryableStatus(status),
      });
    });
    request.on('error', (error) => {
      if (signal.aborted) return resolve(null);
      if (timeout.aborted) {
        return resolve({
          result: { ok: false, statusCode: null, error: `timed out after ${timeoutMs} ms` },
          retryable: true,
        });
      }
      const { error: description, retryable } = describeNetworkError(error);
      resolve({ result: { ok: false, statusCode: null, error: description }, retryable });
    });
    request.end(body);
  });
}
