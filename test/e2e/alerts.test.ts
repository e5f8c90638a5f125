// Alert rules, the engine and notifications end to end: two instances on one Redis and Postgres, a real webhook
// receiver and a real SMTP server.
import { createHmac } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, assert, beforeAll, describe, expect, it } from 'vitest';
import type { AlertRuleInput } from '../generated/graphql.js';
import { graphql } from '../generated/index.js';
import {
  gql,
  gqlOk,
  startServer,
  subscribe,
  subscribersJoined,
  type TestServer,
  type VariablesArg,
  wsClient,
} from '../helpers/app.js';
import { PUBLISH_EVENTS } from '../helpers/operations.js';
import { type Cleanups, header, startReceiver, startSmtpSink } from '../helpers/receivers.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

const SECRET = 'e2e-webhook-secret';
graphql(`
  fragment AlertRuleFields on AlertRule {
    id
    name
    severity
    enabled
    forSeconds
    webhookUrls
    emails
    conditions {
      metric
      window
      aggregation
      operator
      threshold
    }
  }
`);
graphql(`
  fragment AlertFields on Alert {
    id
    ruleId
    ruleName
    severity
    message
    values
    status
    triggeredAt
    resolvedAt
    acknowledgedAt
  }
`);
const CREATE = graphql(`
  mutation CreateAlertRule($input: AlertRuleInput!) {
    createAlertRule(input: $input) {
      ...AlertRuleFields
    }
  }
`);
const UPDATE = graphql(`
  mutation UpdateAlertRule($id: ID!, $input: AlertRuleInput!) {
    updateAlertRule(id: $id, input: $input) {
      ...AlertRuleFields
    }
  }
`);
const RULE = graphql(`
  query AlertRule($id: ID!) {
    alertRule(id: $id) {
      id
      name
    }
  }
`);
const RULES = graphql(`
  query AlertRules {
    alertRules {
      id
      name
    }
  }
`);
const DELETE = graphql(`
  mutation DeleteAlertRule($id: ID!) {
    deleteAlertRule(id: $id)
  }
`);
const ACKNOWLEDGE = graphql(`
  mutation AcknowledgeAlert($id: ID!) {
    acknowledgeAlert(id: $id) {
      id
      status
      acknowledgedAt
    }
  }
`);
const ALERTS_OF_RULE = graphql(`
  query AlertsOfRule($ruleId: ID) {
    alerts(ruleId: $ruleId) {
      edges {
        node {
          ...AlertFields
        }
      }
    }
  }
`);
const LATEST_DELIVERIES = graphql(`
  query LatestAlertDeliveries {
    alerts(first: 1) {
      edges {
        node {
          deliveries {
            channel
            attempt
            ok
            statusCode
          }
        }
      }
    }
  }
`);
const ALERT_EVENTS = graphql(`
  query AlertEvents {
    events(types: [ALERT_TRIGGERED]) {
      edges {
        node {
          id
          data
        }
      }
    }
  }
`);
const ALERTS_WITH_RULES = graphql(`
  query AlertsWithRules {
    alerts(first: 50) {
      edges {
        node {
          rule {
            id
            name
          }
        }
      }
    }
  }
`);
const TRIGGERED = graphql(`
  subscription AlertTriggered {
    alertTriggered {
      ...AlertFields
    }
  }
`);
const TRIGGERED_CRITICAL = graphql(`
  subscription CriticalAlertTriggered {
    alertTriggered(severities: [CRITICAL]) {
      id
    }
  }
`);
const TRIGGERED_FOR_RULES = graphql(`
  subscription RuleAlertTriggered($ruleIds: [ID!], $after: ID) {
    alertTriggered(ruleIds: $ruleIds, after: $after) {
      id
      ruleName
      triggeredAt
    }
  }
`);
const RESOLVED = graphql(`
  subscription AlertResolved($ruleIds: [ID!]) {
    alertResolved(ruleIds: $ruleIds) {
      id
      status
      resolvedAt
    }
  }
`);

const cleanups: Cleanups = [];
let database: TestDatabase;
const prefix = redisKeyPrefix();
let one: TestServer;
let two: TestServer;
let webhook: Awaited<ReturnType<typeof startReceiver>>;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
const adminKey = `test-admin-${Date.now()}`;

