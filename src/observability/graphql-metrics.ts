// GraphQL operations, their errors by the contract's code, and their durations, counted in yoga's envelop: HTTP and
// WebSocket operations both run through it (transport/websocket.ts parses and validates with yoga.getEnveloped), so
// one plugin sees both. Labels are bounded: an operation type, a root field the schema has (never a name the
// client chose: an operationName or an unknown field is `unknown`), a code from the contract.
import type { Plugin } from '@envelop/core';
import { type DocumentNode, type ExecutionResult, type GraphQLSchema, getOperationAST } from 'graphql';
import { rootFields } from '../schema/root-fields.js';
import { errorCode } from '../transport/errors.js';
import type { Metrics } from './metrics.js';

export type OperationType = 'query' | 'mutation' | 'subscription' | 'unknown';

export interface OperationLabels {
  type: OperationType;
  /** The root field the operation asks for; `multiple` when it asks for several, `unknown` when none the schema has. */
  field: string;
}

const UNKNOWN: OperationLabels = { type: 'unknown', field: 'unknown' };
const META_FIELDS = new Set(['__schema', '__type', '__typename']);

/** What /metrics labels an operation with; the document need not be valid. */
export function operationLabels(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
): OperationLabels {
  const operation = getOperationAST(document, operationName);
  if (!operation) return UNKNOWN;
  const names = new Set(rootFields(document, operation.selectionSet).map((field) => field.name.value));
  const type = operation.operation;
  if (names.size > 1) return { type, field: 'multiple' };
  const [name] = names;
  const known = name !== undefined && (META_FIELDS.has(name) || schema.getRootType(type)?.getFields()[name]);
  return { type, field: known ? name : 'unknown' };
}

/** The operation name a request or WebSocket message asked for (yoga and the WebSocket side both put it in `params`). */
function requestedOperationName(context: unknown): string | undefined {
  const name = (context as { params?: { operationName?: unknown } } | undefined)?.params?.operationName;
  return typeof name === 'string' ? name : undefined;
}

function isStream(result: unknown): result is AsyncIterable<unknown> {
  return typeof result === 'object' && result !== null && Symbol.asyncIterator in result;
}

/**
 * Put it first among yoga's plugins, so that its hooks see results that later plugins (the rate limit, the
 * WebSocket-only refusal) set and stop execution with.
 */
export function graphqlMetricsPlugin(metrics: Metrics, schema: GraphQLSchema): Plugin {
  const countErrors = (type: OperationType, errors: readonly unknown[] | undefined) => {
    if (!errors?.length) return;
    for (const code of new Set(errors.map(errorCode))) metrics.graphqlErrors.inc({ code, type });
  };
  // An operation of no known type has had its one error counted when it was parsed.
  const countLater = (type: OperationType, errors: readonly unknown[] | undefined) => {
    if (type !== 'unknown') countErrors(type, errors);
  };
  const countResult = (type: OperationType, result: unknown) => {
    if (!isStream(result)) countLater(type, (result as ExecutionResult).errors);
  };
  const timer = (type: OperationType) => metrics.graphqlDuration.startTimer({ type });

  return {
    // Every operation is parsed (a cached document too), over HTTP and WebSocket alike, shared WebSocket
    // subscriptions included (they skip `subscribe` below), so this is where an operation is counted.
    onParse({ context }) {
      return ({ result }) => {
        if (result instanceof Error) {
          metrics.graphqlOperations.inc({ ...UNKNOWN });
          return countErrors('unknown', [result]);
        }
        const labels = operationLabels(schema, result, requestedOperationName(context));
        metrics.graphqlOperations.inc({ ...labels });
        // No operation to run: yoga refuses it right after this hook (HTTP), graphql-js at execution (WebSocket);
        // counted here for both.
        if (labels.type === 'unknown') metrics.graphqlErrors.inc({ code: 'BAD_USER_INPUT', type: 'unknown' });
      };
    },
    onValidate({ params, context, validateFn, setValidationFn }) {
      const { type } = operationLabels(schema, params.documentAST, requestedOperationName(context));
      // graphql-armor's limits throw out of validation rather than report, which skips the hook returned below.
      setValidationFn((...args) => {
        try {
          return validateFn(...args);
        } catch (error) {
          countLater(type, [error]);
          throw error;
        }
      });
      return ({ valid, result }) => {
        if (!valid) countLater(type, result);
      };
    },
    onExecute({ args }) {
      const { type } = operationLabels(schema, args.document, args.operationName);
      const done = timer(type);
      return {
        onExecuteDone({ result }) {
          done();
          countResult(type, result);
        },
      };
    },
    onSubscribe({ args }) {
      const { type } = operationLabels(schema, args.document, args.operationName);
      const done = timer(type);
      return {
        onSubscribeResult({ result }) {
          done();
          if (!isStream(result)) return countResult(type, result);
          return { onNext: ({ result: next }) => countResult(type, next) };
        },
        onSubscribeError({ error }) {
          countLater(type, [error]);
        },
      };
    },
  };
}
