import { PrismaPg } from '@prisma/adapter-pg';
import { afterAll, assert, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LabelledReads } from '../../src/aggregation/labelled-reads.js';
import { MemoryAggregateStore } from '../../src/aggregation/memory-store.js';
import { Backtester } from '../../src/alerts/backtester.js';
import type { Alert, AlertRule, AlertRuleInput } from '../../src/alerts/rules.js';
import { AlertService } from '../../src/alerts/service.js';
import { type AlertStore, createAlertStore } from '../../src/alerts/store.js';
import { createMemoryBus } from '../../src/bus/bus.js';
import { DomainError, type ErrorCode } from '../../src/errors.js';
import { PrismaClient } from '../../src/generated/prisma/client.js';
import { createTestDatabase, type TestDatabase } from '../helpers/services.js';

const input: AlertRuleInput = {
  name: 'Slow API',
  severity: 'HIGH',
  conditions: [{ metric: 'api_response_time', operator: 'GT', threshold: 500 }],
  webhookUrls: ['https://hooks.example.com/jackdaw'],
  emails: ['ops@example.com'],
};
const values = { 'avg(api_response_time)[M5]': 812.5 };
const MISSING_ID = '00000000-0000-4000-8000-000000000000';

let db: TestDatabase;
let prisma: PrismaClient;
/** A second client stands in for a second server instance: its own pool, its own connections. */
let otherPrisma: PrismaClient;
let store: AlertStore;
let otherStore: AlertStore;
/** Pages are the service's: it applies the one page-size rule and makes the cursors. */
let alerts: AlertService;

beforeAll(async () => {
  db = await createTestDatabase();
  prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
  otherPrisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
  const webhooks = { secretSet: true, allowPrivateTargets: false };
  store = createAlertStore(prisma, { maxReplay: 100, webhooks });
  otherStore = createAlertStore(otherPrisma, { webhooks });
  alerts = new AlertService({
    store,
    bus: createMemoryBus(),
    pages: { defaultSize: 50, maxSize: 100 },
    subscriptionBuffer: 100,
    backtester: new Backtester({
      sql: { query: () => Promise.reject(new Error('not used')) },
      maxRows: 1,
      maxConcurrent: 1,
      maxLabelSets: 1,
    }),
    labelSets: { reads: new LabelledReads(new MemoryAggregateStore(), 2_000), maxPerRule: 100 },
  });
});

afterAll(async () => {
  await prisma?.$disconnect();
  await otherPrisma?.$disconnect();
  await db?.drop();
});

beforeEach(async () => {
  await prisma.$executeRawUnsafe('TRUNCATE "NotificationDelivery", "AlertDelivery", "Alert", "AlertRule"');
});

async function expectStoreError(promise: Promise<unknown>, code: ErrorCode, message: RegExp) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  expect(error).toMatchObject({ code, message: expect.stringMatching(message) });
}

async function alertCount(ruleId: string): Promise<number> {
  return prisma.alert.count({ where: { ruleId } });
}

/** Fires `rule`, which has no open alert: the new alert. */
async function fire(rule: AlertRule, message: string): Promise<Alert> {
  const alert = await store.fireAlert(rule, message, values);
  assert.exists(alert, `${rule.name} was already firing`);
  return alert;
}

/** Fires and resolves `times` alerts of `rule`; returns their ids, oldest first. */
async function fireAndResolve(rule: AlertRule, times: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < times; i++) {
    ids.push((await fire(rule, `firing ${i}`)).id);
    await store.resolveAlerts(rule.id);
  }
  return ids;
}

