// Traces (OpenTelemetry): an event is followed from the publish request through its commit, the stream processor's
// batch and the bus to every delivery, and a firing alert to its notifications. Processes meet only through Postgres
// and the bus, so the trace context (a W3C `traceparent`) travels with the event: on its outbox row, then in the bus
// message. The code here runs against the OpenTelemetry API alone: until a tracer provider is registered (export off,
// the default) every tracer is the API's no-op one, nothing is recorded and no `traceparent` is written anywhere.
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Attributes,
  type Context,
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVICE_NAME,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions';
import type { Config } from '../config.js';

const TRACER_NAME = 'jackdaw-sentry';

/** Span names, one per step an event or an alert goes through. */
export const SPAN = {
  commit: 'events.commit',
  process: 'events.process',
  apply: 'events.apply',
  deliver: 'subscription.deliver',
  fire: 'alerts.fire',
  notify: 'alerts.notify',
} as const;

/** Attributes of our own (the rest are OpenTelemetry's semantic conventions). */
export const ATTR = {
  events: 'jackdaw.events.count',
  accepted: 'jackdaw.events.accepted',
  firstSeq: 'jackdaw.events.first_seq',
  lastSeq: 'jackdaw.events.last_seq',
  topic: 'jackdaw.bus.topic',
  members: 'jackdaw.subscription.members',
  shared: 'jackdaw.subscription.shared',
  ruleId: 'jackdaw.alert.rule_id',
  alertId: 'jackdaw.alert.id',
  severity: 'jackdaw.alert.severity',
  channel: 'jackdaw.notification.channel',
  target: 'jackdaw.notification.target',
  attempt: 'jackdaw.notification.attempt',
  role: 'jackdaw.process.role',
} as const;

/** A value that carries the trace context it travels in (a bus message's item, a fired alert). */
export interface Traced {
  traceparent?: string;
  /** An event's commit, which its deliveries link to. */
  publishTraceparent?: string;
}

// The propagator itself rather than the API's global one: a traceparent is stored or sent only when there is a
// recorded span to name, and read back the same way whether or not this process registered a provider.
const w3c = new W3CTraceContextPropagator();

/** Looked up at each use, not kept: a provider registered later (a test's, after import) is then the one used. */
function tracer() {
  return trace.getTracer(TRACER_NAME);
}

/** The W3C traceparent of `span`, or undefined when it is not recorded (tracing off): nothing then travels. */
export function traceparentOf(span: Span): string | undefined {
  if (!span.isRecording()) return undefined;
  const carrier: Record<string, string> = {};
  w3c.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
  return carrier.traceparent;
}

/** The traceparent of the span active now (in a span started by `inSpan`), if one is recorded. */
export function activeTraceparent(): string | undefined {
  const span = trace.getActiveSpan();
  return span ? traceparentOf(span) : undefined;
}

function contextOf(traceparent: string | undefined | null): Context | undefined {
  if (!traceparent) return undefined;
  const extracted = w3c.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter);
  return trace.getSpanContext(extracted) ? extracted : undefined;
}

/** The SDK's default link count limit: links past it would be dropped anyway. */
const MAX_LINKS = 128;

/** Links to the distinct, valid contexts among `traceparents` (a batch's events mostly share a few publishes). */
export function linksTo(traceparents: Iterable<string | undefined | null>): Link[] {
  const links: Link[] = [];
  const seen = new Set<string>();
  for (const traceparent of traceparents) {
    if (links.length >= MAX_LINKS) break;
    if (!traceparent || seen.has(traceparent)) continue;
    seen.add(traceparent);
    const spanContext = trace.getSpanContext(contextOf(traceparent) ?? ROOT_CONTEXT);
    if (spanContext) links.push({ context: spanContext });
  }
  return links;
}

/** The traceparent a value travels with, if it carries one (see `Traced`). */
export function traceparentOfValue(value: unknown): string | undefined {
  const traceparent = typeof value === 'object' && value !== null ? (value as Traced).traceparent : undefined;
  return typeof traceparent === 'string' ? traceparent : undefined;
}

