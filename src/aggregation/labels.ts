// Labels: an event's `data.labels` (name → value) splits every metric it yields into a series per label set, kept
// beside the metric's total. A labelled series is stored under a series name of its own, `<metric>{a=x,b=y}` with
// the names sorted, so applying, rebuilding, exactly-once and the cardinality limits treat it as any other series.
// The name and value characters leave out `{`, `}`, `,` and `=`, so that name is unambiguous and parses back. Pure.
import { isPlainObject } from '../json.js';

export interface Label {
  name: string;
  value: string;
}

/** Hard caps, part of the stored format; MAX_LABELS_PER_EVENT and MAX_LABEL_VALUE_LENGTH may only lower them. */
export const LABELS_PER_EVENT_CAP = 32;
export const LABEL_VALUE_LENGTH_CAP = 256;

export const LABEL_NAME_PATTERN = '1 to 64 characters among letters, digits and "_", starting with a letter or "_"';
export const LABEL_VALUE_CHARACTERS = 'letters, digits, "_", ".", ":", "/", "@", "+" and "-"';
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const LABEL_VALUE = /^[A-Za-z0-9_.:/@+-]+$/;

export interface LabelLimits {
  /** MAX_LABELS_PER_EVENT */
  maxLabels: number;
  /** MAX_LABEL_VALUE_LENGTH */
  maxValueLength: number;
}

export const LABEL_CAPS: LabelLimits = { maxLabels: LABELS_PER_EVENT_CAP, maxValueLength: LABEL_VALUE_LENGTH_CAP };

export function isLabelName(name: string): boolean {
  return LABEL_NAME.test(name);
}

function valueProblem(value: string, maxValueLength: number): string | null {
  if (value.length === 0) return 'is empty';
  if (value.length > maxValueLength) return `is ${value.length} characters, more than ${maxValueLength}`;
  if (!LABEL_VALUE.test(value)) return `may hold only ${LABEL_VALUE_CHARACTERS}`;
  return null;
}

/** Text from a client, cut short and quoted for a message. */
const quoted = (text: string) => JSON.stringify(text.slice(0, 64));

/**
 * What is wrong with an event's `data.labels`, or null when it is absent or good: an object of at most
 * `maxLabels` names, each a label name, each value a non-empty string of the allowed characters.
 */
export function labelsProblem(labels: unknown, { maxLabels, maxValueLength }: LabelLimits): string | null {
  if (labels === undefined) return null;
  if (!isPlainObject(labels)) return 'data.labels must be an object of label names to string values';
  const entries = Object.entries(labels);
  if (entries.length > maxLabels) {
    return `data.labels has ${entries.length} labels, more than the limit of ${maxLabels}`;
  }
  for (const [name, value] of entries) {
    if (!isLabelName(name)) return `data.labels name ${quoted(name)} is not a label name: ${LABEL_NAME_PATTERN}`;
    if (typeof value !== 'string') return `data.labels.${name} must be a string`;
    const problem = valueProblem(value, maxValueLength);
    if (problem) return `data.labels.${name} ${problem}`;
  }
  return null;
}

/**
 * The label part of the series name of an event's labels (`a=x,b=y`, names sorted), or null when it has none or
 * they are not acceptable under the hard caps (events are checked at publish; this keeps events stored before any
 * check out of the label indexes).
 */
export function labelPartOf(data: unknown): string | null {
  if (!isPlainObject(data)) return null;
  const { labels } = data;
  if (labels === undefined || labelsProblem(labels, LABEL_CAPS) !== null) return null;
  const names = Object.keys(labels as Record<string, string>);
  if (names.length === 0) return null;
  names.sort();
  return names.map((name) => `${name}=${(labels as Record<string, string>)[name]}`).join(',');
}

/** The series a labelled sample is stored under. */
export function seriesName(metric: string, labelPart: string): string {
  return `${metric}{${labelPart}}`;
}

/** Whether a stored series name is a labelled one (metric names never hold `{`). */
export function isLabelledSeries(series: string): boolean {
  return series.includes('{');
}

/** The metric and label part of a stored series name; a plain metric has no label part. */
export function splitSeries(series: string): { metric: string; labelPart: string | null } {
  const open = series.indexOf('{');
  if (open < 0) return { metric: series, labelPart: null };
  return { metric: series.slice(0, open), labelPart: series.slice(open + 1, -1) };
}

export function parseLabelPart(labelPart: string): Label[] {
  return labelPart.split(',').map((pair) => {
    const equals = pair.indexOf('=');
    return { name: pair.slice(0, equals), value: pair.slice(equals + 1) };
  });
}

export function labelPartOfLabels(labels: readonly Label[]): string {
  return [...labels]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map(({ name, value }) => `${name}=${value}`)
    .join(',');
}

/** Labels sorted by name, the order every answer gives them in. */
export function sortedLabels(labels: readonly Label[]): Label[] {
  return [...labels].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * What is wrong with the matchers (or group-by names) of a read, or null: names and values as events carry them,
 * each name once, at most the per-event cap of them (no label set has more).
 */
export function matchersProblem(matchers: readonly Label[], by: readonly string[] = []): string | null {
  if (matchers.length + by.length > LABELS_PER_EVENT_CAP) {
    return `labels and by name ${matchers.length + by.length} labels, more than any label set holds (${LABELS_PER_EVENT_CAP})`;
  }
  const seen = new Set<string>();
  for (const [i, { name, value }] of matchers.entries()) {
    if (!isLabelName(name)) return `labels[${i}].name ${quoted(name)} is not a label name: ${LABEL_NAME_PATTERN}`;
    const problem = valueProblem(value, LABEL_VALUE_LENGTH_CAP);
    if (problem) return `labels[${i}].value ${problem}`;
    if (seen.has(name)) return `labels[${i}] names label "${name}" a second time`;
    seen.add(name);
  }
  for (const [i, name] of by.entries()) {
    if (!isLabelName(name)) return `by[${i}] ${quoted(name)} is not a label name: ${LABEL_NAME_PATTERN}`;
    if (seen.has(name)) return `by[${i}] names label "${name}", which labels or by already name`;
    seen.add(name);
  }
  return null;
}

/** Whether a label set (parsed) holds every matcher. */
export function matchesAll(labels: readonly Label[], matchers: readonly Label[]): boolean {
  return matchers.every((m) => labels.some((l) => l.name === m.name && l.value === m.value));
}
