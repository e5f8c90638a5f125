// Backtest: when a rule would have fired and resolved over the stored history, evaluated as live evaluation does
// (the same W/60 buckets, the same merge of them, evaluate.ts's conditions and state machine), but over every sample
// as the history finally stands. Pure: the caller reads the samples (backtest-source.ts).
//
// Live evaluation runs whenever a metric changes and at least once a second; the backtest steps through the bucket
// boundaries of the rule's finest window (every W/60: 1 s for M1, 5 s for M5, ...; the coarser windows' boundaries
// are among them), counting at each the samples whose time is at or before it. Between two steps at which no window
// changes (no sample becomes visible, no bucket leaves a window) and no timer of the rule runs out (forSeconds,
// keepFiringForSeconds), an evaluation would give the same verdict, so only those steps are evaluated: the result is
// that of evaluating at every step (the property test checks it against exactly that).

import type { Label } from '../aggregation/labels.js';
import {
  addValue,
  type BucketStats,
  emptyStats,
  finalize,
  mergeInto,
  sketchBin,
  ZERO_BIN,
} from '../aggregation/stats.js';
import type { MetricAggregate, MetricSample, WindowSize } from '../aggregation/types.js';
import { WINDOW_MS } from '../aggregation/types.js';
import { BUCKETS_PER_WINDOW, bucketIndex, granularityMs } from '../aggregation/windows.js';
import {
  type ConditionValues,
  evaluateRule,
  firesAt,
  INACTIVE,
  indexAggregates,
  nextRuleState,
  queriesForRules,
  type RuleState,
} from './evaluate.js';
import type { AlertRuleDefinition } from './rules.js';

/** The backtest's step for `rule`: the bucket width of its finest window. */
export function backtestStep(rule: Pick<AlertRuleDefinition, 'conditions'>): number {
  return Math.min(...rule.conditions.map((c) => granularityMs(c.window)));
}

const PERCENTILES = new Set(['P50', 'P95', 'P99']);

export type BacktestRule = Pick<
  AlertRuleDefinition,
  'conditions' | 'forSeconds' | 'keepFiringForSeconds' | 'noDataState'
>;

/** One firing the rule would have had. `resolvedAt` is null when it was still firing at the end of the range. */
export interface AlertPreview {
  firedAt: Date;
  resolvedAt: Date | null;
  values: ConditionValues;
  /** The label set it fired for, for a rule with groupBy (backtest-label-sets.ts). */
  labels?: Label[];
}

/** The earliest sample time a backtest from `since` reads: the start of its largest window's span at `since`. */
export function backtestReadFrom(rule: Pick<AlertRuleDefinition, 'conditions'>, since: number): number {
  const longest = Math.max(...rule.conditions.map((c) => WINDOW_MS[c.window]));
  return since - longest;
}

function firstTickAtOrAfter(time: number, step: number): number {
  return Math.ceil(time / step) * step;
}

/**
 * The alerts `rule` would have raised between `since` and `until` (epoch ms), starting inactive at `since`, from
 * `samples` (any order; samples of other metrics are ignored).
 */
export function backtestRule(rule: BacktestRule, samples: readonly MetricSample[], since: number, until: number) {
  const series = queriesForRules([rule]).map(
    ({ metric, window }) =>
      new SeriesWindow(
        metric,
        window,
        rule.conditions.some((c) => c.metric === metric && c.window === window && PERCENTILES.has(c.aggregation)),
      ),
  );
  const byMetric = new Map<string, MetricSample[]>();
  for (const sample of samples) {
    if (sample.timestamp > until) continue;
    const list = byMetric.get(sample.metric);
    if (list) list.push(sample);
    else byMetric.set(sample.metric, [sample]);
  }
  // Stable, so samples at the same time go into a bucket in the order they were read (as the processor adds them).
  for (const list of byMetric.values()) list.sort((a, b) => a.timestamp - b.timestamp);
  for (const s of series) s.load(byMetric.get(s.metric) ?? []);

  const step = backtestStep(rule);
  const first = firstTickAtOrAfter(since, step);
  const changes = new Set<number>([first]);
  for (const s of series) for (const tick of s.changeTicks(step)) if (tick > first && tick <= until) changes.add(tick);
  const ticks = [...changes].sort((a, b) => a - b);

  const previews: AlertPreview[] = [];
  let state: RuleState = INACTIVE;
  let open: AlertPreview | null = null;
  const evaluate = (tick: number) => {
    const aggregates = indexAggregates(series.map((s) => s.aggregateAt(tick)));
    const { holds, values } = evaluateRule(rule, aggregates);
    const next = nextRuleState(state, holds, tick, rule);
    state = next.state;
    if (next.transition === 'fire') {
      open = { firedAt: new Date(tick), resolvedAt: null, values };
      previews.push(open);
    } else if (next.transition === 'resolve' && open) {
      open.resolvedAt = new Date(tick);
      open = null;
    }
  };
  for (let i = 0; i < ticks.length; i++) {
    const tick = ticks[i] as number;
    evaluate(tick);
    // Nothing changes before the next change tick, except a timer of the rule running out: evaluate there too. A
    // timer that has not moved after its evaluation (no data under KEEP) has nothing more to do until then.
    const next = i + 1 < ticks.length ? (ticks[i + 1] as number) : Infinity;
    for (let at = tick; ; ) {
      const timer = timerTick(state, rule, step);
      if (timer === null || timer <= at || timer >= next || timer > until) break;
      evaluate(timer);
      at = timer;
    }
  }
  return previews;
}

