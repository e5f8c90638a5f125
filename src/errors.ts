// The one error a client can cause. Domain code throws DomainError with a code from the public contract and knows
// nothing of GraphQL; the transport maps it to a GraphQL error once, in yoga's error masking (transport/errors.ts).
// Anything else that reaches the boundary is a fault: logged with a request id and masked as INTERNAL.

export const ERROR_CODES = [
  'BAD_USER_INPUT',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'RATE_LIMITED',
  'OVERLOADED',
  'UNAVAILABLE',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** What a client may read beside the code; every field is optional and JSON. */
export interface ErrorDetails {
  /** The index of the offending event in a `publishEvents` batch, or null when the batch as a whole is wrong. */
  index?: number | null;
  /** The metric an event was refused for (a reserved name, a value too large, a series limit). */
  metric?: string;
  /** The field of an event's `data` that does not fit its type's shape (`data.value`, `data.metrics.<name>`). */
  field?: string;
  /** The limit or budget that refused the operation, by its setting's name. */
  limit?: string;
  /** Every problem found in an alert rule, one per entry. */
  problems?: string[];
  /** How long to wait before retrying (RATE_LIMITED). */
  retryAfterMs?: number;
  /** Events waiting for their commit when publishing was refused (OVERLOADED). */
  queued?: number;
  /** Ties an UNAVAILABLE or INTERNAL answer to the server's log line. */
  requestId?: string;
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return (ERROR_CODES as readonly unknown[]).includes(value);
}

export const badInput = (message: string, details?: ErrorDetails) =>
  new DomainError('BAD_USER_INPUT', message, details);
export const notFound = (message: string) => new DomainError('NOT_FOUND', message);
