// Sliding-window aggregates: reads, metric names, and the metricUpdated subscription.

import { METRIC_NAMES_PAGE } from '../aggregation/service.js';
import { AGGREGATIONS, type MetricAggregate, WINDOW_SIZES } from '../aggregation/types.js';
import { builder } from '../builder.js';
import { readCost } from './read-cost.js';
import { shared } from './sharing.js';

export const WindowSizeEnum = builder.enumType('WindowSize', {
  values: WINDOW_SIZES,
  description: 'M1 = 1 minute … H24 = 24 hours; windows slide, at a granularity of 1/60 of their length.',
});

export const AggregationEnum = builder.enumType('Aggregation', {
  values: AGGREGATIONS,
});

export const MetricAggregateRef = builder.objectRef<MetricAggregate>('MetricAggregate').implement({
  description: 'Statistics of one metric over one window; all but count and sum are null when count is 0.',
  fields: (t) => ({
    metric: t.exposeString('metric'),
    window: t.field({ type: WindowSizeEnum, resolve: (a) => a.window }),
    from: t.field({ type: 'DateTime', description: 'Start of the span actually aggregated', resolve: (a) => a.from }),
    to: t.field({ type: 'DateTime', description: 'End of the span actually aggregated', resolve: (a) => a.to }),
    count: t.exposeInt('count'),
    sum: t.exposeFloat('sum'),
    avg: t.exposeFloat('avg', { nullable: true }),
    min: t.exposeFloat('min', { nullable: true }),
    max: t.exposeFloat('max', { nullable: true }),
    stddev: t.exposeFloat('stddev', { nullable: true, description: 'Population standard deviation' }),
    p50: t.exposeFloat('p50', { nullable: true, description: 'Median, within 1 % relative error' }),
    p95: t.exposeFloat('p95', { nullable: true, description: 'Within 1 % relative error' }),
    p99: t.exposeFloat('p99', { nullable: true, description: 'Within 1 % relative error' }),
  }),
});

builder.queryFields((t) => ({
  aggregate: t.field({
    type: MetricAggregateRef,
    authScopes: { viewer: true },
    extensions: readCost({ pairs: () => 1 }),
    args: { metric: t.arg.string({ required: true }), window: t.arg({ type: WindowSizeEnum, required: true }) },
    resolve: (_root, { metric, window }, { services, loaders }) =>
      services.metrics.aggregate({ metric, window }, loaders.aggregate),
  }),
  aggregates: t.field({
    type: [MetricAggregateRef],
    description: 'Every metric × window pair, metric-major (at most MAX_AGGREGATE_PAIRS per operation).',
    authScopes: { viewer: true },
    extensions: readCost({
      pairs: ({ metrics, windows }) => (metrics as unknown[]).length * (windows as unknown[]).length,
    }),
    args: {
      metrics: t.arg.stringList({ required: true }),
      windows: t.arg({ type: [WindowSizeEnum], required: true }),
    },
    resolve: (_root, { metrics, windows }, { services, loaders }) =>
      services.metrics.aggregates(metrics, windows, loaders.aggregate),
  }),
  metricNames: t.stringList({
    description:
      'Metrics with samples in the last 24 hours, sorted; a page of `first` (at most MAX_METRIC_NAMES_PAGE) after the name `after`.',
    authScopes: { viewer: true },
    extensions: readCost({ rows: ({ first }) => (typeof first === 'number' ? first : METRIC_NAMES_PAGE) }),
    args: {
      first: t.arg.int({ description: 'Names per page; 1,000 (or MAX_METRIC_NAMES_PAGE if smaller) when not given.' }),
      after: t.arg.string({ description: 'The last name of the previous page: the page starts after it.' }),
    },
    resolve: (_root, { first, after }, { services }) => services.metrics.metricNames({ first, after }),
  }),
}));

builder.subscriptionFields((t) => ({
  metricUpdated: t.field({
    type: MetricAggregateRef,
    extensions: shared({ snapshot: true }),
    description:
      'The aggregate at once, then whenever it changes, at most once per METRIC_UPDATE_MIN_INTERVAL_MS (250 ms).',
    authScopes: { viewer: true },
    args: { metric: t.arg.string({ required: true }), window: t.arg({ type: WindowSizeEnum, required: true }) },
    subscribe: (_root, { metric, window }, { services }) => services.metrics.subscribe(metric, window),
    resolve: (aggregate) => aggregate,
  }),
}));
