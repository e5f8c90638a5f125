// The Grafana dashboard and the Prometheus rules in deploy/ name only metrics a live /metrics has: the real entry
// point runs as a cluster (primary, processing process, a serving process), as production does, since some metrics
// (worker restarts) come from the primary alone; after some traffic, its scrape must hold every name they use.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { eventually, gql, gqlOk } from '../helpers/app.js';
import { type ChildServer, startChildServer } from '../helpers/child-server.js';
import { AGGREGATE, PUBLISH_EVENTS } from '../helpers/operations.js';
import { sampleValue, scrape } from '../helpers/prometheus.js';
import {
  createTestDatabase,
  deleteRedisKeys,
  REDIS_URL,
  redisKeyPrefix,
  type TestDatabase,
} from '../helpers/services.js';

const adminKey = `test-admin-${Date.now()}-deploy`;
const prefix = redisKeyPrefix();
let database: TestDatabase;
let server: ChildServer;
/** The scrape after traffic: metric names with their types (`# TYPE` lines). */
let exposed: Map<string, string>;

beforeAll(async () => {
  database = await createTestDatabase();
  server = await startChildServer({
    DATABASE_URL: database.url,
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    ADMIN_API_KEY: adminKey,
    WEB_CONCURRENCY: '1',
    LOG_LEVEL: 'warn',
    PROCESSOR_POLL_MS: '50',
  });
  const metric = { type: 'PERFORMANCE_METRIC' as const, data: { metric_name: 'deploy_check', value: 1 } };
  await gqlOk(server.url, PUBLISH_EVENTS, { inputs: [metric, metric] }, adminKey);
  const refused = await gql(
    server.url,
    PUBLISH_EVENTS,
    { inputs: [{ ...metric, timestamp: '2999-01-01T00:00:00Z' }] },
    adminKey,
  );
  expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  await gqlOk(server.url, AGGREGATE, { metric: 'deploy_check', window: 'M1' }, adminKey);
  const { text } = await eventually(async () => {
    const scraped = await scrape(server.url);
    return sampleValue(scraped.samples, 'jackdaw_events_processed_total') >= 2 ? scraped : null;
  });
  exposed = new Map(
    [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => [name as string, type as string]),
  );
}, 90_000);

afterAll(async () => {
  await server?.kill('SIGTERM');
  await database?.drop();
  await deleteRedisKeys(prefix);
});

/** The metric names a PromQL expression uses, read simply. */
const metricNames = (expr: string) => [...expr.matchAll(/jackdaw_\w+/g)].map(([name]) => name);

/** Whether a scrape has the series `name`: a metric's own name, or a histogram's or summary's part of it. */
function exposes(name: string): boolean {
  if (exposed.has(name)) return true;
  const part = /^(.+)_(bucket|sum|count)$/.exec(name);
  const type = part && exposed.get(part[1] as string);
  return type === 'histogram' || (type === 'summary' && part?.[2] !== 'bucket');
}

describe('deploy/ files against a live /metrics', () => {
  it('should chart only metrics /metrics has, in every panel of the Grafana dashboard', () => {
    interface Panel {
      title: string;
      targets?: { expr: string }[];
    }
    const dashboard = JSON.parse(readFileSync('deploy/grafana/jackdaw-dashboard.json', 'utf8')) as {
      panels: Panel[];
      templating: { list: { definition?: string }[] };
    };
    expect(dashboard.panels.length).toBeGreaterThan(0);
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      const names = (panel.targets ?? []).flatMap((target) => metricNames(target.expr));
      expect(names, `panel "${panel.title}" charts no jackdaw metric`).not.toHaveLength(0);
      for (const name of names) used.add(name);
    }
    for (const variable of dashboard.templating.list)
      for (const name of metricNames(variable.definition ?? '')) used.add(name);
    expect([...used].filter((name) => !exposes(name))).toEqual([]);
  });

  it('should alert only on metrics /metrics has, in every Prometheus rule', () => {
    const rules = parseYaml(readFileSync('deploy/prometheus/jackdaw-alerts.yml', 'utf8')) as {
      groups: { name: string; rules: { alert: string; expr: string; labels: { severity: string } }[] }[];
    };
    const used = new Set<string>();
    for (const group of rules.groups) {
      for (const rule of group.rules) {
        expect(['warning', 'critical'], rule.alert).toContain(rule.labels.severity);
        for (const name of metricNames(rule.expr)) used.add(name);
      }
    }
    expect(used.size).toBeGreaterThan(0);
    expect([...used].filter((name) => !exposes(name))).toEqual([]);
  });
});
