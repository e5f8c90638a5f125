// Per-operation read budgets: the metric × window pairs and the rows that all the fields of one operation may read
// together, aliases included. graphql-armor's cost limit counts `first: $n` as 1 and `aggregates` lists as one field,
// so 20 aliases of `events(first: $n)` or of `aggregates` with 500 pairs passed it; this plugin sums what each field
// declares (schema/read-cost.ts) from its arguments with the variables' values, before anything executes.
import type { Plugin } from '@envelop/core';
import {
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLSchema,
  getArgumentValues,
  getOperationAST,
  getVariableValues,
} from 'graphql';
import type { Config } from '../config.js';
import { readCostOf } from '../schema/read-cost.js';
import { rootFields } from '../schema/root-fields.js';
import { graphQLError } from '../transport/errors.js';

type BudgetConfig = Pick<Config, 'MAX_AGGREGATE_PAIRS' | 'MAX_ROWS_PER_REQUEST'>;

interface Spent {
  pairs: number;
  rows: number;
}

/**
 * What the operation's root fields will read, or null when its variables or arguments are invalid: execution
 * reports those itself, with graphql-js's messages, and reads nothing.
 */
export function operationReads(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variableValues: Readonly<Record<string, unknown>> | null | undefined,
): Spent | null {
  const operation = getOperationAST(document, operationName);
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root) return null;
  const variables = getVariableValues(schema, operation.variableDefinitions ?? [], variableValues ?? {});
  if (variables.errors) return null;
  const spent: Spent = { pairs: 0, rows: 0 };
  for (const node of rootFields(document, operation.selectionSet)) {
    const field = root.getFields()[node.name.value];
    const cost = field && readCostOf(field.extensions);
    if (!field || !cost) continue;
    let args: Record<string, unknown>;
    try {
      args = getArgumentValues(field, node, variables.coerced);
    } catch {
      return null;
    }
    spent.pairs += cost.pairs?.(args) ?? 0;
    spent.rows += cost.rows?.(args) ?? 0;
  }
  return spent;
}

/** The budget an operation goes over, said for the client, or null. */
export function overBudget(spent: Spent, config: BudgetConfig): { message: string; limit: string } | null {
  if (spent.pairs > config.MAX_AGGREGATE_PAIRS) {
    return {
      limit: 'MAX_AGGREGATE_PAIRS',
      message: `the operation reads ${spent.pairs} metric × window pairs over its fields and aliases; at most ${config.MAX_AGGREGATE_PAIRS} are allowed (MAX_AGGREGATE_PAIRS)`,
    };
  }
  if (spent.rows > config.MAX_ROWS_PER_REQUEST) {
    return {
      limit: 'MAX_ROWS_PER_REQUEST',
      message: `the operation asks for ${spent.rows} rows over its lists and aliases (their first); at most ${config.MAX_ROWS_PER_REQUEST} are allowed (MAX_ROWS_PER_REQUEST)`,
    };
  }
  return null;
}

export function readBudgetPlugin(config: BudgetConfig): Plugin {
  const check = (args: ExecutionArgs) => {
    const spent = operationReads(args.schema, args.document, args.operationName, args.variableValues);
    const over = spent && overBudget(spent, config);
    // 400 as for graphql-armor's refusals: the request itself is at fault, and nothing ran.
    return over && { errors: [graphQLError('BAD_USER_INPUT', over.message, { limit: over.limit }, { status: 400 })] };
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const refused = check(args);
      if (refused) setResultAndStopExecution(refused);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refused = check(args);
      if (refused) setResultAndStopExecution(refused);
    },
  };
}
