// Limits on the shape of an operation, enforced while parsing and validating, so an operation over a limit is
// rejected before any resolver runs. They are envelop plugins: HTTP and WebSocket share them through
// yoga.getEnveloped. The checks themselves come from graphql-armor.

import type { Plugin } from '@envelop/core';
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { NoSchemaIntrospectionCustomRule } from 'graphql';
import type { Config } from '../config.js';
import { graphQLError } from '../transport/errors.js';

type LimitsConfig = Pick<
  Config,
  'MAX_QUERY_DEPTH' | 'MAX_QUERY_COST' | 'MAX_QUERY_ALIASES' | 'MAX_QUERY_TOKENS' | 'INTROSPECTION'
>;

/** Refuses `__schema` and `__type` with graphql's own rule (`__typename` stays: clients need it). */
const disableIntrospection: Plugin = {
  onValidate({ addValidationRule }) {
    addValidationRule(NoSchemaIntrospectionCustomRule);
  },
};

/**
 * Subscriptions only over WebSocket. yoga would also serve them over HTTP (server-sent events), where none of the
 * per-socket controls hold: revocation, connections per key, operations per connection, the outbound bound.
 */
const webSocketOnlySubscriptions: Plugin = {
  onSubscribe({ args, setResultAndStopExecution }) {
    if (!(args.contextValue as { request?: unknown }).request) return;
    setResultAndStopExecution({
      errors: [
        graphQLError(
          'BAD_USER_INPUT',
          'subscriptions are served over WebSocket (graphql-transport-ws) on /graphql, not over HTTP',
        ),
      ],
    });
  },
};

export function limitPlugins(config: LimitsConfig): Plugin[] {
  // Depth and cost skip `__schema`: GraphiQL's introspection query is deeper than any real one. Its size is still
  // bounded by the token and alias limits, and INTROSPECTION=false refuses it altogether.
  const plugins: Plugin[] = [
    webSocketOnlySubscriptions,
    maxTokensPlugin({ n: config.MAX_QUERY_TOKENS }),
    maxDepthPlugin({ n: config.MAX_QUERY_DEPTH, flattenFragments: true }),
    costLimitPlugin({ maxCost: config.MAX_QUERY_COST, flattenFragments: true }),
    maxAliasesPlugin({ n: config.MAX_QUERY_ALIASES }),
  ];
  if (!config.INTROSPECTION) plugins.push(disableIntrospection);
  return plugins;
}