beforeAll(async () => {
  database = await createTestDatabase();
  // Fails the first two attempts of every alert, then accepts.
  const attemptsByAlert = new Map<string, number>();
  webhook = await startReceiver(cleanups, (request) => {
    const id = JSON.parse(request.body).alert.id as string;
    const n = (attemptsByAlert.get(id) ?? 0) + 1;
    attemptsByAlert.set(id, n);
    return n <= 2 ? 503 : 200;
  });
  smtp = await startSmtpSink(cleanups);
  const config = {
    WEBHOOK_SECRET: SECRET,
    ALLOW_PRIVATE_WEBHOOK_TARGETS: 'true', // the receiver listens on loopback
    WEBHOOK_BACKOFF_MS: 20,
    SMTP_URL: smtp.smtpUrl,
    ALERT_EMAIL_FROM: 'alerts@jackdaw.test',
    ALERT_EVALUATION_INTERVAL_MS: 200,
  };
  one = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, adminKey, config });
  two = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, adminKey, config });
});

afterAll(async () => {
  await one?.stop();
  await two?.stop();
  for (const cleanup of cleanups.reverse()) await cleanup();
  await database?.drop();
  await deleteRedisKeys(prefix);
});

const publish = (server: TestServer, metric: string, values: number[]) =>
  gqlOk(
    server.url,
    PUBLISH_EVENTS,
    { inputs: values.map((value) => ({ type: 'PERFORMANCE_METRIC' as const, data: { metric_name: metric, value } })) },
    adminKey,
  );
const createRule = async (input: AlertRuleInput) => (await gqlOk(one.url, CREATE, { input }, adminKey)).createAlertRule;
const alertsOf = async (ruleId: string) =>
  (await gqlOk(one.url, ALERTS_OF_RULE, { ruleId }, adminKey)).alerts.edges.map((e) => e.node);
const live = <R, V>(server: TestServer, document: TypedDocumentNode<R, V>, ...variables: VariablesArg<NoInfer<V>>) => {
  const client = wsClient(server.wsUrl, adminKey);
  cleanups.push(() => client.dispose());
  return subscribe(client, document, ...variables);
};

