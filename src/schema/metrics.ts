// Sliding-window aggregates: reads, metric names, and the metricUpdated subscription.

import type { Label } from '../aggregation/labels.js';
import { LABEL_PAGE, METRIC_NAMES_PAGE, type MetricSeries } from '../aggregation/service.js';
import { AGGREGATIONS, type MetricAggregate, type MetricPoint, WINDOW_SIZES } from '../aggregation/types.js';
import { BUCKETS_PER_WINDOW } from '../aggregation/windows.js';
import { builder } from '../builder.js';
import { type SeriesUpdate, wholeUpdate } from '../live/metric-feed.js';
import { readCost } from './read-cost.js';
import { shared } from './sharing.js';

export const WindowSizeEnum = builder.enumType('WindowSize', {
  values: WINDOW_SIZES,
  description: 'M1 = 1 minute … H24 = 24 hours; windows slide, at a granularity of 1/60 of their length.',
});

export const AggregationEnum = builder.enumType('Aggregation', {
  values: AGGREGATIONS,
});

export const LabelMatcherInput = builder.inputType('LabelMatcher', {
  description: 'Selects the label sets whose label `name` has this `value`.',
  fields: (t) => ({ name: t.string({ required: true }), value: t.string({ required: true }) }),
});

export const LabelRef = builder.objectRef<Label>('Label').implement({
  fields: (t) => ({ name: t.exposeString('name'), value: t.exposeString('value') }),
});

