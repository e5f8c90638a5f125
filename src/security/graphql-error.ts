// graphql's CommonJS build, the one graphql-ws, graphql-yoga's serializer and graphql-armor load, tests errors and
// types with `instanceof`. Where our own `graphql` import resolves to the ESM build instead (under vitest), its
// classes fail those tests. Errors raised by the security layer are therefore made with the CommonJS class.
import { GraphQLError as CommonJsGraphQLError } from 'graphql/error/GraphQLError.js';
import type { GraphQLError } from 'graphql';
import type { ErrorCode } from '../errors.js';

export { CommonJsGraphQLError };

export function securityError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new CommonJsGraphQLError(message, { extensions: { code, ...extensions } }) as GraphQLError;
}

/** Rebuilds errors with the CommonJS class, for graphql-ws's onSubscribe, which takes nothing else. */
export function forGraphqlWs(errors: readonly GraphQLError[]): GraphQLError[] {
  return errors.map((e) => new CommonJsGraphQLError(e.message, { nodes: e.nodes, extensions: e.extensions }) as GraphQLError);
}
