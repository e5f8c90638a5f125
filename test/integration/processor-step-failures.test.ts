// The stream processor when one step of a pass fails, deterministically: the real Postgres event store, the real
// Redis aggregate store and the in-process bus, each behind a thin wrapper that fails one chosen call once, either
// before the call took effect or right after it did (the process died before it could go on). After a retry,
// every event must be counted exactly once, the outbox must be empty, and every event must have been broadcast.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisAggregateStore } from '../../src/aggregation/redis-store.js';
import { type AggregateStore, WINDOW_SIZES } from '../../src/aggregation/types.js';
import { WindowCache } from '../../src/aggregation/window-cache.js';
import { type Bus, createMemoryBus } from '../../src/bus/bus.js';
import type { Topic, Topics } from '../../src/bus/topics.js';
import { type Database, openDatabase } from '../../src/db.js';
import { BroadcastLog } from '../../src/events/broadcast-log.js';
import type { NewEvent } from '../../src/events/model.js';
import { localPartitionLeases } from '../../src/events/partition-leases.js';
import { StreamProcessor } from '../../src/events/processor.js';
import { type AppliedRecord, EventStore } from '../../src/events/store.js';
import { localLease } from '../../src/lease.js';
import { createLogger } from '../../src/observability/logger.js';
import {
  createTestDatabase,
  deleteRedisKeys,
  REDIS_URL,
  redisKeyPrefix,
  type TestDatabase,
} from '../helpers/services.js';
import { Recording } from '../helpers/waits.js';

const EVENTS = 250;
const BATCH_SIZE = 100; // three batches: 100, 100, 50
const BROADCAST_CHUNK = 40; // three bus messages for each full batch
const logger = createLogger('silent');

let database: TestDatabase;
let db: Database;
let redis: Redis;
const prefix = redisKeyPrefix();
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  db = await openDatabase({ url: database.url, dataDir: '' });
  redis = new Redis(REDIS_URL);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await deleteRedisKeys(prefix);
  await redis?.quit();
  await db?.close();
  await database?.drop();
});

class InjectedCrash extends Error {
  override name = 'InjectedCrash';
}

/** Fail the `call`-th call (counting from 1) once: before it reaches the real store, or after it took effect. */
interface Fault {
  call: number;
  when: 'before' | 'after';
}

/** Runs real calls, counting them, and fails the one `fault` names. */
function injector(what: string, fault: Fault | null) {
  let calls = 0;
  const state = { failed: false };
  const run = async <T>(real: () => Promise<T>): Promise<T> => {
    calls += 1;
    const failing = fault !== null && calls === fault.call;
    if (failing && fault.when === 'before') {
      state.failed = true;
      throw new InjectedCrash(`${what} #${calls} failed before it took effect`);
    }
    const result = await real();
    if (failing && fault.when === 'after') {
      state.failed = true;
      throw new InjectedCrash(`${what} #${calls} took effect, then the process died`);
    }
    return result;
  };
  return { run, state };
}

/** The real Postgres event store; its n-th non-empty outbox delete fails. */
class FaultyEventStore extends EventStore {
  constructor(
    database: Database,
    private readonly deletes: ReturnType<typeof injector>,
  ) {
    super(database);
  }

  override deleteFromOutbox(seqs: readonly string[], applied?: AppliedRecord): Promise<void> {
    if (seqs.length === 0) return super.deleteFromOutbox(seqs, applied);
    return this.deletes.run(() => super.deleteFromOutbox(seqs, applied));
  }
}

/** The real Redis aggregate store; its n-th apply fails. */
function faultyAggregates(real: AggregateStore, applies: ReturnType<typeof injector>): AggregateStore {
  return {
    partitions: real.partitions,
    lastAppliedBatch: (partition) => real.lastAppliedBatch(partition),
    lastAppliedRecord: (partition) => real.lastAppliedRecord(partition),
    hasState: (partition) => real.hasState(partition),
    applyCost: () => real.applyCost(),
    apply: (applied, samples, fence, partition, previous) =>
      applies.run(() => real.apply(applied, samples, fence, partition, previous)),
    rebuild: (samples, fence, partition) => real.rebuild(samples, fence, partition),
    read: (queries, at) => real.read(queries, at),
    readBuckets: (buckets) => real.readBuckets(buckets),
    metricNames: (at) => real.metricNames(at),
    labelSets: (metric, at) => real.labelSets(metric, at),
    readPoints: (query, at) => real.readPoints(query, at),
    close: () => real.close(),
  };
}

/** The real in-process bus; its n-th publish on `topic` fails. */
function faultyBus(real: Bus, topic: Topic, publishes: ReturnType<typeof injector>): Bus {
  return {
    publish: (to, payload) =>
      to === topic ? publishes.run(() => real.publish(to, payload)) : real.publish(to, payload),
    subscribe: (to, listener) => real.subscribe(to, listener),
    ping: () => real.ping(),
    close: () => real.close(),
  };
}

type Step = 'broadcast' | 'apply' | 'delete' | 'metrics:changed';

/** Where the fault is: the wrapped call, and which of its calls fails. */
interface Scenario {
  name: string;
  step: Step;
  fault: Fault;
}

