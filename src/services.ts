// The composition root: builds every part of an app instance from the configuration, wires them together through
// their constructors, and owns them. `services` is what resolvers see; the rest is the machinery behind it, which
// the app's transports and health checks (and tests) reach through the runtimes. Closing releases all of it, in
// reverse order.
//
// Two roles share the stores: serving (the services behind HTTP and WebSocket, with the live feeds) and processing
// (the stream processor, the alert engine and its notifier). `createRuntime` builds both in one process (embedded
// mode, tests); `createServingRuntime` and `createProcessingRuntime` build one each, for processes of their own
// (src/roles/), which then hear each other only through the bus.

import { LabelledReads } from './aggregation/labelled-reads.js';
import { MemoryAggregateStore } from './aggregation/memory-store.js';
import { RedisAggregateStore } from './aggregation/redis-store.js';
import type { SeriesRegistry } from './aggregation/series.js';
import { MetricService } from './aggregation/service.js';
import type { AggregateStore } from './aggregation/types.js';
import { Backtester } from './alerts/backtester.js';
import { AlertEngine } from './alerts/engine.js';
import { type AlertNotifier, createAlertNotifier } from './alerts/notifier.js';
import { AlertService } from './alerts/service.js';
import { type AlertStore, createAlertStore } from './alerts/store.js';
import { keyCacheOptionsOf } from './auth/key-cache.js';
import { ApiKeyStore } from './auth/keys.js';
import { ApiKeyService } from './auth/service.js';
import { type Bus, createBus } from './bus/bus.js';
import { type Config, redisTargetOf } from './config.js';
import { type Database, openDatabase } from './db.js';
import { BroadcastLog } from './events/broadcast-log.js';
import { Ingestion } from './events/ingest.js';
import { eventLimitsOf } from './events/model.js';
import { localPartitionLeases, redisPartitionLeases } from './events/partition-leases.js';
import { StreamProcessor } from './events/processor.js';
import { EventRetention } from './events/retention.js';
import { EventService } from './events/service.js';
import { EventStore } from './events/store.js';
import { alertLeaseKey, localLease, redisLease } from './lease.js';
import { DashboardFeed } from './live/dashboard.js';
import { MetricFeed } from './live/metric-feed.js';
import type { Logger } from './observability/logger.js';
import type { Metrics } from './observability/metrics.js';
import { DEFAULT_PAGE_SIZE } from './pagination.js';
import { createRedisClient, type RedisClient } from './redis.js';
import { databaseName } from './redis-namespace.js';

/** The application services, one per domain: all a resolver may call. */
export interface Services {
  events: EventService;
  alerts: AlertService;
  apiKeys: ApiKeyService;
  metrics: MetricService;
}

