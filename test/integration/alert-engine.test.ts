// The AlertEngine (src/alerts/engine.ts) on its own, not through the HTTP server: rules and alerts in a real Postgres
// database, firings recorded through the real ingestion into the event log, webhooks sent by the real notifier to a
// local receiver, aggregates in the in-process store fed samples directly, and the in-process bus. Time is the
// engine's `now` option (and the store's clock), so pending and resolving take no waiting.

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { LabelledReads } from '../../src/aggregation/labelled-reads.js';
import { MemoryAggregateStore } from '../../src/aggregation/memory-store.js';
import type { AggregateStore, BucketQuery } from '../../src/aggregation/types.js';
import { AlertEngine } from '../../src/alerts/engine.js';
import { createAlertNotifier } from '../../src/alerts/notifier.js';
import type { AlertRule, AlertRuleInput } from '../../src/alerts/rules.js';
import { type AlertStore, createAlertStore } from '../../src/alerts/store.js';
import { createMemoryBus } from '../../src/bus/bus.js';
import { configWith } from '../../src/config.js';
import { type Database, openDatabase } from '../../src/db.js';
import { Ingestion } from '../../src/events/ingest.js';
import { eventLimitsOf } from '../../src/events/model.js';
import { EventStore } from '../../src/events/store.js';
import { createLogger } from '../../src/observability/logger.js';
import { observeBus } from '../helpers/observed-bus.js';
import { type Cleanups, startReceiver } from '../helpers/receivers.js';
import { createTestDatabase, type TestDatabase } from '../helpers/services.js';
import { deferred, Recording } from '../helpers/waits.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const logger = createLogger('silent');

let database: TestDatabase;
let db: Database;
let store: AlertStore;
let events: EventStore;
const cleanups: Cleanups = [];

beforeAll(async () => {
  database = await createTestDatabase();
  db = await openDatabase({ url: database.url, dataDir: '' });
  store = createAlertStore(db.prisma, { webhooks: { secretSet: true, allowPrivateTargets: true } });
  events = new EventStore(db);
});

beforeEach(async () => {
  // A starting engine reads every open alert and every rule: each test starts from none.
  await db.prisma.$executeRawUnsafe(
    'TRUNCATE "NotificationDelivery", "AlertDelivery", "Alert", "AlertRule", "EventOutbox", "Event", "EventId"',
  );
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await db?.close();
  await database?.drop();
});

interface EngineOptions {
  isLeader?: () => boolean;
  /** Wraps the in-process aggregate store, e.g. to watch or slow its reads. */
  aggregates?: (real: AggregateStore) => AggregateStore;
  /** MAX_ALERT_LABEL_SETS_PER_RULE */
  maxLabelSetsPerRule?: number;
  /** ALERT_WINDOW_REFRESH_MS (an hour by default: evaluations happen when a test asks for them) */
  windowRefreshMs?: number;
}