describe('alert rules', () => {
  it('should create a rule with the defaults applied and read it back', async () => {
    const rule = await store.createRule(input);
    expect(rule).toMatchObject({
      name: 'Slow API',
      severity: 'HIGH',
      enabled: true,
      forSeconds: 0,
      conditions: [{ metric: 'api_response_time', window: 'M5', aggregation: 'AVG', operator: 'GT', threshold: 500 }],
      webhookUrls: ['https://hooks.example.com/jackdaw'],
      emails: ['ops@example.com'],
    });
    expect(await store.getRule(rule.id)).toEqual(rule);
    expect(await store.listRules()).toEqual([rule]);
  });

  it('should store nothing and name every problem when the input is invalid', async () => {
    const invalid: AlertRuleInput = {
      ...input,
      name: '',
      conditions: [{ metric: '9lives', operator: 'GT', threshold: 1 }],
    };
    await expectStoreError(
      store.createRule(invalid),
      'BAD_USER_INPUT',
      /^invalid alert rule: name must not be empty; conditions\[0\]\.metric must be/,
    );
    expect(await store.listRules()).toEqual([]);
  });

  it('should replace a rule on update', async () => {
    const rule = await store.createRule(input);
    const updated = await store.updateRule(rule.id, {
      name: 'Very slow API',
      severity: 'CRITICAL',
      conditions: [{ metric: 'api_response_time', aggregation: 'P99', operator: 'GTE', threshold: 2000 }],
      enabled: false,
      forSeconds: 60,
    });
    expect(updated).toMatchObject({
      id: rule.id,
      name: 'Very slow API',
      severity: 'CRITICAL',
      enabled: false,
      forSeconds: 60,
      webhookUrls: [],
      emails: [],
      createdAt: rule.createdAt,
    });
    expect(updated.updatedAt.getTime()).toBeGreaterThan(rule.updatedAt.getTime());
    expect(await store.getRule(rule.id)).toEqual(updated);
  });

  it('should refuse to update a rule that does not exist, or with invalid input', async () => {
    await expectStoreError(store.updateRule(MISSING_ID, input), 'NOT_FOUND', /no alert rule with id/);
    await expectStoreError(store.updateRule('not-a-uuid', input), 'NOT_FOUND', /no alert rule with id not-a-uuid/);
    const rule = await store.createRule(input);
    await expectStoreError(store.updateRule(rule.id, { ...input, forSeconds: -1 }), 'BAD_USER_INPUT', /forSeconds/);
    expect(await store.getRule(rule.id)).toEqual(rule);
  });

  it('should delete a rule once and resolve its open alert with it', async () => {
    const rule = await store.createRule(input);
    const alert = await fire(rule, 'slow');
    const { deleted, resolved } = await store.deleteRule(rule.id);
    expect(deleted).toBe(true);
    expect(resolved).toMatchObject([{ id: alert.id, status: 'RESOLVED', resolvedAt: expect.any(Date) }]);
    expect(await store.getRule(rule.id)).toBeNull();
    expect(await store.openAlerts()).toEqual([]);
    expect(await store.deleteRule(rule.id)).toEqual({ deleted: false, resolved: [] });
    expect(await store.deleteRule('not-a-uuid')).toEqual({ deleted: false, resolved: [] });
  });

  it('should load rules by ids in order, with null for the unknown ones', async () => {
    const a = await store.createRule({ ...input, name: 'A' });
    const b = await store.createRule({ ...input, name: 'B' });
    expect(await store.getRulesByIds([b.id, MISSING_ID, a.id, 'garbage'])).toEqual([b, null, a, null]);
    expect(await store.getRule('garbage')).toBeNull();
  });
});

