// `npm run demo` against a real server on Postgres and Redis: it finds the admin key the server kept in DATA_DIR,
// publishes every event type, sets up its alert rules, shows progress on one line, and stops on its own or on
// Ctrl-C, deleting its rules on the way out.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_RULES } from '../../scripts/demo-data.js';
import { firstAdminKeyFile } from '../../src/auth/first-admin.js';
import { graphql } from '../generated/index.js';
import { eventually, gqlOk, processed, startServer, type TestServer } from '../helpers/app.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

const DEMO_RULE_NAMES = DEMO_RULES.map((rule) => rule.name).sort();

const RULE_NAMES = graphql(`
  query DemoRuleNames {
    alertRules {
      name
    }
  }
`);

const DEMO_AGGREGATES = graphql(`
  query DemoAggregates {
    aggregates(
      metrics: ["events_received", "benchmark_total", "api_response_time", "anomaly_count", "competitive_parity"]
      windows: [M5]
    ) {
      metric
      count
      sum
    }
  }
`);

const EVENTS_OF_TYPE = graphql(`
  query DemoEventsOfType($types: [EventType!]) {
    events(types: $types, first: 100) {
      edges {
        node {
          id
        }
      }
    }
  }
`);

const eventsOfType = async (type: 'INSIGHT_GENERATED' | 'ALERT_TRIGGERED') =>
  (await gqlOk(server.url, EVENTS_OF_TYPE, { types: [type] }, server.adminKey)).events.edges.length;

const prefix = redisKeyPrefix();
let database: TestDatabase;
let dataDir: string;
let server: TestServer;

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'jackdaw-demo-'));
  // No ADMIN_API_KEY: the server generates the first admin key and keeps it in DATA_DIR, where the demo looks.
  server = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, dataDir, adminKey: null });
});

afterAll(async () => {
  await server?.stop();
  await database?.drop();
  await deleteRedisKeys(prefix);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

interface DemoRun {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** The demo as `npm run demo` runs it, with only the environment given here (no ADMIN_API_KEY from ours). */
function runDemo(env: Record<string, string>): DemoRun {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
    cwd: path.resolve(import.meta.dirname, '../..'),
    env: { PATH: process.env.PATH ?? '', DEMO_URL: server.url, DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function ruleNames(): Promise<string[]> {
  return (await gqlOk(server.url, RULE_NAMES, {}, server.adminKey)).alertRules.map((rule) => rule.name).sort();
}

describe('npm run demo', () => {
  it('should find the key the server kept (owner-only), publish every event type, set up its rules and stop on its own', async () => {
    expect((await stat(firstAdminKeyFile(dataDir))).mode & 0o777).toBe(0o600);
    const demo = runDemo({ DEMO_SECONDS: '3', DEMO_EVENTS_PER_SECOND: '40' });
    try {
      // The demo's own start (tsx compiling it) takes seconds, tens of them on a loaded machine.
      await eventually(async () => (await ruleNames()).join() === DEMO_RULE_NAMES.join(), 60_000);
      expect(await demo.exited, demo.output()).toBe(0);
    } finally {
      demo.child.kill(); // a failed wait must not leave it publishing and holding rules into the next test
    }

    const output = demo.output();
    expect(output).toContain('\r');
    const sent = Number(/demo done: (\d+) events sent/.exec(output)?.[1]);
    expect(sent).toBeGreaterThan(5);
    await processed(server);
    const aggregates = Object.fromEntries(
      (await gqlOk(server.url, DEMO_AGGREGATES, {}, server.adminKey)).aggregates.map((a) => [a.metric, a]),
    );
    // Every event published is counted once, beside the server's own for an alert that fired; the demo's first batch
    // holds one event of each type.
    expect(aggregates.events_received?.count).toBe(sent + (await eventsOfType('ALERT_TRIGGERED')));
    expect(aggregates.benchmark_total?.count).toBeGreaterThan(0);
    expect(aggregates.api_response_time?.count).toBeGreaterThan(0);
    expect(aggregates.competitive_parity?.count).toBeGreaterThan(0);
    expect(aggregates.anomaly_count?.sum).toBeGreaterThan(0);
    expect(await eventsOfType('INSIGHT_GENERATED')).toBeGreaterThan(0);
    expect(await ruleNames()).toEqual([]);
  }, 120_000);

  it('should stop on Ctrl-C and delete its rules', async () => {
    const demo = runDemo({ DEMO_SECONDS: '120' });
    try {
      await eventually(async () => (await ruleNames()).join() === DEMO_RULE_NAMES.join(), 60_000);
      const interruptedAt = Date.now();
      demo.child.kill('SIGINT');
      expect(await demo.exited, demo.output()).toBe(0);
      // Far short of the 120 s it would otherwise run, with room for a loaded machine's slow exit.
      expect(Date.now() - interruptedAt).toBeLessThan(15_000);
      expect(await ruleNames()).toEqual([]);
    } finally {
      demo.child.kill(); // a failed wait must not leave it running its 120 s into the next test
    }
  }, 120_000);

  it('should say where to find a key when it has none', async () => {
    const emptyDir = await mkdtemp(path.join(tmpdir(), 'jackdaw-demo-nokey-'));
    try {
      const demo = runDemo({ DATA_DIR: emptyDir, DEMO_SECONDS: '1' });
      expect(await demo.exited).toBe(1);
      expect(demo.output()).toContain('DEMO_API_KEY');
      expect(demo.output()).toContain(firstAdminKeyFile(emptyDir));
    } finally {
      await rm(emptyDir, { recursive: true, force: true });
    }
  }, 90_000); // the demo's start (tsx compiling it) is slow on a loaded machine
});
