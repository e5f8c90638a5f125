// The processing role, the entry that runs apart from the serving loop: the stream processor (outbox → broadcast →
// aggregates, under the Redis lease) and the alert engine with its notifier, on an event loop of their own, with no
// HTTP. Publishing reaches it through the bus (`processor:nudge`); what it produces goes out on the bus. It also
// makes sure of the first admin key, once per instance, before the serving processes start.
import { ensureFirstAdmin } from '../auth/first-admin.js';
import type { Config } from '../config.js';
import type { Logger } from '../observability/logger.js';
import { createMetrics, sampleGauges } from '../observability/metrics.js';
import { createProcessingRuntime } from '../services.js';
import { type RunningRole, runWorker } from './worker.js';

export async function startProcessing(config: Config, logger: Logger): Promise<RunningRole> {
  const metrics = createMetrics('process');
  const runtime = await createProcessingRuntime(config, logger, metrics);
  try {
    await ensureFirstAdmin(runtime.apiKeyStore, runtime.bus, logger, {
      configuredKey: config.ADMIN_API_KEY,
      dataDir: config.DATA_DIR,
    });
    await runtime.start();
  } catch (error) {
    await runtime.close().catch(() => {});
    throw error;
  }
  const isLeader = () => runtime.processor.isLeader;
  return {
    async localMetrics() {
      await sampleGauges(metrics, {
        isLeader,
        partitionsHeld: () => runtime.processor.heldPartitions.length,
        outboxBacklog: () => runtime.eventStore.outboxSize(),
      });
      return metrics.registry.getMetricsAsJSON();
    },
    processingStatus: () => ({
      leader: isLeader(),
      partitions: runtime.processor.heldPartitions,
      alerts: runtime.processor.isServing,
      pid: process.pid,
    }),
    stop: () => runtime.close(),
  };
}

export function runProcessing(config: Config, logger: Logger): void {
  runWorker('process', logger, () => startProcessing(config, logger));
}