describe('alert rules', () => {
  it('should create, read, update and delete a rule with the contract defaults', async () => {
    const rule = await createRule({
      name: 'crud',
      severity: 'LOW',
      conditions: [{ metric: 'crud_m', operator: 'GT', threshold: 1 }],
    });
    expect(rule).toMatchObject({
      enabled: true,
      forSeconds: 0,
      webhookUrls: [],
      emails: [],
      conditions: [{ window: 'M5', aggregation: 'AVG' }],
    });
    const updated = await gqlOk(
      one.url,
      UPDATE,
      {
        id: rule.id,
        input: {
          name: 'crud 2',
          severity: 'HIGH',
          enabled: false,
          conditions: [{ metric: 'crud_m', operator: 'LT', threshold: 0 }],
        },
      },
      adminKey,
    );
    expect(updated.updateAlertRule).toMatchObject({ name: 'crud 2', severity: 'HIGH', enabled: false });
    const read = await gqlOk(two.url, RULE, { id: rule.id }, adminKey);
    expect(read.alertRule).toEqual({ id: rule.id, name: 'crud 2' });
    expect((await gqlOk(one.url, DELETE, { id: rule.id }, adminKey)).deleteAlertRule).toBe(true);
    expect((await gqlOk(one.url, RULE, { id: rule.id }, adminKey)).alertRule).toBeNull();
  });

  it('should reject bad rules with BAD_USER_INPUT naming the problem, and unknown ids with NOT_FOUND', async () => {
    const bad: [AlertRuleInput, string][] = [
      [{ name: 'x', severity: 'LOW', conditions: [] }, 'conditions'],
      [
        { name: 'x', severity: 'LOW', conditions: [{ metric: 'bad metric!', operator: 'GT', threshold: 1 }] },
        'conditions[0].metric',
      ],
      [
        { name: 'x', severity: 'LOW', forSeconds: -1, conditions: [{ metric: 'm', operator: 'GT', threshold: 1 }] },
        'forSeconds',
      ],
      [
        {
          name: 'x',
          severity: 'LOW',
          webhookUrls: ['ftp://x'],
          conditions: [{ metric: 'm', operator: 'GT', threshold: 1 }],
        },
        'webhookUrls[0]',
      ],
      [
        { name: 'x', severity: 'LOW', emails: ['nope'], conditions: [{ metric: 'm', operator: 'GT', threshold: 1 }] },
        'emails[0]',
      ],
    ];
    for (const [input, says] of bad) {
      const result = await gql(one.url, CREATE, { input }, adminKey);
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(result.errors?.[0]?.message).toContain(says);
    }
    const unknownId = '5b0c3a52-0000-4000-8000-000000000000';
    const missing = await gql(one.url, ACKNOWLEDGE, { id: unknownId }, adminKey);
    expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const update = await gql(
      one.url,
      UPDATE,
      {
        id: unknownId,
        input: { name: 'x', severity: 'LOW', conditions: [{ metric: 'm', operator: 'GT', threshold: 1 }] },
      },
      adminKey,
    );
    expect(update.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});

describe('alert engine across two instances', () => {
  it('should fire exactly once per transition, resolve, fire again, and notify each channel once', async () => {
    const joinedOne = subscribersJoined(one);
    const joinedTwo = subscribersJoined(two, 2);
    const triggeredOne = live(one, TRIGGERED);
    const triggeredTwo = live(two, TRIGGERED_CRITICAL);
    const resolved = live(two, RESOLVED);
    await Promise.all([joinedOne, joinedTwo]); // an alert broadcast before a subscription joined never reaches it
    const rule = await createRule({
      name: 'latency high',
      severity: 'CRITICAL',
      conditions: [{ metric: 'e2e_latency', window: 'M5', aggregation: 'AVG', operator: 'GT', threshold: 100 }],
      webhookUrls: [webhook.url],
      emails: ['oncall@jackdaw.test', 'lead@jackdaw.test'],
      notifyOnResolve: false, // firings only here; resolutions: alert-notifications.test.ts
    });
    await publish(one, 'e2e_latency', [200]);
    await publish(two, 'e2e_latency', [300]); // still firing: no second alert
    const fired = await triggeredOne.result(0);
    expect(fired.alertTriggered).toMatchObject({ ruleId: rule.id, severity: 'CRITICAL', status: 'FIRING' });
    expect(fired.alertTriggered.values).toEqual({ 'avg(e2e_latency)[M5]': expect.any(Number) });
    await triggeredTwo.waitFor(1);
    // Falls below: resolves. Then rises again: a new alert.
    await publish(
      two,
      'e2e_latency',
      Array.from({ length: 20 }, () => 0),
    );
    const done = await resolved.result(0);
    expect(done.alertResolved).toMatchObject({ id: fired.alertTriggered.id, status: 'RESOLVED' });
    await publish(one, 'e2e_latency', [100_000]);
    await triggeredOne.waitFor(2);
    // Quiet period: several evaluation ticks on both instances (200 ms apart), even on a loaded machine, in which a
    // duplicate alert would show.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const alerts = await alertsOf(rule.id);
    expect(alerts.map((a) => a.status)).toEqual(['FIRING', 'RESOLVED']);
    expect(triggeredOne.received).toHaveLength(2);
    expect(triggeredTwo.received).toHaveLength(2);
    // Webhooks: 3 attempts each (two 503s, then 200), signed; exactly one accepted delivery per alert.
    await webhook.received(6);
    expect(webhook.requests).toHaveLength(6);
    for (const request of webhook.requests) {
      const expected = `sha256=${createHmac('sha256', SECRET).update(request.body).digest('hex')}`;
      expect(request.headers['x-jackdaw-signature']).toBe(expected);
    }
    // Email: CRITICAL goes to every address, once per alert.
    const [email] = await smtp.received(2);
    expect(smtp.messages).toHaveLength(2);
    assert.exists(email);
    expect(email.to.sort()).toEqual(['lead@jackdaw.test', 'oncall@jackdaw.test']);
    expect(header(email, 'Subject')).toContain('[CRITICAL] latency high');
    // Every attempt is visible through the API.
    const { alerts: latest } = await gqlOk(one.url, LATEST_DELIVERIES, {}, adminKey);
    expect(
      latest.edges[0]?.node.deliveries
        .filter((d) => d.channel === 'WEBHOOK')
        .map((d) => [d.attempt, d.ok, d.statusCode]),
    ).toEqual([
      [1, false, 503],
      [2, false, 503],
      [3, true, 200],
    ]);
    // Each firing is in the event history too.
    const history = await gqlOk(one.url, ALERT_EVENTS, {}, adminKey);
    expect(history.events.edges.map((e) => e.node.id).sort()).toEqual(alerts.map((a) => a.id).sort());
  });

  it('should wait forSeconds before firing, and resolve a rule that is disabled while firing', async () => {
    const rule = await createRule({
      name: 'sustained',
      severity: 'LOW',
      forSeconds: 1,
      conditions: [{ metric: 'sustained_m', aggregation: 'COUNT', operator: 'GTE', threshold: 1 }],
    });
    const joined = subscribersJoined(one, 2);
    const triggered = live(one, TRIGGERED_FOR_RULES, { ruleIds: [rule.id] });
    const resolved = live(one, RESOLVED, { ruleIds: [rule.id] });
    await joined;
    const started = Date.now();
    await publish(one, 'sustained_m', [1]);
    const alert = await triggered.result(0);
    expect(Date.parse(alert.alertTriggered.triggeredAt) - started).toBeGreaterThanOrEqual(900);
    await gqlOk(
      one.url,
      UPDATE,
      {
        id: rule.id,
        input: {
          name: 'sustained',
          severity: 'LOW',
          enabled: false,
          conditions: [{ metric: 'sustained_m', aggregation: 'COUNT', operator: 'GTE', threshold: 1 }],
        },
      },
      adminKey,
    );
    const done = await resolved.result(0);
    expect(done.alertResolved.id).toBe(alert.alertTriggered.id);
  });

  it('should replay the alerts a subscriber missed after `after`, then continue live, with no gap or duplicate', async () => {
    const rules = await Promise.all(
      ['replay_a', 'replay_b', 'replay_c', 'replay_d'].map((metric) =>
        createRule({
          name: metric,
          severity: 'MEDIUM',
          conditions: [{ metric, aggregation: 'MAX', operator: 'GT', threshold: 0 }],
        }),
      ),
    );
    const ruleIds = rules.map((r) => r.id);
    const subscribed = subscribersJoined(one, 2);
    const first = live(one, TRIGGERED_FOR_RULES, { ruleIds });
    // Sees the alerts the client misses, so the client comes back only after they fired.
    const witness = live(one, TRIGGERED_FOR_RULES, { ruleIds: ruleIds.slice(1, 3) });
    await subscribed;
    await publish(one, 'replay_a', [1]);
    const seen = await first.result(0);
    first.dispose(); // the client drops
    await publish(one, 'replay_b', [1]);
    await publish(one, 'replay_c', [1]);
    // b and c may fire in one evaluation, in either order: the replay must give them in the order they fired.
    const missed = (await witness.waitFor(2)).map((r) => r.alertTriggered.ruleName);
    expect([...missed].sort()).toEqual(['replay_b', 'replay_c']);
    const again = live(two, TRIGGERED_FOR_RULES, { ruleIds, after: seen.alertTriggered.id });
    await again.waitFor(2);
    await publish(two, 'replay_d', [1]);
    await again.waitFor(3);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // quiet period: a duplicate would arrive in it
    expect(again.received.map((r) => r.alertTriggered.ruleName)).toEqual([...missed, 'replay_d']);
  });

  it('should push an alert to subscribers at once while its webhook hangs', async () => {
    const receiverCleanups: Cleanups = [];
    const hanging = await startReceiver(receiverCleanups, () => 'hang');
    const rule = await createRule({
      name: 'slow receiver',
      severity: 'LOW',
      webhookUrls: [hanging.url],
      conditions: [{ metric: 'slow_hook_m', aggregation: 'MAX', operator: 'GT', threshold: 0 }],
    });
    const joined = subscribersJoined(one);
    const triggered = live(one, TRIGGERED_FOR_RULES, { ruleIds: [rule.id] });
    await joined;
    const started = Date.now();
    await publish(one, 'slow_hook_m', [1]);
    await triggered.waitFor(1);
    // The webhook's first attempt is still hanging (its timeout is 5 s): a push that waited for it would come 5 s or
    // more after the publish, however loaded the machine.
    expect(Date.now() - started).toBeLessThan(5_000);
    await hanging.received(1);
    // Gone now: the remaining attempts fail fast instead of holding the servers' stop for their timeouts.
    for (const cleanup of receiverCleanups) await cleanup();
  });

  it('should refuse a replay from an unknown alert with NOT_FOUND', async () => {
    const sub = live(one, TRIGGERED_FOR_RULES, { after: '5b0c3a52-0000-4000-8000-000000000000' });
    await sub.waitFor(1);
    expect(JSON.stringify(sub.errors)).toContain('NOT_FOUND');
  });

  it('should load Alert.rule for many alerts with one rule query', async () => {
    const store = one.app.runtime.alertStore;
    const original = store.getRulesByIds.bind(store);
    let calls = 0;
    store.getRulesByIds = (ids) => {
      calls += 1;
      return original(ids);
    };
    try {
      const { alerts } = await gqlOk(one.url, ALERTS_WITH_RULES, {}, adminKey);
      expect(alerts.edges.length).toBeGreaterThan(3);
      expect(calls).toBe(1);
    } finally {
      store.getRulesByIds = original;
    }
  });

  it('should acknowledge an alert', async () => {
    const { alertRules } = await gqlOk(one.url, RULES, {}, adminKey);
    const rule = alertRules.find((r) => r.name === 'replay_d');
    assert.exists(rule, 'the rule of the replay test');
    const [open] = await alertsOf(rule.id);
    assert.exists(open, 'its alert');
    const { acknowledgeAlert } = await gqlOk(one.url, ACKNOWLEDGE, { id: open.id }, adminKey);
    expect(acknowledgeAlert.status).toBe('ACKNOWLEDGED');
    expect(Date.parse(acknowledgeAlert.acknowledgedAt ?? '')).toBeGreaterThan(Date.now() - 10_000);
  });
});
