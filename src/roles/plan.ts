// Which processes an instance runs. With Redis and Postgres: a primary, one processing process and WEB_CONCURRENCY
// serving processes (one per CPU by default). Without either, one process does everything: there is no bus between
// processes without Redis, and PGlite is one process's database.
import { getHeapStatistics } from 'node:v8';
import { type Config, redisTargetOf } from '../config.js';

export type WorkerRole = 'serve' | 'process';

const ROLE_ARG = '--role=';

/** The command-line arguments the primary forks a worker of `role` with. */
export function workerArgs(role: WorkerRole): string[] {
  return [`${ROLE_ARG}${role}`];
}

const CAPPED_SEMI_SPACE_MB = 16;
/**
 * Up to a 2 GiB heap limit V8 keeps semi-spaces under 16 MB by itself (Node's docs, `--max-semi-space-size`); the
 * limit V8 reports adds the young generation, three 16 MB semi-spaces at most there.
 */
const SMALL_HEAP_LIMIT_BYTES = 2 * 1024 ** 3 + 3 * CAPPED_SEMI_SPACE_MB * 1024 ** 2;
/** `--max-semi-space-size` or `--min-semi-space-size`, with dashes or underscores, quoted or not, with a value or not. */
const SEMI_SPACE_FLAG = /^["']?--(max|min)[-_]semi[-_]space[-_]size(=|["']?$)/;

/**
 * The node options the primary forks its workers with: its own, plus a largest semi-space of `WORKER_SEMI_SPACE_MB`
 * (unset: CAPPED_SEMI_SPACE_MB above a small heap limit, where V8 would choose more; 0: none), unless the operator
 * chose a semi-space in NODE_OPTIONS (which the workers inherit) or in node's arguments. `heapLimit` is this process's,
 * which the workers share: same machine, same flags.
 */
export function workerExecArgv(
  config: Pick<Config, 'WORKER_SEMI_SPACE_MB'>,
  {
    execArgv = process.execArgv,
    nodeOptions = process.env.NODE_OPTIONS ?? '',
    heapLimit = getHeapStatistics().heap_size_limit,
  }: { execArgv?: string[]; nodeOptions?: string; heapLimit?: number } = {},
): string[] {
  if ([...execArgv, ...nodeOptions.split(/\s+/)].some((arg) => SEMI_SPACE_FLAG.test(arg))) return execArgv;
  const megabytes = config.WORKER_SEMI_SPACE_MB ?? (heapLimit > SMALL_HEAP_LIMIT_BYTES ? CAPPED_SEMI_SPACE_MB : 0);
  return megabytes > 0 ? [...execArgv, `--max-semi-space-size=${megabytes}`] : execArgv;
}

/** The role a worker was forked for. */
export function workerRoleOf(argv: string[]): WorkerRole {
  const role = argv.find((arg) => arg.startsWith(ROLE_ARG))?.slice(ROLE_ARG.length);
  if (role === 'serve' || role === 'process') return role;
  throw new Error(`a worker process needs ${ROLE_ARG}serve or ${ROLE_ARG}process, got ${role ?? 'none'}`);
}

/** How many serving processes to fork, or null for one process serving and processing. */
export function servingProcesses(config: Config, cpus: number): number | null {
  if (!redisTargetOf(config) || !config.DATABASE_URL) return null;
  if (config.WEB_CONCURRENCY === 0) return null;
  return config.WEB_CONCURRENCY ?? cpus;
}

/**
 * How long to wait before starting a worker again: `baseMs` after its first death, doubling with each death in a row,
 * never more than `maxMs`.
 */
export function restartWait(deathsInARow: number, { baseMs, maxMs }: { baseMs: number; maxMs: number }): number {
  return Math.min(baseMs * 2 ** Math.min(Math.max(deathsInARow - 1, 0), 30), maxMs);
}

/**
 * Whether the serving processes each listen on PORT with SO_REUSEPORT, the kernel spreading new connections over them
 * by a hash of each connection's addresses; otherwise node:cluster's primary accepts every connection and hands it to
 * a serving process in turn over IPC, which under a storm of connections costs a sixth to a quarter of the connect
 * time (BENCHMARKS.md, "Connecting: the cluster's hand-off"). Needs `reusePort`, which Node has from 22.12 and 23.1, on
 * Linux (Node refuses it where the kernel may not balance), and a port chosen in advance: with 0 each process would
 * get a port of its own.
 */
export function reusesPort(
  config: Pick<Config, 'SERVING_REUSE_PORT' | 'PORT'>,
  node = process.versions.node,
  platform = process.platform,
): boolean {
  if (!config.SERVING_REUSE_PORT || config.PORT === 0 || platform !== 'linux') return false;
  const [major = 0, minor = 0] = node.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}
