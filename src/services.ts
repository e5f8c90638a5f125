// Builds and owns every I/O dependency of an app instance. Closing it releases all of them, in reverse order.

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { MemoryAggregateStore } from './aggregation/memory-store.js';
import { acquireLease, RedisAggregateStore, releaseLease, renewLease } from './aggregation/redis-store.js';
import type { AggregateStore } from './aggregation/types.js';
import { AlertEngine, toAlertMessage } from './alerts/engine.js';
import { type AlertNotifier, createAlertNotifier } from './alerts/notifier.js';
import type { Alert } from './alerts/rules.js';
import { type AlertStore, createAlertStore } from './alerts/store.js';
import { ApiKeyStore, type Role } from './auth/keys.js';
import { type Bus, createMemoryBus, createRedisBus } from './bus/bus.js';
import type { Config } from './config.js';
import { type Database, openDatabase } from './db.js';
import { apiError, badInput } from './errors.js';
import { Ingestion } from './events/ingest.js';
import { type Lease, localLease, StreamProcessor } from './events/processor.js';
import { EventStore } from './events/store.js';
import { isUuid } from './ids.js';
import { DashboardFeed } from './live/dashboard.js';
import { MetricFeed } from './live/metric-feed.js';
import type { Logger } from './observability/logger.js';

export interface Services {
  config: Config;
  logger: Logger;
  db: Database;
  bus: Bus;
  redis: Redis | null;
  events: EventStore;
  ingestion: Ingestion;
  aggregates: AggregateStore;
  processor: StreamProcessor;
  apiKeys: ApiKeyService;
  metricFeed: MetricFeed;
  dashboard: DashboardFeed;
  alerts: AlertServices;
  /** Starts the background work: the stream processor and the live feeds. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface AlertServices {
  store: AlertStore;
  notifier: AlertNotifier;
  engine: AlertEngine;
  /** Tells every instance's engine to reload rules; publishes the alert a deleted rule resolved. */
  rulesChanged(ruleId: string, resolved?: Alert | null): Promise<void>;
}

export class ApiKeyService {
  constructor(
    readonly store: ApiKeyStore,
    private readonly bus: Bus,
  ) {}

  async createKey(name: string, role: Role) {
    const trimmed = name.trim();
    if (trimmed.length === 0 || trimmed.length > 200) throw badInput('name must be 1 to 200 characters');
    return this.store.create(trimmed, role);
  }

  async revokeKey(id: string): Promise<boolean> {
    const known = isUuid(id) && (await this.store.revoke(id));
    if (!known) throw apiError('NOT_FOUND', `no active API key has id "${id.slice(0, 64)}"`);
    await this.bus.publish('apiKeys:revoked', { id }).catch(() => {});
    return true;
  }
}

export function redisLease(redis: Redis, keyPrefix: string, ttlMs: number): Lease {
  const token = randomUUID();
  let held = false;
  return {
    token,
    async hold() {
      held = held
        ? await renewLease(redis, keyPrefix, token, ttlMs)
        : await acquireLease(redis, keyPrefix, token, ttlMs);
      return held;
    },
    async release() {
      if (held) await releaseLease(redis, keyPrefix, token);
      held = false;
    },
  };
}

export async function createServices(config: Config, logger: Logger): Promise<Services> {
  const db = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
  const redis = config.REDIS_URL ? new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1 }) : null;
  redis?.on('error', (err) => logger.debug({ err }, 'redis connection error'));
  const bus = config.REDIS_URL
    ? createRedisBus({ url: config.REDIS_URL, keyPrefix: config.REDIS_KEY_PREFIX })
    : createMemoryBus();
  const aggregates: AggregateStore = redis
    ? new RedisAggregateStore({ redis, keyPrefix: config.REDIS_KEY_PREFIX })
    : new MemoryAggregateStore();
  const events = new EventStore(db.prisma);
  const processor = new StreamProcessor({
    events,
    aggregates,
    bus,
    lease: redis ? redisLease(redis, config.REDIS_KEY_PREFIX, config.PROCESSOR_LEASE_MS) : localLease,
    logger,
    batchSize: config.PROCESSOR_BATCH_SIZE,
    pollMs: config.PROCESSOR_POLL_MS,
    leaseRenewMs: Math.floor(config.PROCESSOR_LEASE_MS / 3),
  });
  const ingestion = new Ingestion({
    store: events,
    bus,
    logger,
    limits: {
      maxBatchSize: config.MAX_BATCH_SIZE,
      maxFutureSkewMs: config.MAX_FUTURE_SKEW_MS,
      maxEventBytes: config.MAX_EVENT_BYTES,
      maxDepth: config.MAX_EVENT_DEPTH,
    },
    maxQueued: config.INGEST_QUEUE_SIZE,
    nudgeLocal: () => processor.nudge(),
  });
  const apiKeys = new ApiKeyService(new ApiKeyStore(db.prisma), bus);
  const metricFeed = new MetricFeed({
    aggregates,
    bus,
    logger,
    minIntervalMs: config.METRIC_UPDATE_MIN_INTERVAL_MS,
    slideRefreshMs: config.METRIC_SLIDE_REFRESH_MS,
  });
  const dashboard = new DashboardFeed({
    aggregates,
    countFiringAlerts: () => db.prisma.alert.count({ where: { status: { not: 'RESOLVED' } } }),
    intervalMs: config.DASHBOARD_INTERVAL_MS,
    logger,
  });
  const alertStore = createAlertStore(db.prisma, { maxPageSize: config.MAX_PAGE_SIZE });
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
  if (!config.WEBHOOK_SECRET) logger.warn('WEBHOOK_SECRET is not set: webhook signatures use an empty key');
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
  // Not awaited: evaluations queue up inside the engine, and the processor goes on with the next batch meanwhile.
  processor.hooks.onMetricsChanged = (metrics) => {
    engine.evaluate(metrics).catch((error) => logger.warn({ err: error }, 'alert evaluation failed'));
  };
  const alerts: AlertServices = {
    store: alertStore,
    notifier,
    engine,
    async rulesChanged(ruleId, resolved) {
      await bus.publish('alertRules:changed', { id: ruleId }).catch(() => {});
      if (resolved) await bus.publish('alerts:resolved', toAlertMessage(resolved)).catch(() => {});
    },
  };
  return {
    config,
    logger,
    db,
    bus,
    redis,
    events,
    ingestion,
    aggregates,
    processor,
    apiKeys,
    metricFeed,
    dashboard,
    alerts,
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