describe('firing and resolving', () => {
  it('should store one FIRING alert and treat a second firing as already firing', async () => {
    const rule = await store.createRule(input);
    const alert = await fire(rule, 'avg(api_response_time)[M5] = 812.5 (> 500)');
    expect(alert).toMatchObject({
      ruleId: rule.id,
      ruleName: 'Slow API',
      severity: 'HIGH',
      message: 'avg(api_response_time)[M5] = 812.5 (> 500)',
      values,
      status: 'FIRING',
      triggeredAt: expect.any(Date),
      resolvedAt: null,
      acknowledgedAt: null,
    });
    expect(await store.fireAlert(rule, 'again', values)).toBeNull();
    expect(await alertCount(rule.id)).toBe(1);
  });

  it('should store exactly one alert when two instances fire the same rule at once', async () => {
    const rule = await store.createRule(input);
    const ruleWithWebhook = { ...rule, webhookUrls: ['https://hooks.example.com/jackdaw'] };
    const attempts = Array.from({ length: 10 }, (_, i) =>
      (i % 2 === 0 ? store : otherStore).fireAlert(ruleWithWebhook, `attempt ${i}`, values),
    );
    const fired = (await Promise.all(attempts)).filter((alert) => alert !== null);
    expect(fired).toHaveLength(1);
    expect(await alertCount(rule.id)).toBe(1);
    // Notifications are queued in the alert's transaction: the firings that lost queued nothing.
    const queued = await prisma.notificationDelivery.findMany();
    expect(queued.map(({ alertId, channel, target }) => ({ alertId, channel, target }))).toEqual([
      { alertId: fired[0]?.id, channel: 'WEBHOOK', target: 'https://hooks.example.com/jackdaw' },
    ]);
    expect(JSON.parse(queued[0]?.payload ?? '')).toEqual({
      kind: 'FIRING',
      alert: { ...fired[0], triggeredAt: fired[0]?.triggeredAt.toISOString() },
    });
  });

  it('should resolve the open alert once, then fire a new one', async () => {
    const rule = await store.createRule(input);
    const first = await fire(rule, 'slow');
    const resolved = await store.resolveAlerts(rule.id);
    expect(resolved).toMatchObject({ id: first.id, status: 'RESOLVED', resolvedAt: expect.any(Date) });
    expect(await store.resolveAlerts(rule.id)).toBeNull();

    const second = await fire(rule, 'slow again');
    expect(second).toMatchObject({ status: 'FIRING', message: 'slow again' });
    expect(second.id).not.toBe(first.id);
    expect(await alertCount(rule.id)).toBe(2);
  });

  it('should let only one of two instances resolve the alert', async () => {
    const rule = await store.createRule(input);
    await store.fireAlert(rule, 'slow', values);
    const results = await Promise.all([store.resolveAlerts(rule.id), otherStore.resolveAlerts(rule.id)]);
    expect(results.filter((alert) => alert !== null)).toHaveLength(1);
  });

  it('should resolve nothing for a rule without an open alert', async () => {
    expect(await store.resolveAlerts(MISSING_ID)).toBeNull();
    expect(await store.resolveAlerts('garbage')).toBeNull();
  });

  it('should list the open alerts, acknowledged ones included', async () => {
    const a = await store.createRule({ ...input, name: 'A' });
    const b = await store.createRule({ ...input, name: 'B' });
    const c = await store.createRule({ ...input, name: 'C' });
    const alertA = await fire(a, 'a');
    const alertB = await fire(b, 'b');
    await store.fireAlert(c, 'c', values);
    await store.acknowledgeAlert(alertB.id, { by: 'ops' });
    await store.resolveAlerts(c.id);
    expect((await store.openAlerts()).map((alert) => [alert.id, alert.status])).toEqual([
      [alertA.id, 'FIRING'],
      [alertB.id, 'ACKNOWLEDGED'],
    ]);
  });
});

describe('acknowledging', () => {
  it('should acknowledge a firing alert once and keep it open', async () => {
    const rule = await store.createRule(input);
    const alert = await fire(rule, 'slow');
    const acknowledged = await store.acknowledgeAlert(alert.id, { by: 'ops' });
    expect(acknowledged).toMatchObject({ id: alert.id, status: 'ACKNOWLEDGED', acknowledgedAt: expect.any(Date) });
    expect(await store.acknowledgeAlert(alert.id, { by: 'ops' })).toEqual(acknowledged);
    // Still open: the rule cannot fire a duplicate while its alert is acknowledged.
    expect(await store.fireAlert(rule, 'again', values)).toBeNull();
    expect(await store.resolveAlerts(rule.id)).toMatchObject({
      status: 'RESOLVED',
      acknowledgedAt: acknowledged.acknowledgedAt,
    });
  });

  it('should refuse to acknowledge a resolved alert', async () => {
    const rule = await store.createRule(input);
    const alert = await fire(rule, 'slow');
    await store.resolveAlerts(rule.id);
    await expectStoreError(store.acknowledgeAlert(alert.id, { by: 'ops' }), 'BAD_USER_INPUT', /is resolved/);
  });

  it('should say NOT_FOUND for an unknown or malformed id', async () => {
    await expectStoreError(store.acknowledgeAlert(MISSING_ID, { by: 'ops' }), 'NOT_FOUND', new RegExp(MISSING_ID));
    await expectStoreError(store.acknowledgeAlert('42', { by: 'ops' }), 'NOT_FOUND', /no alert with id 42/);
  });
});

