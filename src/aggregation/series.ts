// Series cardinality: every metric name is a series, with its buckets in every window for 24 h, so the names a
// publisher may start are limited. Checked at publish, before anything is stored: the batch's names (pure, here),
// then one atomic call to the store's registry, which knows the live names and each key's budget.
import { eventToSamples, type SampledEvent, SERVER_METRICS } from './samples.js';
import { isAggregatable } from './windows.js';

export interface BatchSeries {
  /** Newest sample time of the name in the batch (epoch ms): the name is live until 24 h after it. */
  newest: number;
  /** The first event of the batch that carries it, for the error message. */
  index: number;
}

export interface SeriesLimits {
  /** New series one owner (API key) may start per minute (MAX_NEW_SERIES_PER_MINUTE). */
  maxNewPerMinute: number;
  /** Live series in the whole deployment (MAX_SERIES). */
  maxSeries: number;
}

export type SeriesVerdict =
  | { ok: true; new: number }
  | { ok: false; limit: 'MAX_NEW_SERIES_PER_MINUTE' | 'MAX_SERIES'; metric: string; new: number; used: number }
  /** The registry could not be asked (Redis down): publishing goes on, as it does without Redis otherwise. */
  | { ok: 'unchecked' };

/** The series registry of an aggregate store: which names are live, and each owner's budget for new ones. */
export interface SeriesRegistry {
  /**
   * Admits the batch's series, all or none: when the new ones (not live at `at`) fit both limits they are recorded
   * as live and charged to `owner`'s minute; otherwise nothing changes and the first name past the limit is named.
   */
  admitSeries(
    series: Map<string, BatchSeries>,
    owner: string,
    limits: SeriesLimits,
    at: number,
  ): Promise<SeriesVerdict>;
}

/**
 * The series a batch writes, in the order it first names them. Server metrics are left out: their names are fixed,
 * so they never add to the cardinality, and a full registry must not stop the server counting events. Events too
 * old to be aggregated start no series.
 */
export function seriesOfBatch(events: readonly SampledEvent[], now: number): Map<string, BatchSeries> {
  const series = new Map<string, BatchSeries>();
  events.forEach((event, index) => {
    if (!isAggregatable(event.timestamp, now)) return;
    for (const { metric, timestamp } of eventToSamples(event).samples) {
      if (SERVER_METRICS.has(metric)) continue;
      const known = series.get(metric);
      if (!known) series.set(metric, { newest: timestamp, index });
      else if (timestamp > known.newest) known.newest = timestamp;
    }
  });
  return series;
}

/** The minute a budget is counted in, and how long its counter must outlive it. */
export const BUDGET_WINDOW_MS = 60_000;

export function budgetMinute(at: number): number {
  return Math.floor(at / BUDGET_WINDOW_MS);
}
