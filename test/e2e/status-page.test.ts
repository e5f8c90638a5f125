// The live status page at `/`, end to end in headless Chromium (Debian's build, driven by playwright-core) against a
// real server on Postgres and Redis: it loads nothing from outside, connects with the typed key and keeps it for the
// tab, a published event moves the chart, and a firing alert appears and is acknowledged from the page.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { gqlOk, startServer, subscribersJoined, type TestServer } from '../helpers/app.js';
import { CREATE_API_KEY, PUBLISH_EVENT } from '../helpers/operations.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const CREATE_RULE = graphql(`
  mutation StatusPageCreateRule($input: AlertRuleInput!) {
    createAlertRule(input: $input) {
      id
    }
  }
`);

const ALERTS_BY_STATUS = graphql(`
  query StatusPageAlerts($status: [AlertStatus!]) {
    alerts(status: $status) {
      edges {
        node {
          id
          ruleName
          status
        }
      }
    }
  }
`);

const prefix = redisKeyPrefix();
let database: TestDatabase;
let server: TestServer;
let origin: string;
let userDataDir: string;
let browser: BrowserContext;
/** Every URL the browser asked for, to prove the page loads nothing from elsewhere. */
const requested: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  server = await startServer({
    databaseUrl: database.url,
    redisKeyPrefix: prefix,
    config: { ALERT_EVALUATION_INTERVAL_MS: 100, DASHBOARD_INTERVAL_MS: 200, METRIC_UPDATE_MIN_INTERVAL_MS: 50 },
  });
  origin = new URL(server.url).origin;
  userDataDir = await mkdtemp(path.join(tmpdir(), 'jackdaw-chromium-'));
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1100, height: 900 },
  });
  browser.on('request', (request) => requested.push(request.url()));
}, 30_000);

afterAll(async () => {
  await browser?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  await server?.stop();
  await database?.drop();
  await deleteRedisKeys(prefix);
});

async function openPage(): Promise<Page> {
  const page = await browser.newPage();
  const failures: string[] = [];
  page.on('pageerror', (error) => failures.push(error.message));
  await page.goto(`${origin}/`);
  expect(failures).toEqual([]);
  return page;
}

/** The page's subscriptions (status.js startFeeds): dashboard, events_received, alerts triggered and resolved. */
const PAGE_FEEDS = 4;

const connectionState = (page: Page) => page.locator('#connection').getAttribute('data-state');

describe('status page', () => {
  it('should connect with the typed key, move the chart on a published event, and acknowledge a firing alert', async () => {
    const page = await openPage();
    expect(await connectionState(page)).toBe('signed-out');
    const feedsLive = subscribersJoined(server, PAGE_FEEDS);
    await page.fill('#key', server.adminKey);
    await page.click('#key-form button[type=submit]');
    await page.waitForSelector('#connection[data-state="connected"]');
    await feedsLive; // an alert broadcast before the page's alertTriggered feed joined would never reach the page

    // The first metricUpdated message (nothing received yet) starts the line at 0.
    await page.waitForFunction(() => document.querySelector<HTMLElement>('#chart')?.dataset.latest === '0');
    await gqlOk(
      server.url,
      CREATE_RULE,
      {
        input: {
          name: 'page: slow API',
          severity: 'HIGH',
          conditions: [
            { metric: 'api_response_time', aggregation: 'AVG', window: 'M1', operator: 'GT', threshold: 100 },
          ],
        },
      },
      server.adminKey,
    );
    await gqlOk(
      server.url,
      PUBLISH_EVENT,
      { input: { type: 'PERFORMANCE_METRIC', data: { metric_name: 'api_response_time', value: 450 } } },
      server.adminKey,
    );

    // Events over the last minute, per second: 1/60 for the event (2/60 once the alert's own event is counted).
    const latest = await page.waitForFunction(() =>
      Number(document.querySelector<HTMLElement>('#chart')?.dataset.latest),
    );
    expect(Math.round((await latest.jsonValue()) * 60)).toBeGreaterThanOrEqual(1);
    await page.waitForFunction(() => Number(document.querySelector('#tile-eventsPerSecond')?.textContent) > 0);

    const firing = page.locator('#alerts li[data-status="FIRING"]', { hasText: 'page: slow API' });
    await firing.waitFor();
    const alertId = await firing.getAttribute('data-alert-id');
    await firing.locator('button.acknowledge').click();
    await page.locator(`#alerts li[data-alert-id="${alertId}"][data-status="ACKNOWLEDGED"]`).waitFor();
    const acknowledged = await gqlOk(server.url, ALERTS_BY_STATUS, { status: ['ACKNOWLEDGED'] }, server.adminKey);
    expect(acknowledged.alerts.edges.map(({ node }) => node.id)).toEqual([alertId]);

    expect(requested.length).toBeGreaterThan(0);
    expect(requested.filter((url) => !url.startsWith(origin))).toEqual([]);
    await page.close();
  }, 60_000); // Playwright's waits allow 30 s each on a loaded machine

  it('should keep the key for the tab and reconnect with it on reload', async () => {
    const page = await openPage();
    await page.fill('#key', server.adminKey);
    await page.click('#key-form button[type=submit]');
    await page.waitForSelector('#connection[data-state="connected"]');
    await page.reload();
    await page.waitForSelector('#connection[data-state="connected"]');
    // The acknowledged alert of the test before is still unresolved: it is listed, without a button.
    await page.locator('#alerts li[data-status="ACKNOWLEDGED"]', { hasText: 'page: slow API' }).waitFor();
    await page.click('#forget');
    expect(await connectionState(page)).toBe('signed-out');
    await page.reload();
    expect(await connectionState(page)).toBe('signed-out');
    await page.close();
  }, 60_000); // Playwright's waits allow 30 s each on a loaded machine

  it('should leave a firing alert as it is and say why when a viewer presses Acknowledge', async () => {
    const viewer = (await gqlOk(server.url, CREATE_API_KEY, { name: 'page viewer', role: 'VIEWER' }, server.adminKey))
      .createApiKey.key;
    await gqlOk(
      server.url,
      CREATE_RULE,
      {
        input: {
          name: 'page: anomalies',
          severity: 'LOW',
          conditions: [{ metric: 'anomaly_count', aggregation: 'SUM', window: 'M1', operator: 'GTE', threshold: 1 }],
        },
      },
      server.adminKey,
    );
    const page = await openPage();
    const feedsLive = subscribersJoined(server, PAGE_FEEDS);
    await page.fill('#key', viewer);
    await page.click('#key-form button[type=submit]');
    await page.waitForSelector('#connection[data-state="connected"]');
    await feedsLive; // an alert broadcast before the page's alertTriggered feed joined would never reach the page
    await gqlOk(server.url, PUBLISH_EVENT, { input: { type: 'ANOMALY_DETECTED', data: {} } }, server.adminKey);

    const firing = page.locator('#alerts li[data-status="FIRING"]', { hasText: 'page: anomalies' });
    await firing.locator('button.acknowledge').click();
    await page.locator('#alerts-notice', { hasText: 'Acknowledging needs an admin key.' }).waitFor();
    const stillFiring = await gqlOk(server.url, ALERTS_BY_STATUS, { status: ['FIRING'] }, server.adminKey);
    expect(stillFiring.alerts.edges.map(({ node }) => node.ruleName)).toContain('page: anomalies');
    await page.close();
  }, 60_000); // Playwright's waits allow 30 s each on a loaded machine

  it('should say so when the key is refused', async () => {
    const page = await openPage();
    await page.fill('#key', 'jds_not-a-key-this-server-knows');
    await page.click('#key-form button[type=submit]');
    await page.waitForSelector('#connection[data-state="refused"]');
    await page.close();
  }, 60_000); // Playwright's waits allow 30 s each on a loaded machine

  it('should serve the page and its libraries from this server under a same-origin content security policy', async () => {
    const res = await fetch(`${origin}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const assets = [...(await res.text()).matchAll(/(?:src|href)="(\/status\/[^"]+)"/g)].map((match) => match[1]);
    expect(assets).toHaveLength(5);
    for (const asset of assets) expect((await fetch(`${origin}${asset}`)).status, asset).toBe(200);
  });
});
