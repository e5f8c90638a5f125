import { createHmac } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import { pino } from 'pino';
import { afterAll, afterEach, assert, beforeAll, describe, expect, it } from 'vitest';
import { type AlertNotifier, type AlertNotifierOptions, createAlertNotifier } from '../../src/alerts/notifier.js';
import type { Alert, AlertRule, AlertRuleInput } from '../../src/alerts/rules.js';
import { type AlertStore, createAlertStore } from '../../src/alerts/store.js';
import { PrismaClient } from '../../src/generated/prisma/client.js';
import { freePort } from '../helpers/owned-services.js';
import { header, startReceiver, startSmtpSink } from '../helpers/receivers.js';
import { createTestDatabase, type TestDatabase } from '../helpers/services.js';

const SECRET = 'test-webhook-secret';
const values = { 'avg(api_response_time)[M5]': 812.5 };

let db: TestDatabase;
let prisma: PrismaClient;
let store: AlertStore;
/** Everything a test opens, closed after it whatever its outcome. */
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
  store = createAlertStore(prisma);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await prisma?.$disconnect();
  await db?.drop();
});

function startNotifier(options: Partial<AlertNotifierOptions> = {}): { notifier: AlertNotifier; logs: string[] } {
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
  const notifier = createAlertNotifier({
    prisma,
    logger,
    webhookSecret: SECRET,
    timeoutMs: 1_000,
    attempts: 5,
    backoffMs: 10,
    ...options,
  });
  cleanups.push(() => notifier.close());
  return { notifier, logs };
}

async function firingAlert(input: Partial<AlertRuleInput>): Promise<{ rule: AlertRule; alert: Alert }> {
  const rule = await store.createRule({
    name: 'Slow API',
    severity: 'HIGH',
    conditions: [{ metric: 'api_response_time', operator: 'GT', threshold: 500 }],
    ...input,
  });
  const alert = await store.fireAlert(rule, 'avg(api_response_time)[M5] = 812.5 (> 500)', values);
  if (!alert) throw new Error('the rule was already firing');
  return { rule, alert };
}

async function deliveries(alert: Alert) {
  const [rows] = await store.deliveriesFor([alert.id]);
  return (rows ?? []).map(({ channel, attempt, ok, statusCode, error }) => ({
    channel,
    attempt,
    ok,
    statusCode,
    error,
  }));
}

describe('webhooks', () => {
  it('should retry a failing receiver with backoff, sign every attempt and record each one', async () => {
    const receiver = await startReceiver(cleanups, (_, index) => (index < 2 ? 503 : 200));
    const { rule, alert } = await firingAlert({ webhookUrls: [receiver.url] });
    const { notifier } = startNotifier({ backoffMs: 100 });

    notifier.notify(alert, rule);
    await notifier.drain();

    expect(receiver.requests).toHaveLength(3);
    const [first = 0, second = 0, third = 0] = receiver.requests.map((request) => request.at);
    // 100 ms after the first failure, then twice that (less a millisecond for timer rounding).
    expect(second - first).toBeGreaterThanOrEqual(99);
    expect(third - second).toBeGreaterThanOrEqual(199);
    for (const { headers, body } of receiver.requests) {
      expect(headers['content-type']).toBe('application/json');
      const expected = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
      expect(headers['x-jackdaw-signature']).toBe(expected);
      expect(JSON.parse(body)).toEqual({
        alert: {
          ...alert,
          triggeredAt: alert.triggeredAt.toISOString(),
        },
      });
    }
    expect(await deliveries(alert)).toEqual([
      { channel: 'WEBHOOK', attempt: 1, ok: false, statusCode: 503, error: 'HTTP 503' },
      { channel: 'WEBHOOK', attempt: 2, ok: false, statusCode: 503, error: 'HTTP 503' },
      { channel: 'WEBHOOK', attempt: 3, ok: true, statusCode: 200, error: null },
    ]);
  });

  it('should record a timeout for a receiver that hangs, without holding up the caller', async () => {
    const receiver = await startReceiver(cleanups, () => 'hang');
    const { rule, alert } = await firingAlert({ webhookUrls: [receiver.url] });
    const { notifier } = startNotifier({ timeoutMs: 200, attempts: 2 });

    const started = performance.now();
    notifier.notify(alert, rule);
    expect(performance.now() - started).toBeLessThan(50);
    await notifier.drain();

    expect(receiver.requests).toHaveLength(2);
    expect(await deliveries(alert)).toEqual([
      { channel: 'WEBHOOK', attempt: 1, ok: false, statusCode: null, error: 'timed out after 200 ms' },
      { channel: 'WEBHOOK', attempt: 2, ok: false, statusCode: null, error: 'timed out after 200 ms' },
    ]);
  });

  it('should not retry a receiver that refuses the request', async () => {
    const receiver = await startReceiver(cleanups, () => 400);
    const { rule, alert } = await firingAlert({ webhookUrls: [receiver.url] });
    const { notifier, logs } = startNotifier();

    notifier.notify(alert, rule);
    await notifier.drain();

    expect(await deliveries(alert)).toEqual([
      { channel: 'WEBHOOK', attempt: 1, ok: false, statusCode: 400, error: 'HTTP 400' },
    ]);
    expect(logs.some((line) => line.includes('alert delivery failed'))).toBe(true);
  });

  it('should deliver to a healthy receiver while another one hangs', async () => {
    const hanging = await startReceiver(cleanups, () => 'hang');
    const healthy = await startReceiver(cleanups, () => 204);
    const { rule, alert } = await firingAlert({ webhookUrls: [hanging.url, healthy.url] });
    const { notifier } = startNotifier({ timeoutMs: 1_000, attempts: 1 });

    notifier.notify(alert, rule);
    // Recorded before the hanging receiver's 1 s timeout: the healthy delivery did not wait for it.
    await expect
      .poll(() => deliveries(alert), { timeout: 800 })
      .toEqual([{ channel: 'WEBHOOK', attempt: 1, ok: true, statusCode: 204, error: null }]);
    expect(healthy.requests).toHaveLength(1);
    await notifier.drain();
  });

  it('should record a receiver that cannot be reached', async () => {
    const { rule, alert } = await firingAlert({ webhookUrls: [`http://127.0.0.1:${await freePort()}/hooks`] });
    const { notifier } = startNotifier({ attempts: 2 });

    notifier.notify(alert, rule);
    await notifier.drain();

    const rows = await deliveries(alert);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ ok: false, statusCode: null, error: expect.stringMatching(/ECONNREFUSED/) });
  });
});

