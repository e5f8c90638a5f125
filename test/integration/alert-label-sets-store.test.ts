// The alert store's part in alerts per label set, on real Postgres with two stores (two instances' connections):
// one open alert per rule and label set, however many fire at once; resolving one label set leaves the others; a
// silence with labels matches only the label sets that hold them; rules keep their matchers and groupBy.
import { PrismaPg } from '@prisma/adapter-pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Label } from '../../src/aggregation/labels.js';
import type { AlertRuleInput } from '../../src/alerts/rules.js';
import { type AlertStore, createAlertStore } from '../../src/alerts/store.js';
import { PrismaClient } from '../../src/generated/prisma/client.js';
import { createTestDatabase, type TestDatabase } from '../helpers/services.js';

const input: AlertRuleInput = {
  name: 'Parity per competitor',
  severity: 'HIGH',
  conditions: [{ metric: 'parity', operator: 'LT', threshold: 0.5, labels: [{ name: 'region', value: 'eu' }] }],
  groupBy: ['competitor'],
  webhookUrls: ['https://hooks.example.com/jackdaw'],
};
const values = { 'avg(parity{region=eu})[M5]': 0.2 };
const acme: Label[] = [{ name: 'competitor', value: 'acme' }];
const globex: Label[] = [{ name: 'competitor', value: 'globex' }];

let db: TestDatabase;
let prisma: PrismaClient;
let otherPrisma: PrismaClient;
let store: AlertStore;
let otherStore: AlertStore;

beforeAll(async () => {
  db = await createTestDatabase();
  prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
  otherPrisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
  const webhooks = { secretSet: true, allowPrivateTargets: false };
  store = createAlertStore(prisma, { webhooks });
  otherStore = createAlertStore(otherPrisma, { webhooks });
});

afterAll(async () => {
  await prisma?.$disconnect();
  await otherPrisma?.$disconnect();
  await db?.drop();
});

beforeEach(async () => {
  await prisma.$executeRawUnsafe('TRUNCATE "NotificationDelivery", "AlertDelivery", "Alert", "AlertRule", "Silence"');
});

const queuedKinds = async (alertId: string) =>
  (await prisma.notificationDelivery.findMany({ where: { alertId }, orderBy: { createdAt: 'asc' } })).map(
    (r) => r.kind,
  );

describe('alerts per label set in the store', () => {
  it('should keep matchers and groupBy with the rule', async () => {
    const rule = await store.createRule(input);
    expect(rule.groupBy).toEqual(['competitor']);
    expect((await otherStore.getRule(rule.id))?.conditions[0]?.labels).toEqual([{ name: 'region', value: 'eu' }]);
  });

  it('should store one open alert per label set, however many instances fire it at once', async () => {
    const rule = await store.createRule(input);
    const attempts = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 === 0 ? store : otherStore).fireAlert(rule, `attempt ${i}`, values, i % 4 < 2 ? acme : globex),
      ),
    );
    const fired = attempts.filter((alert) => alert !== null);
    expect(
      fired.map((alert) => alert.labels).sort((a, b) => (a[0]?.value ?? '').localeCompare(b[0]?.value ?? '')),
    ).toEqual([acme, globex]);
    expect(await prisma.alert.count({ where: { ruleId: rule.id } })).toBe(2);
    for (const alert of fired) expect(await queuedKinds(alert.id)).toEqual(['FIRING']);
  });

  it('should resolve one label set and leave the others firing; a deletion resolves them all', async () => {
    const rule = await store.createRule(input);
    const a = await store.fireAlert(rule, 'acme', values, acme);
    const g = await store.fireAlert(rule, 'globex', values, globex);
    expect(await store.resolveAlerts(rule.id)).toBeNull(); // the rule's empty label set has no alert
    const [first, second] = await Promise.all([
      store.resolveAlerts(rule.id, acme),
      otherStore.resolveAlerts(rule.id, acme),
    ]);
    expect([first?.id, second?.id].filter(Boolean)).toEqual([a?.id]);
    expect((await store.openAlerts()).map((alert) => alert.id)).toEqual([g?.id]);
    expect(await store.fireAlert(rule, 'acme again', values, acme)).toMatchObject({ labels: acme });
    const { resolved } = await store.deleteRule(rule.id);
    expect(resolved.map((alert) => alert.labels[0]?.value).sort()).toEqual(['acme', 'globex']);
    expect(await store.openAlerts()).toEqual([]);
  });

  it('should hold back only the label sets a silence with labels matches, and notify them once when it ends', async () => {
    const rule = await store.createRule(input);
    const endsAt = new Date(Date.now() + 60_000);
    const silence = await store.createSilence({ labels: acme, endsAt, comment: 'acme deploys' }, 'admin');
    expect(silence).toMatchObject({ ruleIds: [], severities: [], labels: acme, active: true });
    const a = await store.fireAlert(rule, 'acme', values, acme);
    const g = await store.fireAlert(rule, 'globex', values, globex);
    expect(a?.silencedBy).toBe(silence.id);
    expect(g?.silencedBy).toBeNull();
    expect(await queuedKinds(a?.id ?? '')).toEqual([]);
    expect(await queuedKinds(g?.id ?? '')).toEqual(['FIRING']);

    await store.expireSilence(silence.id);
    const queued = await Promise.all([store.queueDueNotices(), otherStore.queueDueNotices()]);
    expect(queued[0] + queued[1]).toBe(1);
    expect(await queuedKinds(a?.id ?? '')).toEqual(['FIRING']);
    expect(await queuedKinds(g?.id ?? '')).toEqual(['FIRING']);
  });

  it('should repeat each label set of a firing rule once per interval, across instances, with its labels', async () => {
    const rule = await store.createRule({ ...input, repeatIntervalSeconds: 60 });
    const a = await store.fireAlert(rule, 'acme', values, acme);
    const g = await store.fireAlert(rule, 'globex', values, globex);
    // Both were notified more than an interval ago.
    await prisma.alert.updateMany({ where: { ruleId: rule.id }, data: { notifiedAt: new Date(Date.now() - 61_000) } });
    const queued = await Promise.all([store.queueDueNotices(), otherStore.queueDueNotices()]);
    expect(queued[0] + queued[1]).toBe(2);
    for (const [alert, labels] of [
      [a, acme],
      [g, globex],
    ] as const) {
      const rows = await prisma.notificationDelivery.findMany({ where: { alertId: alert?.id ?? '' } });
      expect(rows.map((row) => row.kind).sort()).toEqual(['FIRING', 'REPEAT']);
      const repeat = rows.find((row) => row.kind === 'REPEAT');
      expect(JSON.parse(repeat?.payload ?? '{}').alert.labels).toEqual(labels);
    }
  });

  it('should refuse bad label matchers in a silence, storing nothing', async () => {
    const endsAt = new Date(Date.now() + 60_000);
    await expect(
      store.createSilence({ labels: [{ name: 'competitor', value: 'a b' }], endsAt, comment: 'x' }, 'admin'),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/labels are not matchers/) });
    expect(await store.listSilences()).toEqual([]);
  });
});
