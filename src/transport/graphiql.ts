// What GraphiQL (served by yoga at /graphql, from the installed package) opens with: one tab per thing a new user
// tries first, and the header every operation needs, with the key left to fill in. These are defaults only: once a
// user has edited the tabs, GraphiQL keeps theirs (in the browser's storage).
import type { GraphiQLOptions } from 'graphql-yoga';

export const GRAPHIQL_HEADERS = JSON.stringify({ Authorization: 'Bearer <your API key>' }, null, 2);

const PUBLISH = `# Publish events (PUBLISHER or ADMIN key). Put your key in the Headers tab below:
#   { "Authorization": "Bearer <your API key>" }
# (at first start the server prints an admin key and keeps it in DATA_DIR/first-admin-key)
mutation Publish {
  publishEvents(inputs: [
    { type: PERFORMANCE_METRIC, data: { metric_name: "api_response_time", value: 142, competitor: "Globex" } }
    { type: BENCHMARK_COMPLETED, data: { competitor: "Globex", benchmark: "search", success: true, metrics: { duration_ms: 1180 } } }
    { type: ANOMALY_DETECTED, data: { competitor: "Initech", metric: "api_response_time", score: 4.2 } }
  ]) {
    accepted
    duplicates
    ids
  }
}
`;

const AGGREGATE = `# Sliding-window statistics of a metric (any key). Windows: M1, M5, M15, H1, H6, H24.
query Aggregate {
  aggregate(metric: "api_response_time", window: M5) {
    count
    avg
    p50
    p95
    p99
    min
    max
  }
  dashboard {
    eventsPerSecond
    benchmarkSuccessRate
    apiResponseTime
    anomalyCount
    firingAlerts
  }
  metricNames
}
`;

const SUBSCRIPTION = `# Live updates are served over WebSocket only (graphql-transport-ws on /graphql), with the key in connection_init:
#   { "authorization": "Bearer <your API key>" }
# GraphiQL sends its headers over HTTP only, so run this from a graphql-ws client, or watch it live on the status page
# at / (it runs these subscriptions). Over HTTP the server answers that subscriptions are served over WebSocket.
subscription Live {
  metricUpdated(metric: "api_response_time", window: M1) {
    count
    avg
    p95
    to
  }
}
`;

export const GRAPHIQL_OPTIONS: GraphiQLOptions = {
  title: 'Jackdaw Sentry GraphiQL',
  defaultQuery: PUBLISH,
  defaultTabs: [PUBLISH, AGGREGATE, SUBSCRIPTION].map((query) => ({ query, headers: GRAPHIQL_HEADERS })),
  headers: GRAPHIQL_HEADERS,
  // The key is a secret: not kept in the browser's storage beyond what the user chooses to type again.
  shouldPersistHeaders: false,
};