describe('email', () => {
  it('should email the recipients of a HIGH alert with the severity and rule in the subject', async () => {
    const smtp = await startSmtpSink(cleanups);
    const { rule, alert } = await firingAlert({ emails: ['ops@example.com', 'oncall@example.com'] });
    const { notifier } = startNotifier({ smtpUrl: smtp.smtpUrl, emailFrom: 'Jackdaw Sentry <alerts@jackdaw.test>' });

    notifier.notify(alert, rule);
    await notifier.drain();

    expect(smtp.messages).toHaveLength(1);
    const [email] = smtp.messages;
    assert.exists(email);
    expect(email.from).toBe('alerts@jackdaw.test');
    expect(email.to).toEqual(['ops@example.com', 'oncall@example.com']);
    expect(header(email, 'Subject')).toBe('[HIGH] Slow API: avg(api_response_time)[M5] = 812.5 (> 500)');
    expect(header(email, 'To')).toBe('ops@example.com, oncall@example.com');
    expect(await deliveries(alert)).toEqual([{ channel: 'EMAIL', attempt: 1, ok: true, statusCode: 250, error: null }]);
  });

  it('should email CRITICAL alerts and send a LOW one to webhooks only', async () => {
    const smtp = await startSmtpSink(cleanups);
    const receiver = await startReceiver(cleanups, () => 200);
    const low = await firingAlert({
      name: 'Noise',
      severity: 'LOW',
      emails: ['ops@example.com'],
      webhookUrls: [receiver.url],
    });
    const critical = await firingAlert({ name: 'Down', severity: 'CRITICAL', emails: ['ops@example.com'] });
    const { notifier } = startNotifier({ smtpUrl: smtp.smtpUrl, emailFrom: 'alerts@jackdaw.test' });

    notifier.notify(low.alert, low.rule);
    notifier.notify(critical.alert, critical.rule);
    await notifier.drain();

    expect(receiver.requests).toHaveLength(1);
    expect(smtp.messages.map((email) => header(email, 'Subject'))).toEqual([
      `[CRITICAL] Down: ${critical.alert.message}`,
    ]);
    expect((await deliveries(low.alert)).map((row) => row.channel)).toEqual(['WEBHOOK']);
  });

  it('should retry a relay that asks to try again later', async () => {
    const smtp = await startSmtpSink(cleanups, (index) => (index === 0 ? 451 : null));
    const { rule, alert } = await firingAlert({ emails: ['ops@example.com'] });
    const { notifier } = startNotifier({ smtpUrl: smtp.smtpUrl, emailFrom: 'alerts@jackdaw.test' });

    notifier.notify(alert, rule);
    await notifier.drain();

    expect(smtp.messages).toHaveLength(1);
    expect(await deliveries(alert)).toEqual([
      { channel: 'EMAIL', attempt: 1, ok: false, statusCode: 451, error: expect.stringMatching(/try again later/) },
      { channel: 'EMAIL', attempt: 2, ok: true, statusCode: 250, error: null },
    ]);
  });

  it('should skip emails, and say so, when no SMTP server is configured', async () => {
    const { rule, alert } = await firingAlert({ severity: 'CRITICAL', emails: ['ops@example.com'] });
    const { notifier, logs } = startNotifier();

    notifier.notify(alert, rule);
    await notifier.drain();

    expect(await deliveries(alert)).toEqual([]);
    expect(logs.some((line) => line.includes('alert emails skipped: SMTP_URL is not set'))).toBe(true);
  });
});
