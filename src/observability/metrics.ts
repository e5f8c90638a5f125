// Prometheus metrics of one app instance, on a registry of its own (two instances in one process stay apart).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'jackdaw_' });
  return {
    registry,
    eventsAccepted: new Counter({
      name: 'jackdaw_events_accepted_total',
      help: 'Events committed',
      registers: [registry],
    }),
    eventsDuplicate: new Counter({
      name: 'jackdaw_events_duplicate_total',
      help: 'Published events whose id was already stored',
      registers: [registry],
    }),
    eventsRejected: new Counter({
      name: 'jackdaw_events_rejected_total',
      help: 'Publish calls rejected, by error code',
      labelNames: ['code'],
      registers: [registry],
    }),
    eventsLate: new Counter({
      name: 'jackdaw_events_late_total',
      help: 'Events stored but too old (over 24 h) to aggregate',
      registers: [registry],
    }),
    eventsProcessed: new Counter({
      name: 'jackdaw_events_processed_total',
      help: 'Events broadcast and aggregated by this instance',
      registers: [registry],
    }),
    processingLatency: new Histogram({
      name: 'jackdaw_event_processing_latency_seconds',
      help: 'From commit to broadcast and aggregation',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    websocketConnections: new Gauge({
      name: 'jackdaw_websocket_connections',
      help: 'Open WebSocket connections',
      registers: [registry],
    }),
    outboxBacklog: new Gauge({
      name: 'jackdaw_outbox_backlog',
      help: 'Committed events not yet broadcast and aggregated',
      registers: [registry],
    }),
    isLeader: new Gauge({
      name: 'jackdaw_stream_processor_leader',
      help: '1 while this instance holds the stream processor lease',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
