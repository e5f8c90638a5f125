// Events as the API accepts them: validation of publish inputs is pure and all-or-nothing.
import { type LabelLimits, labelsProblem } from '../aggregation/labels.js';
import { isValidMetricName, publishedMetrics, SERVER_METRICS } from '../aggregation/samples.js';
import type { Config } from '../config.js';
import type { EventType } from '../generated/prisma/enums.js';
import { isUuid, newEventId } from '../ids.js';
import { isPlainObject } from '../json.js';
import type { BroadcastPlace } from './cursor.js';
import { shapeProblem } from './shapes.js';

export type { EventType };

export interface PublishEventInput {
  id?: string | null;
  type: EventType;
  timestamp?: Date | null;
  data: unknown;
}

interface EventFields {
  id: string;
  type: EventType;
  timestamp: Date;
  data: Record<string, unknown>;
}

export interface NewEvent extends EventFields {
  /** `data` as JSON, serialised once by validation (which needs its size) and stored as it is. */
  dataJson: string;
}

export interface StoredEvent extends EventFields {
  seq: bigint;
  receivedAt: Date;
  /** Where the stream processor broadcast it, when the event came from a broadcast or a replay (cursor.ts). */
  broadcast?: BroadcastPlace;
}

export interface EventLimits {
  maxBatchSize: number;
  maxFutureSkewMs: number;
  maxEventBytes: number;
  /** Deepest nesting of `data` (MAX_EVENT_DEPTH): deeper is refused before serialising it could exhaust the stack. */
  maxDepth: number;
  /** How far in the past a client's timestamp may be (MAX_EVENT_AGE_MS). */
  maxAgeMs: number;
  /** Days of events kept (EVENT_RETENTION_DAYS): an older event, the server's own included, cannot be stored. */
  retentionDays: number;
  /** Largest magnitude of a metric value (MAX_METRIC_MAGNITUDE). */
  maxMetricMagnitude: number;
  /** Most entries of one event's `data.metrics` (MAX_METRICS_PER_EVENT). */
  maxMetricsPerEvent: number;
  /** Bounds of `data.labels` (MAX_LABELS_PER_EVENT, MAX_LABEL_VALUE_LENGTH). */
  labels: LabelLimits;
}

/** The publishing limits a deployment configured. */
export function eventLimitsOf(
  config: Pick<
    Config,
    | 'MAX_BATCH_SIZE'
    | 'MAX_FUTURE_SKEW_MS'
    | 'MAX_EVENT_BYTES'
    | 'MAX_EVENT_DEPTH'
    | 'MAX_EVENT_AGE_MS'
    | 'EVENT_RETENTION_DAYS'
    | 'MAX_METRIC_MAGNITUDE'
    | 'MAX_METRICS_PER_EVENT'
    | 'MAX_LABELS_PER_EVENT'
    | 'MAX_LABEL_VALUE_LENGTH'
  >,
): EventLimits {
  return {
    maxBatchSize: config.MAX_BATCH_SIZE,
    maxFutureSkewMs: config.MAX_FUTURE_SKEW_MS,
    maxEventBytes: config.MAX_EVENT_BYTES,
    maxDepth: config.MAX_EVENT_DEPTH,
    maxAgeMs: config.MAX_EVENT_AGE_MS,
    retentionDays: config.EVENT_RETENTION_DAYS,
    maxMetricMagnitude: config.MAX_METRIC_MAGNITUDE,
    maxMetricsPerEvent: config.MAX_METRICS_PER_EVENT,
    labels: { maxLabels: config.MAX_LABELS_PER_EVENT, maxValueLength: config.MAX_LABEL_VALUE_LENGTH },
  };
}

/**
 * Who publishes: a client, or the server itself (its record of alert firings, which may be older than a client's
 * events may be, as an alert can stay open for weeks).
 */
export type Publisher = 'client' | 'server';

/** Event types only the server publishes: its own records, which a client must not be able to forge. */
export const SERVER_EVENT_TYPES: ReadonlySet<EventType> = new Set(['ALERT_TRIGGERED']);

export type Validation =
  | { ok: true; events: NewEvent[] }
  | { ok: false; index: number | null; problem: string; metric?: string; field?: string };

/** What is wrong with an event: the metric or the field of `data` it is about, when it is about one. */
type Problem = { problem: string; metric?: string; field?: string };

/**
 * Whether `value` nests more than `cap` levels of objects and arrays. Recursive, but never deeper than `cap` + 1
 * calls whatever the document, so a hostile one cannot exhaust the stack; and it allocates nothing, where a walk
 * with a stack of its own allocated an entry per value of every event.
 */
function nestsDeeperThan(value: unknown, cap: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (cap === 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (nestsDeeperThan(item, cap - 1)) return true;
    return false;
  }
  for (const key in value) {
    if (Object.hasOwn(value, key) && nestsDeeperThan((value as Record<string, unknown>)[key], cap - 1)) return true;
  }
  return false;
}

/**
 * Text Postgres' jsonb refuses although JSON allows it: the NUL character and unpaired surrogates. JSON.stringify
 * writes exactly these as \u escapes (paired surrogates and all else come out as they are), so the serialised data
 * shows them as an escape not itself escaped by a backslash.
 */
const UNSTORABLE_TEXT = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/** The most UTF-8 bytes one UTF-16 code unit of a JavaScript string takes. */
const MAX_UTF8_BYTES_PER_UNIT = 3;

const DAY_MS = 86_400_000;

/**
 * Event times a stored event can be read back with: year 1 to 9999, the years of an RFC 3339 date. Postgres would
 * store year 0 (1 BC) and earlier, but they do not read back as dates.
 */
