// Webhooks end to end: which targets a rule may name (private ones, userinfo, no secret), and the notification queue
// in Postgres surviving the instance that fired the alert: stopped mid-retry, the next leader finishes the delivery,
// and stopping does not wait for a receiver.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { gql, gqlOk, startServer, type TestServer } from '../helpers/app.js';
import { type Cleanups, startReceiver } from '../helpers/receivers.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

const SECRET = 'e2e-queue-webhook-secret';
const CREATE_RULE = graphql(`
  mutation WebhookQueueCreateRule($input: AlertRuleInput!) {
    createAlertRule(input: $input) {
      id
    }
  }
`);
const RULES = graphql(`
  query WebhookQueueRules {
    alertRules {
      id
    }
  }
`);
const PUBLISH = graphql(`
  mutation WebhookQueuePublish($inputs: [PublishEventInput!]!) {
    publishEvents(inputs: $inputs) {
      ids
    }
  }
`);
const DELIVERIES = graphql(`
  query WebhookQueueDeliveries($ruleId: ID!) {
    alerts(ruleId: $ruleId, first: 5) {
      edges {
        node {
          id
          deliveries {
            channel
            attempt
            ok
            statusCode
            error
          }
        }
      }
    }
  }
`);

const cleanups: Cleanups = [];
const servers: TestServer[] = [];
let database: TestDatabase;
const prefix = redisKeyPrefix();
const adminKey = `test-admin-${Date.now()}`;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await database?.drop();
  await deleteRedisKeys(prefix);
});

async function instance(config: Record<string, string | number> = {}): Promise<TestServer> {
  const server = await startServer({
    databaseUrl: database.url,
    redisKeyPrefix: prefix,
    adminKey,
    config: {
      WEBHOOK_SECRET: SECRET,
      ALLOW_PRIVATE_WEBHOOK_TARGETS: 'true', // the receivers listen on loopback
      ALERT_EVALUATION_INTERVAL_MS: 100,
      ...config,
    },
  });
  servers.push(server);
  return server;
}

const ruleInput = (name: string, webhookUrls: string[]) => ({
  name,
  severity: 'LOW' as const,
  conditions: [{ metric: name, operator: 'GT' as const, threshold: 1 }],
  webhookUrls,
});

async function fire(server: TestServer, name: string, webhookUrl: string): Promise<string> {
  const input = ruleInput(name, [webhookUrl]);
  // Nothing to wait for after: the leader's engine reloads its rules at every evaluation tick (100 ms here).
  const { createAlertRule } = await gqlOk(server.url, CREATE_RULE, { input }, adminKey);
  const inputs = [{ type: 'PERFORMANCE_METRIC' as const, data: { metric_name: name, value: 10 } }];
  await gqlOk(server.url, PUBLISH, { inputs }, adminKey);
  return createAlertRule.id;
}

async function deliveriesOf(server: TestServer, ruleId: string) {
  const { alerts } = await gqlOk(server.url, DELIVERIES, { ruleId }, adminKey);
  return alerts.edges.flatMap((edge) => edge.node.deliveries);
}

describe('webhook targets', () => {
  it('should refuse private targets, URL credentials and, without WEBHOOK_SECRET, any webhook', async () => {
    const strict = await instance({ ALLOW_PRIVATE_WEBHOOK_TARGETS: 'false' });
    for (const [url, problem] of [
      ['http://169.254.169.254/latest/meta-data', 'webhookUrls[1] points at a linkLocal address (169.254.169.254)'],
      ['http://[fd00:ec2::254]/latest', 'webhookUrls[1] points at a uniqueLocal address (fd00:ec2::254)'],
      ['http://localhost:4000/hook', 'webhookUrls[1] points at a private host name (localhost)'],
      ['https://user:password@hooks.example.com/a', 'webhookUrls[1] must not hold a user name or password'],
    ] as const) {
      const input = ruleInput('refused', ['https://hooks.example.com/ok', url]);
      const { errors } = await gql(strict.url, CREATE_RULE, { input }, adminKey);
      expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(errors?.[0]?.message).toContain(problem);
    }

    const unsigned = await instance({ WEBHOOK_SECRET: '' });
    const input = ruleInput('unsigned', ['https://hooks.example.com/ok']);
    const { errors } = await gql(unsigned.url, CREATE_RULE, { input }, adminKey);
    expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(errors?.[0]?.message).toContain('webhookUrls need WEBHOOK_SECRET to be set on the server');
    // Nothing was stored by any of the refusals.
    expect((await gqlOk(unsigned.url, RULES, {}, adminKey)).alertRules).toEqual([]);
  });
});

describe('notification queue', () => {
  it('should finish a delivery left mid-retry by a stopped instance on the next leader', async () => {
    // Down while the first instance runs, up once it has stopped; its retry was 2 s away.
    let up = false;
    const receiver = await startReceiver(cleanups, () => (up ? 200 : 503));
    const first = await instance({ WEBHOOK_BACKOFF_MS: 2_000 });
    const ruleId = await fire(first, 'queue_mid_retry', receiver.url);
    await receiver.received(1);
    await expect.poll(() => deliveriesOf(first, ruleId), { timeout: 25_000 }).toHaveLength(1);
    await first.stop();
    servers.splice(servers.indexOf(first), 1);
    up = true;

    const second = await instance({ WEBHOOK_BACKOFF_MS: 2_000 });
    await receiver.received(2, 40_000); // the lease passes to the second instance first
    const [failed, sent] = receiver.requests;
    expect(sent?.headers['idempotency-key']).toBe(failed?.headers['idempotency-key']);
    await expect
      .poll(() => deliveriesOf(second, ruleId), { timeout: 25_000 })
      .toEqual([
        { channel: 'WEBHOOK', attempt: 1, ok: false, statusCode: 503, error: 'HTTP 503' },
        { channel: 'WEBHOOK', attempt: 2, ok: true, statusCode: 200, error: null },
      ]);
  });

  it('should stop promptly while a receiver hangs, and leave the notification to the next leader', async () => {
    const receiver = await startReceiver(cleanups, (_, index) => (index === 0 ? 'hang' : 200));
    const first = await instance({ WEBHOOK_TIMEOUT_MS: 20_000 });
    const ruleId = await fire(first, 'queue_hanging', receiver.url);
    await receiver.received(1);

    const started = performance.now();
    await first.stop();
    servers.splice(servers.indexOf(first), 1);
    // The attempt was 20 s from timing out, with retries after it: stopping waited for none of them.
    // (Bounded at 10 s, half the attempt's timeout, leaving a loaded machine room to close its connections.)
    expect(performance.now() - started).toBeLessThan(10_000);

    const second = await instance();
    await receiver.received(2, 40_000); // the lease passes to the second instance first
    await expect
      .poll(() => deliveriesOf(second, ruleId), { timeout: 25_000 })
      .toEqual([{ channel: 'WEBHOOK', attempt: 1, ok: true, statusCode: 200, error: null }]);
  });
});
