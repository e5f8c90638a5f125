// Errors a client can cause. Each carries an `extensions.code` from the public contract; anything else that
// reaches a client is masked by graphql-yoga as an internal error and logged.
import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import type { Logger } from './observability/logger.js';

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

export function apiError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extensions } });
}

export function badInput(message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return apiError('BAD_USER_INPUT', message, extensions);
}

/** A client-caused error carries one of the contract's codes, other than INTERNAL. */
function isClientError(error: unknown): boolean {
  const code = (error as { extensions?: { code?: unknown } } | null)?.extensions?.code;
  return typeof code === 'string' && code !== 'INTERNAL' && (ERROR_CODES as readonly string[]).includes(code);
}

/**
 * Parse, validation and variable errors carry no code, or one of yoga's (GRAPHQL_PARSE_FAILED, BAD_REQUEST…): they
 * are the client's, so BAD_USER_INPUT. Only the contract's codes reach clients, over HTTP and WebSocket alike.
 */
export function withContractCodes(errors: readonly GraphQLError[] | undefined): void {
  for (const error of errors ?? []) {
    const extensions = error.extensions as Record<string, unknown> | undefined;
    if (!extensions || (ERROR_CODES as readonly unknown[]).includes(extensions.code)) continue;
    extensions.code = extensions.code === 'INTERNAL_SERVER_ERROR' ? 'INTERNAL' : 'BAD_USER_INPUT';
  }
}

/** yoga's maskError: client errors pass; anything else is logged with a request id and reaches the client as INTERNAL. */
export function maskInternalErrors(logger: Logger) {
  return (error: unknown, message: string): Error => {
    const original = (error as { originalError?: { name?: string } }).originalError;
    // graphql-js's own errors (document, variables, scalars) are the client's; withContractCodes codes them.
    if (isClientError(original ?? error) || !original || original.name === 'GraphQLError') return error as Error;
    const requestId = randomUUID();
    logger.error({ err: original ?? error, requestId }, 'internal error');
    return apiError('INTERNAL', `${message} (request id ${requestId})`, { requestId });
  };
}
