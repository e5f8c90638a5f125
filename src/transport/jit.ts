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
  type SourceLocation,
} from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';

/** Per document (yoga's parse cache hands back the same object for the same text), per operation name. */
type Compiled = Map<string, CompiledQuery | null>;

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
 * (transport/errors.ts) and yoga (which remakes errors from their nodes or positions) see them as any other.
 */
function asGraphQLError(error: GraphQLError, document: DocumentNode): GraphQLError {
  const source = document.loc?.source;
  return new GraphQLError(error.message, {
    source,
    positions: source && error.locations?.map((location) => offsetOf(source.body, location)),
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  });
}

/**
 * Compiled documents kept, most recently used last. A compiled operation costs 20-50 KB of heap for this schema's
 * usual documents (more for one near MAX_QUERY_TOKENS): a count, not yoga's parse cache of 1,024 documents, bounds
 * them, so a client sending ever new documents cannot make each serving process hold thousands.
 */
const MAX_COMPILED_DOCUMENTS = 128;

export function jitPlugin(): Plugin {
  const compiled = new Map<DocumentNode, Compiled>();
  // A document is compiled on its second execution: one sent once (the hostile case) costs no compilation.
  const seenOnce = new WeakSet<DocumentNode>();

  function compiledFor(args: ExecutionArgs): CompiledQuery | null {
    let byName = compiled.get(args.document);
    if (byName) {
      compiled.delete(args.document); // to the end: the most recently used
    } else {
      if (!seenOnce.has(args.document)) {
        seenOnce.add(args.document);
        return null;
      }
      byName = new Map();
      if (compiled.size >= MAX_COMPILED_DOCUMENTS) compiled.delete(compiled.keys().next().value as DocumentNode);
    }
    compiled.set(args.document, byName);
    const name = args.operationName ?? '';
    let query = byName.get(name);
    if (query === undefined) {
      const result = compileQuery(args.schema, args.document, args.operationName ?? undefined, {
        // The spec's @skip/@include on fragment spreads (graphql-jit's older way can differ from graphql-js).
        useExperimentalPathBasedSkipInclude: true,
      });
      // An operation it cannot compile (no such operation, several and no name…) runs on graphql-js, which says why;
      // so does a subscription sent to be executed once.
      query = isCompiledQuery(result) && !result.subscribe ? result : null;
      byName.set(name, query);
    }
    return query;
  }

  return {
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
