// Queries and mutations run as graphql-jit compiles them: the operation, variable coercion included, becomes plain
// JavaScript once per document. What it saves is mostly the coercion of publishEvents' 1,000 inputs (graphql 16.15
// builds each input object as a dictionary and copies it): the serving processes' CPU per 1,000 published events
// fell by about a quarter (BENCHMARKS.md, "graphql-jit"). Subscriptions keep graphql-js (their shared execution is
// transport/shared-subscriptions.ts).
import type { Plugin } from '@envelop/core';
import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  GraphQLError,
  getOperationAST,
  type SourceLocation,
} from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';
import { getOrCreate } from '../maps.js';

const LINE_END = /\r\n|[\n\r]/g;

/** The offset in `body` of a line and column (1-based), as graphql-js's getLocation counts them. */
function offsetOf(body: string, { line, column }: SourceLocation): number {
  let lineStart = 0;
  let current = 1;
  for (const match of body.matchAll(LINE_END)) {
    if (current === line) break;
    lineStart = match.index + match[0].length;
    current++;
  }
  return lineStart + column - 1;
}

/**
 * graphql-jit's errors are its own objects on GraphQLError's prototype, with locations but no AST nodes, and without
 * `extensions` unless the cause had some: remade as graphql-js's, located in the document's source, so masking
 * (transport/errors.ts) and yoga (which remakes errors from their nodes or positions) see them as any other. An error
 * graphql-jit makes itself (a null for a non-null field, a scalar that cannot serialise its value) has no cause, where
 * graphql-js's has a plain Error: given one, it is a server fault to masking (INTERNAL, logged), as it was.
 */
function asGraphQLError(error: GraphQLError, document: DocumentNode): GraphQLError {
  const source = document.loc?.source;
  return new GraphQLError(error.message, {
    source,
    positions: source && error.locations?.map((location) => offsetOf(source.body, location)),
    path: error.path,
    originalError: error.originalError ?? new Error(error.message),
    extensions: error.extensions,
  });
}

/**
 * Compiled operations kept, over all documents. A compiled operation costs 20-50 KB of heap for this schema's usual
 * documents (more for one near MAX_QUERY_TOKENS): a count of operations, not yoga's parse cache of 1,024 documents,
 * bounds them, so a client sending ever new documents, or one document of many operations called by each name, cannot
 * make each serving process hold thousands.
 */
const MAX_COMPILED_OPERATIONS = 128;

/**
 * Queries and mutations compiled by graphql-jit, per document (yoga's parse cache hands back the same object for the
 * same text) and operation name. Only an operation the document holds is compiled or remembered (so names sent at
 * random cost nothing kept), and only from its second execution: one sent once (the hostile case) costs no
 * compilation. A document whose operations were pushed out is compiled again when next run.
 *
 * graphql-jit calls a type's `isTypeOf` without context and does not await it: no type of this schema has one (Pothos
 * scope-auth adds one for type-level `authScopes`, which the schema does not use). Should one appear, this plugin must
 * leave the operations reaching that type to graphql-js.
 */
export function jitPlugin(maxOperations = MAX_COMPILED_OPERATIONS): Plugin & { compiledOperations(): number } {
  /** One key per operation a document holds (its name; null: the document's only operation), made when first run. */
  const keys = new WeakMap<DocumentNode, Map<string | null, object>>();
  /** Compiled operations by key, least recently used first. */
  const compiled = new Map<object, CompiledQuery>();

  function compiledFor(args: ExecutionArgs): CompiledQuery | null {
    const { document } = args;
    const name = args.operationName ?? null;
    const key = keys.get(document)?.get(name);
    if (!key) {
      // No such operation (or several and no name), or a subscription sent to be executed once: graphql-js runs it,
      // and says why. Otherwise this is its first execution: it is only remembered.
      const operation = getOperationAST(document, name ?? undefined);
      if (operation && operation.operation !== 'subscription') {
        getOrCreate(keys, document, () => new Map<string | null, object>()).set(name, {});
      }
      return null;
    }
    let query = compiled.get(key);
    if (query) {
      compiled.delete(key); // to the end: the most recently used
    } else {
      const result = compileQuery(args.schema, document, name ?? undefined, {
        // The spec's @skip/@include on fragment spreads (graphql-jit's older way can differ from graphql-js).
        useExperimentalPathBasedSkipInclude: true,
      });
      if (!isCompiledQuery(result)) return null;
      query = result;
    }
    compiled.set(key, query);
    while (compiled.size > maxOperations) compiled.delete(compiled.keys().next().value as object);
    return query;
  }

  return {
    /** How many compiled operations are kept (for tests). */
    compiledOperations: () => compiled.size,
    onExecute({ args, executeFn, setExecuteFn }) {
      const query = compiledFor(args);
      if (!query) return;
      setExecuteFn((async (executed: ExecutionArgs) => {
        const result = (await query.query(executed.rootValue, executed.contextValue, executed.variableValues)) as
          | ExecutionResult
          | { errors: readonly GraphQLError[] };
        // No data at all: the variables were refused. graphql-js runs it again, for its messages, which name the
        // path of a bad value (`inputs[3].type`, the contract's index of the bad event) where graphql-jit's do not.
        if (!('data' in result)) return executeFn(executed);
        return result.errors
          ? { ...result, errors: result.errors.map((error) => asGraphQLError(error, executed.document)) }
          : result;
      }) as typeof executeFn);
    },
  };
}
