// The serving role: GraphQL over HTTP and WebSocket on the port every serving process shares, publishing included;
// no stream processor or alert engine on this event loop. It hears the processing role's broadcasts on the bus like
// any other instance would, and answers /health and /metrics for the whole instance by asking the primary.
import { buildServingApp } from '../app.js';
import type { Config } from '../config.js';
import type { Logger } from '../observability/logger.js';
import { reusesPort } from './plan.js';
import { runWorker } from './worker.js';

export function runServing(config: Config, logger: Logger): void {
  runWorker('serve', logger, async (primary) => {
    const app = await buildServingApp(config, {
      logger,
      instance: {
        processing: () => primary.ask('processingStatus'),
        metrics: () => primary.ask('instanceMetrics'),
      },
    });
    const url = await app.start(config.PORT, config.HOST, { reusePort: reusesPort(config) });
    return { url, localMetrics: () => app.localMetrics(), stop: () => app.stop() };
  });
}
