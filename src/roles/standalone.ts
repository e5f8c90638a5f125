// One process serving and processing: the embedded mode (no Redis or no Postgres), and WEB_CONCURRENCY=0.
import { buildApp } from '../app.js';
import { type Config, redisTargetOf } from '../config.js';
import type { Logger } from '../observability/logger.js';
import { stopTracing } from '../observability/tracing.js';

export async function runStandalone(config: Config, logger: Logger): Promise<void> {
  const app = await buildApp(config, { logger });
  const url = await app.start();
  logger.info({ url, database: app.runtime.db.kind, bus: redisTargetOf(config) ? 'redis' : 'in-process' }, 'listening');
  process.stdout.write(`Jackdaw Sentry real-time API listening on ${url}\n`);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'stopping');
      app
        .stop()
        .then(stopTracing)
        .then(
          () => process.exit(0),
          (error) => {
            logger.error({ err: error }, 'unclean stop');
            process.exit(1);
          },
        );
    });
  }
}
