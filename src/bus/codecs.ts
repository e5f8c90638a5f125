// Bus payloads cross Redis as JSON: these turn domain values into their messages (dates as ISO strings, seqs as
// decimal strings) and back. Every publisher and subscriber of a topic uses the same pair.
import type { Alert } from '../alerts/rules.js';
import type { EventType, StoredEvent } from '../events/model.js';
import type { OutboxEvent } from '../events/store.js';
import type { Traced } from '../observability/tracing.js';
import type { AlertMessage, EventMessage } from './topics.js';

/** `traceparent`: the span broadcasting it (tracing on only); the event's own is its commit's (`publishTraceparent`). */
export function toEventMessage(event: OutboxEvent, traceparent?: string): EventMessage {
  return {
    id: event.id,
    seq: event.seq.toString(),
    type: event.type,
    timestamp: event.timestamp.toISOString(),
    receivedAt: event.receivedAt.toISOString(),
    data: event.data,
    ...(traceparent ? { traceparent } : {}),
    ...(event.traceparent ? { publishTraceparent: event.traceparent } : {}),
  };
}

/** The event, still carrying the trace context it was broadcast in (for its delivery spans). */
export function fromEventMessage(message: EventMessage): StoredEvent & Traced {
  return {
    id: message.id,
    seq: BigInt(message.seq),
    type: message.type as EventType,
    timestamp: new Date(message.timestamp),
    receivedAt: new Date(message.receivedAt),
    data: message.data,
    ...(message.traceparent ? { traceparent: message.traceparent } : {}),
    ...(message.publishTraceparent ? { publishTraceparent: message.publishTraceparent } : {}),
  };
}

export function toAlertMessage(alert: Alert): AlertMessage {
  return {
    ...alert,
    triggeredAt: alert.triggeredAt.toISOString(),
    resolvedAt: alert.resolvedAt?.toISOString() ?? null,
    acknowledgedAt: alert.acknowledgedAt?.toISOString() ?? null,
  };
}

export function fromAlertMessage(message: AlertMessage): Alert {
  return {
    ...message,
    severity: message.severity as Alert['severity'],
    status: message.status as Alert['status'],
    triggeredAt: new Date(message.triggeredAt),
    resolvedAt: message.resolvedAt ? new Date(message.resolvedAt) : null,
    acknowledgedAt: message.acknowledgedAt ? new Date(message.acknowledgedAt) : null,
    silencedBy: message.silencedBy ?? null,
    acknowledgedBy: message.acknowledgedBy ?? null,
    acknowledgeComment: message.acknowledgeComment ?? null,
    labels: message.labels ?? [],
  };
}
