// Trace export: off unless configured, and then spans reach the configured collector over OTLP/HTTP (a real local
// HTTP receiver stands in for it). While off, the API's no-op tracer records nothing, so no trace context is written
// to the outbox or the bus.
import { context, propagation, trace } from '@opentelemetry/api';
import { afterAll, describe, expect, it } from 'vitest';
import { configWith } from '../../src/config.js';
import {
  activeTraceparent,
  inSpan,
  startTracing,
  stopTracing,
  tracingEnabled,
} from '../../src/observability/tracing.js';
import { type Cleanups, startReceiver } from '../helpers/receivers.js';

const cleanups: Cleanups = [];

afterAll(async () => {
  await stopTracing();
  trace.disable();
  context.disable();
  propagation.disable();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('trace export', () => {
  it('should be off by default, on with an OTLP endpoint, and as TRACING says when it is set', () => {
    const collector = 'http://collector.internal:4318';
    expect(tracingEnabled(configWith({}))).toBe(false);
    expect(tracingEnabled(configWith({ OTEL_EXPORTER_OTLP_ENDPOINT: collector }))).toBe(true);
    expect(tracingEnabled(configWith({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${collector}/v1/traces` }))).toBe(true);
    expect(tracingEnabled(configWith({ TRACING: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: collector }))).toBe(false);
    expect(tracingEnabled(configWith({ TRACING: 'true' }))).toBe(true);
  });

  it('should record nothing and carry no trace context while off', async () => {
    expect(startTracing(configWith({}), 'standalone')).toBe(false);
    await inSpan('not recorded', {}, async (span) => {
      expect(span.isRecording()).toBe(false);
      expect(activeTraceparent()).toBeUndefined();
    });
  });

  it('should send spans to the configured OTLP endpoint, named for the service', async () => {
    const collector = await startReceiver(cleanups, () => 200);
    const endpoint = new URL(collector.url).origin;
    const config = configWith({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: 'jackdaw-export-test' });
    expect(startTracing(config, 'serve')).toBe(true);
    let traceparent: string | undefined;
    await inSpan('exported.span', {}, async () => {
      traceparent = activeTraceparent();
    });
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    await stopTracing(); // sends what the batch processor holds
    const [request] = await collector.received(1);
    expect(request?.url).toBe('/v1/traces');
    // OTLP (protobuf or JSON) carries names as UTF-8 text.
    expect(request?.body).toContain('exported.span');
    expect(request?.body).toContain('jackdaw-export-test');
  });
});
