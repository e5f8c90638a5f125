// Sliding-window aggregates as the API serves them: reads (batched per request), metric names, the live metric
// views and the dashboard.
import type DataLoader from 'dataloader';
import { badInput } from '../errors.js';
import type { Dashboard, DashboardFeed } from '../live/dashboard.js';
import type { MetricFeed } from '../live/metric-feed.js';
import { pageSize } from '../pagination.js';
import { isValidMetricName, METRIC_NAME_PATTERN } from './samples.js';
import type { AggregateQuery, AggregateStore, MetricAggregate, WindowSize } from './types.js';

/** A request's reads, gathered and answered in one round trip at one instant. */
export type AggregateBatch = DataLoader<AggregateQuery, MetricAggregate, string>;

/** The default page of `metricNames`: every name of a deployment within the default MAX_SERIES fits in ten. */
export const METRIC_NAMES_PAGE = 1_000;

export interface MetricServiceOptions {
  aggregates: AggregateStore;
  metricFeed: MetricFeed;
  dashboard: DashboardFeed;
  /** Largest page of `metricNames` (MAX_METRIC_NAMES_PAGE). */
  maxNamesPage: number;
}

function checkMetricName(metric: string, field = 'metric'): void {
  if (!isValidMetricName(metric)) {
    throw badInput(`${field} "${metric.slice(0, 64)}" is not a metric name: ${METRIC_NAME_PATTERN}`);
  }
}

export class MetricService {
  constructor(private readonly options: MetricServiceOptions) {}

  /** Every query over the window ending at `at`, in one round trip (a DataLoader's batch). */
  read(queries: readonly AggregateQuery[], at: number): Promise<MetricAggregate[]> {
    return this.options.aggregates.read([...queries], at);
  }

  aggregate(query: AggregateQuery, batch: AggregateBatch): Promise<MetricAggregate> {
    checkMetricName(query.metric);
    return batch.load(query);
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

  /** The aggregate at once, then whenever it changes (shared per metric and window on this instance). */
  subscribe(metric: string, window: WindowSize): AsyncIterableIterator<MetricAggregate> {
    checkMetricName(metric);
    return this.options.metricFeed.subscribe(metric, window);
  }

  dashboard(): Promise<Dashboard> {
    return this.options.dashboard.current();
  }

  dashboardUpdates(): AsyncIterableIterator<Dashboard> {
    return this.options.dashboard.subscribe();
  }
}
