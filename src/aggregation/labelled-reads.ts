// Reads with label matchers, over an aggregate store. The store knows series and each metric's label sets; this
// turns matchers into the series to merge (every label set holding them all), groups label sets for a group-by,
// and bounds how many sets one read may merge (MAX_LABEL_SETS_PER_READ). Merging keeps the percentiles within the
// sketch's bound: the sets' DDSketch bins are added up, as a window's buckets are.
import { badInput } from '../errors.js';
import {
  type Label,
  labelPartOfLabels,
  matchersProblem,
  matchesAll,
  parseLabelPart,
  seriesName,
  sortedLabels,
} from './labels.js';
import type { AggregateQuery, AggregateStore, Aggregation, MetricAggregate, MetricPoint, WindowSize } from './types.js';

/** A read as a client asks it: a metric's total, or the merge of the label sets its matchers select. */
export interface LabelledQuery {
  metric: string;
  window: WindowSize;
  labels?: readonly Label[] | null;
}

export interface GroupQuery {
  metric: string;
  window: WindowSize;
  by: readonly string[];
  labels?: readonly Label[] | null;
  orderBy: Aggregation;
  descending: boolean;
  first: number;
}

/** The number an aggregation ranks by; null over an empty window, except COUNT. */
export function aggregationValue(aggregation: Aggregation, aggregate: MetricAggregate): number | null {
  if (aggregation === 'COUNT') return aggregate.count;
  if (aggregate.count === 0) return null;
  return aggregate[aggregation.toLowerCase() as Lowercase<Exclude<Aggregation, 'COUNT'>>];
}

export function checkMatchers(labels: readonly Label[], by: readonly string[] = []): void {
  const problem = matchersProblem(labels, by);
  if (problem) throw badInput(problem);
}

/** A key that tells reads apart: equal keys, equal answers. */
export function queryKey({ metric, window, labels }: LabelledQuery): string {
  return `${window}|${metric}|${labelPartOfLabels(labels ?? [])}`;
}

export class LabelledReads {
  constructor(
    private readonly store: AggregateStore,
    /** MAX_LABEL_SETS_PER_READ */
    private readonly maxSetsPerRead: number,
  ) {}

  /**
   * Every query over the window ending at `at`; each metric's label sets are asked once, unless the caller listed
   * them already (`listed`, as `labelSets` gives them).
   */
  async read(
    queries: readonly LabelledQuery[],
    at: number,
    listed?: ReadonlyMap<string, Label[][]>,
  ): Promise<MetricAggregate[]> {
    const sets = await this.labelSetsOf(queries, at, listed);
    return this.store.read(
      queries.map((query) => this.storeQuery(query, sets)),
      at,
    );
  }

  /** Refuses a query whose labels match more sets than one read may merge, reading no bucket. */
  async check(query: LabelledQuery, at: number): Promise<void> {
    this.storeQuery(query, await this.labelSetsOf([query], at));
  }

  async readPoints(query: LabelledQuery, at: number): Promise<MetricPoint[]> {
    const sets = await this.labelSetsOf([query], at);
    return this.store.readPoints(this.storeQuery(query, sets), at);
  }

  /** One aggregate per combination of the `by` labels' values among the matching sets, the top `first`. */
  async groups(query: GroupQuery, at: number): Promise<MetricAggregate[]> {
    const { metric, window, by, orderBy, descending, first } = query;
    const matchers = query.labels ?? [];
    const groups = new Map<string, { labels: Label[]; series: string[] }>();
    let matched = 0;
    for (const labelPart of await this.store.labelSets(metric, at)) {
      const labels = parseLabelPart(labelPart);
      if (!matchesAll(labels, matchers)) continue;
      const values = by.map((name) => labels.find((l) => l.name === name));
      if (values.some((label) => label === undefined)) continue;
      this.checkSetCount(++matched);
      const groupLabels = sortedLabels([...matchers, ...(values as Label[])]);
      const key = labelPartOfLabels(groupLabels);
      const group = groups.get(key) ?? { labels: groupLabels, series: [] };
      group.series.push(seriesName(metric, labelPart));
      groups.set(key, group);
    }
    const aggregates = await this.store.read(
      [...groups.values()].map(({ labels, series }) => ({ metric, window, labels, series })),
      at,
    );
    const ranked = aggregates
      .filter((aggregate) => aggregate.count > 0)
      .map((aggregate) => ({ aggregate, value: aggregationValue(orderBy, aggregate) }));
    ranked.sort((a, b) => {
      if (a.value !== b.value) {
        if (a.value === null) return 1;
        if (b.value === null) return -1;
        return descending ? b.value - a.value : a.value - b.value;
      }
      // Ties in label order, so every instance answers the same list.
      const x = labelPartOfLabels(a.aggregate.labels);
      const y = labelPartOfLabels(b.aggregate.labels);
      return x < y ? -1 : x > y ? 1 : 0;
    });
    return ranked.slice(0, first).map(({ aggregate }) => aggregate);
  }

  /** The metric's label sets with samples in the last 24 h, each sorted by name, in the order of their label parts. */
  async labelSets(metric: string, at: number): Promise<Label[][]> {
    return (await this.store.labelSets(metric, at)).map(parseLabelPart);
  }

  /** Names of the metric's labels, sorted. */
  async labelNames(metric: string, at: number): Promise<string[]> {
    const names = new Set<string>();
    for (const labelPart of await this.store.labelSets(metric, at)) {
      for (const { name } of parseLabelPart(labelPart)) names.add(name);
    }
    return [...names].sort();
  }

  /** Values of one of the metric's labels, sorted, the first `first`. */
  async labelValues(metric: string, label: string, first: number, at: number): Promise<string[]> {
    const values = new Set<string>();
    for (const labelPart of await this.store.labelSets(metric, at)) {
      for (const { name, value } of parseLabelPart(labelPart)) if (name === label) values.add(value);
    }
    return [...values].sort().slice(0, first);
  }

  private async labelSetsOf(
    queries: readonly LabelledQuery[],
    at: number,
    listed?: ReadonlyMap<string, Label[][]>,
  ): Promise<Map<string, Label[][]>> {
    const metrics = new Set(queries.filter((q) => (q.labels?.length ?? 0) > 0).map((q) => q.metric));
    const sets = new Map<string, Label[][]>();
    for (const metric of metrics) {
      sets.set(metric, listed?.get(metric) ?? (await this.store.labelSets(metric, at)).map(parseLabelPart));
    }
    return sets;
  }

  private storeQuery({ metric, window, labels }: LabelledQuery, sets: Map<string, Label[][]>): AggregateQuery {
    if (!labels || labels.length === 0) return { metric, window };
    const series = (sets.get(metric) ?? [])
      .filter((set) => matchesAll(set, labels))
      .map((set) => seriesName(metric, labelPartOfLabels(set)));
    this.checkSetCount(series.length);
    return { metric, window, labels: sortedLabels(labels), series };
  }

  private checkSetCount(count: number): void {
    if (count > this.maxSetsPerRead) {
      throw badInput(
        `the labels match more than ${this.maxSetsPerRead} label sets, the most one read may merge (MAX_LABEL_SETS_PER_READ): name more labels`,
        { limit: 'MAX_LABEL_SETS_PER_READ' },
      );
    }
  }
}
