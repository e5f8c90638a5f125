// What the store queues for issue 12's notices, against real Postgres, with two stores on two connection pools
// standing in for two instances: resolutions, repeats and the firings held back by a silence are each queued exactly
// once however many instances ask at once; silences, acknowledgements and redeliveries refuse bad input unchanged.
import { PrismaPg } from '@prisma/adapter-pg';
import { afterAll, assert, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AlertRule, AlertRuleInput } from '../../src/alerts/rules.js';
import { type AlertStore, createAlertStore } from '../../src/alerts/store.js';
import { DomainError } from '../../src/errors.js';
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
const INSTANCES = 8;

let db: TestDatabase;
let prisma: PrismaClient;
let otherPrisma: PrismaClient;
let store: AlertStore;
let otherStore: AlertStore;

beforeAll(async () => {
  db = await createTestDatabase();
  prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
  otherPrisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
  const options = {
    webhooks: { secretSet: true, allowPrivateTargets: false },
    emailEnabled: true,
    notices: { maxSummaryLength: 100, minRepeatIntervalSeconds: 1 },
    maxSilences: 3,
    maxCommentLength: 50,
  };
  store = createAlertStore(prisma, options);
  otherStore = createAlertStore(otherPrisma, options);
});

afterAll(async () => {
  await prisma?.$disconnect();
  await otherPrisma?.$disconnect();
  await db?.drop();
});

beforeEach(async () => {
  await prisma.$executeRawUnsafe('TRUNCATE "NotificationDelivery", "AlertDelivery", "Alert", "AlertRule", "Silence"');
});

/** The same call from many "instances" at once, alternating between the two pools. */
function concurrently<T>(call: (s: AlertStore) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: INSTANCES }, (_, i) => call(i % 2 === 0 ? store : otherStore)));
}

/** Queued notices as (kind, channel) per alert, in the order queued. */
async function queued(alertId?: string) {
  const rows = await prisma.notificationDelivery.findMany({
    where: alertId ? { alertId } : {},
    orderBy: [{ createdAt: 'asc' }, { channel: 'asc' }],
  });
  return rows.map(({ kind, channel, payload }) => ({ kind, channel, payload: JSON.parse(payload) }));
}

async function firing(rule: AlertRule) {
  const alert = await store.fireAlert(rule, 'slow', values);
  assert.exists(alert);
  return alert;
}

