// Builds and owns every I/O dependency of an app instance. Closing it releases all of them, in reverse order.
import { Redis } from 'ioredis';
import { MemoryAggregateStore } from './aggregation/memory-store.js';
import { RedisAggregateStore, acquireLease, releaseLease, renewLease } from './aggregation/redis-store.js';
import type { AggregateStore } from './aggregation/types.js';
import { ApiKeyStore, type Role } from './auth/keys.js';
import { type Bus, createMemoryBus, createRedisBus } from './bus/bus.js';
import type { Config } from './config.js';
import { type Database, openDatabase } from './db.js';
import { apiError, badInput } from './errors.js';
import { Ingestion } from './events/ingest.js';
import { type Lease, StreamProcessor, localLease } from './events/processor.js';
import { EventStore } from './events/store.js';
import type { Logger } from './observability/logger.js';
import { randomUUID } from 'node:crypto';

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
  close(): Promise<void>;
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
    const known = /^[0-9a-f-]{36}$/i.test(id) && (await this.store.revoke(id));
    if (!known) throw apiError('NOT_FOUND', `no active API key has id "${id.slice(0, 64)}"`);
    await this.bus.publish('apiKeys:revoked', { id }).catch(() => {});
    return true;
  }
}

function redisLease(redis: Redis, keyPrefix: string, ttlMs: number): Lease {
  const token = randomUUID();
  let held = false;
  return {
    token,
    async hold() {
      held = held ? await renewLease(redis, keyPrefix, token, ttlMs) : await acquireLease(redis, keyPrefix, token, ttlMs);
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
  const bus = config.REDIS_URL ? createRedisBus({ url: config.REDIS_URL, keyPrefix: config.REDIS_KEY_PREFIX }) : createMemoryBus();
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
  });
  const ingestion = new Ingestion({
    store: events,
    bus,
    logger,
    limits: {
      maxBatchSize: config.MAX_BATCH_SIZE,
      maxFutureSkewMs: config.MAX_FUTURE_SKEW_MS,
      maxEventBytes: config.MAX_EVENT_BYTES,
    },
    nudgeLocal: () => processor.nudge(),
  });
  const apiKeys = new ApiKeyService(new ApiKeyStore(db.prisma), bus);
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
    async close() {
      await processor.stop();
      await bus.close();
      await aggregates.close();
      if (redis) await redis.quit().catch(() => redis.disconnect());
      await db.close();
    },
  };
}
