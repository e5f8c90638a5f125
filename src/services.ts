// The composition root: builds every part of an app instance from the configuration, wires them together through
// their constructors, and owns them. `services` is what resolvers see; the rest is the machinery behind it, which
// the app's transports and health checks (and tests) reach through `Runtime`. Closing releases all of it, in
// reverse order.
import { Redis } from 'ioredis';
import { MemoryAggregateStore } from './aggregation/memory-store.js';
import { RedisAggregateStore } from './aggregation/redis-store.js';
import { MetricService } from './aggregation/service.js';
import type { AggregateStore } from './aggregation/types.js';
import { AlertEngine } from './alerts/engine.js';
import { type AlertNotifier, createAlertNotifier } from './alerts/notifier.js';
import { AlertService } from './alerts/service.js';
import { type AlertStore, createAlertStore } from './alerts/store.js';
import { ApiKeyStore } from './auth/keys.js';
import { ApiKeyService } from './auth/service.js';
import { type Bus, createMemoryBus, createRedisBus } from './bus/bus.js';
import type { Config } from './config.js';
import { type Database, openDatabase } from './db.js';
import { Ingestion } from './events/ingest.js';
import { eventLimitsOf } from './events/model.js';
import { StreamProcessor } from './events/processor.js';
import { EventService } from './events/service.js';
import { EventStore } from './events/store.js';
import { localLease, redisLease } from './lease.js';
import { DashboardFeed } from './live/dashboard.js';
import { MetricFeed } from './live/metric-feed.js';
import type { Logger } from './observability/logger.js';
import type { Metrics } from './observability/metrics.js';

/** The application services, one per domain: all a resolver may call. */
export interface Services {
  events: EventService;
  alerts: AlertService;
  apiKeys: ApiKeyService;
  metrics: MetricService;
}

export interface Runtime {
  config: Config;
  logger: Logger;
  services: Services;
  db: Database;
  bus: Bus;
  redis: Redis | null;
  eventStore: EventStore;
  ingestion: Ingestion;
  aggregates: AggregateStore;
  processor: StreamProcessor;
  alertStore: AlertStore;
  notifier: AlertNotifier;
  engine: AlertEngine;
  /** Starts the background work: the live feeds, the alert engine and the stream processor. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function createRuntime(config: Config, logger: Logger, metrics: Metrics): Promise<Runtime> {
  const db = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
  const redis = config.REDIS_URL ? new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1 }) : null;
  redis?.on('error', (err) => logger.debug({ err }, 'redis connection error'));
  const bus = config.REDIS_URL
    ? createRedisBus({ url: config.REDIS_URL, keyPrefix: config.REDIS_KEY_PREFIX })
    : createMemoryBus();
  const aggregates: AggregateStore = redis
    ? new RedisAggregateStore({ redis, keyPrefix: config.REDIS_KEY_PREFIX })
    : new MemoryAggregateStore();
  const eventStore = new EventStore(db);
  const alertStore = createAlertStore(db.prisma, { maxReplay: config.MAX_PAGE_SIZE });
  const pages = { defaultSize: 50, maxSize: config.MAX_PAGE_SIZE }; // 50: the contract's default `first`

  // Ingestion, the processor and the engine know each other only through closures, called once started:
  // ingestion wakes the processor, the processor tells the engine which metrics changed, the engine asks whether
  // this instance leads.
  const ingestion = new Ingestion({
    store: eventStore,
    bus,
    logger,
    limits: eventLimitsOf(config),
    maxQueued: config.INGEST_QUEUE_SIZE,
    nudgeLocal: () => processor.nudge(),
    hooks: {
      onPublished: ({ accepted, duplicates }) => {
        metrics.eventsAccepted.inc(accepted);
        metrics.eventsDuplicate.inc(duplicates);
      },
      onRefused: (code) => metrics.eventsRejected.inc({ code }),
    },
  });
  if (!config.WEBHOOK_SECRET) logger.warn('WEBHOOK_SECRET is not set: webhook signatures use an empty key');
  const notifier = createAlertNotifier({
    prisma: db.prisma,
    logger,
    webhookSecret: config.WEBHOOK_SECRET,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    attempts: config.WEBHOOK_ATTEMPTS,
    backoffMs: config.WEBHOOK_BACKOFF_MS,
    smtpUrl: config.SMTP_URL,
    emailFrom: config.ALERT_EMAIL_FROM,
  });
  const engine = new AlertEngine({
    store: alertStore,
    aggregates,
    bus,
    ingestion,
    notifier,
    logger,
    isLeader: () => processor.isServing,
    intervalMs: config.ALERT_EVALUATION_INTERVAL_MS,
  });
  const processor = new StreamProcessor({
    events: eventStore,
    aggregates,
    bus,
    lease: redis ? redisLease(redis, config.REDIS_KEY_PREFIX, config.PROCESSOR_LEASE_MS) : localLease,
    logger,
    batchSize: config.PROCESSOR_BATCH_SIZE,
    pollMs: config.PROCESSOR_POLL_MS,
    leaseRenewMs: Math.floor(config.PROCESSOR_LEASE_MS / 3),
    hooks: {
      // Not awaited: evaluations are merged inside the engine, and the processor goes on with the next batch.
      onMetricsChanged: (changed) => {
        engine.evaluate(changed).catch((error) => logger.warn({ err: error }, 'alert evaluation failed'));
      },
      onLateEvents: (count) => metrics.eventsLate.inc(count),
      onProcessed: (events, latencies) => {
        metrics.eventsProcessed.inc(events.length);
        for (const ms of latencies) metrics.processingLatency.observe(ms / 1000);
      },
    },
  });
  const metricFeed = new MetricFeed({
    aggregates,
    bus,
    logger,
    minIntervalMs: config.METRIC_UPDATE_MIN_INTERVAL_MS,
    slideRefreshMs: config.METRIC_SLIDE_REFRESH_MS,
  });
  const dashboard = new DashboardFeed({
    aggregates,
    countFiringAlerts: () => alertStore.countOpen(),
    intervalMs: config.DASHBOARD_INTERVAL_MS,
    logger,
  });

  const subscriptionBuffer = config.SUBSCRIPTION_BUFFER;
  const services: Services = {
    events: new EventService({ store: eventStore, ingestion, bus, pages, subscriptionBuffer }),
    alerts: new AlertService({ store: alertStore, bus, pages, subscriptionBuffer }),
    apiKeys: new ApiKeyService({ store: new ApiKeyStore(db.prisma), bus, logger }),
    metrics: new MetricService({ aggregates, metricFeed, dashboard, maxPairs: config.MAX_AGGREGATE_PAIRS }),
  };
  return {
    config,
    logger,
    services,
    db,
    bus,
    redis,
    eventStore,
    ingestion,
    aggregates,
    processor,
    alertStore,
    notifier,
    engine,
    async start() {
      await metricFeed.start();
      await engine.start();
      await processor.start();
    },
    async close() {
      dashboard.stop();
      await metricFeed.stop();
      await processor.stop();
      await engine.stop();
      await notifier.close();
      await bus.close();
      await aggregates.close();
      if (redis) await redis.quit().catch(() => redis.disconnect());
      await db.close();
    },
  };
}
