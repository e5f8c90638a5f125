// A small typed client of the Jackdaw Sentry API: it publishes events, reads the history, subscribes to the live
// stream, and resumes that stream after its socket drops, missing nothing and repeating nothing. Every document is
// typed from schema.graphql by graphql-codegen (codegen.ts here): variables and results are checked by TypeScript.
import type { ResultOf, TypedDocumentNode, VariablesOf } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { PublishEventInput } from './generated/graphql.js';
import { graphql } from './generated/index.js';

const PublishMetrics = graphql(`
  mutation ExamplePublishMetrics($inputs: [PublishEventInput!]!) {
    publishEvents(inputs: $inputs) {
      accepted
      ids
    }
  }
`);

const RecentMetrics = graphql(`
  query ExampleRecentMetrics($first: Int) {
    events(first: $first, types: [PERFORMANCE_METRIC]) {
      edges {
        node {
          id
          timestamp
          data
        }
      }
    }
  }
`);

const LiveMetrics = graphql(`
  subscription ExampleLiveMetrics($after: String) {
    eventPublished(types: [PERFORMANCE_METRIC], after: $after) {
      id
      data
      cursor
    }
  }
`);

export interface Endpoint {
  /** The GraphQL endpoint over HTTP, e.g. http://localhost:4000/graphql. */
  httpUrl: string;
  /** The same endpoint over WebSocket, e.g. ws://localhost:4000/graphql. */
  wsUrl: string;
}

export interface ExampleOptions extends Endpoint {
  /** A key with the PUBLISHER role (or ADMIN): publishing needs it, reading needs any role. */
  apiKey: string;
  /** Where the resumed stream connects: another instance of the same deployment works as well. */
  resumeAt?: Endpoint;
  log?: (line: string) => void;
}

/** One HTTP request of a typed document: the result is typed, and GraphQL errors are thrown. */
async function request<Result, Variables>(
  { httpUrl, apiKey }: { httpUrl: string; apiKey: string },
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
): Promise<Result> {
  const response = await fetch(httpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const { data, errors } = (await response.json()) as { data?: Result; errors?: { message: string }[] };
  if (errors?.length || !data) throw new Error(`GraphQL errors: ${errors?.map((e) => e.message).join('; ')}`);
  return data;
}

function connect(wsUrl: string, apiKey: string): Client {
  return createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${apiKey}` },
    retryAttempts: 0, // this example reconnects by itself, to show resuming
  });
}

type LiveMetric = ResultOf<typeof LiveMetrics>['eventPublished'];

/** Follows the live stream, after `after` when given (a cursor); answers a function that stops it. */
function follow(
  client: Client,
  after: string | null,
  onEvent: (event: LiveMetric) => void,
  onError: (error: unknown) => void,
): () => void {
  const variables: VariablesOf<typeof LiveMetrics> = { after };
  return client.subscribe<ResultOf<typeof LiveMetrics>>(
    { query: print(LiveMetrics), variables },
    {
      next: ({ data, errors }) => {
        if (errors?.length) onError(new Error(errors.map((e) => e.message).join('; ')));
        else if (data) onEvent(data.eventPublished);
      },
      error: onError,
      complete: () => {},
    },
  );
}

/** Resolves once `check()` holds, looking again whenever `changed` is called; rejects on `fail`. */
function until(check: () => boolean) {
  let resolve = () => {};
  let reject: (error: unknown) => void = () => {};
  const done = new Promise<void>((ok, failed) => {
    resolve = ok;
    reject = failed;
  });
  // Checked at once too: what it waits for may have arrived before it was made.
  if (check()) resolve();
  return { changed: () => check() && resolve(), fail: (error: unknown) => reject(error), done };
}

const metric = (name: string, value: number): PublishEventInput => ({
  type: 'PERFORMANCE_METRIC',
  data: { metric_name: name, value, labels: { region: 'eu-west' } },
});

/** What this example publishes to learn that its subscription is live; not counted among its events. */
const PROBE = 'example_probe';

/**
 * Publishes, subscribes, drops the socket, publishes while away, resumes after the last cursor seen, and reads the
 * history. Answers what was published and what the stream delivered, in order.
 */
export async function runExample(options: ExampleOptions): Promise<{ published: string[]; received: string[] }> {
  const { apiKey, log = console.log } = options;
  const publish = async (name: string, values: number[]) =>
    (await request(options, PublishMetrics, { inputs: values.map((value) => metric(name, value)) })).publishEvents.ids;
  const published: string[] = [];
  const received: string[] = [];
  let cursor: string | null = null; // of the last event the stream delivered: where to resume after
  const allArrived = () => published.every((id) => received.includes(id));
  let watch = until(allArrived);
  const onEvent = (event: LiveMetric) => {
    cursor = event.cursor;
    if ((event.data as { metric_name?: unknown }).metric_name === PROBE) return;
    if (received.includes(event.id)) watch.fail(new Error(`event ${event.id} delivered twice`));
    received.push(event.id);
    watch.changed();
  };
  const onError = (error: unknown) => watch.fail(error);

  // 1. Subscribe, then publish probes until one comes back: from then on the stream is live.
  const first = connect(options.wsUrl, apiKey);
  const stop = follow(first, null, onEvent, onError);
  while (cursor === null) {
    await publish(PROBE, [0]);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // Waited for once the publish has answered: its events may be delivered before its answer arrives, and a wait made
  // before would take an empty list of what was published for "all arrived".
  published.push(...(await publish('example_latency_ms', [120, 135, 150])));
  watch = until(allArrived);
  await watch.done;
  log(`live: ${received.length} events, last cursor ${cursor}`);

  // 2. The socket drops (terminate() closes it as a lost connection would); events go on being published.
  stop();
  first.terminate();
  published.push(...(await publish('example_latency_ms', [410, 390, 405])));
  log('socket dropped; 3 events published meanwhile');

  // 3. Reconnect (here or to another instance) and resume after the last cursor: the missed events, then live.
  const resumeAt = options.resumeAt ?? options;
  const second = connect(resumeAt.wsUrl, apiKey);
  const stopResumed = follow(second, cursor, onEvent, onError);
  published.push(...(await publish('example_latency_ms', [140])));
  watch = until(allArrived);
  await watch.done;
  log(`resumed: ${received.length} events in all, none missed, none twice`);
  stopResumed();
  await second.dispose();

  // 4. The history, newest first.
  const { events } = await request(options, RecentMetrics, { first: 3 });
  for (const { node } of events.edges) log(`history: ${node.timestamp} ${JSON.stringify(node.data)}`);
  return { published, received };
}
