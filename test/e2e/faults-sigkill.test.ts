// The server process is killed with SIGKILL in the middle of a publishing load: after a restart, every event it
// acknowledged is in the history and in the aggregates (exactly once: the aggregates count what was stored).
import pg from 'pg';
import { afterAll, assert, beforeAll, describe, expect, it } from 'vitest';
import { eventually, gql, gqlOk, startServer, type TestServer } from '../helpers/app.js';
import { type ChildServer, startChildServer } from '../helpers/child-server.js';
import { AGGREGATE, PUBLISH_EVENTS as PUBLISH_MANY } from '../helpers/operations.js';
import {
  createTestDatabase,
  deleteRedisKeys,
  REDIS_URL,
  redisKeyPrefix,
  type TestDatabase,
} from '../helpers/services.js';
import { Condition } from '../helpers/waits.js';

const METRIC = 'fault_sigkill_load';
const adminKey = `test-admin-${Date.now()}-sigkill`;

let database: TestDatabase;
let child: ChildServer | null = null;
let restarted: TestServer | null = null;
const prefix = redisKeyPrefix();

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await child?.kill('SIGKILL');
  await restarted?.stop();
  await database?.drop();
  await deleteRedisKeys(prefix);
});

describe('SIGKILL mid-load', () => {
  it('should have every acknowledged event in the history and the aggregates after a restart', async () => {
    child = await startChildServer({
      DATABASE_URL: database.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      ADMIN_API_KEY: adminKey,
      LOG_LEVEL: 'warn',
      PROCESSOR_POLL_MS: '50',
      // A cluster (primary, processing process, two serving ones), whatever the machine's cores: the primary is
      // killed, and its workers go with it.
      WEB_CONCURRENCY: '2',
    });
    const url = child.url;
    const acknowledged: string[] = [];
    const progress = new Condition();
    let failed = 0;
    let running = true;
    const publishers = Array.from({ length: 4 }, async () => {
      while (running) {
        try {
          const inputs = Array.from({ length: 50 }, (_, i) => ({
            type: 'PERFORMANCE_METRIC' as const,
            data: { metric_name: METRIC, value: i },
          }));
          const result = await gql(url, PUBLISH_MANY, { inputs }, adminKey);
          if (result.data?.publishEvents) acknowledged.push(...result.data.publishEvents.ids);
          progress.changed();
        } catch {
          failed += 1; // the connection died with the process: not acknowledged
          return;
        }
      }
    });
    await progress.until(() => acknowledged.length >= 2_000, 30_000);
    await child.kill('SIGKILL');
    running = false;
    await Promise.all(publishers);

    const server = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, adminKey });
    restarted = server;
    const events = server.app.runtime.eventStore;
    // History: every acknowledged id is stored.
    const stored = await events.findByIds(acknowledged);
    expect(stored.length).toBe(acknowledged.length);
    // Aggregates: once the new leader has drained the outbox, they count exactly what the log holds.
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const { rows } = await client.query<{ n: number; s: number }>(
      `SELECT count(*)::int AS n, coalesce(sum((data->>'value')::float), 0) AS s FROM "Event" WHERE data->>'metric_name' = $1`,
      [METRIC],
    );
    await client.end();
    const [log] = rows;
    assert.exists(log);
    const inLog = log.n;
    // Polled: the killed process's lease must expire in Redis before the new instance can drain the outbox.
    const aggregate = await eventually(
      async () => {
        const { aggregate } = await gqlOk(server.url, AGGREGATE, { metric: METRIC, window: 'M5' }, adminKey);
        return aggregate.count === inLog && (await events.outboxSize()) === 0 ? aggregate : null;
      },
      30_000,
      200,
    );
    expect(aggregate.sum).toBeCloseTo(Number(log.s), 6);
    expect(inLog).toBeGreaterThanOrEqual(acknowledged.length);
    console.info('SIGKILL mid-load', {
      acknowledged: acknowledged.length,
      storedInLog: inLog,
      aggregated: aggregate.count,
      requestsCutOff: failed,
    });
  }, 120_000);
});
