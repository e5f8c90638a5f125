// The graphql-jit plugin's own rules (transport/jit.ts), on the real schema: what it compiles and when, and what it
// leaves to graphql-js. What the whole server answers through it is test/e2e/graphql-jit.test.ts.
import { buildSchema, type ExecutionArgs, type ExecutionResult, execute, GraphQLError, parse } from 'graphql';
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
    expect(executorFor(plugin, args('B'), graphqlJs)).toBeNull();
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

  it('should keep at most its bound of compiled operations, and nothing for names the document does not hold', async () => {
    const plugin = jitPlugin(10);
    const names = Array.from({ length: 30 }, (_, i) => `op${i}`);
    const document = parse(names.map((name) => `query ${name} { __typename }`).join('\n'));
    const args = (operationName: string): ExecutionArgs => ({ schema, document, operationName, contextValue: {} });
    for (const name of names) {
      executorFor(plugin, args(name), graphqlJs);
      expect(await executorFor(plugin, args(name), graphqlJs)?.(args(name))).toEqual({ data: { __typename: 'Query' } });
    }
    expect(plugin.compiledOperations()).toBe(10);
    // Names at random, each sent twice: left to graphql-js, and nothing kept for them.
    for (let i = 0; i < 50; i++) {
      executorFor(plugin, args(`random${i}`), graphqlJs);
      expect(executorFor(plugin, args(`random${i}`), graphqlJs)).toBeNull();
    }
    expect(plugin.compiledOperations()).toBe(10);
  });

  it('should give an error graphql-jit makes itself (a null for a non-null field) a cause, as graphql-js does', async () => {
    const plugin = jitPlugin();
    const broken = buildSchema('type Query { name: String! }');
    const args: ExecutionArgs = {
      schema: broken,
      document: parse('{ name }'),
      rootValue: { name: null },
      contextValue: {},
    };
    const byGraphqlJs = await graphqlJs(args);
    executorFor(plugin, args, graphqlJs);
    const compiled = await executorFor(plugin, args, graphqlJs)?.(args);
    expect(compiled?.extensions).toBeUndefined();
    const [error] = compiled?.errors ?? [];
    expect(error?.message).toBe(byGraphqlJs.errors?.[0]?.message);
    // errors.ts masks an error whose cause is not a GraphQLError as a server fault (INTERNAL, logged).
    expect(error?.originalError).toBeInstanceOf(Error);
    expect(error?.originalError).not.toBeInstanceOf(GraphQLError);
  });
});
