// Live `metricUpdated` and `metricSeriesUpdated` streams. Subscribers of the same view (metric, window, labels, the
// interval they asked for, aggregate or series) share one read per refresh on this instance, however many there
// are. A group refreshes when the stream processor reports its metric changed, and also on a slow timer because a
// sliding window changes as old samples leave it; it pushes only when what it read differs from what it last pushed,
// and at most once per its interval (the server's METRIC_UPDATE_MIN_INTERVAL_MS, or a subscriber's slower one).
//
// A series group sends a subscriber the whole series first, then only the points that changed. A subscriber that
// has not taken a diff when the next comes is sent the whole series instead of both (a dropped diff would leave its
// chart wrong); one whose socket coalesced a diff is sent it by the transport (schema/sharing.ts, `whole`).
import type { LabelledQuery, LabelledReads } from '../aggregation/labelled-reads.js';
import { queryKey } from '../aggregation/labelled-reads.js';
import { type MetricSeries, seriesOf } from '../aggregation/service.js';
import type { MetricAggregate, MetricPoint } from '../aggregation/types.js';
import type { Bus, Unsubscribe } from '../bus/bus.js';
import { DomainError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { type LatestIterator, latestIterator } from './latest.js';

/** A message of `metricSeriesUpdated`: the whole series (first, and after a gap) or the changed points. */
export interface SeriesUpdate {
  series: MetricSeries | null;
  changed: MetricPoint[];
  /** The whole series as of this update, for whoever missed earlier ones (never sent as such). */
  whole: MetricSeries;
}

/** A series update that stands alone. */
export const wholeUpdate = (series: MetricSeries): SeriesUpdate => ({ series, changed: [], whole: series });

interface GroupBase {
  key: string;
  query: LabelledQuery;
  intervalMs: number;
  lastPushAt: number;
  timer: NodeJS.Timeout | null;
}

interface AggregateGroup extends GroupBase {
  kind: 'aggregate';
  subscribers: Set<LatestIterator<MetricAggregate>>;
  /** Statistics last pushed, without from/to (those move with the clock). */
  lastPushed: string | null;
}

interface SeriesGroup extends GroupBase {
  kind: 'series';
  subscribers: Set<LatestIterator<SeriesUpdate>>;
  /** The series last read, and each point's statistics as last pushed (by `at`). */
  current: MetricSeries | null;
  pushed: Map<number, string>;
  /** The first read, which subscribers joining before it ends wait for. */
  loading: Promise<void> | null;
}

type Group = AggregateGroup | SeriesGroup;

export interface MetricFeedOptions {
  reads: LabelledReads;
  bus: Bus;
  logger: Logger;
  /** The server's least time between two messages of a view (METRIC_UPDATE_MIN_INTERVAL_MS). */
  minIntervalMs: number;
  /** How often every group is refreshed without a change notice (windows slide). */
  slideRefreshMs: number;
  now?: () => number;
}

const statsKey = ({ from: _from, to: _to, ...stats }: MetricAggregate) => JSON.stringify(stats);
const pointKey = (point: MetricPoint) => JSON.stringify(point);

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
      for (const group of this.groups.values()) if (changed.has(group.query.metric)) this.schedule(group);
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

  /** The current aggregate at once, then each change, at most once per `intervalMs` (never under the server's). */
  subscribe(query: LabelledQuery, intervalMs?: number | null): AsyncIterableIterator<MetricAggregate> {
    const group = this.group('aggregate', query, intervalMs) as AggregateGroup;
    const subscriber = latestIterator<MetricAggregate>(() => this.leave(group, subscriber));
    group.subscribers.add(subscriber);
    const pushedBefore = group.lastPushAt;
    this.options.reads.read([query], this.now()).then(
      ([current]) => {
        // A refresh that pushed meanwhile already gave this subscriber something newer.
        if (!current || group.lastPushAt !== pushedBefore) return;
        group.lastPushed ??= statsKey(current);
        subscriber.push(current);
      },
      (error) => this.options.logger.warn({ err: error, metric: query.metric }, 'metric feed read failed'),
    );
    return subscriber;
  }

  /** The whole series at once, then the points that change. */
  subscribeSeries(query: LabelledQuery, intervalMs?: number | null): AsyncIterableIterator<SeriesUpdate> {
    const group = this.group('series', query, intervalMs) as SeriesGroup;
    // A diff not yet taken when the next comes: the whole series replaces both.
    let left = false;
    const subscriber = latestIterator<SeriesUpdate>(
      () => {
        left = true;
        this.leave(group, subscriber);
      },
      (_pending, next) => wholeUpdate(next.whole),
    );
    const join = () => {
      if (left) return this.leave(group, subscriber); // it left while the first read ran: the group may go now
      if (!group.current) return;
      subscriber.push(wholeUpdate(group.current));
      group.subscribers.add(subscriber);
    };
    if (group.current) join();
    else {
      group.loading ??= this.readSeries(group).then((series) => {
        group.loading = null;
        group.current ??= series;
        for (const point of group.current.points) group.pushed.set(point.at, pointKey(point));
      });
      group.loading.then(join, (error) => {
        group.loading = null;
        this.options.logger.warn({ err: error, metric: query.metric }, 'metric series read failed');
        void subscriber.return?.();
      });
    }
    return subscriber;
  }

  private group(kind: Group['kind'], query: LabelledQuery, intervalMs?: number | null): Group {
    const interval = Math.max(this.options.minIntervalMs, intervalMs ?? 0);
    const key = `${kind}|${queryKey(query)}|${interval}`;
    let group = this.groups.get(key);
    if (!group) {
      const base = { key, query, intervalMs: interval, lastPushAt: 0, timer: null };
      group =
        kind === 'aggregate'
          ? { ...base, kind, subscribers: new Set(), lastPushed: null }
          : { ...base, kind, subscribers: new Set(), current: null, pushed: new Map(), loading: null };
      this.groups.set(key, group);
    }
    return group;
  }

  private end(group: Group, error: DomainError): void {
    if (this.groups.get(group.key) === group) this.groups.delete(group.key);
    for (const subscriber of [...group.subscribers]) subscriber.fail(error);
  }

  private leave(group: Group, subscriber: AsyncIterableIterator<unknown>): void {
    (group.subscribers as Set<unknown>).delete(subscriber);
    if (group.subscribers.size > 0 || (group.kind === 'series' && group.loading)) return;
    if (group.timer) clearTimeout(group.timer);
    if (this.groups.get(group.key) === group) this.groups.delete(group.key);
  }

  private schedule(group: Group): void {
    if (group.timer) return;
    const wait = Math.max(0, group.lastPushAt + group.intervalMs - this.now());
    group.timer = setTimeout(() => {
      group.timer = null;
      const refreshed = group.kind === 'aggregate' ? this.refresh(group) : this.refreshSeries(group);
      refreshed.catch((error) => {
        // A refusal (the matchers now select more label sets than one read may merge) stays one: its subscribers are
        // told, rather than left without messages. Anything else (Redis down) is retried at the next change.
        if (error instanceof DomainError) return this.end(group, error);
        this.options.logger.warn({ err: error, metric: group.query.metric }, 'metric feed refresh failed');
      });
    }, wait);
  }

  private async refresh(group: AggregateGroup): Promise<void> {
    const [aggregate] = await this.options.reads.read([group.query], this.now());
    if (!aggregate) return;
    const key = statsKey(aggregate);
    if (key === group.lastPushed) return;
    group.lastPushed = key;
    group.lastPushAt = this.now();
    for (const subscriber of group.subscribers) subscriber.push(aggregate);
  }

  private async readSeries(group: SeriesGroup): Promise<MetricSeries> {
    return seriesOf(group.query, await this.options.reads.readPoints(group.query, this.now()));
  }

  private async refreshSeries(group: SeriesGroup): Promise<void> {
    if (!group.current) return; // the first read is under way, and sets it
    const series = await this.readSeries(group);
    const changed = series.points.filter((point) => group.pushed.get(point.at) !== pointKey(point));
    if (changed.length === 0) return;
    group.current = series;
    group.pushed = new Map(series.points.map((point) => [point.at, pointKey(point)]));
    group.lastPushAt = this.now();
    const update: SeriesUpdate = { series: null, changed, whole: series };
    for (const subscriber of group.subscribers) subscriber.push(update);
  }
}
