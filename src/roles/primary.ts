// The primary of a cluster instance. It forks the processing process, then (once that has made sure of the first
// admin key) the serving processes, which share the port (each with SO_REUSEPORT where Node has it, else through
// node:cluster's hand-off: plan.ts, `reusesPort`); it starts again any worker that dies,
// after a wait that doubles with each death in a row; it answers the workers' questions about the instance as a whole
// (its metrics, its processing role); and on SIGTERM/SIGINT it stops them all (serving processes drain and close their
// sockets with 1001, the processing process finishes its batch and releases the lease) and exits 0. It serves nothing
// itself, opens no database, and loads none of the app.
import cluster, { type Worker } from 'node:cluster';
import { createServer, type ListenOptions, type Server } from 'node:net';
import type { Config } from '../config.js';
import type { ProcessingStatus } from '../observability/instance.js';
import type { Logger } from '../observability/logger.js';
import { createPrimaryMetrics, type MetricsJson, mergeProcessMetrics } from '../observability/metrics.js';
import { type Channel, connect, type Peer, type PrimaryAsks, type WorkerAsks } from './ipc.js';
import { restartWait, reusesPort, type WorkerRole, workerArgs, workerExecArgv } from './plan.js';

const WORKER_ANSWER_MS = 1_000; // a worker slower than this is left out of a scrape or health check

/** One worker the primary keeps running: the process now in it, and its record of deaths. */
interface Slot {
  role: WorkerRole;
  worker: Worker | null;
  peer: Peer<PrimaryAsks> | null;
  ready: boolean;
  startedAt: number;
  /** Deaths in a row, each doubling the wait before the next start. */
  deaths: number;
  restart: NodeJS.Timeout | null;
}

function workerChannel(worker: Worker): Channel {
  return {
    // The callback keeps a send to a worker that just died from becoming an uncaught error.
    send: (message) => worker.send(message as object, undefined, () => {}),
    onMessage: (listener) => worker.on('message', listener),
  };
}

