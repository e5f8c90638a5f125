// Traces end to end: a provider collecting spans in memory is registered before the app starts (as main.ts registers
// the exporting one), then an event is followed from its publish request to a graphql-ws subscriber, and a firing alert
// to its webhook, on real Postgres and Redis. The trace context crosses the outbox row and the bus message as it would
// between processes.
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR, SPAN } from '../../src/observability/tracing.js';
import { graphql } from '../generated/index.js';
import {
  eventually,
  gqlOk,
  processed,
  startServer,
  subscribe,
  subscribersJoined,
  type TestServer,
  wsClient,
} from '../helpers/app.js';
import { EVENT_PUBLISHED, PUBLISH_EVENTS } from '../helpers/operations.js';
import { type Cleanups, startReceiver } from '../helpers/receivers.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

const CREATE_RULE = graphql(`
  mutation CreateTracedRule($input: AlertRuleInput!) {
    createAlertRule(input: $input) {
      id
    }
  }
`);
const ALERT_TRIGGERED = graphql(`
  subscription TracedAlertTriggered {
    alertTriggered {
      id
      ruleId
    }
  }
`);

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const cleanups: Cleanups = [];
const prefix = redisKeyPrefix();
let database: TestDatabase;
let server: TestServer;
/** Another instance on the same database and Redis, executing each subscriber alone. */
let alone: TestServer;
let webhook: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  provider.register();
  database = await createTestDatabase();
  webhook = await startReceiver(cleanups, () => 200);
  const config = {
    WEBHOOK_SECRET: 'tracing-secret',
    ALLOW_PRIVATE_WEBHOOK_TARGETS: 'true',
    ALERT_EVALUATION_INTERVAL_MS: 100,
  };
  const options = { databaseUrl: database.url, redisKeyPrefix: prefix };
  server = await startServer({ ...options, config });
  alone = await startServer({
    ...options,
    adminKey: server.adminKey,
    config: { ...config, WS_SHARED_EXECUTION: 'false' },
  });
});

