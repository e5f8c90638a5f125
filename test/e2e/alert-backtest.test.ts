// previewAlertRule over stored events: on Postgres (a worker thread with its own connection) and on the embedded
// database (in process), with the row bound and bad input refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { gql, gqlOk, startServer, type TestServer } from '../helpers/app.js';
import { PUBLISH_EVENTS } from '../helpers/operations.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

const PREVIEW = graphql(`
  query PreviewAlertRule($input: AlertRuleInput!, $since: DateTime!, $until: DateTime) {
    previewAlertRule(input: $input, since: $since, until: $until) {
      firedAt
      resolvedAt
      values
    }
  }
`);

// Whole seconds, twenty minutes back: every event is in the past, and the backtest's ticks fall on known instants.
const T = Math.floor(Date.now() / 1_000) * 1_000 - 20 * 60_000;
const at = (ms: number) => new Date(T + ms).toISOString();
const MAX_ROWS = 3;

const rule = {
  name: 'slow',
  severity: 'HIGH' as const,
  conditions: [
    {
      metric: 'bt_latency',
      window: 'M1' as const,
      aggregation: 'MAX' as const,
      operator: 'GT' as const,
      threshold: 500,
    },
  ],
  forSeconds: 10,
  keepFiringForSeconds: 20,
};

async function publishHistory(server: TestServer): Promise<void> {
  await gqlOk(
    server.url,
    PUBLISH_EVENTS,
    {
      inputs: [
        { type: 'PERFORMANCE_METRIC', timestamp: at(500), data: { metric_name: 'bt_latency', value: 900 } },
        // The same metric from another kind of event: it counts too.
        { type: 'COMPETITIVE_UPDATE', timestamp: at(30_200), data: { competitor: 'x', metrics: { bt_latency: 950 } } },
        // Another metric, however high, does not; nor is it read.
        { type: 'PERFORMANCE_METRIC', timestamp: at(40_000), data: { metric_name: 'bt_other', value: 10_000 } },
        { type: 'PERFORMANCE_METRIC', timestamp: at(300_000), data: { metric_name: 'bt_latency', value: 1 } },
        { type: 'PERFORMANCE_METRIC', timestamp: at(400_000), data: { metric_name: 'bt_latency', value: 2 } },
      ],
    },
    server.adminKey,
  );
}

function behavesAsDocumented(server: () => TestServer) {
  it('should say when the rule would have fired and resolved, forSeconds and keepFiringForSeconds included', async () => {
    const { previewAlertRule } = await gqlOk(
      server().url,
      PREVIEW,
      { input: rule, since: at(0), until: at(200_000) },
      server().adminKey,
    );
    // Visible at T+1 s, held 10 s; the 950 leaves the window at T+90 s, then 20 s more.
    expect(previewAlertRule).toEqual([
      { firedAt: at(11_000), resolvedAt: at(110_000), values: { 'max(bt_latency)[M1]': 900 } },
    ]);
  });

  it('should refuse a backtest that would read more than MAX_BACKTEST_ROWS events, naming the setting', async () => {
    const result = await gql(server().url, PREVIEW, { input: rule, since: at(0) }, server().adminKey);
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toContain(`MAX_BACKTEST_ROWS (${MAX_ROWS})`);
  });

  it('should refuse a range that ends before it starts, and an invalid rule, with BAD_USER_INPUT', async () => {
    const backwards = await gql(
      server().url,
      PREVIEW,
      { input: rule, since: at(10_000), until: at(0) },
      server().adminKey,
    );
    expect(backwards.errors?.[0]).toMatchObject({
      message: expect.stringContaining('since must be before until'),
      extensions: { code: 'BAD_USER_INPUT' },
    });
    const invalid = await gql(
      server().url,
      PREVIEW,
      { input: { ...rule, keepFiringForSeconds: -1 }, since: at(0), until: at(10_000) },
      server().adminKey,
    );
    expect(invalid.errors?.[0]).toMatchObject({
      message: expect.stringContaining('keepFiringForSeconds must be 0 or more'),
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });
}

describe('previewAlertRule on Postgres and Redis (in a worker thread)', () => {
  let database: TestDatabase;
  let server: TestServer;
  const prefix = redisKeyPrefix();

  beforeAll(async () => {
    database = await createTestDatabase();
    server = await startServer({
      databaseUrl: database.url,
      redisKeyPrefix: prefix,
      config: { MAX_BACKTEST_ROWS: MAX_ROWS },
    });
    await publishHistory(server);
  });

  afterAll(async () => {
    await server?.stop();
    await database?.drop();
    await deleteRedisKeys(prefix);
  });

  behavesAsDocumented(() => server);
});

describe('previewAlertRule on the embedded database (in process)', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({ config: { MAX_BACKTEST_ROWS: MAX_ROWS } });
    await publishHistory(server);
  }, 180_000); // opening PGlite applies every migration in WebAssembly: tens of seconds on a loaded machine

  afterAll(async () => {
    await server?.stop();
  });

  behavesAsDocumented(() => server);
});
