// `npm run screenshot:status-page [-- <seconds>]`: docs/status-page.png, the status page of a running server as a
// browser shows it after watching it for <seconds> (default 3; run `npm run demo` meanwhile so it has data). Headless Debian Chromium through playwright-core, with the key found
// as the demo finds it (DEMO_API_KEY, ADMIN_API_KEY, DATA_DIR/first-admin-key) put in the tab's session storage.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { loadDemoConfig } from '../src/config.js';
import { findDemoKey } from './demo-key.js';

const OUTPUT = path.resolve(import.meta.dirname, '../docs/status-page.png');
const DEFAULT_WATCH_SECONDS = 3; // a few live updates after connecting

async function main() {
  const config = loadDemoConfig();
  const watchSeconds = Number(process.argv[2] ?? DEFAULT_WATCH_SECONDS);
  if (!(watchSeconds >= 0)) throw new Error(`the seconds to watch must be a number, not ${process.argv[2]}`);
  const origin = new URL(config.DEMO_URL ?? `http://localhost:${config.PORT}/graphql`).origin;
  const key = await findDemoKey(config);
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'jackdaw-screenshot-'));
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    headless: true,
    viewport: { width: 1100, height: 980 },
    colorScheme: 'light',
  });
  try {
    const page = await browser.newPage();
    await page.addInitScript((value) => sessionStorage.setItem('jackdaw.statusPage.key', value), key);
    await page.goto(`${origin}/`);
    await page.waitForSelector('#connection[data-state="connected"]');
    await page.waitForTimeout(watchSeconds * 1000);
    await page.screenshot({ path: OUTPUT, fullPage: true });
    process.stdout.write(`wrote ${OUTPUT}\n`);
  } finally {
    await browser.close();
    await rm(userDataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
