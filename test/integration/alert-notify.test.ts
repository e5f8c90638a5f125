import { createHmac } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import { pino } from 'pino';
import { afterAll, afterEach, assert, beforeAll, describe, expect, it, vi } from 'vitest';
import { type AlertNotifier, type AlertNotifierOptions, createAlertNotifier } from '../../src/alerts/notifier.js';
import type { Alert, AlertRule, AlertRuleInput } from '../../src/alerts/rules.js';
import { type AlertStore, createAlertStore } from '../../src/alerts/store.js';
import { PrismaClient } from '../../src/generated/prisma/client.js';
import { freePort } from '../helpers/ports.js';
import { header, startReceiver, startSmtpSink } from '../helpers/receivers.js';
import { createTestDatabase, type TestDatabase } from '../helpers/services.js';

const SECRET = 'test-webhook-secret';
const PREVIOUS_SECRET = 'test-webhook-secret-being-rotated-out';
const values = { 'avg(api_response_time)[M5]': 812.5 };

let db: TestDatabase;
let prisma: PrismaClient;
let store: AlertStore;
/** Everything a test opens, closed after it whatever its outcome. */
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
  // The receivers listen on loopback: rules may name them here; delivery decides by its own setting.
  store = createAlertStore(prisma, { webhooks: { secretSet: true, allowPrivateTargets: true } });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  // A notification a test left queued must not be sent by the next test's notifier.
  await prisma.notificationDelivery.deleteMany();
});

afterAll(async () => {
  await prisma?.$disconnect();
  await db?.drop();
});

function startNotifier(options: Partial<AlertNotifierOptions> = {}): { notifier: AlertNotifier; logs: string[] } {
  // The store queues emails only where an SMTP server is configured, as the server's composition does.
  store = createAlertStore(prisma, {
    webhooks: { secretSet: true, allowPrivateTargets: true },
    emailEnabled: options.smtpUrl !== undefined,
  });
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
  const notifier = createAlertNotifier({
    prisma,
    logger,
    isLeader: () => true,
    webhookSecrets: { current: SECRET },
    allowPrivateTargets: true,
    timeoutMs: 1_000,
    attempts: 5,
    backoffMs: 10,
    pollMs: 50,
    ...options,
  });
  notifier.start();
  cleanups.push(() => notifier.stop());
  return { notifier, logs };
}

/** Fires an alert of a new rule as the engine does: stored with its notifications queued, then the notifier woken. */
async function firingAlert(
  notifier: AlertNotifier,
  input: Partial<AlertRuleInput>,
): Promise<{ rule: AlertRule; alert: Alert }> {
  const rule = await store.createRule({
    name: 'Slow API',
    severity: 'HIGH',
    conditions: [{ metric: 'api_response_time', operator: 'GT', threshold: 500 }],
    ...input,
  });
  const alert = await store.fireAlert(rule, 'avg(api_response_time)[M5] = 812.5 (> 500)', values);
  if (!alert) throw new Error('the rule was already firing');
  notifier.wake();
  return { rule, alert };
}