/** An engine with everything it needs, each part closed after the test. */
async function startEngine(options: EngineOptions = {}) {
  let clock = Date.now();
  const memory = new MemoryAggregateStore({ clock: () => clock });
  const observed = observeBus(createMemoryBus());
  const config = configWith({});
  const ingestion = new Ingestion({
    store: events,
    bus: observed.bus,
    logger,
    limits: eventLimitsOf(config),
    maxQueued: config.INGEST_QUEUE_SIZE,
    nudgeLocal: () => {},
    series: {
      registry: memory,
      limits: { maxNewPerMinute: config.MAX_NEW_SERIES_PER_MINUTE, maxSeries: config.MAX_SERIES },
    },
  });
  const notifier = createAlertNotifier({
    prisma: db.prisma,
    logger,
    isLeader: options.isLeader ?? (() => true),
    webhookSecrets: { current: 'test-webhook-secret' },
    allowPrivateTargets: true,
    timeoutMs: 2_000,
    attempts: 1,
    backoffMs: 10,
    pollMs: 50,
  });
  notifier.start();
  const receiver = await startReceiver(cleanups, () => 200);
  const aggregates = options.aggregates ? options.aggregates(memory) : memory;
  const engine = new AlertEngine({
    store,
    aggregates,
    bus: observed.bus,
    ingestion,
    notifier,
    logger,
    isLeader: options.isLeader ?? (() => true),
    intervalMs: HOUR, // evaluations happen when a test asks for them
    windowRefreshMs: options.windowRefreshMs ?? HOUR,
    now: () => clock,
    labelSets: { reads: new LabelledReads(aggregates, 2_000), maxPerRule: options.maxLabelSetsPerRule ?? 100 },
  });
  cleanups.push(
    () => observed.bus.close(),
    () => notifier.stop(),
    () => engine.stop(),
  );
  let seq = 0;
  return {
    engine,
    observed,
    receiver,
    /** Resolves once the queue is empty: every notification sent or given up on. */
    settled: () => expect.poll(() => db.prisma.notificationDelivery.count(), { timeout: 25_000 }).toBe(0),
    /** Adds samples of `metric` at the current time, as the stream processor would. */
    async feed(metric: string, ...values: number[]) {
      seq += 1;
      await memory.apply(
        { seqs: [String(seq)], ids: [`event-${seq}`] },
        values.map((value) => ({ metric, value, timestamp: clock })),
      );
    },
    /** Adds a sample of `metric` from an event labelled `competitor`: to its total and to its labelled series. */
    async feedCompetitor(metric: string, competitor: string, value: number) {
      seq += 1;
      await memory.apply({ seqs: [String(seq)], ids: [`event-${seq}`] }, [
        { metric, value, timestamp: clock },
        { metric: `${metric}{competitor=${competitor}}`, value, timestamp: clock },
      ]);
    },
    advance(ms: number) {
      clock += ms;
    },
    triggered: () => observed.publishedOn('alerts:triggered'),
    resolved: () => observed.publishedOn('alerts:resolved'),
    /** A rule over `metric` (AVG over M1 > 500 unless overridden), notifying the local receiver. */
    rule(metric: string, input: Partial<AlertRuleInput> = {}): Promise<AlertRule> {
      return store.createRule({
        name: `avg ${metric} too high`,
        severity: 'LOW',
        conditions: [{ metric, window: 'M1', aggregation: 'AVG', operator: 'GT', threshold: 500 }],
        webhookUrls: [receiver.url],
        ...input,
      });
    },
  };
}

/** An engine (started, when asked, before anything else) whose default rule over `metric` has just fired. */
async function firingRule(metric: string, { started = false } = {}) {
  const setup = await startEngine();
  if (started) await setup.engine.start();
  const rule = await setup.rule(metric);
  await setup.feed(metric, 900);
  await setup.engine.evaluate([metric]);
  const [fired] = await alertsOf(rule.id);
  return { setup, rule, fired };
}

async function alertsOf(ruleId: string) {
  return db.prisma.alert.findMany({ where: { ruleId }, orderBy: { seq: 'asc' } });
}

/** Waits until the engine's listener has seen a rule change: ours subscribed after it, and the bus keeps order. */
async function announceRuleChange(setup: Awaited<ReturnType<typeof startEngine>>, id: string) {
  const seen = new Recording<{ id: string }>();
  await setup.observed.bus.subscribe('alertRules:changed', seen.push);
  await setup.observed.bus.publish('alertRules:changed', { id });
  await seen.atLeast(1);
}