const scenarios: Scenario[] = [
  // Batch 2 is broadcast in three chunks (publishes 4, 5, 6): the second of them fails, the others go out.
  { name: 'during the broadcast (a bus publish fails)', step: 'broadcast', fault: { call: 5, when: 'before' } },
  { name: 'after the broadcast (the aggregate apply fails)', step: 'apply', fault: { call: 2, when: 'before' } },
  {
    name: 'after the aggregate apply took effect but its reply was lost',
    step: 'apply',
    fault: { call: 2, when: 'after' },
  },
  { name: 'after the apply (the outbox delete fails)', step: 'delete', fault: { call: 2, when: 'before' } },
  // Would lose batch 2 if the outbox were cleared before the batch was applied.
  { name: 'right after the outbox delete took effect', step: 'delete', fault: { call: 2, when: 'after' } },
  {
    name: 'after the batch was applied and cleared (the metrics:changed publish fails)',
    step: 'metrics:changed',
    fault: { call: 2, when: 'before' },
  },
];

const eventsOf = (metric: string): NewEvent[] =>
  Array.from({ length: EVENTS }, (_, i) => {
    const data = { metric_name: metric, value: i };
    return {
      id: randomUUID(),
      type: 'PERFORMANCE_METRIC',
      timestamp: new Date(),
      data,
      dataJson: JSON.stringify(data),
    };
  });

/** Everything one scenario runs on: real stores and bus, with the scenario's fault in one of them. */
function pipeline(scenario: Scenario, keyPrefix: string) {
  const pick = (step: Step) => injector(step, scenario.step === step ? scenario.fault : null);
  const broadcasts = pick('broadcast');
  const changes = pick('metrics:changed');
  const applies = pick('apply');
  const deletes = pick('delete');
  const realBus = createMemoryBus();
  cleanups.push(() => realBus.close());
  const realAggregates = new RedisAggregateStore({ redis, keyPrefix });
  const bus = faultyBus(faultyBus(realBus, 'events:published', broadcasts), 'metrics:changed', changes);
  const events = new FaultyEventStore(db, deletes);
  const aggregates = faultyAggregates(realAggregates, applies);
  // The alert engine's window cache, told through the processor's hooks and read after each as the engine reads it.
  const cache = new WindowCache(realAggregates);
  let reads = Promise.resolve();
  const readAfterEachChange = (metrics: readonly string[]) => {
    const windows = metrics.flatMap((metric) => WINDOW_SIZES.map((window) => ({ metric, window })));
    reads = reads.then(async () => {
      await cache.read(windows, Date.now());
    });
  };
  const processor = () =>
    new StreamProcessor({
      events,
      broadcasts: new BroadcastLog(db.sql),
      aggregates,
      bus,
      leases: localPartitionLeases(aggregates.partitions),
      alertLease: localLease,
      logger,
      batchSize: BATCH_SIZE,
      maxFieldsPerApply: 8_000,
      broadcastChunk: BROADCAST_CHUNK,
      pollMs: 20,
      leaseRenewMs: 1_000,
      hooks: {
        onMetricsChanged: (metrics, since) => {
          for (const metric of metrics) cache.invalidate(metric, since.get(metric));
          readAfterEachChange(metrics);
        },
        onAggregatesReplaced: () => cache.clear(),
      },
    });
  const failed = () => [broadcasts, changes, applies, deletes].some((i) => i.state.failed);
  return { realBus, realAggregates, events, processor, failed, cache, reads: () => reads };
}

describe.each([
  ['the same processor retries', false],
  ['a restarted processor retries', true],
] as const)('stream processor step failures: %s', (_name, restart) => {
  let run = 0;

  for (const scenario of scenarios) {
    it(`should count every event once and lose none when it fails ${scenario.name}`, async () => {
      run += 1;
      const metric = `step_failure_${restart ? 'restart' : 'same'}_${run}`;
      const { realBus, realAggregates, events, processor, failed, cache, reads } = pipeline(
        scenario,
        `${prefix}${metric}:`,
      );
      const windows = WINDOW_SIZES.map((window) => ({ metric, window }));
      const broadcast = new Recording<Topics['events:published']>();
      await realBus.subscribe('events:published', broadcast.push);
      const input = eventsOf(metric);
      expect(await events.insertBatch(input, new Date())).toBe(EVENTS);

      const first = processor();
      await expect(first.drain()).rejects.toBeInstanceOf(InjectedCrash);
      expect(failed()).toBe(true);
      // What the failed pass left: at least the third batch is still queued.
      expect(await events.outboxSize()).toBeGreaterThanOrEqual(EVENTS - 2 * BATCH_SIZE);
      await cache.read(windows, Date.now()); // what the failed pass left, cached
      await reads();

      await (restart ? processor() : first).drain();
      // Told of every write since, whatever failed, the cache reads again what changed.
      await reads();
      const at = Date.now();
      expect(await cache.read(windows, at)).toEqual(await realAggregates.read(windows, at));

      expect(await events.outboxSize()).toBe(0);
      const [aggregate] = await realAggregates.read([{ metric, window: 'M5' }], Date.now());
      expect(aggregate?.count).toBe(EVENTS);
      expect(aggregate?.sum).toBe((EVENTS * (EVENTS - 1)) / 2);
      // Broadcast at least once each: a subscriber may see a batch again after a failure, never miss one.
      const wanted = new Set(input.map((e) => e.id));
      const seen = (messages: readonly Topics['events:published'][]) =>
        new Set(messages.flatMap((m) => m.events.map((e) => e.id)).filter((id) => wanted.has(id)));
      await broadcast.until((messages) => seen(messages).size === EVENTS);
    });
  }
});
