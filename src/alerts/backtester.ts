// previewAlertRule: checks the request, then runs the backtest off the serving loop (a worker thread per backtest,
// at most MAX_CONCURRENT_BACKTESTS at a time) on Postgres, or in process on the embedded database, whose connection
// is this process's own.
import { Worker } from 'node:worker_threads';
import type { Sql } from '../db.js';
import { badInput, DomainError, type ErrorCode, type ErrorDetails } from '../errors.js';
import { type AlertPreview, backtestReadFrom, backtestRule } from './backtest.js';
import { backtestLabelSets, type LabelledBacktestRule } from './backtest-label-sets.js';
import { keysetPages, type PagedQuery, readBacktestSamples } from './backtest-source.js';
import { queriesForRules } from './evaluate.js';
import { readsLabels } from './label-sets.js';
import { type AlertRuleInput, validateRuleInput } from './rules.js';

export interface BacktesterOptions {
  sql: Sql;
  /** Postgres: each backtest runs in a worker thread with a connection of its own. Unset (embedded): in process. */
  databaseUrl?: string;
  /** MAX_BACKTEST_ROWS */
  maxRows: number;
  /** MAX_CONCURRENT_BACKTESTS */
  maxConcurrent: number;
  /** MAX_ALERT_LABEL_SETS_PER_RULE: a rule with groupBy finding more label sets in the history is refused. */
  maxLabelSets: number;
  now?: () => number;
}

/** What a backtest needs, as plain data: it crosses to a worker thread. */
export interface BacktestJob {
  rule: LabelledBacktestRule;
  since: number;
  until: number;
  maxRows: number;
  maxLabelSets: number;
}

/** Reads the samples and evaluates: the same steps in a worker and in process. */
export async function runBacktestJob(
  pages: PagedQuery,
  { rule, since, until, maxRows, maxLabelSets }: BacktestJob,
): Promise<AlertPreview[]> {
  const metrics = queriesForRules([rule]).map((q) => q.metric);
  const labelled = readsLabels(rule);
  const samples = await readBacktestSamples(pages, [...new Set(metrics)], backtestReadFrom(rule, since), until, {
    maxRows,
    labelled,
  });
  return labelled
    ? backtestLabelSets(rule, samples, since, until, maxLabelSets)
    : backtestRule(rule, samples, since, until);
}

// Webhooks and emails play no part in a backtest: the rule's targets are not checked against the server's policy.
const ANY_TARGET = { secretSet: true, allowPrivateTargets: true };

export class Backtester {
  private running = 0;
  private readonly now: () => number;

  constructor(private readonly options: BacktesterOptions) {
    this.now = options.now ?? Date.now;
  }

  /** When `input` would have fired and resolved between `since` and `until` (default: now; never past now). */
  async preview(input: AlertRuleInput, since: Date, until: Date | null): Promise<AlertPreview[]> {
    const validation = validateRuleInput(input, ANY_TARGET);
    if (!validation.ok) {
      const { problems } = validation;
      throw badInput(`invalid alert rule: ${problems.join('; ')}`, { problems });
    }
    const end = Math.min(until?.getTime() ?? Infinity, this.now());
    if (!(since.getTime() < end)) throw badInput('since must be before until (and before now)');
    const { maxConcurrent, maxRows, maxLabelSets } = this.options;
    if (this.running >= maxConcurrent) {
      throw new DomainError(
        'OVERLOADED',
        `MAX_CONCURRENT_BACKTESTS (${maxConcurrent}) backtests are running on this server: try again shortly`,
        { limit: 'MAX_CONCURRENT_BACKTESTS' },
      );
    }
    const { conditions, forSeconds, keepFiringForSeconds, noDataState, groupBy } = validation.value;
    const job: BacktestJob = {
      rule: { conditions, forSeconds, keepFiringForSeconds, noDataState, groupBy },
      since: since.getTime(),
      until: end,
      maxRows,
      maxLabelSets,
    };
    this.running += 1;
    try {
      return this.options.databaseUrl
        ? await inWorker(job, this.options.databaseUrl)
        : await runBacktestJob(keysetPages(this.options.sql), job);
    } finally {
      this.running -= 1;
    }
  }
}

type WorkerAnswer =
  | { ok: true; previews: AlertPreview[] }
  | { ok: false; message: string; domain: { code: ErrorCode; details: ErrorDetails } | null };

// Compiled, the worker is dist/alerts/backtest-worker.js. Run from source (tsx, vitest), it is the TypeScript file,
// which the worker loads through tsx's loader (a worker does not inherit its parent's loaders).
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(`./backtest-worker.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url);

function startWorker(workerData: unknown): Worker {
  if (!FROM_SOURCE) return new Worker(WORKER_URL, { workerData });
  const source = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Worker(source, { eval: true, workerData });
}

function inWorker(job: BacktestJob, databaseUrl: string): Promise<AlertPreview[]> {
  return new Promise((resolve, reject) => {
    const worker = startWorker({ ...job, databaseUrl });
    let settled = false;
    worker.once('message', (answer: WorkerAnswer) => {
      settled = true;
      if (answer.ok) resolve(answer.previews);
      else if (answer.domain) reject(new DomainError(answer.domain.code, answer.message, answer.domain.details));
      else reject(new Error(`backtest failed: ${answer.message}`));
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`backtest worker exited with code ${code} before answering`));
    });
  });
}
