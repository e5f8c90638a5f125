// The dashboard: a handful of aggregates read in one round trip, computed once per interval per instance and
// shared by every `dashboardUpdated` subscriber.

import { EVENTS_RECEIVED_METRIC } from '../aggregation/samples.js';
import type { AggregateQuery, AggregateStore, MetricAggregate } from '../aggregation/types.js';
import type { Logger } from '../observability/logger.js';
import { type LatestIterator, latestIterator } from './latest.js';

export interface Dashboard {
  at: Date;
  competitiveParity: number | null;
  anomalyCount: number;
  apiResponseTime: number | null;
  benchmarkSuccessRate: number;
  eventsPerSecond: number;
  firingAlerts: number;
}

const QUERIES: AggregateQuery[] = [
  { metric: 'competitive_parity', window: 'M5' },
  { metric: 'anomaly_count', window: 'M5' },
  { metric: 'api_response_time', window: 'M5' },
  { metric: 'benchmark_success', window: 'M5' },
  { metric: 'benchmark_total', window: 'M5' },
  { metric: EVENTS_RECEIVED_METRIC, window: 'M1' },
];

/** Pure: the dashboard from its aggregates (in QUERIES order). */
export function dashboardFrom(aggregates: MetricAggregate[], firingAlerts: number, at: number): Dashboard {
  const [parity, anomalies, responseTime, success, total, received] = aggregates;
  const spanSeconds = received ? (received.to.getTime() - received.from.getTime()) / 1000 : 0;
  return {
    at: new Date(at),
    competitiveParity: parity?.avg ?? null,
    anomalyCount: anomalies?.sum ?? 0,
    apiResponseTime: responseTime?.avg ?? null,
    benchmarkSuccessRate: total && total.sum > 0 ? (success?.sum ?? 0) / total.sum : 0,
    eventsPerSecond: received && spanSeconds > 0 ? received.count / spanSeconds : 0,
    firingAlerts,
  };
}

export interface DashboardFeedOptions {
  aggregates: AggregateStore;
  /** Alerts not yet resolved. */
  countFiringAlerts: () => Promise<number>;
  intervalMs: number;
  logger: Logger;
  now?: () => number;
}

export class DashboardFeed {
  private readonly subscribers = new Set<LatestIterator<Dashboard>>();
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(private readonly options: DashboardFeedOptions) {
    this.now = options.now ?? Date.now;
  }

  async current(): Promise<Dashboard> {
    const at = this.now();
    const [aggregates, firing] = await Promise.all([
      this.options.aggregates.read(QUERIES, at),
      this.options.countFiringAlerts(),
    ]);
    return dashboardFrom(aggregates, firing, at);
  }

  /** The dashboard at once, then every interval. */
  subscribe(): AsyncIterableIterator<Dashboard> {
    const subscriber = latestIterator<Dashboard>(() => {
      this.subscribers.delete(subscriber);
      if (this.subscribers.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    });
    this.subscribers.add(subscriber);
    this.current().then(
      (dashboard) => subscriber.push(dashboard),
      (error) => this.options.logger.warn({ err: error }, 'dashboard read failed'),
    );
    this.timer ??= setInterval(() => this.tick(), this.options.intervalMs);
    return subscriber;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const subscriber of this.subscribers) void subscriber.return?.();
  }

  private tick(): void {
    this.current().then(
      (dashboard) => {
        for (const subscriber of this.subscribers) subscriber.push(dashboard);
      },
      (error) => this.options.logger.warn({ err: error }, 'dashboard read failed'),
    );
  }
}
