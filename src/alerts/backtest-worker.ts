// A backtest in a worker thread of its own, so that reading and evaluating a long history never holds up the
// serving process's event loop. It opens one connection of its own to Postgres for the read.
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { DomainError } from '../errors.js';
import { cursorPages } from './backtest-source.js';
import { type BacktestJob, runBacktestJob } from './backtester.js';

const job = workerData as BacktestJob & { databaseUrl: string };
const client = new pg.Client({ connectionString: job.databaseUrl });
try {
  await client.connect();
  const sql = {
    query: async (text: string, params: readonly unknown[]) => (await client.query(text, [...params])).rows,
  };
  parentPort?.postMessage({ ok: true, previews: await runBacktestJob(cursorPages(sql), job) });
} catch (error) {
  const domain = error instanceof DomainError ? { code: error.code, details: error.details } : null;
  parentPort?.postMessage({ ok: false, message: error instanceof Error ? error.message : String(error), domain });
} finally {
  await client.end().catch(() => {});
}