describe('listAlerts (AlertService over the store)', () => {
  it('should page through alerts newest first with opaque cursors', async () => {
    const rule = await store.createRule(input);
    const ids = await fireAndResolve(rule, 5);
    const newestFirst = [...ids].reverse();

    const seen: string[] = [];
    let after: string | null = null;
    const pages: boolean[] = [];
    do {
      const page = await alerts.listAlerts({ first: 2, after });
      seen.push(...page.edges.map((edge) => edge.node.id));
      pages.push(page.pageInfo.hasNextPage);
      expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after);

    expect(seen).toEqual(newestFirst);
    expect(pages).toEqual([true, true, false]);
  });

  it('should use the default page size and refuse an empty page', async () => {
    const rule = await store.createRule(input);
    await fireAndResolve(rule, 3);
    expect((await alerts.listAlerts({})).edges).toHaveLength(3);
    await expectStoreError(alerts.listAlerts({ first: 0 }), 'BAD_USER_INPUT', /first must be a whole number from 1/);
  });

  it('should filter by status, severity and rule', async () => {
    const high = await store.createRule(input);
    const low = await store.createRule({ ...input, name: 'Noise', severity: 'LOW' });
    await fireAndResolve(high, 2);
    const open = await fire(high, 'open');
    const lowAlert = await fire(low, 'noise');

    const ids = async (args: Parameters<AlertService['listAlerts']>[0]) =>
      (await alerts.listAlerts(args)).edges.map((edge) => edge.node.id);
    expect(await ids({ status: ['FIRING'] })).toEqual([lowAlert.id, open.id]);
    expect(await ids({ status: ['FIRING'], severities: ['HIGH', 'CRITICAL'] })).toEqual([open.id]);
    expect(await ids({ ruleId: low.id })).toEqual([lowAlert.id]);
    expect(await ids({ ruleId: high.id, status: ['RESOLVED'] })).toHaveLength(2);
    expect(await ids({ ruleId: 'not-a-uuid' })).toEqual([]);
    expect(await ids({ status: [], severities: [] })).toHaveLength(4);
  });

  it('should reject a foreign cursor and a page size out of bounds', async () => {
    await expectStoreError(alerts.listAlerts({ after: 'bogus!' }), 'BAD_USER_INPUT', /is not a cursor/);
    await expectStoreError(
      alerts.listAlerts({ after: Buffer.from('event:12').toString('base64url') }),
      'BAD_USER_INPUT',
      /is not a cursor/,
    );
    await expectStoreError(
      alerts.listAlerts({ first: 101 }),
      'BAD_USER_INPUT',
      /first must be a whole number from 1 to 100/,
    );
    await expectStoreError(alerts.listAlerts({ first: -1 }), 'BAD_USER_INPUT', /first/);
  });
});

describe('alertsSince', () => {
  it('should replay every later alert, oldest first', async () => {
    const high = await store.createRule(input);
    const low = await store.createRule({ ...input, name: 'Noise', severity: 'LOW' });
    const [seen, ...missedHigh] = await fireAndResolve(high, 3);
    assert.exists(seen);
    const missedLow = await fire(low, 'noise');

    expect((await store.alertsSince(seen)).map((alert) => alert.id)).toEqual([...missedHigh, missedLow.id]);
    expect((await store.alertsSince(seen, { severities: ['LOW'] })).map((alert) => alert.id)).toEqual([missedLow.id]);
    expect((await store.alertsSince(seen, { ruleIds: [high.id] })).map((alert) => alert.id)).toEqual(missedHigh);
    expect(await store.alertsSince(missedLow.id)).toEqual([]);
    // A replay is bounded: past the limit it is refused rather than loaded whole.
    expect((await store.alertsSince(seen, {}, missedHigh.length + 1)).length).toBe(missedHigh.length + 1);
    await expect(store.alertsSince(seen, {}, missedHigh.length)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('should say NOT_FOUND for an alert that does not exist', async () => {
    await expectStoreError(store.alertsSince(MISSING_ID), 'NOT_FOUND', /no alert with id/);
    await expectStoreError(store.alertsSince('nope'), 'NOT_FOUND', /no alert with id nope/);
  });
});

describe('deliveriesFor', () => {
  it('should group delivery attempts by alert, in order of the ids asked for', async () => {
    const a = await store.createRule({ ...input, name: 'A' });
    const b = await store.createRule({ ...input, name: 'B' });
    const alertA = await fire(a, 'a');
    const alertB = await fire(b, 'b');
    const target = 'https://hooks.example.com/jackdaw';
    for (const [attempt, ok, statusCode] of [
      [1, false, 503],
      [2, true, 200],
    ] as const) {
      await prisma.alertDelivery.create({
        data: {
          alertId: alertA.id,
          channel: 'WEBHOOK',
          target,
          attempt,
          ok,
          statusCode,
          error: ok ? null : 'HTTP 503',
        },
      });
    }

    const [forB, forA, forMissing] = await store.deliveriesFor([alertB.id, alertA.id, MISSING_ID]);
    expect(forB).toEqual([]);
    expect(forMissing).toEqual([]);
    expect(
      forA?.map(({ attempt, ok, statusCode, error, channel }) => ({ attempt, ok, statusCode, error, channel })),
    ).toEqual([
      { attempt: 1, ok: false, statusCode: 503, error: 'HTTP 503', channel: 'WEBHOOK' },
      { attempt: 2, ok: true, statusCode: 200, error: null, channel: 'WEBHOOK' },
    ]);
  });
});
