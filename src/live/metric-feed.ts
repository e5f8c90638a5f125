// Live `metricUpdated` streams. Subscribers of the same (metric, window) share one read per refresh on this
// instance, however many there are. A group refreshes when the stream processor reports its metric changed, and
// also on a slow timer because a sliding window changes as old samples leave it; it pushes only when the
// statistics differ from what it last pushed, and at most once per `minIntervalMs`.
import type { AggregateStore, MetricAggregate, WindowSize } from '../aggregation/types.js';
import type { Bus, Unsubscribe } from '../bus/bus.js';
import type { Logger } from '../observability/logger.js';
import { type LatestIterator, latestIterator } from './latest.js';

interface Group {
  metric: string;
  window: WindowSize;
  subscribers: Set<LatestIterator<MetricAggregate>>;
  /** Statistics last pushed, without from/to (those move with the clock). */
  lastPushed: string | null;
  lastPushAt: number;
  timer: NodeJS.Timeout | null;
}

export interface MetricFeedOptions {
  aggregates: AggregateStore;
  bus: Bus;
  logger: Logger;
  minIntervalMs: number;
  /** How often every group is refreshed without a change notice (windows slide). */
  slideRefreshMs: number;
  now?: () => number;
}

const statsKey = ({ from: _from, to: _to, ...stats }: MetricAggregate) => JSON.stringify(stats);

export class MetricFeed {
  private readonly groups = new Map<string, Group>();
  private stopListening: Unsubscribe | null = null;
  private slideTimer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(private readonly options: MetricFeedOptions) {
    this.now = options.now ?? Date.now;
  }

  async start(): Promise<void> {
    this.stopListening = await this.options.bus.subscribe('metrics:changed', ({ metrics }) => {
      const changed = new Set(metrics);
      for (const group of this.groups.values()) if (changed.has(group.metric)) this.schedule(group);
    });
    this.slideTimer = setInterval(() => {
      for (const group of this.groups.values()) this.schedule(group);
    }, this.options.slideRefreshMs);
    this.slideTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopListening?.();
    if (this.slideTimer) clearInterval(this.slideTimer);
    for (const group of this.groups.values()) {
      if (group.timer) clearTimeout(group.timer);
      for (const subscriber of group.subscribers) void subscriber.return?.();
    }
    this.groups.clear();
  }

  /** The current aggregate at once, then each change. */
  subscribe(metric: string, window: WindowSize): AsyncIterableIterator<MetricAggregate> {
    const key = `${window}|${metric}`;
    let group = this.groups.get(key);
    if (!group) {
      group = { metric, window, subscribers: new Set(), lastPushed: null, lastPushAt: 0, timer: null };
      this.groups.set(key, group);
    }
    const owner = group;
    const subscriber = latestIterator<MetricAggregate>(() => {
      owner.subscribers.delete(subscriber);
      if (owner.subscribers.size === 0) {
        if (owner.timer) clearTimeout(owner.timer);
        this.groups.delete(key);
      }
    });
    group.subscribers.add(subscriber);
    const pushedBefore = group.lastPushAt;
    this.options.aggregates.read([{ metric, window }], this.now()).then(
      ([current]) => {
        // A refresh that pushed meanwhile already gave this subscriber something newer.
        if (!current || owner.lastPushAt !== pushedBefore) return;
        owner.lastPushed ??= statsKey(current);
        subscriber.push(current);
      },
      (error) => this.options.logger.warn({ err: error, metric, window }, 'metric feed read failed'),
    );
    return subscriber;
  }

  private schedule(group: Group): void {
    if (group.timer) return;
    const wait = Math.max(0, group.lastPushAt + this.options.minIntervalMs - this.now());
    group.timer = setTimeout(() => {
      group.timer = null;
      this.refresh(group).catch((error) =>
        this.options.logger.warn({ err: error, metric: group.metric }, 'metric feed refresh failed'),
      );
    }, wait);
  }

  private async refresh(group: Group): Promise<void> {
    const [aggregate] = await this.options.aggregates.read(
      [{ metric: group.metric, window: group.window }],
      this.now(),
    );
    if (!aggregate) return;
    const key = statsKey(aggregate);
    if (key === group.lastPushed) return;
    group.lastPushed = key;
    group.lastPushAt = this.now();
    for (const subscriber of group.subscribers) subscriber.push(aggregate);
  }
}
