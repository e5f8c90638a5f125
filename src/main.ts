// Entry point: configuration from the environment, the app on its port, a clean stop on SIGTERM/SIGINT.
import { buildApp } from './app.js';
import { loadConfig } from './config.js';
import { createLogger } from './observability/logger.js';

async function main() {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL);
  const app = await buildApp(config, { logger });
  const url = await app.start();
  logger.info({ url, database: app.runtime.db.kind, bus: config.REDIS_URL ? 'redis' : 'in-process' }, 'listening');
  process.stdout.write(`Jackdaw Sentry real-time API listening on ${url}\n`);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'stopping');
      app.stop().then(
        () => process.exit(0),
        (error) => {
          logger.error({ err: error }, 'unclean stop');
          process.exit(1);
        },
      );
    });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
