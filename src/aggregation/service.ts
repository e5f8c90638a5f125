// Sliding-window aggregates as the API serves them: reads (batched per request), metric names, the live metric
// views and the dashboard.
import type DataLoader from 'dataloader';
import { badInput } from '../errors.js';
import type { Dashboard, DashboardFeed } from '../live/dashboard.js';
import type { MetricFeed, SeriesUpdate } from '../live/metric-feed.js';
import { pageSize } from '../pagination.js';
import { checkMatchers, type GroupQuery, type LabelledQuery, type LabelledReads } from './labelled-reads.js';
import { isLabelName, LABEL_NAME_PATTERN, type Label, sortedLabels } from './labels.js';
import { isValidMetricName, METRIC_NAME_PATTERN } from './samples.js';
import type { AggregateStore, MetricAggregate, MetricPoint, WindowSize } from './types.js';
import { granularityMs } from './windows.js';

/** A request's reads, gathered and answered in one round trip at one instant. */
export type AggregateBatch = DataLoader<LabelledQuery, MetricAggregate, string>;

/** A window's 60 points (MetricSeries in the contract). */
export interface MetricSeries {
  metric: string;
  window: WindowSize;
  labels: Label[];
  stepSeconds: number;
  points: MetricPoint[];
}

/** The default page of `metricNames`: every name of a deployment within the default MAX_SERIES fits in ten. */
export const METRIC_NAMES_PAGE = 1_000;

export interface MetricServiceOptions {
  aggregates: AggregateStore;
  /** Reads with label matchers, over `aggregates`. */
  reads: LabelledReads;
  metricFeed: MetricFeed;
  dashboard: DashboardFeed;
  /** Largest page of `metricNames`, `metricLabelValues` and `aggregateGroups` (MAX_METRIC_NAMES_PAGE). */
  maxNamesPage: number;
  /** Slowest `minIntervalMs` of a live view (MAX_SUBSCRIPTION_INTERVAL_MS). */
  maxIntervalMs: number;
}

/** The default page of `metricLabelValues` and `aggregateGroups` (the contract's). */
export const LABEL_PAGE = 100;

function checkLabelName(label: string, field = 'label'): void {
  if (!isLabelName(label))
    throw badInput(`${field} "${label.slice(0, 64)}" is not a label name: ${LABEL_NAME_PATTERN}`);
}

function checkMetricName(metric: string, field = 'metric'): void {
  if (!isValidMetricName(metric)) {
    throw badInput(`${field} "${metric.slice(0, 64)}" is not a metric name: ${METRIC_NAME_PATTERN}`);
  }
}

export class MetricService {
  constructor(private readonly options: MetricServiceOptions) {}

  /** Every query over the window ending at `at`, in one round trip (a DataLoader's batch). */
  read(queries: readonly LabelledQuery[], at: number): Promise<MetricAggregate[]> {
    return this.options.reads.read(queries, at);
  }

  /** The metric's total, or with labels the merge of the label sets holding them all. */
  aggregate(query: LabelledQuery, batch: AggregateBatch): Promise<MetricAggregate> {
    checkMetricName(query.metric);
    checkMatchers(query.labels ?? []);
    return batch.load(query);
  }

  /** One aggregate per value of the `by` labels, the top `first` by `orderBy`. */
  aggregateGroups(query: Omit<GroupQuery, 'first'> & { first?: number | null }): Promise<MetricAggregate[]> {
    checkMetricName(query.metric);
    checkMatchers(query.labels ?? [], query.by);
    if (query.by.length === 0) throw badInput('by must name at least one label');
    const first = pageSize(query.first, { defaultSize: LABEL_PAGE, maxSize: this.options.maxNamesPage });
    return this.options.reads.groups({ ...query, first }, Date.now());
  }

  /** Names of the metric's labels (last 24 h), sorted. */
  metricLabels(metric: string): Promise<string[]> {
    checkMetricName(metric);
    return this.options.reads.labelNames(metric, Date.now());
  }