/** What every role opens: the database, Redis, the bus and the stores over them. */
export interface SharedRuntime {
  config: Config;
  logger: Logger;
  db: Database;
  bus: Bus;
  redis: RedisClient | null;
  /** REDIS_KEY_PREFIX and this database's name under it (redis-namespace.ts): every Redis key and channel's start. */
  redisKeyPrefix: string;
  /** This database's name (redis-namespace.ts), which event cursors carry. */
  databaseName: string;
  eventStore: EventStore;
  /** The order events were broadcast in, which cursors point into. */
  broadcasts: BroadcastLog;
  aggregates: AggregateStore;
  /** The live series and each key's budget for new ones: the aggregate store, asked at publish. */
  series: SeriesRegistry;
  alertStore: AlertStore;
  apiKeyStore: ApiKeyStore;
  /** Commits events: publishing on the serving side, alert firings on the processing side. */
  ingestion: Ingestion;
  /** Starts the role's background work. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** The serving role: the services behind HTTP and WebSocket, and the live feeds. */
export interface ServingRuntime extends SharedRuntime {
  services: Services;
}

/** The processing role: the stream processor, the alert engine and its notifier; no HTTP. */
export interface ProcessingRuntime extends SharedRuntime {
  processor: StreamProcessor;
  notifier: AlertNotifier;
  engine: AlertEngine;
  /** The event log's partitions and id retention (events/retention.ts). */
  retention: EventRetention;
}

/** Both roles in one process. */
export interface Runtime extends ServingRuntime, ProcessingRuntime {}

/** Serving and processing in one process: the embedded mode, WEB_CONCURRENCY=0 and the tests' apps. */
export async function createRuntime(config: Config, logger: Logger, metrics: Metrics): Promise<Runtime> {
  const shared = await openShared(config, logger);
  // Publishing wakes the processor in this process without a bus round trip.
  const ingestion = createIngestion(shared, metrics, () => processing.processor.nudge());
  const processing = wireProcessing(shared, ingestion, metrics);
  const serving = wireServing(shared, ingestion);
  return {
    ...shared,
    ingestion,
    services: serving.services,
    processor: processing.processor,
    notifier: processing.notifier,
    engine: processing.engine,
    retention: processing.retention,
    async start() {
      await serving.start();
      await processing.start();
    },
    async close() {
      await serving.stop();
      await processing.stop();
      await shared.close();
    },
  };
}

/** The serving role alone: publishing reaches the processing role through the bus's `processor:nudge`. */
export async function createServingRuntime(config: Config, logger: Logger, metrics: Metrics): Promise<ServingRuntime> {
  const shared = await openShared(config, logger);
  const ingestion = createIngestion(shared, metrics, () => {});
  const serving = wireServing(shared, ingestion);
  return {
    ...shared,
    ingestion,
    services: serving.services,
    start: serving.start,
    async close() {
      await serving.stop();
      await shared.close();
    },
  };
}

/** The processing role alone. */
export async function createProcessingRuntime(
  config: Config,
  logger: Logger,
  metrics: Metrics,
): Promise<ProcessingRuntime> {
  const shared = await openShared(config, logger);
  const ingestion = createIngestion(shared, metrics, () => processing.processor.nudge());
  const processing = wireProcessing(shared, ingestion, metrics);
  return {
    ...shared,
    ingestion,
    processor: processing.processor,
    notifier: processing.notifier,
    engine: processing.engine,
    retention: processing.retention,
    start: processing.start,
    async close() {
      await processing.stop();
      await shared.close();
    },
  };
}

type Shared = Omit<SharedRuntime, 'ingestion' | 'start'>;

async function openShared(config: Config, logger: Logger): Promise<Shared> {
  const db = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
  const target = redisTargetOf(config);
  let redisKeyPrefix: string;
  let name: string;
  try {
    name = await databaseName(db.sql);
    redisKeyPrefix = target ? `${config.REDIS_KEY_PREFIX}${name}:` : '';
  } catch (error) {
    await db.close();
    throw error;
  }
  const redis = target ? createRedisClient(target, { connection: { maxRetriesPerRequest: 1 } }) : null;
  redis?.on('error', (err) => logger.debug({ err }, 'redis connection error'));
  if (target) logger.info({ redisKeyPrefix, redis: target.kind }, 'Redis keys and channels of this database');
  const bus = createBus(target, redisKeyPrefix, config.BUS_PUBLISH_TIMEOUT_MS);
  // The aggregate store is also the registry of live series, which publishing asks (series.ts).
  // Partitioned only with Redis: the embedded mode is one process, which processes the one partition.
  const aggregates = redis
    ? new RedisAggregateStore({
        redis,
        keyPrefix: redisKeyPrefix,
        readChunk: config.AGGREGATE_READ_CHUNK,
        partitions: config.PROCESSOR_PARTITIONS,
      })
    : new MemoryAggregateStore();
  return {
    config,
    logger,
    db,
    bus,
    redis,
    redisKeyPrefix,
    databaseName: name,
    eventStore: new EventStore(db),
    broadcasts: new BroadcastLog(db.sql, config.PROCESSOR_BROADCAST_TIMEOUT_MS),
    aggregates,
    series: aggregates,
    alertStore: createAlertStore(db.prisma, {
      maxReplay: config.MAX_PAGE_SIZE,
      webhooks: { secretSet: config.WEBHOOK_SECRET !== '', allowPrivateTargets: config.ALLOW_PRIVATE_WEBHOOK_TARGETS },
      emailEnabled: config.SMTP_URL !== undefined,
      notices: {
        maxSummaryLength: config.MAX_SUMMARY_LENGTH,
        minRepeatIntervalSeconds: config.MIN_REPEAT_INTERVAL_SECONDS,
      },
      maxSilences: config.MAX_SILENCES,
      maxCommentLength: config.MAX_COMMENT_LENGTH,
    }),
    apiKeyStore: new ApiKeyStore(db.prisma),
    async close() {
      await bus.close();
      await aggregates.close();
      if (redis) await redis.quit().catch(() => redis.disconnect());
      await db.close();
    },
  };
}

function createIngestion(
  { config, eventStore, bus, logger, series }: Shared,
  metrics: Metrics,
  nudgeLocal: () => void,
) {
  return new Ingestion({
    store: eventStore,
    bus,
    logger,
    limits: eventLimitsOf(config),
    maxQueued: config.INGEST_QUEUE_SIZE,
    series: {
      registry: series,
      limits: { maxNewPerMinute: config.MAX_NEW_SERIES_PER_MINUTE, maxSeries: config.MAX_SERIES },
    },
    nudgeLocal,
    hooks: {
      onPublished: ({ accepted, duplicates }) => {
        metrics.eventsAccepted.inc(accepted);
        metrics.eventsDuplicate.inc(duplicates);
      },
      onRefused: (code) => metrics.eventsRejected.inc({ code }),
    },
  });
}

// The processor and the engine know each other only through closures, called once started: the processor tells
// the engine which metrics changed, the engine asks whether this process leads.
function wireProcessing(shared: Shared, ingestion: Ingestion, metrics: Metrics) {
  const { config, logger, db, bus, redis, redisKeyPrefix, eventStore, broadcasts, aggregates, alertStore } = shared;
  if (!config.WEBHOOK_SECRET) logger.warn('WEBHOOK_SECRET is not set: rules with webhooks are refused');
  const notifier = createAlertNotifier({
    prisma: db.prisma,
    logger,
    isLeader: () => processor.isServing,
    webhookSecrets: { current: config.WEBHOOK_SECRET, previous: config.WEBHOOK_SECRET_PREVIOUS || undefined },
    allowPrivateTargets: config.ALLOW_PRIVATE_WEBHOOK_TARGETS,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    attempts: config.WEBHOOK_ATTEMPTS,
    backoffMs: config.WEBHOOK_BACKOFF_MS,
    smtpUrl: config.SMTP_URL,
    emailFrom: config.ALERT_EMAIL_FROM,
    queueDue: () => alertStore.queueDueNotices(),
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
    windowRefreshMs: config.ALERT_WINDOW_REFRESH_MS,
    labelSets: {
      reads: new LabelledReads(aggregates, config.MAX_LABEL_SETS_PER_READ),
      maxPerRule: config.MAX_ALERT_LABEL_SETS_PER_RULE,
    },
  });
  const processor = new StreamProcessor({
    events: eventStore,
    broadcasts,
    aggregates,
    bus,
    leases: redis
      ? redisPartitionLeases(redis, redisKeyPrefix, aggregates.partitions, config.PROCESSOR_LEASE_MS)
      : localPartitionLeases(aggregates.partitions),
    alertLease: redis ? redisLease(redis, alertLeaseKey(redisKeyPrefix), config.PROCESSOR_LEASE_MS) : localLease,
    logger,
    batchSize: config.PROCESSOR_BATCH_SIZE,
    readAhead: config.PROCESSOR_READ_AHEAD,
    maxFieldsPerApply: config.PROCESSOR_MAX_FIELDS_PER_APPLY,
    pollMs: config.PROCESSOR_POLL_MS,
    leaseRenewMs: Math.floor(config.PROCESSOR_LEASE_MS / 3),
    hooks: {
      // Told at once of this process's writes (even while the bus is down); those of other instances' partitions
      // come on the bus (metrics:changed, which the engine hears too).
      onMetricsChanged: (changed, since) => {
        engine.evaluate(changed, since).catch((error) => logger.warn({ err: error }, 'alert evaluation failed'));
      },
      onAggregatesReplaced: () => engine.aggregatesReplaced(),
      onLateEvents: (count) => metrics.eventsLate.inc(count),
      onProcessed: (events, latencies) => {
        metrics.eventsProcessed.inc(events.length);
        for (const ms of latencies) metrics.processingLatency.observe(ms / 1000);
      },
    },
  });
  // The log's partitions: made ahead and dropped past the retention, by every processing process (an advisory lock
  // makes each change once), whether or not it leads: the partitions must be there for any instance to publish.
  const retention = new EventRetention({
    prisma: db.prisma,
    logger,
    settings: {
      retentionDays: config.EVENT_RETENTION_DAYS,
      aheadDays: config.EVENT_PARTITIONS_AHEAD_DAYS,
      idRetentionDays: config.EVENT_ID_RETENTION_DAYS,
    },
  });
  return {
    processor,
    notifier,
    engine,
    retention,
    async start() {
      await retention.start();
      await engine.start();
      await processor.start();
      notifier.start();
    },
    /** The processor finishes the batch in hand and releases its lease; queued notifications wait in Postgres. */
    async stop() {
      await notifier.stop();
      await processor.stop();
      await engine.stop();
      await retention.stop();
    },
  };
}

function wireServing(shared: Shared, ingestion: Ingestion) {
  const { config, logger, bus, eventStore, broadcasts, databaseName, aggregates, alertStore, apiKeyStore } = shared;
  const pages = { defaultSize: DEFAULT_PAGE_SIZE, maxSize: config.MAX_PAGE_SIZE };
  const reads = new LabelledReads(aggregates, config.MAX_LABEL_SETS_PER_READ);
  const metricFeed = new MetricFeed({
    reads,
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
    events: new EventService({
      store: eventStore,
      ingestion,
      bus,
      pages,
      subscriptionBuffer,
      broadcasts,
      database: databaseName,
      maxReplay: config.MAX_REPLAY_EVENTS,
      pollMs: config.PROCESSOR_POLL_MS,
    }),
    alerts: new AlertService({
      store: alertStore,
      bus,
      pages,
      subscriptionBuffer,
      backtester: new Backtester({
        sql: shared.db.sql,
        databaseUrl: config.DATABASE_URL,
        maxRows: config.MAX_BACKTEST_ROWS,
        maxConcurrent: config.MAX_CONCURRENT_BACKTESTS,
        maxLabelSets: config.MAX_ALERT_LABEL_SETS_PER_RULE,
      }),
      labelSets: { reads, maxPerRule: config.MAX_ALERT_LABEL_SETS_PER_RULE },
    }),
    apiKeys: new ApiKeyService({ store: apiKeyStore, bus, logger, cache: keyCacheOptionsOf(config) }),
    metrics: new MetricService({
      aggregates,
      reads,
      metricFeed,
      dashboard,
      maxNamesPage: config.MAX_METRIC_NAMES_PAGE,
      maxIntervalMs: config.MAX_SUBSCRIPTION_INTERVAL_MS,
    }),
  };
  return {
    services,
    async start() {
      await services.apiKeys.start();
      await metricFeed.start();
    },
    async stop() {
      dashboard.stop();
      await metricFeed.stop();
      services.apiKeys.stop();
      await services.alerts.stop();
    },
  };
}
