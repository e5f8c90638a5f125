// Bus payloads cross Redis as JSON: these turn domain values into their messages (dates as ISO strings, seqs as
// decimal strings) and back. Every publisher and subscriber of a topic uses the same pair.
import type { Alert } from '../alerts/rules.js';
import type { EventType, StoredEvent } from '../events/model.js';
import type { AlertMessage, EventMessage } from './topics.js';

export function toEventMessage(event: StoredEvent): EventMessage {
  return {
    id: event.id,
    seq: event.seq.toString(),
    type: event.type,
    timestamp: event.timestamp.toISOString(),
    receivedAt: event.receivedAt.toISOString(),
    data: event.data,
  };
}

export function fromEventMessage(message: EventMessage): StoredEvent {
  return {
    id: message.id,
    seq: BigInt(message.seq),
    type: message.type as EventType,
    timestamp: new Date(message.timestamp),
    receivedAt: new Date(message.receivedAt),
    data: message.data,
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
  };
}
