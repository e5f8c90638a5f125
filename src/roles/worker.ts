// A worker's side of the cluster: its link to the primary, and a clean stop on SIGTERM (which the primary sends when
// it stops) or SIGINT (a terminal's Ctrl-C reaches every process of the group). A worker that fails to start exits 1;
// the primary decides what follows.
import type { ProcessingStatus } from '../observability/instance.js';
import type { Logger } from '../observability/logger.js';
import type { MetricsJson } from '../observability/metrics.js';
import { stopTracing } from '../observability/tracing.js';
import { type Channel, connect, type Peer, type PrimaryAsks, type WorkerAsks } from './ipc.js';
import type { WorkerRole } from './plan.js';

// An ask to the primary may wait on its own asks to every worker (WORKER_ANSWER_MS in primary.ts) first.
const PRIMARY_ANSWER_MS = 3_000; // an answer slower than this counts as none

/** A started role, as the primary sees it. */
export interface RunningRole {
  /** The URL a serving role listens on. */
  url?: string;
  localMetrics(): Promise<MetricsJson>;
  /** Only the processing role has one. */
  processingStatus?(): ProcessingStatus;
  /** Finishes what is in hand and releases everything. */
  stop(): Promise<void>;
}

function primaryChannel(): Channel {
  return {
    // The callback keeps a send on a closed channel (the primary is gone) from becoming an uncaught error.
    send: (message) => process.send?.(message, undefined, {}, () => {}),
    onMessage: (listener) => process.on('message', listener),
  };
}

export function runWorker(
  role: WorkerRole,
  logger: Logger,
  start: (primary: Peer<WorkerAsks>) => Promise<RunningRole>,
) {
  let running: RunningRole | null = null;
  const started = () => {
    if (!running) throw new Error(`the ${role} role is starting`);
    return running;
  };
  const primary = connect<WorkerAsks, PrimaryAsks>(primaryChannel(), {
    answerers: {
      localMetrics: () => started().localMetrics(),
      processingStatus: () => {
        const status = started().processingStatus?.();
        if (!status) throw new Error(`the ${role} role does not process`);
        return status;
      },
    },
    timeoutMs: PRIMARY_ANSWER_MS,
  });

  const starting = start(primary);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ role, signal }, 'stopping');
    starting
      .then((it) => it.stop())
      .then(stopTracing)
      .then(
        () => process.exit(0),
        (error) => {
          logger.error({ err: error, role }, 'unclean stop');
          process.exit(1);
        },
      );
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stop(signal));
  starting.then(
    (it) => {
      running = it;
      if (!stopping) primary.notify({ name: 'ready', url: it.url ?? null });
    },
    (error) => {
      logger.fatal({ err: error, role }, 'could not start');
      process.exit(1);
    },
  );
}