afterAll(async () => {
  await server?.stop();
  await alone?.stop();
  for (const cleanup of cleanups.reverse()) await cleanup();
  await database?.drop();
  await deleteRedisKeys(prefix);
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

const spans = () => exporter.getFinishedSpans();
const idOf = (span: ReadableSpan) => span.spanContext().spanId;
const traceOf = (span: ReadableSpan) => span.spanContext().traceId;
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const named = (name: string) => spans().filter((span) => span.name === name);
const linked = (span: ReadableSpan, to: ReadableSpan) =>
  span.links.some((link) => link.context.spanId === idOf(to) && link.context.traceId === traceOf(to));

function live<R>(document: Parameters<typeof subscribe<R, Record<string, never>>>[1], on = server) {
  const client = wsClient(on.wsUrl, on.adminKey);
  cleanups.push(() => client.dispose());
  return subscribe(client, document);
}

describe('traces', () => {
  it('should follow an event from its publish request through commit and processing to its deliveries', async () => {
    const publish = (insight: string) =>
      gqlOk(
        server.url,
        PUBLISH_EVENTS,
        { inputs: [{ type: 'INSIGHT_GENERATED' as const, data: { insight } }] },
        server.adminKey,
      );
    const joined = subscribersJoined(server, 2);
    const members = [live(EVENT_PUBLISHED), live(EVENT_PUBLISHED)];
    await joined;
    // A subscriber executed alone gives no signal that it is live: probes until it receives one prove it.
    const single = live(EVENT_PUBLISHED, alone);
    await eventually(async () => {
      await publish('probe');
      return (await single.until((received) => received.length > 0, 200).catch(() => [])).length > 0;
    });
    // Every probe delivered everywhere before the spans are collected afresh.
    const fence = (await publish('fence')).publishEvents.ids[0];
    const got = (id: string | undefined) => (received: { eventPublished: { id: string } }[]) =>
      received.some((event) => event.eventPublished.id === id);
    for (const subscriber of [...members, single]) await subscriber.until(got(fence));
    await processed(server, alone);
    exporter.reset();

    const { publishEvents } = await publish('traced');
    for (const subscriber of [...members, single]) await subscriber.until(got(publishEvents.ids[0]));

    // The publish request committed the event…
    const [commit, ...otherCommits] = named(SPAN.commit);
    expect(otherCommits).toEqual([]);
    if (!commit) throw new Error('no commit span');
    expect(commit.attributes).toMatchObject({ [ATTR.events]: 1, [ATTR.accepted]: 1, 'db.operation.name': 'INSERT' });
    const request = spans().find((span) => idOf(span) === parentOf(commit));
    expect(request).toMatchObject({ name: 'POST /graphql', kind: SpanKind.SERVER });
    expect(request && traceOf(request)).toBe(traceOf(commit));

    // …the processor's batch links to that commit (a trace of its own: a batch holds many publishes; it may end after
    // the deliveries, as it applies the batch after broadcasting it)…
    const batch = await eventually(() => named(SPAN.process).find((span) => linked(span, commit)));
    expect(batch.attributes[ATTR.events]).toBe(1);

    // …and the deliveries continue the batch: one for the shared group (written to both members), one for the
    // subscriber executed alone on the other instance, each linked to the commit too.
    const deliveries = await eventually(() => {
      const found = named(SPAN.deliver).filter((span) => parentOf(span) === idOf(batch));
      return found.length >= 2 ? found : null;
    });
    expect(deliveries).toHaveLength(2);
    expect(deliveries.map((span) => span.attributes)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ [ATTR.topic]: 'events:published', [ATTR.members]: 2, [ATTR.shared]: true }),
        expect.objectContaining({ [ATTR.topic]: 'events:published', [ATTR.members]: 1, [ATTR.shared]: false }),
      ]),
    );
    for (const delivery of deliveries) {
      expect(delivery.kind).toBe(SpanKind.CONSUMER);
      expect(traceOf(delivery)).toBe(traceOf(batch));
      expect(linked(delivery, commit), 'a delivery links to the commit').toBe(true);
    }
  });

  it('should follow a firing alert to its webhook notification and its subscribers', async () => {
    const joined = subscribersJoined(server);
    const triggered = live(ALERT_TRIGGERED);
    await joined;
    const { createAlertRule: rule } = await gqlOk(
      server.url,
      CREATE_RULE,
      {
        input: {
          name: 'traced',
          severity: 'LOW',
          webhookUrls: [webhook.url],
          conditions: [{ metric: 'traced_latency', window: 'M1', operator: 'GT', threshold: 10 }],
        },
      },
      server.adminKey,
    );
    await gqlOk(
      server.url,
      PUBLISH_EVENTS,
      { inputs: [{ type: 'PERFORMANCE_METRIC' as const, data: { metric_name: 'traced_latency', value: 50 } }] },
      server.adminKey,
    );
    const [alert] = await triggered.waitFor(1);
    await webhook.received(1);

    const fire = await eventually(() => named(SPAN.fire).find((span) => span.attributes[ATTR.ruleId] === rule.id));
    const notification = await eventually(() => named(SPAN.notify).find((span) => parentOf(span) === idOf(fire)));
    expect(traceOf(notification)).toBe(traceOf(fire));
    expect(notification.attributes).toMatchObject({
      [ATTR.alertId]: alert?.alertTriggered.id,
      [ATTR.channel]: 'WEBHOOK',
      [ATTR.target]: new URL(webhook.url).origin,
      [ATTR.attempt]: 1,
    });

    // The alert's broadcast carries the firing's context to the subscribers' delivery.
    const delivery = await eventually(() =>
      named(SPAN.deliver).find((span) => span.attributes[ATTR.topic] === 'alerts:triggered'),
    );
    expect(parentOf(delivery)).toBe(idOf(fire));
    expect(traceOf(delivery)).toBe(traceOf(fire));
  });
});
