// Operations many test files send. Each is a typed document: `npm run schema:print` generates its result and
// variables types (test/generated/) from schema.graphql, and `gql`, `gqlOk` and `subscribe` infer them.
import { graphql } from '../generated/index.js';

export const PUBLISH_EVENT = graphql(`
  mutation PublishEvent($input: PublishEventInput!) {
    publishEvent(input: $input) {
      id
      type
      timestamp
      receivedAt
      data
    }
  }
`);

export const PUBLISH_EVENTS = graphql(`
  mutation PublishEvents($inputs: [PublishEventInput!]!) {
    publishEvents(inputs: $inputs) {
      accepted
      duplicates
      ids
    }
  }
`);

/** Every statistic of an aggregate; spread it into a selection with `...AggregateStats`. */
export const AGGREGATE_STATS = graphql(`
  fragment AggregateStats on MetricAggregate {
    metric
    window
    count
    sum
    avg
    min
    max
    stddev
    p50
    p95
    p99
  }
`);

export const AGGREGATE = graphql(`
  query Aggregate($metric: String!, $window: WindowSize!) {
    aggregate(metric: $metric, window: $window) {
      ...AggregateStats
      from
      to
    }
  }
`);

export const CREATE_API_KEY = graphql(`
  mutation CreateApiKey($name: String!, $role: Role!) {
    createApiKey(name: $name, role: $role) {
      id
      name
      role
      key
    }
  }
`);

export const EVENT_PUBLISHED = graphql(`
  subscription EventPublished($types: [EventType!]) {
    eventPublished(types: $types) {
      id
      type
      receivedAt
      data
    }
  }
`);

/** eventPublished with cursors, resumable with `after`. */
export const EVENTS_AFTER = graphql(`
  subscription EventsAfter($types: [EventType!], $after: String) {
    eventPublished(types: $types, after: $after) {
      id
      type
      cursor
    }
  }
`);