/** Resolves once every notification of `alert` was delivered or given up on (none is left in the queue). */
async function settled(alert: Alert, timeout = 25_000) {
  await expect.poll(() => prisma.notificationDelivery.count({ where: { alertId: alert.id } }), { timeout }).toBe(0);
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

const hmac = (secret: string, data: string) => createHmac('sha256', secret).update(data).digest('hex');

describe('webhooks', () => {
  it('should retry a failing receiver with backoff, sign every attempt and record each one', async () => {
    const receiver = await startReceiver(cleanups, (_, index) => (index < 2 ? 503 : 200));
    const { notifier } = startNotifier({ backoffMs: 100 });
    const { alert } = await firingAlert(notifier, { webhookUrls: [receiver.url] });
    await settled(alert);

    expect(receiver.requests).toHaveLength(3);
    const [first = 0, second = 0, third = 0] = receiver.requests.map((request) => request.at);
    // 100 ms after the first failure, then twice that (less a millisecond for timer rounding).
    expect(second - first).toBeGreaterThanOrEqual(99);
    expect(third - second).toBeGreaterThanOrEqual(199);
    for (const { headers, body } of receiver.requests) {
      expect(headers['content-type']).toBe('application/json');
      expect(headers['x-jackdaw-signature']).toBe(`sha256=${hmac(SECRET, body)}`);
      const timestamp = Number(headers['x-jackdaw-timestamp']);
      expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(10);
      expect(headers['x-jackdaw-signature-v2']).toBe(`t=${timestamp},sha256=${hmac(SECRET, `${timestamp}.${body}`)}`);
      expect(JSON.parse(body)).toEqual({
        kind: 'FIRING',
        alert: { ...alert, triggeredAt: alert.triggeredAt.toISOString() },
      });
    }
    // One notification, one key for all its attempts.
    const keys = new Set(receiver.requests.map((request) => request.headers['idempotency-key']));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(await deliveries(alert)).toEqual([
      { channel: 'WEBHOOK', attempt: 1, ok: false, statusCode: 503, error: 'HTTP 503' },
      { channel: 'WEBHOOK', attempt: 2, ok: false, statusCode: 503, error: 'HTTP 503' },
      { channel: 'WEBHOOK', attempt: 3, ok: true, statusCode: 200, error: null },
    ]);
  });

  it('should sign with both secrets during a rotation, each notification with a key of its own', async () => {
    const receiver = await startReceiver(cleanups, () => 204);
    const { notifier } = startNotifier({ webhookSecrets: { current: SECRET, previous: PREVIOUS_SECRET } });
    const first = await firingAlert(notifier, { name: 'one', webhookUrls: [receiver.url] });
    const second = await firingAlert(notifier, { name: 'two', webhookUrls: [receiver.url] });
    await settled(first.alert);
    await settled(second.alert);

    expect(receiver.requests).toHaveLength(2);
    for (const { headers, body } of receiver.requests) {
      const timestamp = headers['x-jackdaw-timestamp'];
      // A receiver still on the old secret verifies the second signature; the v1 header keeps the current one.
      expect(headers['x-jackdaw-signature-v2']).toBe(
        `t=${timestamp},sha256=${hmac(SECRET, `${timestamp}.${body}`)},sha256=${hmac(PREVIOUS_SECRET, `${timestamp}.${body}`)}`,
      );
      expect(headers['x-jackdaw-signature']).toBe(`sha256=${hmac(SECRET, body)}`);
    }
    const keys = receiver.requests.map((request) => request.headers['idempotency-key']);
    expect(new Set(keys).size).toBe(2);
  });

  it('should record a timeout for a receiver that hangs', async () => {
    const receiver = await startReceiver(cleanups, () => 'hang');
    const { notifier } = startNotifier({ timeoutMs: 200, attempts: 2 });
    const { alert } = await firingAlert(notifier, { webhookUrls: [receiver.url] });
    await settled(alert);

    expect(receiver.requests).toHaveLength(2);
    expect(await deliveries(alert)).toEqual([
      { channel: 'WEBHOOK', attempt: 1, ok: false, statusCode: null, error: 'timed out after 200 ms' },
      { channel: 'WEBHOOK', attempt: 2, ok: false, statusCode: null, error: 'timed out after 200 ms' },
    ]);
  });

  it('should not retry a receiver that refuses the request', async () => {
    const receiver = await startReceiver(cleanups, () => 400);
    const { notifier, logs } = startNotifier();
    const { alert } = await firingAlert(notifier, { webhookUrls: [receiver.url] });
    await settled(alert);

    expect(await deliveries(alert)).toEqual([
      { channel: 'WEBHOOK', attempt: 1, ok: false, statusCode: 400, error: 'HTTP 400' },
    ]);
    expect(logs.some((line) => line.includes('alert delivery failed'))).toBe(true);
    // Logs name the channel, never the URL.
    expect(logs.some((line) => line.includes(receiver.url) || line.includes('127.0.0.1'))).toBe(false);
  });

  it('should deliver to a healthy receiver while another one hangs', async () => {
    const hanging = await startReceiver(cleanups, () => 'hang');
    const healthy = await startReceiver(cleanups, () => 204);
    const { notifier } = startNotifier({ timeoutMs: 5_000, attempts: 1 });
    const { alert } = await firingAlert(notifier, { webhookUrls: [hanging.url, healthy.url] });
    // The first delivery recorded is the healthy one, while the hanging one still waits out its 5 s timeout: the
    // healthy delivery did not wait for it. (Judged by order, not by a deadline a loaded machine could miss.)
    const firstRecorded = await vi.waitFor(
      async () => {
        const recorded = await deliveries(alert);
        expect(recorded.length).toBeGreaterThan(0);
        return recorded;
      },
      { timeout: 25_000, interval: 50 },
    );
    expect(firstRecorded).toEqual([{ channel: 'WEBHOOK', attempt: 1, ok: true, statusCode: 204, error: null }]);
    expect(healthy.requests).toHaveLength(1);
    await settled(alert);
  });

  it('should record that a receiver refused the connection, without its address or port', async () => {
    const port = await freePort();
    const { notifier } = startNotifier({ attempts: 2 });
    const { alert } = await firingAlert(notifier, { webhookUrls: [`http://127.0.0.1:${port}/hooks`] });
    await settled(alert);

    expect(await deliveries(alert)).toEqual([
      { channel: 'WEBHOOK', attempt: 1, ok: false, statusCode: null, error: 'connection refused' },
      { channel: 'WEBHOOK', attempt: 2, ok: false, statusCode: null, error: 'connection refused' },
    ]);
  });

  it.each([
    ['a literal loopback address', (port: number) => `http://127.0.0.1:${port}/hooks/jackdaw`],
    ['a name that resolves to loopback', (port: number) => `http://localhost:${port}/hooks/jackdaw`],
  ])('should refuse, once and for good, %s when private targets are not allowed', async (_, urlFor) => {
    const receiver = await startReceiver(cleanups, () => 200);
    const port = Number(new URL(receiver.url).port);
    const { notifier } = startNotifier({ allowPrivateTargets: false });
    const { alert } = await firingAlert(notifier, { webhookUrls: [urlFor(port)] });
    await settled(alert);

    expect(receiver.requests).toHaveLength(0);
    expect(await deliveries(alert)).toEqual([
      {
        channel: 'WEBHOOK',
        attempt: 1,
        ok: false,
        statusCode: null,
        error: 'refused: the host is a private or reserved address (ALLOW_PRIVATE_WEBHOOK_TARGETS is off)',
      },
    ]);
  });

  it('should stop at once with a receiver hanging, and leave the notification for the next notifier', async () => {
    // The first notifier's attempt hangs; the second one's is answered.
    const receiver = await startReceiver(cleanups, (_, index) => (index === 0 ? 'hang' : 200));
    const first = startNotifier({ timeoutMs: 5_000 });
    const { alert } = await firingAlert(first.notifier, { webhookUrls: [receiver.url] });
    await receiver.received(1);

    const started = performance.now();
    await first.notifier.stop();
    expect(performance.now() - started).toBeLessThan(500);
    expect(await deliveries(alert)).toEqual([]);

    startNotifier();
    await settled(alert);
    expect(receiver.requests).toHaveLength(2);
    const [abandoned, sent] = receiver.requests;
    expect(sent?.headers['idempotency-key']).toBe(abandoned?.headers['idempotency-key']);
    // The abandoned attempt was given back, not counted.
    expect(await deliveries(alert)).toEqual([
      { channel: 'WEBHOOK', attempt: 1, ok: true, statusCode: 200, error: null },
    ]);
  });

  it('should send nothing while this instance does not lead', async () => {
    const receiver = await startReceiver(cleanups, () => 200);
    let leading = false;
    const { notifier } = startNotifier({ isLeader: () => leading });
    const { alert } = await firingAlert(notifier, { webhookUrls: [receiver.url] });
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // quiet period: a notice sent anyway would arrive
    expect(receiver.requests).toHaveLength(0);

    leading = true;
    await settled(alert);
    expect(receiver.requests).toHaveLength(1);
  });

  it('should record a webhook as not sent when the server has no WEBHOOK_SECRET', async () => {
    const receiver = await startReceiver(cleanups, () => 200);
    const { notifier } = startNotifier({ webhookSecrets: { current: '' } });
    const { alert } = await firingAlert(notifier, { webhookUrls: [receiver.url] });
    await settled(alert);

    expect(receiver.requests).toHaveLength(0);
    expect(await deliveries(alert)).toEqual([
      { channel: 'WEBHOOK', attempt: 1, ok: false, statusCode: null, error: 'not sent: WEBHOOK_SECRET is not set' },
    ]);
  });
});

describe('email', () => {
  it('should email the recipients of a HIGH alert with the severity and rule in the subject', async () => {
    const smtp = await startSmtpSink(cleanups);
    const { notifier } = startNotifier({ smtpUrl: smtp.smtpUrl, emailFrom: 'Jackdaw Sentry <alerts@jackdaw.test>' });
    const { alert } = await firingAlert(notifier, { emails: ['ops@example.com', 'oncall@example.com'] });
    await settled(alert);

    expect(smtp.messages).toHaveLength(1);
    const [email] = smtp.messages;
    assert.exists(email);
    expect(email.from).toBe('alerts@jackdaw.test');
    expect(email.to).toEqual(['ops@example.com', 'oncall@example.com']);
    expect(header(email, 'Subject')).toBe('[HIGH] Slow API: avg(api_response_time)[M5] = 812.5 (> 500)');
    expect(header(email, 'To')).toBe('ops@example.com, oncall@example.com');
    // The queued notification's id: every attempt of it carries the same Message-ID.
    expect(header(email, 'Message-ID')).toMatch(/^<[0-9a-f-]{36}@jackdaw-sentry>$/);
    expect(await deliveries(alert)).toEqual([{ channel: 'EMAIL', attempt: 1, ok: true, statusCode: 250, error: null }]);
  });

  it('should email CRITICAL alerts and send a LOW one to webhooks only', async () => {
    const smtp = await startSmtpSink(cleanups);
    const receiver = await startReceiver(cleanups, () => 200);
    const { notifier } = startNotifier({ smtpUrl: smtp.smtpUrl, emailFrom: 'alerts@jackdaw.test' });
    const low = await firingAlert(notifier, {
      name: 'Noise',
      severity: 'LOW',
      emails: ['ops@example.com'],
      webhookUrls: [receiver.url],
    });
    const critical = await firingAlert(notifier, { name: 'Down', severity: 'CRITICAL', emails: ['ops@example.com'] });
    await settled(low.alert);
    await settled(critical.alert);

    expect(receiver.requests).toHaveLength(1);
    expect(smtp.messages.map((email) => header(email, 'Subject'))).toEqual([
      `[CRITICAL] Down: ${critical.alert.message}`,
    ]);
    expect((await deliveries(low.alert)).map((row) => row.channel)).toEqual(['WEBHOOK']);
  });

  it('should retry a relay that asks to try again later', async () => {
    const smtp = await startSmtpSink(cleanups, (index) => (index === 0 ? 451 : null));
    const { notifier } = startNotifier({ smtpUrl: smtp.smtpUrl, emailFrom: 'alerts@jackdaw.test' });
    const { alert } = await firingAlert(notifier, { emails: ['ops@example.com'] });
    await settled(alert);

    expect(smtp.messages).toHaveLength(1);
    expect(await deliveries(alert)).toEqual([
      { channel: 'EMAIL', attempt: 1, ok: false, statusCode: 451, error: expect.stringMatching(/try again later/) },
      { channel: 'EMAIL', attempt: 2, ok: true, statusCode: 250, error: null },
    ]);
  });

  it('should skip emails, and say so, when no SMTP server is configured', async () => {
    const { notifier, logs } = startNotifier();
    const { alert } = await firingAlert(notifier, { severity: 'CRITICAL', emails: ['ops@example.com'] });
    await settled(alert);

    expect(await deliveries(alert)).toEqual([]);
    expect(logs.some((line) => line.includes('alert emails are off: SMTP_URL is not set'))).toBe(true);
  });
});