/** The tick at which the rule's state changes on its own if its verdict stays as it is, or null. */
function timerTick(state: RuleState, rule: BacktestRule, step: number): number | null {
  const fires = firesAt(state, rule);
  if (fires !== null) return firstTickAtOrAfter(fires, step);
  if (state.kind === 'firing' && state.clearSince !== undefined)
    return firstTickAtOrAfter(state.clearSince + rule.keepFiringForSeconds * 1_000, step);
  return null;
}

/**
 * One (metric, window) over the history: its buckets, and the merge of a window's buckets as the live stores do it
 * (in bucket order, into an empty statistic). The merge of the full buckets is kept while the window's last bucket
 * stays the same; only the last, partly visible bucket is merged at each step. The sketch bins of the full buckets
 * slide instead (added as a bucket enters, taken off as it leaves): they are whole counts, which add up to the same
 * in any order, where the floating-point statistics are merged again in bucket order to stay those of live reads.
 */
class SeriesWindow {
  private readonly granularity: number;
  private samples: MetricSample[] = [];
  private readonly buckets = new Map<number, BucketStats>();
  /** The buckets without their bins, for the ordered merge of the floating-point statistics. */
  private readonly scalars = new Map<number, BucketStats>();
  private foldLast: number | null = null;
  private fold: BucketStats = emptyStats();
  private foldBins = new Map<string, number>();
  /** Samples of the bucket `partialIndex` at or before the last tick asked, and where the next one starts. */
  private partialIndex: number | null = null;
  private partial: BucketStats = emptyStats();
  private cursor = 0;
  private lastTick = -Infinity;

  constructor(
    readonly metric: string,
    readonly window: WindowSize,
    /** Percentile conditions read the sketch; the others do not, so its bins are not kept (they change nothing else). */
    private readonly keepsBins: boolean,
  ) {
    this.granularity = granularityMs(window);
  }

  load(samples: MetricSample[]): void {
    this.samples = samples;
    for (const { timestamp, value } of samples) {
      const index = bucketIndex(timestamp, this.granularity);
      const stats = this.buckets.get(index) ?? emptyStats();
      this.buckets.set(index, stats);
      addValue(stats, value, this.binOf(value));
    }
    const noBins = new Map<string, number>();
    for (const [index, stats] of this.buckets) this.scalars.set(index, { ...stats, bins: noBins });
  }

  /** Ticks at which this window's aggregate may change: a sample becomes visible, or a bucket leaves the window. */
  *changeTicks(step: number): Iterable<number> {
    // Samples are sorted, so their ticks come in order: each once (many samples share a tick).
    let last = Number.NaN;
    for (const { timestamp } of this.samples) {
      const tick = firstTickAtOrAfter(timestamp, step);
      if (tick !== last) yield tick;
      last = tick;
    }
    for (const index of this.buckets.keys()) yield (index + BUCKETS_PER_WINDOW) * this.granularity;
  }

  /** The window's aggregate at `tick`, from the samples at or before it. Ticks must not go back. */
  aggregateAt(tick: number): MetricAggregate {
    if (tick < this.lastTick) throw new Error('ticks must not go back');
    this.lastTick = tick;
    const last = bucketIndex(tick, this.granularity);
    const first = last - (BUCKETS_PER_WINDOW - 1);
    if (this.foldLast !== last) {
      this.fold = emptyStats();
      for (let index = first; index < last; index++) {
        const bucket = this.scalars.get(index);
        if (bucket) mergeInto(this.fold, bucket);
      }
      this.slideBins(this.foldLast, last);
      this.foldLast = last;
    }
    this.advancePartial(last, tick);
    // The partial bucket's bins are lent to the full buckets' for the finalize and taken back after: copying the
    // window's bins at every step cost more than the rest of the step.
    const merged = { ...this.fold, bins: this.foldBins };
    mergeInto(merged, this.partial);
    const aggregate = finalize(this.metric, this.window, first * this.granularity, tick, merged);
    if (this.partial.count > 0) {
      for (const [bin, count] of this.partial.bins) {
        const total = (this.foldBins.get(bin) as number) - count;
        if (total === 0) this.foldBins.delete(bin);
        else this.foldBins.set(bin, total);
      }
    }
    return aggregate;
  }

  /** Moves the full buckets' bins from those before `from` (the window's last bucket) to those before `to`. */
  private slideBins(from: number | null, to: number): void {
    const span = BUCKETS_PER_WINDOW - 1;
    const add = (index: number, sign: number) => {
      const bucket = this.buckets.get(index);
      if (!bucket) return;
      for (const [bin, count] of bucket.bins) {
        const total = (this.foldBins.get(bin) ?? 0) + sign * count;
        if (total === 0) this.foldBins.delete(bin);
        else this.foldBins.set(bin, total);
      }
    };
    if (from === null || to - from >= span) {
      this.foldBins = new Map();
      for (let index = to - span; index < to; index++) add(index, 1);
      return;
    }
    for (let index = from - span; index < to - span; index++) add(index, -1);
    for (let index = from; index < to; index++) add(index, 1);
  }

  private advancePartial(index: number, tick: number): void {
    if (this.partialIndex !== index) {
      this.partialIndex = index;
      this.partial = emptyStats();
      const start = index * this.granularity;
      // Samples are sorted: skip to the bucket's first one.
      while (this.cursor < this.samples.length && (this.samples[this.cursor] as MetricSample).timestamp < start)
        this.cursor++;
    }
    while (this.cursor < this.samples.length) {
      const sample = this.samples[this.cursor] as MetricSample;
      if (sample.timestamp > tick) break;
      addValue(this.partial, sample.value, this.binOf(sample.value));
      this.cursor++;
    }
  }

  private binOf(value: number): string {
    return this.keepsBins ? sketchBin(value) : ZERO_BIN;
  }
}