export interface InSpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  links?: Link[];
  /** The parent, from a traceparent that travelled here; unset: the active span; null: a new trace. */
  parent?: string | null;
}

/**
 * Runs `work` in a new span, active while it runs (so spans started inside are its children), and ends the span when
 * the work settles, an error marking it failed. With tracing off this is a call through a no-op span.
 */
export async function inSpan<T>(name: string, options: InSpanOptions, work: (span: Span) => Promise<T>): Promise<T> {
  const parent =
    options.parent === undefined ? context.active() : (contextOf(options.parent) ?? (ROOT_CONTEXT as Context));
  const span = tracer().startSpan(
    name,
    { kind: options.kind, attributes: options.attributes, links: options.links },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => work(span));
  } catch (error) {
    failed(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** A notification attempt's outcome on its span: why it failed, if it did. */
export function spanOutcome(span: Span, error: string | null): void {
  if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
}

function failed(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/**
 * A span for one delivery of a bus item to a subscription (its group's members, or one subscriber), continuing the
 * trace the item travelled in; none when the item carries no trace context.
 */
export function startDelivery(item: unknown, topic: string): Span | null {
  const parent = contextOf(traceparentOfValue(item));
  if (!parent) return null;
  const published = (item as Traced).publishTraceparent;
  return tracer().startSpan(
    SPAN.deliver,
    {
      kind: SpanKind.CONSUMER,
      attributes: { [ATTR.topic]: topic, [ATTR.members]: 1, [ATTR.shared]: false },
      links: linksTo([published]),
    },
    parent,
  );
}

/** Routes of the HTTP server: anything else is named by its method alone (span names must stay few). */
const ROUTES = new Set(['/', '/graphql', '/health', '/ready', '/metrics']);

/**
 * Handles one HTTP request in a server span, the parent of what the request does (a publish's commit). A client's own
 * `traceparent` header is continued. The span ends when the response is finished or the connection closes.
 */
export function traceRequest(req: IncomingMessage, res: ServerResponse, handle: () => Promise<void>): Promise<void> {
  const parent = w3c.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const method = req.method ?? 'GET';
  const span = tracer().startSpan(
    ROUTES.has(path) ? `${method} ${path}` : method,
    { kind: SpanKind.SERVER, attributes: { [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_URL_PATH]: path } },
    parent,
  );
  if (!span.isRecording()) return handle();
  res.once('close', () => {
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
  return context.with(trace.setSpan(parent, span), handle);
}

let provider: NodeTracerProvider | null = null;

/**
 * Registers this process's tracer provider when export is on (TRACING, or an OTLP endpoint is set); otherwise leaves
 * the API's no-op tracer in place. Spans go out in batches over OTLP/HTTP to the configured endpoint (the exporter's
 * default, http://localhost:4318/v1/traces, without one); the exporter reads the other standard OTEL_EXPORTER_OTLP_*
 * variables (headers, timeout, compression) itself.
 */
export function startTracing(config: Config, role: string): boolean {
  if (!tracingEnabled(config)) return false;
  const base = config.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/$/, '');
  const url = config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (base ? `${base}/v1/traces` : undefined);
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: config.OTEL_SERVICE_NAME,
      'process.pid': process.pid,
      [ATTR.role]: role,
    }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter(url ? { url } : {}))],
  });
  provider.register();
  return true;
}

/** TRACING when set; otherwise on exactly when an OTLP endpoint for traces is configured. */
export function tracingEnabled(
  config: Pick<Config, 'TRACING' | 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'>,
): boolean {
  return config.TRACING ?? Boolean(config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || config.OTEL_EXPORTER_OTLP_ENDPOINT);
}

/** Sends the spans still buffered (on a clean stop); a no-op with tracing off. */
export async function stopTracing(): Promise<void> {
  await provider?.shutdown().catch(() => {});
  provider = null;
}