export const MetricAggregateRef = builder.objectRef<MetricAggregate>('MetricAggregate').implement({
  description: 'Statistics of one metric over one window; all but count and sum are null when count is 0.',
  fields: (t) => ({
    metric: t.exposeString('metric'),
    window: t.field({ type: WindowSizeEnum, resolve: (a) => a.window }),
    labels: t.field({
      type: [LabelRef],
      description: 'The labels it is for, sorted by name (the matchers, and a group-by group): none for the total',
      resolve: (a) => a.labels,
    }),
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

export const MetricPointRef = builder.objectRef<MetricPoint>('MetricPoint').implement({
  description: 'One bucket of a window (1/60 of it); all but count and sum are null when count is 0.',
  fields: (t) => ({
    at: t.field({ type: 'DateTime', description: 'Start of the bucket', resolve: (p) => new Date(p.at) }),
    count: t.exposeInt('count'),
    sum: t.exposeFloat('sum'),
    min: t.exposeFloat('min', { nullable: true }),
    max: t.exposeFloat('max', { nullable: true }),
    avg: t.exposeFloat('avg', { nullable: true }),
    p50: t.exposeFloat('p50', { nullable: true }),
    p95: t.exposeFloat('p95', { nullable: true }),
    p99: t.exposeFloat('p99', { nullable: true }),
  }),
});

export const MetricSeriesRef = builder.objectRef<MetricSeries>('MetricSeries').implement({
  description: "A window's 60 points, oldest first; the last is the bucket under way.",
  fields: (t) => ({
    metric: t.exposeString('metric'),
    window: t.field({ type: WindowSizeEnum, resolve: (s) => s.window }),
    labels: t.field({ type: [LabelRef], resolve: (s) => s.labels }),
    stepSeconds: t.exposeInt('stepSeconds', { description: 'Length of one point (the window / 60)' }),
    points: t.field({ type: [MetricPointRef], resolve: (s) => s.points }),
  }),
});

export const MetricSeriesUpdateRef = builder.objectRef<SeriesUpdate>('MetricSeriesUpdate').implement({
  description:
    'The whole series (first, and again whenever messages were dropped for a slow client), or else the points that changed: a point whose `at` is new replaces the oldest one.',
  fields: (t) => ({
    series: t.field({ type: MetricSeriesRef, nullable: true, resolve: (u) => u.series }),
    changed: t.field({ type: [MetricPointRef], resolve: (u) => u.changed }),
  }),
});

builder.queryFields((t) => ({
  aggregate: t.field({
    type: MetricAggregateRef,
    authScopes: { viewer: true },
    extensions: readCost({ pairs: () => 1 }),
    args: {
      metric: t.arg.string({ required: true }),
      window: t.arg({ type: WindowSizeEnum, required: true }),
      labels: t.arg({
        type: [LabelMatcherInput],
        description: "Only the label sets holding every one of these labels, merged; none: the metric's total",
      }),
    },
    resolve: (_root, { metric, window, labels }, { services, loaders }) =>
      services.metrics.aggregate({ metric, window, labels }, loaders.aggregate),
  }),
  aggregateGroups: t.field({
    type: [MetricAggregateRef],
    description:
      'One aggregate per combination of values of the `by` labels among the label sets holding `labels` (sets without every `by` label are left out; so are groups empty over the window), the `first` by `orderBy` (at most MAX_METRIC_NAMES_PAGE).',
    authScopes: { viewer: true },
    extensions: readCost({ pairs: ({ first }) => (typeof first === 'number' ? first : LABEL_PAGE) }),
    args: {
      metric: t.arg.string({ required: true }),
      window: t.arg({ type: WindowSizeEnum, required: true }),
      by: t.arg.stringList({ required: true }),
      labels: t.arg({ type: [LabelMatcherInput] }),
      orderBy: t.arg({ type: AggregationEnum, defaultValue: 'COUNT', required: true }),
      descending: t.arg.boolean({ defaultValue: true, required: true }),
      first: t.arg.int({ defaultValue: LABEL_PAGE }),
    },
    resolve: (_root, args, { services }) => services.metrics.aggregateGroups(args),
  }),
  metricLabels: t.stringList({
    description: 'Names of the labels the metric was published with in the last 24 hours, sorted.',
    authScopes: { viewer: true },
    extensions: readCost({ rows: () => LABEL_PAGE }),
    args: { metric: t.arg.string({ required: true }) },
    resolve: (_root, { metric }, { services }) => services.metrics.metricLabels(metric),
  }),
  metricLabelValues: t.stringList({
    description:
      'Values of one label of the metric in the last 24 hours, sorted, the first `first` (at most MAX_METRIC_NAMES_PAGE).',
    authScopes: { viewer: true },
    extensions: readCost({ rows: ({ first }) => (typeof first === 'number' ? first : LABEL_PAGE) }),
    args: {
      metric: t.arg.string({ required: true }),
      label: t.arg.string({ required: true }),
      first: t.arg.int({ defaultValue: LABEL_PAGE }),
    },
    resolve: (_root, { metric, label, first }, { services }) =>
      services.metrics.metricLabelValues(metric, label, first),
  }),
  metricSeries: t.field({
    type: MetricSeriesRef,
    description: "The window's 60 points (of the total, or of the label sets `labels` selects, merged).",
    authScopes: { viewer: true },
    extensions: readCost({ pairs: () => 1, rows: () => BUCKETS_PER_WINDOW }),
    args: {
      metric: t.arg.string({ required: true }),
      window: t.arg({ type: WindowSizeEnum, required: true }),
      labels: t.arg({ type: [LabelMatcherInput] }),
    },
    resolve: (_root, { metric, window, labels }, { services }) =>
      services.metrics.metricSeries({ metric, window, labels }),
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

const minIntervalDescription =
  "Least time between two messages, in ms: slower than the server's METRIC_UPDATE_MIN_INTERVAL_MS (250 ms) for views that need less; a faster one gets the server's (at most MAX_SUBSCRIPTION_INTERVAL_MS).";

builder.subscriptionFields((t) => ({
  metricUpdated: t.field({
    type: MetricAggregateRef,
    extensions: shared({ snapshot: true }),
    description:
      'The aggregate at once, then whenever it changes, at most once per METRIC_UPDATE_MIN_INTERVAL_MS (250 ms) or `minIntervalMs`.',
    authScopes: { viewer: true },
    args: {
      metric: t.arg.string({ required: true }),
      window: t.arg({ type: WindowSizeEnum, required: true }),
      labels: t.arg({ type: [LabelMatcherInput] }),
      minIntervalMs: t.arg.int({ description: minIntervalDescription }),
    },
    subscribe: (_root, { metric, window, labels, minIntervalMs }, { services }) =>
      services.metrics.subscribe({ metric, window, labels }, minIntervalMs),
    resolve: (aggregate) => aggregate,
  }),
  metricSeriesUpdated: t.field({
    type: MetricSeriesUpdateRef,
    extensions: shared({
      snapshot: true,
      whole: (event) => {
        const update = event as SeriesUpdate;
        return update.series ? null : wholeUpdate(update.whole);
      },
    }),
    description:
      'The whole series at once, then the points that changed, at most once per METRIC_UPDATE_MIN_INTERVAL_MS or `minIntervalMs`; the whole series again whenever a message was dropped for a slow client.',
    authScopes: { viewer: true },
    args: {
      metric: t.arg.string({ required: true }),
      window: t.arg({ type: WindowSizeEnum, required: true }),
      labels: t.arg({ type: [LabelMatcherInput] }),
      minIntervalMs: t.arg.int({ description: minIntervalDescription }),
    },
    subscribe: (_root, { metric, window, labels, minIntervalMs }, { services }) =>
      services.metrics.subscribeSeries({ metric, window, labels }, minIntervalMs),
    resolve: (update) => update,
  }),
}));
