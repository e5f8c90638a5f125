// Prometheus metrics of one process, on a registry of its own (two apps in one process stay apart). An instance of
// several processes (src/roles/) reports as one: the primary gathers every process's metrics as JSON and merges
// them with prom-client's AggregatorRegistry, each metric by its `aggregator` (a sum unless said otherwise).
import { AggregatorRegistry, Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** What a process does: `standalone` serves and processes in one (embedded mode, tests, WEB_CONCURRENCY=0). */
export type ProcessRole = 'primary' | 'serve' | 'process' | 'standalone';

/** One process's metrics as JSON, to be merged with the other processes' of the instance. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

function processGauge(registry: Registry, role: ProcessRole) {
  const processes = new Gauge({
    name: 'jackdaw_processes',
    help: 'Processes of this instance, by role (serve, process, primary, standalone)',
    labelNames: ['role'],
    registers: [registry],
  });
  processes.set({ role }, 1);
  return processes;
}

export function createMetrics(role: ProcessRole = 'standalone') {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'jackdaw_' });
  processGauge(registry, role);
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
    // Every process that reads it reads the same table: the instance reports the largest reading, not a sum.
    outboxBacklog: new Gauge({
      name: 'jackdaw_outbox_backlog',
      help: 'Committed events not yet broadcast and aggregated',
      aggregator: 'max',
      registers: [registry],
    }),
    // Labels are bounded: a root field of the schema (or `unknown`), a code of the contract, an operation type.
    graphqlOperations: new Counter({
      name: 'jackdaw_graphql_operations_total',
      help: 'GraphQL operations received over HTTP and WebSocket, by type and root field (unparsable: type "unknown")',
      labelNames: ['type', 'field'],
      registers: [registry],
    }),
    graphqlErrors: new Counter({
      name: 'jackdaw_graphql_errors_total',
      help: 'GraphQL responses with an error of this code, by operation type (once per response and code; each event of a subscription is a response)',
      labelNames: ['code', 'type'],
      registers: [registry],
    }),
    graphqlDuration: new Histogram({
      name: 'jackdaw_graphql_operation_duration_seconds',
      help: 'Execution of a GraphQL operation, by type (a subscription run alone: until its stream is open; shared ones are not timed)',
      labelNames: ['type'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    // Only the processing role can lead; the others report 0.
    isLeader: new Gauge({
      name: 'jackdaw_stream_processor_leader',
      help: '1 while this instance holds the lease of at least one partition of the outbox (it processes)',
      aggregator: 'max',
      registers: [registry],
    }),
    partitionsHeld: new Gauge({
      name: 'jackdaw_stream_processor_partitions',
      help: 'Partitions of the outbox this instance processes (summed over instances: PROCESSOR_PARTITIONS when all are held)',
      aggregator: 'sum',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** What a process can tell of itself when scraped; each role knows a part of it. */
export interface ProcessGauges {
  websocketConnections?(): number;
  isLeader?(): boolean;
  partitionsHeld?(): number;
  outboxBacklog?(): Promise<number>;
}

/** Sets the gauges this process knows, read now. */
export async function sampleGauges(metrics: Metrics, gauges: ProcessGauges): Promise<void> {
  if (gauges.websocketConnections) metrics.websocketConnections.set(gauges.websocketConnections());
  if (gauges.isLeader) metrics.isLeader.set(gauges.isLeader() ? 1 : 0);
  if (gauges.partitionsHeld) metrics.partitionsHeld.set(gauges.partitionsHeld());
  if (gauges.outboxBacklog) metrics.outboxBacklog.set(await gauges.outboxBacklog().catch(() => Number.NaN));
}

/** The metrics of the primary process: its own process metrics, and how often it restarted a worker. */
export function createPrimaryMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'jackdaw_' });
  processGauge(registry, 'primary');
  const workerRestarts = new Counter({
    name: 'jackdaw_worker_restarts_total',
    help: 'Worker processes started again after they died, by role',
    labelNames: ['role'],
    registers: [registry],
  });
  // Reported from the start (at 0), so a first restart is an increase rather than a new series.
  for (const role of ['serve', 'process']) workerRestarts.inc({ role }, 0);
  return { registry, workerRestarts };
}

export type PrimaryMetrics = ReturnType<typeof createPrimaryMetrics>;

/**
 * The instance's metrics from those of its processes: counters, histograms and RSS summed, gauges by their
 * aggregator. A counter restarts from 0 with its worker, so the sum can drop when a worker is replaced.
 */
export function mergeProcessMetrics(processes: MetricsJson[]): Promise<string> {
  return AggregatorRegistry.aggregate<typeof Registry.PROMETHEUS_CONTENT_TYPE>(processes).metrics();
}