async function refused(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

const silenceFor = (rule: AlertRule, endsInMs = 60_000) => ({
  ruleIds: [rule.id],
  endsAt: new Date(Date.now() + endsInMs),
  comment: 'deploying',
});

describe('resolved notices', () => {
  it('should queue one resolution per channel, once, when the rule asks and the firing was sent', async () => {
    const rule = await store.createRule(input);
    expect(rule.notifyOnResolve).toBe(true);
    const alert = await firing(rule);
    const resolved = await concurrently((s) => s.resolveAlerts(rule.id));
    expect(resolved.filter(Boolean)).toHaveLength(1);
    const notices = await queued(alert.id);
    expect(notices.map(({ kind, channel }) => [kind, channel])).toEqual([
      ['FIRING', 'WEBHOOK'],
      ['FIRING', 'EMAIL'],
      ['RESOLVED', 'WEBHOOK'],
      ['RESOLVED', 'EMAIL'],
    ]);
    // The same alert id pairs them; the resolution carries the resolved alert.
    expect(notices[3]?.payload).toMatchObject({ kind: 'RESOLVED', alert: { id: alert.id, status: 'RESOLVED' } });
  });

  it('should queue none for a rule with notifyOnResolve false, nor for an alert that was never notified', async () => {
    const quiet = await store.createRule({ ...input, name: 'quiet', notifyOnResolve: false });
    await firing(quiet);
    await store.resolveAlerts(quiet.id);
    const silenced = await store.createRule({ ...input, name: 'silenced' });
    await store.createSilence(silenceFor(silenced), 'ops');
    const held = await firing(silenced);
    expect(held.silencedBy).not.toBeNull();
    await store.resolveAlerts(silenced.id);
    expect((await queued()).map(({ kind }) => kind)).toEqual(['FIRING', 'FIRING']);
  });

  it('should send the resolution to the channels of a rule deleted while firing', async () => {
    const rule = await store.createRule({ ...input, emails: [] });
    const alert = await firing(rule);
    expect((await store.deleteRule(rule.id)).resolved.map(({ id }) => id)).toEqual([alert.id]);
    expect((await queued(alert.id)).map(({ kind }) => kind)).toEqual(['FIRING', 'RESOLVED']);
  });

  it('should keep rules stored before the setting existed at false (the migration default)', async () => {
    const [row] = await prisma.$queryRaw<{ id: string }[]>`
      INSERT INTO "AlertRule" ("id", "name", "severity", "conditions", "webhookUrls", "emails", "updatedAt")
      VALUES (gen_random_uuid(), 'old', 'LOW', '[]', '{}', '{}', now()) RETURNING "id"`;
    assert.exists(row);
    expect((await store.getRule(row.id))?.notifyOnResolve).toBe(false);
  });
});

describe('repeats', () => {
  it('should queue one repeat per interval across instances, and none once acknowledged', async () => {
    const rule = await store.createRule({ ...input, emails: [], repeatIntervalSeconds: 60 });
    const alert = await firing(rule);
    // Not yet due.
    expect(await concurrently((s) => s.queueDueNotices())).toEqual(Array(INSTANCES).fill(0));
    // An interval later (moved back rather than waited for).
    await prisma.$executeRaw`UPDATE "Alert" SET "notifiedAt" = now() - interval '61 seconds' WHERE "id" = ${alert.id}::uuid`;
    const counts = await concurrently((s) => s.queueDueNotices());
    expect(counts.reduce((a, b) => a + b, 0)).toBe(1);
    expect((await queued(alert.id)).map(({ kind }) => kind)).toEqual(['FIRING', 'REPEAT']);

    await prisma.$executeRaw`UPDATE "Alert" SET "notifiedAt" = now() - interval '61 seconds' WHERE "id" = ${alert.id}::uuid`;
    const acknowledged = await store.acknowledgeAlert(alert.id, { by: 'ops-key', comment: '  looking into it ' });
    expect(acknowledged).toMatchObject({
      status: 'ACKNOWLEDGED',
      acknowledgedBy: 'ops-key',
      acknowledgeComment: 'looking into it',
    });
    expect(await store.queueDueNotices()).toBe(0);
  });

  it('should not repeat a rule without an interval', async () => {
    const rule = await store.createRule(input);
    const alert = await firing(rule);
    await prisma.$executeRaw`UPDATE "Alert" SET "notifiedAt" = now() - interval '1 day' WHERE "id" = ${alert.id}::uuid`;
    expect(await store.queueDueNotices()).toBe(0);
  });
});

describe('silences', () => {
  it('should hold back a matching firing, then queue it once when the silence is expired early', async () => {
    const rule = await store.createRule({ ...input, emails: [] });
    const other = await store.createRule({ ...input, name: 'other', severity: 'LOW', emails: [] });
    const silence = await store.createSilence({ ...silenceFor(rule), severities: ['HIGH'] }, 'ops-key');
    expect(silence).toMatchObject({ ruleIds: [rule.id], severities: ['HIGH'], createdBy: 'ops-key', active: true });
    const alert = await firing(rule);
    const unsilenced = await firing(other);
    expect(alert.silencedBy).toBe(silence.id);
    expect(unsilenced.silencedBy).toBeNull();
    expect(await concurrently((s) => s.queueDueNotices())).toEqual(Array(INSTANCES).fill(0));
    expect(await queued(alert.id)).toEqual([]);

    const expired = await store.expireSilence(silence.id);
    expect(expired.active).toBe(false);
    const counts = await concurrently((s) => s.queueDueNotices());
    expect(counts.reduce((a, b) => a + b, 0)).toBe(1);
    expect((await queued(alert.id)).map(({ kind, payload }) => [kind, payload.alert.silencedBy])).toEqual([
      ['FIRING', null],
    ]);
    expect(await store.listSilences(true)).toEqual([]);
    expect(await store.listSilences(false)).toEqual([expired]);
  });

  it('should mark an alert already firing when a silence begins, so its repeats stop', async () => {
    const rule = await store.createRule({ ...input, emails: [], repeatIntervalSeconds: 60 });
    const alert = await firing(rule);
    const silence = await store.createSilence(
      { severities: ['HIGH'], endsAt: new Date(Date.now() + 60_000), comment: 'x' },
      'ops',
    );
    await prisma.$executeRaw`UPDATE "Alert" SET "notifiedAt" = now() - interval '61 seconds' WHERE "id" = ${alert.id}::uuid`;
    expect(await store.queueDueNotices()).toBe(0);
    expect((await prisma.alert.findUnique({ where: { id: alert.id } }))?.silencedBy).toBe(silence.id);
  });

  it('should refuse bad silences with BAD_USER_INPUT naming the problem, storing nothing', async () => {
    const rule = await store.createRule(input);
    const now = Date.now();
    const cases: [Parameters<AlertStore['createSilence']>[0], RegExp][] = [
      [
        { ...silenceFor(rule), startsAt: new Date(now + 60_000), endsAt: new Date(now + 1_000) },
        /endsAt must be after startsAt/,
      ],
      [{ ...silenceFor(rule), ruleIds: [MISSING_ID] }, new RegExp(`ruleIds name no rule: ${MISSING_ID}`)],
      [
        { ...silenceFor(rule), comment: 'x'.repeat(51) },
        /comment must be at most 50 characters \(MAX_COMMENT_LENGTH\)/,
      ],
      [{ endsAt: new Date(now + 1_000), comment: 'all' }, /ruleIds, severities or labels must name what to silence/],
      [{ ...silenceFor(rule), endsAt: new Date(now - 1_000) }, /endsAt must be in the future/],
    ];
    for (const [silence, message] of cases) {
      const error = await refused(store.createSilence(silence, 'ops'));
      expect(error.code).toBe('BAD_USER_INPUT');
      expect(error.message).toMatch(message);
    }
    expect(await store.listSilences()).toEqual([]);
    for (let i = 0; i < 3; i++) await store.createSilence(silenceFor(rule), 'ops');
    const full = await refused(store.createSilence(silenceFor(rule), 'ops'));
    expect(full).toMatchObject({ code: 'BAD_USER_INPUT', details: { limit: 'MAX_SILENCES' } });
    expect(await store.listSilences()).toHaveLength(3);
    expect((await refused(store.expireSilence(MISSING_ID))).code).toBe('NOT_FOUND');
  });
});

describe('acknowledgement and redelivery', () => {
  it('should refuse a comment that is too long, leaving the alert unacknowledged', async () => {
    const rule = await store.createRule(input);
    const alert = await firing(rule);
    const error = await refused(store.acknowledgeAlert(alert.id, { by: 'ops', comment: 'x'.repeat(51) }));
    expect(error).toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/MAX_COMMENT_LENGTH/) });
    expect((await prisma.alert.findUnique({ where: { id: alert.id } }))?.status).toBe('FIRING');
  });

  it('should queue a redelivery with new idempotency keys, and refuse one with nowhere to go', async () => {
    const rule = await store.createRule(input);
    const alert = await firing(rule);
    await store.redeliverAlert(alert.id);
    const rows = await prisma.notificationDelivery.findMany({ where: { alertId: alert.id } });
    expect(rows.map((row) => row.kind).sort()).toEqual(['FIRING', 'FIRING', 'REDELIVERY', 'REDELIVERY']);
    expect(new Set(rows.map((row) => row.id)).size).toBe(4);

    const silent = await store.createRule({ ...input, name: 'silent', webhookUrls: [], emails: [] });
    const lonely = await firing(silent);
    expect((await refused(store.redeliverAlert(lonely.id))).message).toMatch(/has no channel to send it to/);
    await store.deleteRule(rule.id);
    expect((await refused(store.redeliverAlert(alert.id))).message).toMatch(/its rule was deleted/);
    expect((await refused(store.redeliverAlert(MISSING_ID))).code).toBe('NOT_FOUND');
  });
});