  /** Values of one label of the metric (last 24 h), sorted, the first `first`. */
  metricLabelValues(metric: string, label: string, first?: number | null): Promise<string[]> {
    checkMetricName(metric);
    checkLabelName(label);
    const size = pageSize(first, { defaultSize: LABEL_PAGE, maxSize: this.options.maxNamesPage });
    return this.options.reads.labelValues(metric, label, size, Date.now());
  }

  /** The window's 60 points, oldest first. */
  async metricSeries(query: LabelledQuery, at = Date.now()): Promise<MetricSeries> {
    checkMetricName(query.metric);
    checkMatchers(query.labels ?? []);
    return seriesOf(query, await this.options.reads.readPoints(query, at));
  }

  /** Every metric × window pair, metric-major. */
  async aggregates(metrics: string[], windows: WindowSize[], batch: AggregateBatch): Promise<MetricAggregate[]> {
    metrics.forEach((metric, i) => {
      checkMetricName(metric, `metrics[${i}]`);
    });
    const results = await batch.loadMany(metrics.flatMap((metric) => windows.map((window) => ({ metric, window }))));
    for (const result of results) if (result instanceof Error) throw result;
    return results as MetricAggregate[];
  }

  /** A page of the metrics with samples in the last 24 hours, sorted, after the name `after`. */
  async metricNames({ first, after }: { first?: number | null; after?: string | null } = {}): Promise<string[]> {
    const { maxNamesPage } = this.options;
    const size = pageSize(first, { defaultSize: Math.min(METRIC_NAMES_PAGE, maxNamesPage), maxSize: maxNamesPage });
    const names = await this.options.aggregates.metricNames(Date.now());
    // Sorted, so the page starts at the first name past `after` (which need not be a name still live).
    let start = 0;
    if (after != null) {
      let end = names.length;
      while (start < end) {
        const middle = (start + end) >>> 1;
        if ((names[middle] as string) <= after) start = middle + 1;
        else end = middle;
      }
    }
    return names.slice(start, start + size);
  }

  /** The aggregate at once, then whenever it changes (shared per view on this instance). */
  async subscribe(
    query: LabelledQuery,
    minIntervalMs?: number | null,
  ): Promise<AsyncIterableIterator<MetricAggregate>> {
    await this.checkLive(query, minIntervalMs);
    return this.options.metricFeed.subscribe(query, minIntervalMs);
  }

  /** The whole series at once, then the points that change (shared per view on this instance). */
  async subscribeSeries(
    query: LabelledQuery,
    minIntervalMs?: number | null,
  ): Promise<AsyncIterableIterator<SeriesUpdate>> {
    await this.checkLive(query, minIntervalMs);
    return this.options.metricFeed.subscribeSeries(query, minIntervalMs);
  }

  /** Refused at subscribe, with the error a client sees, rather than a stream that never sends. */
  private async checkLive(query: LabelledQuery, minIntervalMs?: number | null): Promise<void> {
    checkMetricName(query.metric);
    checkMatchers(query.labels ?? []);
    const { maxIntervalMs } = this.options;
    if (minIntervalMs != null && (minIntervalMs < 0 || minIntervalMs > maxIntervalMs)) {
      throw badInput(
        `minIntervalMs must be from 0 to ${maxIntervalMs} (MAX_SUBSCRIPTION_INTERVAL_MS), got ${minIntervalMs}`,
      );
    }
    await this.options.reads.check(query, Date.now());
  }

  dashboard(): Promise<Dashboard> {
    return this.options.dashboard.current();
  }

  dashboardUpdates(): AsyncIterableIterator<Dashboard> {
    return this.options.dashboard.subscribe();
  }
}

export function seriesOf({ metric, window, labels }: LabelledQuery, points: MetricPoint[]): MetricSeries {
  return { metric, window, labels: sortedLabels(labels ?? []), stepSeconds: granularityMs(window) / 1000, points };
}