const EARLIEST_TIMESTAMP = Date.parse('0001-01-01T00:00:00.000Z');
const LATEST_TIMESTAMP = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * What is wrong with the metric values of an event, if anything. Values that are not numbers, and names that are
 * not metric names, are not refused: they are counted in `rejected_metric_values` (API.md). What is refused is
 * what would harm others: a name the server computes, too many names, a magnitude sums cannot hold.
 */
function checkMetrics(input: PublishEventInput, limits: EventLimits): Problem | null {
  const metrics = publishedMetrics(input.type, input.data);
  if (metrics.length > limits.maxMetricsPerEvent) {
    // Any key of data.metrics, however long: echoed cut short, in the message and the extension alike.
    const past = String(metrics[limits.maxMetricsPerEvent]?.name).slice(0, 128);
    return {
      problem: `data.metrics has ${metrics.length} entries, more than the limit of ${limits.maxMetricsPerEvent} (from "${past}" on)`,
      metric: past,
    };
  }
  for (const { name, value, path } of metrics) {
    if (typeof name !== 'string') continue;
    if (SERVER_METRICS.has(name)) {
      return { problem: `metric "${name}" is computed by the server itself and cannot be published`, metric: name };
    }
    if (typeof value === 'number' && Math.abs(value) > limits.maxMetricMagnitude && isValidMetricName(name)) {
      return {
        problem: `${path.slice(0, 160)} of metric "${name}" is ${value}, beyond the largest magnitude ${limits.maxMetricMagnitude}`,
        metric: name,
      };
    }
  }
  return null;
}

/** Whether an instant (epoch ms) is one an event can be stored with and read back. */
export function isStorableTime(ms: number): boolean {
  return ms >= EARLIEST_TIMESTAMP && ms <= LATEST_TIMESTAMP;
}

/** The event's data as JSON when it is acceptable, else what is wrong with it. */
function check(input: PublishEventInput, now: number, limits: EventLimits, publisher: Publisher): Problem | string {
  if (input.id != null && !isUuid(input.id)) return { problem: `id "${input.id.slice(0, 64)}" is not a UUID` };
  if (publisher === 'client' && SERVER_EVENT_TYPES.has(input.type)) {
    return { problem: `${input.type} events are the server's own record and only the server publishes them` };
  }
  if (!isPlainObject(input.data)) return { problem: 'data must be a JSON object' };
  if (nestsDeeperThan(input.data, limits.maxDepth)) {
    return { problem: `data is nested more than ${limits.maxDepth} levels deep` };
  }
  const dataJson = JSON.stringify(input.data);
  // Counting the bytes means encoding the text: only done when the length alone does not settle it.
  if (dataJson.length * MAX_UTF8_BYTES_PER_UNIT > limits.maxEventBytes) {
    const bytes = Buffer.byteLength(dataJson);
    if (bytes > limits.maxEventBytes)
      return { problem: `data is ${bytes} bytes, more than the limit of ${limits.maxEventBytes}` };
  }
  if (dataJson.includes('\\u') && UNSTORABLE_TEXT.test(dataJson)) {
    return { problem: 'data holds a NUL character or an unpaired surrogate, which cannot be stored' };
  }
  const ts = input.timestamp?.getTime();
  if (ts !== undefined && ts > now + limits.maxFutureSkewMs) {
    const minutes = limits.maxFutureSkewMs / 60_000;
    return { problem: `timestamp ${input.timestamp?.toISOString()} is more than ${minutes} minutes in the future` };
  }
  if (ts !== undefined && Number.isNaN(ts)) return { problem: 'timestamp is not a valid date' };
  if (ts !== undefined && !isStorableTime(ts)) {
    return { problem: `timestamp ${input.timestamp?.toISOString()} is outside the years 1 to 9999` };
  }
  // Before the age limit, which may be as long: the retention is what the client needs to hear of.
  if (ts !== undefined && ts < now - limits.retentionDays * DAY_MS) {
    return {
      problem: `timestamp ${input.timestamp?.toISOString()} is older than the event retention of ${limits.retentionDays} days (EVENT_RETENTION_DAYS): it would not be kept`,
    };
  }
  if (ts !== undefined && publisher === 'client' && ts < now - limits.maxAgeMs) {
    const hours = limits.maxAgeMs / 3_600_000;
    return { problem: `timestamp ${input.timestamp?.toISOString()} is more than ${hours} hours in the past` };
  }
  const shape = shapeProblem(input.type, input.data);
  if (shape) return shape;
  const labels = labelsProblem(input.data.labels, limits.labels);
  if (labels) return { problem: labels, field: 'data.labels' };
  return checkMetrics(input, limits) ?? dataJson;
}

/** Validates a whole batch: either every event is good, or the first bad one is named and none is accepted. */
export function validateBatch(
  inputs: PublishEventInput[],
  now: number,
  limits: EventLimits,
  publisher: Publisher = 'client',
): Validation {
  if (inputs.length > limits.maxBatchSize) {
    return {
      ok: false,
      index: null,
      problem: `a batch holds at most ${limits.maxBatchSize} events, got ${inputs.length}`,
    };
  }
  // One Date for every event sent without a time (most of them): a batch is thousands of events.
  const received = new Date(now);
  const events: NewEvent[] = [];
  for (let index = 0; index < inputs.length; index++) {
    const input = inputs[index] as PublishEventInput;
    const dataJson = check(input, now, limits, publisher);
    if (typeof dataJson !== 'string') return { ok: false, index, ...dataJson };
    events.push({
      id: input.id?.toLowerCase() ?? newEventId(now),
      type: input.type,
      timestamp: input.timestamp ?? received,
      data: input.data as Record<string, unknown>,
      dataJson,
    });
  }
  return { ok: true, events };
}
