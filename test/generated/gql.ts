/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  mutation PublishEvent($input: PublishEventInput!) {\n    publishEvent(input: $input) {\n      id\n      type\n      timestamp\n      receivedAt\n      data\n    }\n  }\n": typeof types.PublishEventDocument,
    "\n  mutation PublishEvents($inputs: [PublishEventInput!]!) {\n    publishEvents(inputs: $inputs) {\n      accepted\n      duplicates\n      ids\n    }\n  }\n": typeof types.PublishEventsDocument,
    "\n  query Aggregate($metric: String!, $window: WindowSize!) {\n    aggregate(metric: $metric, window: $window) {\n      metric\n      window\n      from\n      to\n      count\n      sum\n      avg\n      min\n      max\n      stddev\n      p50\n      p95\n      p99\n    }\n  }\n": typeof types.AggregateDocument,
    "\n  mutation CreateApiKey($name: String!, $role: Role!) {\n    createApiKey(name: $name, role: $role) {\n      id\n      name\n      role\n      key\n    }\n  }\n": typeof types.CreateApiKeyDocument,
    "\n  subscription EventPublished($types: [EventType!]) {\n    eventPublished(types: $types) {\n      id\n      type\n      receivedAt\n      data\n    }\n  }\n": typeof types.EventPublishedDocument,
};
const documents: Documents = {
    "\n  mutation PublishEvent($input: PublishEventInput!) {\n    publishEvent(input: $input) {\n      id\n      type\n      timestamp\n      receivedAt\n      data\n    }\n  }\n": types.PublishEventDocument,
    "\n  mutation PublishEvents($inputs: [PublishEventInput!]!) {\n    publishEvents(inputs: $inputs) {\n      accepted\n      duplicates\n      ids\n    }\n  }\n": types.PublishEventsDocument,
    "\n  query Aggregate($metric: String!, $window: WindowSize!) {\n    aggregate(metric: $metric, window: $window) {\n      metric\n      window\n      from\n      to\n      count\n      sum\n      avg\n      min\n      max\n      stddev\n      p50\n      p95\n      p99\n    }\n  }\n": types.AggregateDocument,
    "\n  mutation CreateApiKey($name: String!, $role: Role!) {\n    createApiKey(name: $name, role: $role) {\n      id\n      name\n      role\n      key\n    }\n  }\n": types.CreateApiKeyDocument,
    "\n  subscription EventPublished($types: [EventType!]) {\n    eventPublished(types: $types) {\n      id\n      type\n      receivedAt\n      data\n    }\n  }\n": types.EventPublishedDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation PublishEvent($input: PublishEventInput!) {\n    publishEvent(input: $input) {\n      id\n      type\n      timestamp\n      receivedAt\n      data\n    }\n  }\n"): (typeof documents)["\n  mutation PublishEvent($input: PublishEventInput!) {\n    publishEvent(input: $input) {\n      id\n      type\n      timestamp\n      receivedAt\n      data\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation PublishEvents($inputs: [PublishEventInput!]!) {\n    publishEvents(inputs: $inputs) {\n      accepted\n      duplicates\n      ids\n    }\n  }\n"): (typeof documents)["\n  mutation PublishEvents($inputs: [PublishEventInput!]!) {\n    publishEvents(inputs: $inputs) {\n      accepted\n      duplicates\n      ids\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Aggregate($metric: String!, $window: WindowSize!) {\n    aggregate(metric: $metric, window: $window) {\n      metric\n      window\n      from\n      to\n      count\n      sum\n      avg\n      min\n      max\n      stddev\n      p50\n      p95\n      p99\n    }\n  }\n"): (typeof documents)["\n  query Aggregate($metric: String!, $window: WindowSize!) {\n    aggregate(metric: $metric, window: $window) {\n      metric\n      window\n      from\n      to\n      count\n      sum\n      avg\n      min\n      max\n      stddev\n      p50\n      p95\n      p99\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateApiKey($name: String!, $role: Role!) {\n    createApiKey(name: $name, role: $role) {\n      id\n      name\n      role\n      key\n    }\n  }\n"): (typeof documents)["\n  mutation CreateApiKey($name: String!, $role: Role!) {\n    createApiKey(name: $name, role: $role) {\n      id\n      name\n      role\n      key\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription EventPublished($types: [EventType!]) {\n    eventPublished(types: $types) {\n      id\n      type\n      receivedAt\n      data\n    }\n  }\n"): (typeof documents)["\n  subscription EventPublished($types: [EventType!]) {\n    eventPublished(types: $types) {\n      id\n      type\n      receivedAt\n      data\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;