describe('alert engine', () => {
  it('should fire once when a rule holds: one stored alert, one broadcast, one webhook, one history event', async () => {
    const setup = await startEngine();
    const rule = await setup.rule('latency_ms');
    await setup.feed('latency_ms', 700, 900);
    await setup.engine.evaluate(['latency_ms']);

    const [alert, ...others] = await alertsOf(rule.id);
    expect(others).toEqual([]);
    expect(alert).toMatchObject({ status: 'FIRING', ruleName: rule.name, values: { 'avg(latency_ms)[M1]': 800 } });
    expect(setup.triggered().map((m) => [m.id, m.ruleId, m.status])).toEqual([[alert?.id, rule.id, 'FIRING']]);
    await setup.settled();
    expect(setup.receiver.requests.map((r) => JSON.parse(r.body).alert.id)).toEqual([alert?.id]);
    const recorded = await events.findByIds([alert?.id ?? '']);
    expect(recorded.map((e) => [e.type, e.data.ruleId])).toEqual([['ALERT_TRIGGERED', rule.id]]);

    // Still holding: evaluations go on, the alert is not fired again.
    await setup.feed('latency_ms', 1_000);
    await setup.engine.evaluate(['latency_ms']);
    await setup.engine.evaluate(null);
    await setup.settled();
    expect(await alertsOf(rule.id)).toHaveLength(1);
    expect(setup.triggered()).toHaveLength(1);
    expect(setup.receiver.requests).toHaveLength(1);
  });

  it('should not evaluate rules over other metrics than the ones that changed', async () => {
    const setup = await startEngine();
    const rule = await setup.rule('latency_ms');
    await setup.feed('latency_ms', 900);
    await setup.engine.evaluate(['other_metric']);
    expect(await alertsOf(rule.id)).toEqual([]);
    await setup.engine.evaluate(['other_metric', 'latency_ms']);
    expect(await alertsOf(rule.id)).toHaveLength(1);
  });

  it('should wait forSeconds of holding before firing, and start over when the rule stops holding', async () => {
    const setup = await startEngine();
    const rule = await setup.rule('queue_depth', {
      conditions: [{ metric: 'queue_depth', window: 'M5', aggregation: 'AVG', operator: 'GT', threshold: 500 }],
      forSeconds: 60,
    });
    await setup.feed('queue_depth', 800);
    await setup.engine.evaluate(['queue_depth']); // t = 0 s: pending
    setup.advance(30 * SECOND);
    await setup.feed('queue_depth', 0, 0); // average 266: no longer holds
    await setup.engine.evaluate(['queue_depth']);
    setup.advance(10 * SECOND);
    await setup.feed('queue_depth', 3_000); // average 950: holds again, pending from t = 40 s
    await setup.engine.evaluate(['queue_depth']);
    setup.advance(59 * SECOND); // t = 99 s: held for 59 s
    await setup.engine.evaluate(['queue_depth']);
    expect(await alertsOf(rule.id)).toEqual([]);
    expect(setup.triggered()).toEqual([]);

    setup.advance(1 * SECOND); // t = 100 s: held for 60 s
    await setup.engine.evaluate(['queue_depth']);
    expect(await alertsOf(rule.id)).toHaveLength(1);
    expect(setup.triggered()).toHaveLength(1);
  });

  it('should resolve when the rule no longer holds, once, and fire a new alert when it holds again', async () => {
    const { setup, rule, fired } = await firingRule('latency_ms');

    setup.advance(2 * MINUTE); // the samples have left the 1-minute window
    await setup.engine.evaluate(null);
    const [resolved] = await alertsOf(rule.id);
    expect(resolved).toMatchObject({ id: fired?.id, status: 'RESOLVED', resolvedAt: expect.any(Date) });
    expect(setup.resolved().map((m) => [m.id, m.status])).toEqual([[fired?.id, 'RESOLVED']]);

    await setup.engine.evaluate(null);
    expect(setup.resolved()).toHaveLength(1);

    await setup.feed('latency_ms', 900);
    await setup.engine.evaluate(['latency_ms']);
    const alerts = await alertsOf(rule.id);
    expect(alerts.map((a) => a.status)).toEqual(['RESOLVED', 'FIRING']);
    expect(setup.triggered().map((m) => m.id)).toEqual(alerts.map((a) => a.id));
  });

  it('should do nothing while it is not the leader, and fire once it leads', async () => {
    let leader = false;
    const setup = await startEngine({ isLeader: () => leader });
    const rule = await setup.rule('latency_ms');
    await setup.feed('latency_ms', 900);
    await setup.engine.evaluate(['latency_ms']);
    await setup.engine.evaluate(null);
    await setup.settled();
    expect(await alertsOf(rule.id)).toEqual([]);
    expect(setup.observed.published.items).toEqual([]);
    expect(setup.receiver.requests).toEqual([]);
    expect(await events.outboxSize()).toBe(0);

    leader = true;
    await setup.engine.evaluate(['latency_ms']);
    expect(await alertsOf(rule.id)).toHaveLength(1);
    expect(setup.triggered()).toHaveLength(1);
  });

  it('should not fire again when leadership goes away and comes back while the rule keeps firing', async () => {
    let leader = true;
    const setup = await startEngine({ isLeader: () => leader });
    const rule = await setup.rule('latency_ms');
    await setup.feed('latency_ms', 900);
    await setup.engine.evaluate(['latency_ms']);
    leader = false;
    await setup.engine.evaluate(['latency_ms']);
    leader = true;
    await setup.engine.evaluate(['latency_ms']);
    await setup.settled();
    const alerts = await alertsOf(rule.id);
    expect(alerts).toHaveLength(1);
    expect(setup.triggered()).toHaveLength(1);
    expect(setup.receiver.requests).toHaveLength(1);
    // A new leader records the open alert again in case its predecessor died first: still one history event.
    expect(await events.findByIds([alerts[0]?.id ?? ''])).toHaveLength(1);
  });

  it('should resolve, once it leads, an alert a previous leader fired whose rule no longer holds', async () => {
    const previous = await startEngine();
    const rule = await previous.rule('latency_ms');
    await previous.feed('latency_ms', 900);
    await previous.engine.evaluate(['latency_ms']);
    const [fired] = await alertsOf(rule.id);
    // Another instance takes over; in its view the rule does not hold (no samples), so only what is stored tells
    // it that the rule was firing.
    const next = await startEngine();
    await next.engine.evaluate(null);
    expect((await alertsOf(rule.id)).map((a) => [a.id, a.status])).toEqual([[fired?.id, 'RESOLVED']]);
    expect(next.resolved().map((m) => m.id)).toEqual([fired?.id]);
    expect(next.triggered()).toEqual([]);
  });

  it('should resolve the alert of a rule disabled while firing, and not fire it while disabled', async () => {
    const { setup, rule, fired } = await firingRule('latency_ms', { started: true });

    const { id, createdAt, updatedAt, ...definition } = rule;
    await store.updateRule(id, { ...definition, enabled: false });
    await announceRuleChange(setup, id);
    await setup.engine.evaluate(['latency_ms']);
    expect((await alertsOf(rule.id)).map((a) => [a.id, a.status])).toEqual([[fired?.id, 'RESOLVED']]);
    expect(setup.resolved().map((m) => m.id)).toEqual([fired?.id]);

    await setup.feed('latency_ms', 900);
    await setup.engine.evaluate(null);
    expect(await alertsOf(rule.id)).toHaveLength(1);
    expect(setup.triggered()).toHaveLength(1);
    expect(setup.resolved()).toHaveLength(1);
  });

  it('should leave the alert of a rule deleted while firing resolved, once, and evaluate it no more', async () => {
    const setup = await startEngine();
    await setup.engine.start();
    const rule = await setup.rule('latency_ms');
    const other = await setup.rule('error_rate');
    await setup.feed('latency_ms', 900);
    await setup.feed('error_rate', 900);
    await setup.engine.evaluate(null);
    const [fired] = await alertsOf(rule.id);

    // The store resolves the alert with the deletion; the engine must not resolve or announce it a second time.
    const { resolved } = await store.deleteRule(rule.id);
    expect(resolved.map(({ id }) => id)).toEqual([fired?.id]);
    await announceRuleChange(setup, rule.id);
    await setup.feed('latency_ms', 900);
    await setup.engine.evaluate(null);
    expect((await alertsOf(rule.id)).map((a) => [a.id, a.status])).toEqual([[fired?.id, 'RESOLVED']]);
    expect(setup.resolved()).toEqual([]);
    expect(
      setup
        .triggered()
        .map((m) => m.ruleId)
        .sort(),
    ).toEqual([rule.id, other.id].sort());
    expect((await alertsOf(other.id)).map((a) => a.status)).toEqual(['FIRING']);
  });

  it('should resolve and announce an open alert whose rule vanished without the store resolving it', async () => {
    const { setup, rule, fired } = await firingRule('latency_ms', { started: true });
    // Removed behind the store's back (by hand, or by a version that did not resolve on delete).
    await db.prisma.alertRule.delete({ where: { id: rule.id } });
    await announceRuleChange(setup, rule.id);
    await setup.engine.evaluate(null);
    expect((await alertsOf(rule.id)).map((a) => a.status)).toEqual(['RESOLVED']);
    expect(setup.resolved().map((m) => m.id)).toEqual([fired?.id]);
  });

  it('should merge evaluations asked for while one runs into a single next one', async () => {
    const reads: BucketQuery[][] = [];
    let gate: Promise<void> | null = null;
    const entered = new Recording<number>();
    const setup = await startEngine({
      aggregates: (real) => ({
        partitions: real.partitions,
        lastAppliedBatch: (partition) => real.lastAppliedBatch(partition),
        lastAppliedRecord: (partition) => real.lastAppliedRecord(partition),
        hasState: (partition) => real.hasState(partition),
        applyCost: () => real.applyCost(),
        apply: (applied, samples, fence, partition, previous) =>
          real.apply(applied, samples, fence, partition, previous),
        rebuild: (samples, fence, partition) => real.rebuild(samples, fence, partition),
        metricNames: (at) => real.metricNames(at),
        labelSets: (metric, at) => real.labelSets(metric, at),
        readPoints: (query, at) => real.readPoints(query, at),
        read: (queries, at) => real.read(queries, at),
        close: () => real.close(),
        async readBuckets(buckets) {
          reads.push([...buckets]);
          entered.push(reads.length);
          if (gate) await gate;
          return real.readBuckets(buckets);
        },
      }),
    });
    await setup.rule('m1');
    await setup.rule('m2');
    await setup.rule('m3');
    const metricsRead = (index: number) => [...new Set(reads[index]?.flatMap((q) => q.series))].sort();

    const slow = deferred();
    gate = slow.promise;
    const running = setup.engine.evaluate(['m1']);
    await entered.atLeast(1);
    const asked: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) asked.push(setup.engine.evaluate(['m2']), setup.engine.evaluate(['m3']));
    gate = null;
    slow.resolve();
    await Promise.all([running, ...asked]);
    expect(reads).toHaveLength(2);
    expect(metricsRead(0)).toEqual(['m1']);
    expect(metricsRead(1)).toEqual(['m2', 'm3']);

    // A request for every rule absorbs the narrower ones.
    const slowAgain = deferred();
    gate = slowAgain.promise;
    const again = setup.engine.evaluate(['m1']);
    await entered.atLeast(3);
    const more = [setup.engine.evaluate(['m2']), setup.engine.evaluate(null), setup.engine.evaluate(['m3'])];
    gate = null;
    slowAgain.resolve();
    await Promise.all([again, ...more]);
    expect(reads).toHaveLength(4);
    // m1's buckets, read by the third and not written since, are not read again.
    expect(metricsRead(3)).toEqual(['m2', 'm3']);
  });

  it('should see a write whose change notice was lost within ALERT_WINDOW_REFRESH_MS, and no sooner', async () => {
    const setup = await startEngine({ windowRefreshMs: 500 });
    const rule = await setup.rule('lost_notice');
    await setup.feed('lost_notice', 100);
    await setup.engine.evaluate(['lost_notice']); // its windows cached: below the threshold
    // Written, but the notice never comes (a bus subscriber reconnecting, a publish failing after the apply).
    await setup.feed('lost_notice', 2_000, 2_000);
    // An evaluation of every rule (the interval's) still answers from the cache.
    await setup.engine.evaluate(null);
    expect(await alertsOf(rule.id)).toEqual([]);
    await setup.engine.start();
    await vi.waitFor(async () => expect(await alertsOf(rule.id)).toHaveLength(1), { timeout: 15_000, interval: 100 });
    expect((await alertsOf(rule.id))[0]).toMatchObject({ values: { 'avg(lost_notice)[M1]': 4_100 / 3 } });
  });
});

