// The one place errors become GraphQL errors. Every error on its way to a client, over HTTP or WebSocket, passes
// through `createMaskError` (yoga's error masking): a DomainError keeps its code and details; graphql-js's own
// errors (parse, validation, variables) are the client's, so BAD_USER_INPUT; anything else is a fault, logged
// with a request id and answered INTERNAL without its message.
import { randomUUID } from 'node:crypto';
import { GraphQLError, type GraphQLErrorExtensions } from 'graphql';
import { DomainError, type ErrorCode, type ErrorDetails, isErrorCode } from '../errors.js';
import type { Logger } from '../observability/logger.js';

declare module 'graphql' {
  // What our errors carry, so a code is read without a cast (graphql-yoga declares `http` the same way).
  interface GraphQLErrorExtensions extends ErrorDetails {
    code?: ErrorCode;
  }
}

export function toGraphQLError(error: DomainError, from?: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: from?.nodes,
    source: from?.source,
    positions: from?.positions,
    path: from?.path,
    originalError: error,
    extensions: { ...from?.extensions, code: error.code, ...error.details },
  });
}

/** A GraphQL error of our own making, for the transport's plugins (limits, rate limit); `http` is for yoga. */
export function graphQLError(
  code: ErrorCode,
  message: string,
  details?: ErrorDetails,
  http?: GraphQLErrorExtensions['http'],
): GraphQLError {
  const error = toGraphQLError(new DomainError(code, message, details));
  if (http) error.extensions.http = http;
  return error;
}

/**
 * What an error is at heart, under the GraphQLErrors that wrap it on its way out (graphql-js locates it, yoga and
 * graphql-ws wrap it again): a GraphQLError with no other cause is graphql-js's, yoga's or graphql-armor's report
 * of the client's mistake.
 */
function rootCause(error: unknown): unknown {
  let cause = error;
  while (cause instanceof GraphQLError && cause.originalError) cause = cause.originalError;
  return cause;
}

/** yoga's own wording for a masked error; the request id is added to it. */
export const MASKED_MESSAGE = 'Unexpected error.';

/**
 * The contract's code of an error on its way to a client, as `createMaskError` answers it (and /metrics counts it):
 * a DomainError's own; a code of the contract already given; yoga's own codes (GRAPHQL_PARSE_FAILED, BAD_REQUEST…)
 * and graphql-js's uncoded errors are the client's mistake; anything else is a fault.
 */
export function errorCode(error: unknown): ErrorCode {
  const cause = rootCause(error);
  if (cause instanceof DomainError) return cause.code;
  if (error instanceof GraphQLError && cause instanceof GraphQLError) {
    if (isErrorCode(error.extensions.code)) return error.extensions.code;
    return error.extensions.code === 'INTERNAL_SERVER_ERROR' ? 'INTERNAL' : 'BAD_USER_INPUT';
  }
  return 'INTERNAL';
}

export function createMaskError(logger: Logger) {
  return (error: unknown, message: string): GraphQLError => {
    const cause = rootCause(error);
    if (cause instanceof DomainError) return toGraphQLError(cause, error instanceof GraphQLError ? error : undefined);
    if (error instanceof GraphQLError && cause instanceof GraphQLError) {
      if (isErrorCode(error.extensions.code)) return error;
      // yoga's own codes become the contract's; its HTTP status stays.
      const code = errorCode(error);
      return new GraphQLError(error.message, {
        nodes: error.nodes,
        source: error.source,
        positions: error.positions,
        path: error.path,
        extensions: { ...error.extensions, code },
      });
    }
    const requestId = randomUUID();
    logger.error({ err: cause, requestId }, 'internal error');
    return new GraphQLError(`${message} (request id ${requestId})`, {
      path: error instanceof GraphQLError ? error.path : undefined,
      extensions: { code: 'INTERNAL', requestId },
    });
  };
}