export async function runPrimary(config: Config, logger: Logger, servingProcesses: number): Promise<void> {
  const metrics = createPrimaryMetrics();
  // The IPC channel keeps node's JSON serialization (see ipc.ts).
  const slot = (role: WorkerRole): Slot => ({
    role,
    worker: null,
    peer: null,
    ready: false,
    startedAt: 0,
    deaths: 0,
    restart: null,
  });
  const processing = slot('process');
  const serving = Array.from({ length: servingProcesses }, () => slot('serve'));
  const slots = [processing, ...serving];
  let phase: 'starting' | 'running' | 'stopping' = 'starting';

  async function processingStatus(): Promise<ProcessingStatus> {
    if (!processing.peer || !processing.ready) throw new Error('the processing process is not running');
    return processing.peer.ask('processingStatus');
  }

  async function instanceMetrics(): Promise<string> {
    const own = await metrics.registry.getMetricsAsJSON();
    const workers = await Promise.all(
      slots.map(async ({ peer, ready, role }): Promise<MetricsJson | null> => {
        if (!peer || !ready) return null;
        return peer.ask('localMetrics').catch((error) => {
          logger.debug({ err: error, role }, 'a worker did not report its metrics');
          return null;
        });
      }),
    );
    return mergeProcessMetrics([own, ...workers.filter((m): m is MetricsJson => m !== null)]);
  }

  /** Forks a worker into `slot`; resolves with its URL (serving) once it is ready, rejects if it dies first. */
  function fork(slot: Slot): Promise<string | null> {
    cluster.setupPrimary({ args: workerArgs(slot.role), execArgv: workerExecArgv(config) });
    const worker = cluster.fork();
    slot.worker = worker;
    slot.ready = false;
    slot.startedAt = Date.now();
    const ready = new Promise<string | null>((resolve, reject) => {
      const peer = connect<PrimaryAsks, WorkerAsks>(workerChannel(worker), {
        answerers: { instanceMetrics, processingStatus },
        onNotice: (notice) => {
          if (notice.name !== 'ready') return;
          slot.ready = true;
          resolve(notice.url);
        },
        timeoutMs: WORKER_ANSWER_MS,
      });
      slot.peer = peer;
      worker.once('exit', (code, signal) => {
        peer.close('the worker exited');
        slot.worker = null;
        slot.peer = null;
        slot.ready = false;
        reject(new Error(`the ${slot.role} worker exited before it was ready`));
        exited(slot, worker, signal ?? code);
      });
    });
    ready.catch(() => {}); // a death is handled in `exited`, whether or not anyone awaits this start
    return ready;
  }

  function exited(slot: Slot, worker: Worker, how: string | number) {
    const who = { role: slot.role, workerPid: worker.process.pid, exit: how };
    if (phase === 'stopping') return;
    if (phase === 'starting') {
      logger.error(who, 'a worker died while the instance was starting');
      void stop(1);
      return;
    }
    // A worker that lived longer than the longest wait was not crashing in a loop: its next start is prompt.
    if (Date.now() - slot.startedAt > config.WORKER_RESTART_BACKOFF_MAX_MS) slot.deaths = 0;
    slot.deaths += 1;
    const wait = restartWait(slot.deaths, {
      baseMs: config.WORKER_RESTART_BACKOFF_MS,
      maxMs: config.WORKER_RESTART_BACKOFF_MAX_MS,
    });
    metrics.workerRestarts.inc({ role: slot.role });
    logger.warn({ ...who, restartInMs: wait }, 'a worker died; starting another');
    slot.restart = setTimeout(() => {
      slot.restart = null;
      fork(slot).then(
        () => logger.info({ role: slot.role, workerPid: slot.worker?.process.pid }, 'worker started again'),
        () => {}, // its death is handled like any other
      );
    }, wait);
  }

  async function stop(exitCode: 0 | 1): Promise<void> {
    if (phase === 'stopping') return;
    phase = 'stopping';
    const workers: Worker[] = [];
    for (const { restart, worker } of slots) {
      if (restart) clearTimeout(restart);
      if (worker) workers.push(worker);
    }
    // Serving processes wait SHUTDOWN_GRACE_MS for requests, then close their stores; past twice that, a worker that
    // has not exited is killed (and the exit is unclean).
    setTimeout(() => {
      for (const worker of workers) if (!worker.isDead()) worker.process.kill('SIGKILL');
    }, 2 * config.SHUTDOWN_GRACE_MS).unref();
    const clean = await Promise.all(
      workers.map(
        (worker) =>
          new Promise<boolean>((resolve) => {
            // A worker stopped by the signal itself had not started: it held nothing to lose.
            worker.once('exit', (code, signal) => resolve(code === 0 || signal === 'SIGTERM'));
            worker.process.kill('SIGTERM');
          }),
      ),
    );
    process.exit(exitCode === 0 && clean.every(Boolean) ? 0 : 1);
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'stopping');
      void stop(0);
    });
  }

  if (reusesPort(config)) {
    try {
      await claimPort(config.PORT, config.HOST);
    } catch (error) {
      logger.error({ err: error, port: config.PORT, host: config.HOST }, 'cannot listen on PORT');
      process.exit(1);
    }
  }
  try {
    await fork(processing);
    const [url] = await Promise.all(serving.map(fork));
    phase = 'running';
    logger.info(
      { url, database: 'postgres', bus: 'redis', servingProcesses },
      'listening (cluster: one processing process, the rest serving)',
    );
    process.stdout.write(`Jackdaw Sentry real-time API listening on ${url}\n`);
  } catch {
    // A worker died while starting: `exited` is stopping the others, and the primary exits 1.
  }
}

/**
 * Serving processes that listen with SO_REUSEPORT bind beside any other socket that set it: a second instance started
 * on the same port would take a share of the first one's connections rather than fail. So the primary claims the port
 * for its lifetime, on an abstract Unix socket named after it (Linux, as SO_REUSEPORT here; in the same network
 * namespace as the port, and gone when the primary dies): a second instance's primary fails there, even while the
 * first one's serving processes are still starting or restarting. Then it binds the port once without SO_REUSEPORT,
 * which fails while any other process holds it.
 */
async function claimPort(port: number, host: string): Promise<void> {
  const listen = (options: ListenOptions) =>
    new Promise<Server>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(options, () => resolve(server));
    });
  const claim = await listen({ path: `\0jackdaw-sentry:${host}:${port}` }).catch((error: Error) => {
    throw new Error(`another Jackdaw Sentry instance on this machine serves ${host}:${port} (${error.message})`);
  });
  claim.unref();
  const probe = await listen({ port, host, exclusive: true });
  await new Promise((resolve) => probe.close(resolve));
}
