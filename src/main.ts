// Entry point: configuration from the environment, then this process's role. With Redis and Postgres the process
// `npm start` runs is a cluster primary (roles/primary.ts) that forks one processing process (roles/process.ts) and
// WEB_CONCURRENCY serving processes (roles/serve.ts); without them, or with WEB_CONCURRENCY=0, one process serves and
// processes (roles/standalone.ts). Each role's code is loaded only in the process that runs it.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import v8 from 'node:v8';
import { loadConfig } from './config.js';
import { loggerOf } from './observability/logger.js';
import { startTracing } from './observability/tracing.js';
import { servingProcesses, workerRoleOf } from './roles/plan.js';

async function main() {
  const config = loadConfig();
  const logger = loggerOf(config);
  // Prisma's query compiler is a 3 MB WebAssembly module. V8 first compiles it with its baseline compiler (Liftoff),
  // then recompiles the hot functions with TurboFan on background threads, whose compile memory the C allocator keeps:
  // about 90 MB of resident memory in each process that runs queries, for code that only plans our few Prisma calls
  // (the hot paths run SQL on the driver). Set before any role's code is loaded, so it holds in every role; only with
  // Postgres: the embedded database (PGlite) is itself WebAssembly, and runs every query through TurboFan's code.
  if (config.DATABASE_URL) v8.setFlagsFromString('--liftoff-only');
  if (cluster.isWorker) {
    const role = workerRoleOf(process.argv);
    if (startTracing(config, role)) logger.info({ role }, 'exporting traces over OTLP');
    if (role === 'serve') (await import('./roles/serve.js')).runServing(config, logger);
    else (await import('./roles/process.js')).runProcessing(config, logger);
    return;
  }
  const serving = servingProcesses(config, availableParallelism());
  if (serving !== null) return (await import('./roles/primary.js')).runPrimary(config, logger, serving);
  if (config.WEB_CONCURRENCY)
    logger.warn(
      'WEB_CONCURRENCY is ignored without Redis (REDIS_URL or REDIS_CLUSTER_NODES) and DATABASE_URL: one process serves and processes',
    );
  if (startTracing(config, 'standalone')) logger.info('exporting traces over OTLP');
  await (await import('./roles/standalone.js')).runStandalone(config, logger);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
