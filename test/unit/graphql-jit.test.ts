// The graphql-jit plugin's own rules (transport/jit.ts), on the real schema: what it compiles and when, and what it
// leaves to graphql-js. What the whole server answers through it is test/e2e/graphql-jit.test.ts.
import { type ExecutionArgs, type ExecutionResult, execute, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';
import { jitPlugin } from '../../src/transport/jit.js';

type Execute = (args: ExecutionArgs) => Promise<ExecutionResult>;

/** What the plugin sets to execute `args` with, or null when it leaves graphql-js (`fallback`) to it. */
function executorFor(plugin: ReturnType<typeof jitPlugin>, args: ExecutionArgs, fallback: Execute): Execute | null {
  let set: Execute | null = null;
  plugin.onExecute?.({
    args,
    executeFn: fallback as never,
    setExecuteFn: (fn: unknown) => {
      set = fn as unknown as Execute;
    },
    setResultAndStopExecution: () => {},
    extendContext: () => {},
    context: {},
  } as never);
  return set;
}

const graphqlJs: Execute = async (args) => ({ ...(await execute(args)), extensions: { by: 'graphql-js' } });

describe('graphql-jit plugin', () => {
  it('should compile a document on its second execution, per operation name', async () => {
    const plugin = jitPlugin();
    const document = parse('query A { __typename } query B { b: __typename }');
    const args = (operationName: string): ExecutionArgs => ({ schema, document, operationName, contextValue: {} });
    expect(executorFor(plugin, args('A'), graphqlJs)).toBeNull();
    const a = executorFor(plugin, args('A'), graphqlJs);
    const b = executorFor(plugin, args('B'), graphqlJs);
    expect(await a?.(args('A'))).toEqual({ data: { __typename: 'Query' } });
    expect(await b?.(args('B'))).toEqual({ data: { b: 'Query' } });
    // No such operation: graphql-js runs it, and says so.
    expect(executorFor(plugin, args('C'), graphqlJs)).toBeNull();
  });

  it('should leave refused variables to graphql-js, whose message names the bad value by its path', async () => {
    const plugin = jitPlugin();
    const document = parse('mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { accepted } }');
    const args: ExecutionArgs = {
      schema,
      document,
      variableValues: {
        inputs: [
          { type: 'ANOMALY_DETECTED', data: {} },
          { type: 'NOPE', data: {} },
        ],
      },
      contextValue: {},
    };
    executorFor(plugin, args, graphqlJs);
    const result = await executorFor(plugin, args, graphqlJs)?.(args);
    expect(result?.extensions).toEqual({ by: 'graphql-js' });
    expect(result?.errors?.[0]?.message).toContain('inputs[1].type');
  });

  it('should not compile subscriptions', () => {
    const plugin = jitPlugin();
    const args: ExecutionArgs = { schema, document: parse('subscription { eventPublished { id } }'), contextValue: {} };
    executorFor(plugin, args, graphqlJs);
    expect(executorFor(plugin, args, graphqlJs)).toBeNull();
  });
});