describe('alert engine per label set', () => {
  /** The competitor of each of the rule's alerts, with its status, oldest first. */
  const competitorsOf = async (ruleId: string) =>
    (await alertsOf(ruleId)).map((alert) => `${alert.labels.join(',')} ${alert.status}`);

  it('should track at most MAX_ALERT_LABEL_SETS_PER_RULE label sets, keeping the firing ones', async () => {
    const setup = await startEngine({ maxLabelSetsPerRule: 2 });
    const rule = await setup.rule('parity', { groupBy: ['competitor'] });
    await setup.feedCompetitor('parity', 'b', 900);
    await setup.feedCompetitor('parity', 'c', 900);
    await setup.engine.evaluate(null);
    expect(await competitorsOf(rule.id)).toEqual(['competitor=b FIRING', 'competitor=c FIRING']);

    // A third competitor, first in key order, is left out while the two it tracks are firing.
    await setup.feedCompetitor('parity', 'a', 900);
    await setup.engine.evaluate(null);
    expect(await competitorsOf(rule.id)).toEqual(['competitor=b FIRING', 'competitor=c FIRING']);

    // Each tracked label set still resolves on its own.
    await setup.feedCompetitor('parity', 'b', -10_000);
    await setup.engine.evaluate(null);
    expect(await competitorsOf(rule.id)).toEqual(['competitor=b RESOLVED', 'competitor=c FIRING']);
    expect(setup.triggered()).toHaveLength(2);
    expect(setup.resolved()).toHaveLength(1);
  });

  it('should resolve a firing label set whose series aged out, and drop it', async () => {
    const setup = await startEngine();
    const rule = await setup.rule('parity', { groupBy: ['competitor'] });
    await setup.feedCompetitor('parity', 'acme', 900);
    await setup.engine.evaluate(null);
    expect(await competitorsOf(rule.id)).toEqual(['competitor=acme FIRING']);
    setup.advance(25 * HOUR); // past the 24 h in which a label set is listed
    await setup.feedCompetitor('parity', 'globex', 900);
    await setup.engine.evaluate(null);
    expect(await competitorsOf(rule.id)).toEqual(['competitor=acme RESOLVED', 'competitor=globex FIRING']);
    setup.advance(SECOND);
    await setup.engine.evaluate(null);
    expect(setup.resolved()).toHaveLength(1);
  });

  it('should resolve the label sets of a rule changed to one alert for the rule, which then fires on its own', async () => {
    const setup = await startEngine();
    await setup.engine.start(); // it listens for rule changes
    const rule = await setup.rule('parity', { groupBy: ['competitor'] });
    await setup.feedCompetitor('parity', 'acme', 900);
    await setup.engine.evaluate(null);
    await store.updateRule(rule.id, {
      name: rule.name,
      severity: rule.severity,
      conditions: rule.conditions,
      webhookUrls: rule.webhookUrls,
    });
    await announceRuleChange(setup, rule.id);
    await setup.engine.evaluate(null);
    expect(await competitorsOf(rule.id)).toEqual(['competitor=acme RESOLVED', ' FIRING']);
  });
});
