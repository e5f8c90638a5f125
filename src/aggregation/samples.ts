// What an event adds to the metric windows (API.md, "How events become metrics"). Pure.
import type { EventType } from '../generated/prisma/enums.js';
import { isPlainObject } from '../json.js';
import { labelPartOf, seriesName } from './labels.js';
import type { MetricSample } from './types.js';

/** Counts the metric values that events carried but that could not be aggregated, so data problems show up. */
export const REJECTED_VALUES_METRIC = 'rejected_metric_values';

/** Counted for every event at its receive time by the stream processor, so the dashboard can show arrival rate. */
export const EVENTS_RECEIVED_METRIC = 'events_received';

/**
 * Metrics the server computes itself from events (the dashboard's inputs and its own counts): a publisher may not
 * send values under these names, or it could move the dashboard or hide its rejections (API.md).
 */
export const SERVER_METRICS: ReadonlySet<string> = new Set([
  'anomaly_count',
  'benchmark_total',
  'benchmark_success',
  EVENTS_RECEIVED_METRIC,
  REJECTED_VALUES_METRIC,
]);

export const METRIC_NAME_PATTERN =
  '1 to 128 characters among letters, digits, "_", ".", ":" and "-", starting with a letter or "_"';
const METRIC_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/;

export interface SampledEvent {
  type: EventType;
  /** Event time, epoch ms. */
  timestamp: number;
  data: unknown;
}

export interface EventSamples {
  samples: MetricSample[];
  /** Values that were not finite numbers or came under an invalid (or reserved) name. */
  rejected: number;
}

export function isValidMetricName(name: string): boolean {
  return METRIC_NAME.test(name);
}

/** A (name, value) pair a publisher sent, where it sits in `data`, before any check. */
export interface PublishedMetric {
  name: unknown;
  value: unknown;
  /** Where the value is in `data`, for messages: `data.metrics.<name>` or `data.value`. */
  path: string;
}

/**
 * The metric values a publisher put in an event, as `eventToSamples` reads them (`metrics` of another kind than an
 * object is one entry with no name). Validation at publish and the mapping to samples share this one reading.
 */
export function publishedMetrics(type: EventType, data: unknown): PublishedMetric[] {
  const record = asRecord(data);
  switch (type) {
    case 'BENCHMARK_COMPLETED':
    case 'COMPETITIVE_UPDATE': {
      const { metrics } = record;
      if (metrics === undefined) return [];
      if (!isPlainObject(metrics)) return [{ name: undefined, value: metrics, path: 'data.metrics' }];
      return Object.entries(metrics).map(([name, value]) => ({ name, value, path: `data.metrics.${name}` }));
    }
    case 'PERFORMANCE_METRIC':
      return [{ name: record.metric_name, value: record.value, path: 'data.value' }];
    default:
      return [];
  }
}

export function eventToSamples(event: SampledEvent): EventSamples {
  const values = new MetricValues();
  const data = asRecord(event.data);
  for (const { name, value } of publishedMetrics(event.type, event.data)) values.addEntry(name, value);
  switch (event.type) {
    case 'BENCHMARK_COMPLETED':
      values.add('benchmark_total', 1);
      // Emitted as 0 on failure rather than left out, so SUM(benchmark_success) over a window of only failed
      // benchmarks is 0, not the aggregate of an empty window.
      values.add('benchmark_success', data.success === false ? 0 : 1);
      break;
    case 'COMPETITIVE_UPDATE':
    case 'PERFORMANCE_METRIC':
      break;
    case 'ANOMALY_DETECTED':
      values.add('anomaly_count', 1);
      break;
    case 'INSIGHT_GENERATED':
    case 'ALERT_TRIGGERED':
      break;
    default:
      return assertNever(event.type);
  }
  return values.toSamples(event.timestamp, labelPartOf(event.data));
}

/** Collects (name, value) pairs, keeping the valid ones and counting the rest. */
class MetricValues {
  private readonly accepted: Array<[string, number]> = [];
  private rejected = 0;

  add(name: string, value: number): void {
    this.accepted.push([name, value]);
  }

  addEntry(name: unknown, value: unknown): void {
    if (isAcceptableName(name) && typeof value === 'number' && Number.isFinite(value)) this.add(name, value);
    else this.rejected += 1;
  }

  /** With a label part, each value also goes to the series of its metric under those labels (labels.ts). */
  toSamples(timestamp: number, labelPart: string | null): EventSamples {
    const samples = this.accepted.map(([metric, value]) => ({ metric, value, timestamp }));
    if (labelPart !== null) {
      for (const [metric, value] of this.accepted)
        samples.push({ metric: seriesName(metric, labelPart), value, timestamp });
    }
    if (this.rejected > 0) samples.push({ metric: REJECTED_VALUES_METRIC, value: this.rejected, timestamp });
    return { samples, rejected: this.rejected };
  }
}

// Refused at publish; events stored before that was checked still never feed the server's own metrics.
function isAcceptableName(name: unknown): name is string {
  return typeof name === 'string' && !SERVER_METRICS.has(name) && isValidMetricName(name);
}

function asRecord(value: unknown): Record<string, unknown> {
  return isPlainObject(value) ? value : {};
}

function assertNever(type: never): never {
  throw new Error(`unknown event type: ${String(type)}`);
}
