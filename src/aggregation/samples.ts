// What an event adds to the metric windows (API.md, "How events become metrics"). Pure.
import type { EventType } from '../generated/prisma/enums.js';
import { isPlainObject } from '../json.js';
import type { MetricSample } from './types.js';

/** Counts the metric values that events carried but that could not be aggregated, so data problems show up. */
export const REJECTED_VALUES_METRIC = 'rejected_metric_values';

/** Counted for every event at its receive time by the stream processor, so the dashboard can show arrival rate. */
export const EVENTS_RECEIVED_METRIC = 'events_received';

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

export function eventToSamples(event: SampledEvent): EventSamples {
  const values = new MetricValues();
  const data = asRecord(event.data);
  switch (event.type) {
    case 'BENCHMARK_COMPLETED':
      values.addEntries(data.metrics);
      values.add('benchmark_total', 1);
      // Emitted as 0 on failure rather than left out, so SUM(benchmark_success) over a window of only failed
      // benchmarks is 0, not the aggregate of an empty window.
      values.add('benchmark_success', data.success === false ? 0 : 1);
      break;
    case 'COMPETITIVE_UPDATE':
      values.addEntries(data.metrics);
      break;
    case 'PERFORMANCE_METRIC':
      values.addEntry(data.metric_name, data.value);
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
  return values.toSamples(event.timestamp);
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

  /** Every entry of a `metrics` object; `metrics` absent adds nothing, `metrics` of another kind is one rejection. */
  addEntries(metrics: unknown): void {
    if (metrics === undefined) return;
    if (!isPlainObject(metrics)) {
      this.rejected += 1;
      return;
    }
    for (const [name, value] of Object.entries(metrics)) this.addEntry(name, value);
  }

  toSamples(timestamp: number): EventSamples {
    const samples = this.accepted.map(([metric, value]) => ({ metric, value, timestamp }));
    if (this.rejected > 0) samples.push({ metric: REJECTED_VALUES_METRIC, value: this.rejected, timestamp });
    return { samples, rejected: this.rejected };
  }
}

// The rejected-values metric is reserved: values sent under its name would corrupt the count of rejections.
function isAcceptableName(name: unknown): name is string {
  return typeof name === 'string' && name !== REJECTED_VALUES_METRIC && isValidMetricName(name);
}

function asRecord(value: unknown): Record<string, unknown> {
  return isPlainObject(value) ? value : {};
}

function assertNever(type: never): never {
  throw new Error(`unknown event type: ${String(type)}`);
}
