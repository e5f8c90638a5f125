// Issue 12's notifications end to end: two instances on one Postgres and Redis, notices counted at a real webhook
// receiver and a real SMTP server. Resolutions, repeats, silences, summaries, acknowledgement and redelivery: exactly
// the notices expected, none twice, whichever instance leads; bad input refused with nothing changed.
import { afterAll, assert, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AlertRuleInput, SilenceInput } from '../generated/graphql.js';
import { graphql } from '../generated/index.js';
import {
  eventually,
  gql,
  gqlOk,
  sleep,
  startServer,
  subscribe,
  subscribersJoined,
  type TestServer,
  wsClient,
} from '../helpers/app.js';
import { CREATE_API_KEY, PUBLISH_EVENTS } from '../helpers/operations.js';
import { type Cleanups, header, type ReceivedRequest, startReceiver, startSmtpSink } from '../helpers/receivers.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

const CREATE_RULE = graphql(`
  mutation NoticesCreateRule($input: AlertRuleInput!) {
    createAlertRule(input: $input) {
      id
      summary
      notifyOnResolve
      repeatIntervalSeconds
    }
  }
`);
const RULES = graphql(`
  query NoticesRules {
    alertRules {
      id
    }
  }
`);
const ALERTS = graphql(`
  query NoticesAlerts($ruleId: ID!) {
    alerts(ruleId: $ruleId, first: 5) {
      edges {
        node {
          id
          status
          message
          silencedBy
          acknowledgedBy
          acknowledgeComment
          acknowledgedAt
        }
      }
    }
  }
`);
const ACKNOWLEDGE = graphql(`
  mutation NoticesAcknowledge($id: ID!, $comment: String) {
    acknowledgeAlert(id: $id, comment: $comment) {
      id
      status
      acknowledgedBy
      acknowledgeComment
      acknowledgedAt
    }
  }
`);
const REDELIVER = graphql(`
  mutation NoticesRedeliver($id: ID!) {
    redeliverAlert(id: $id) {
      id
    }
  }
`);
const CREATE_SILENCE = graphql(`
  mutation NoticesCreateSilence($input: SilenceInput!) {
    createSilence(input: $input) {
      id
      ruleIds
      severities
      startsAt
      endsAt
      comment
      createdBy
      active
    }
  }
`);
const EXPIRE_SILENCE = graphql(`
  mutation NoticesExpireSilence($id: ID!) {
    expireSilence(id: $id) {
      id
      active
    }
  }
`);
const SILENCES = graphql(`
  query NoticesSilences($active: Boolean) {
    silences(active: $active) {
      id
      active
    }
  }
`);
const TRIGGERED = graphql(`
  subscription NoticesTriggered($ruleIds: [ID!]) {
    alertTriggered(ruleIds: $ruleIds) {
      id
      silencedBy
    }
  }
`);

const SECRET = 'e2e-notices-webhook-secret';
const REPEAT_SECONDS = 1;
const cleanups: Cleanups = [];
const servers: TestServer[] = [];
let database: TestDatabase;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
const prefix = redisKeyPrefix();
const adminKey = `test-admin-${Date.now()}`;

beforeAll(async () => {
  database = await createTestDatabase();
  smtp = await startSmtpSink(cleanups);
  for (let i = 0; i < 2; i++) await instance();
});

afterAll(async () => {
  for (const server of servers.splice(0)) await server.stop();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await database?.drop();
  await deleteRedisKeys(prefix);
});

async function instance(): Promise<TestServer> {
  const server = await startServer({
    databaseUrl: database.url,
    redisKeyPrefix: prefix,
    adminKey,
    config: {
      WEBHOOK_SECRET: SECRET,
      ALLOW_PRIVATE_WEBHOOK_TARGETS: 'true', // the receivers listen on loopback
      ALERT_EVALUATION_INTERVAL_MS: 100,
      PROCESSOR_LEASE_MS: 1_000,
      WEBHOOK_BACKOFF_MS: 50,
      SMTP_URL: smtp.smtpUrl,
      ALERT_EMAIL_FROM: 'alerts@jackdaw.test',
      MIN_REPEAT_INTERVAL_SECONDS: REPEAT_SECONDS,
      MAX_COMMENT_LENGTH: 100,
      MAX_SUMMARY_LENGTH: 200,
      MAX_SILENCES: 3,
    },
  });
  servers.push(server);
  return server;
}

/** The instance that evaluates rules and notifies: the alert lease's holder (every instance processes partitions). */
const leader = () => servers.find((server) => server.app.runtime.processor.isServing);
/** Requests go to the instance that does not evaluate: what it stores must reach the leader through Postgres. */
const follower = () => servers.find((server) => !server.app.runtime.processor.isServing) ?? servers[0];
function api(): TestServer {
  const server = follower();
  assert.exists(server);
  return server;
}

interface Notice {
  kind: string;
  alertId: string;
  status: string;
  message: string;
  silencedBy: string | null;
  key: string;
  at: number;
}

function noticesOf(requests: ReceivedRequest[]): Notice[] {
  return requests.map(({ body, headers, at }) => {
    const { kind, alert } = JSON.parse(body);
    return {
      kind,
      alertId: alert.id,
      status: alert.status,
      message: alert.message,
      silencedBy: alert.silencedBy,
      key: String(headers['idempotency-key']),
      at,
    };
  });
}

function ruleInput(name: string, overrides: Partial<AlertRuleInput> = {}): AlertRuleInput {
  return {
    name,
    severity: 'LOW',
    conditions: [{ metric: name, window: 'M1', operator: 'GT', threshold: 1 }],
    ...overrides,
  };
}

async function createRule(input: AlertRuleInput): Promise<string> {
  // Nothing to wait for after: the leader's engine reloads its rules at every evaluation tick (100 ms here).
  const { createAlertRule } = await gqlOk(api().url, CREATE_RULE, { input }, adminKey);
  return createAlertRule.id;
}

/** One value of `metric`: 10 makes its rule fire, -1000 pulls the minute's average below 1 and resolves it. */
async function publish(metric: string, value: number) {
  const inputs = [{ type: 'PERFORMANCE_METRIC' as const, data: { metric_name: metric, value } }];
  await gqlOk(api().url, PUBLISH_EVENTS, { inputs }, adminKey);
}

async function alertsOf(ruleId: string) {
  const { alerts } = await gqlOk(api().url, ALERTS, { ruleId }, adminKey);
  return alerts.edges.map((edge) => edge.node);
}

/** After the expected notices arrived, long enough for a duplicate or a stray one to arrive too. */
const quietMs = 1_500;

function expectDistinctKeys(notices: Notice[]) {
  expect(new Set(notices.map((notice) => notice.key)).size).toBe(notices.length);
}

describe('resolved notices and summaries', () => {
  it('should send the firing and its resolution, paired by alert id, to webhooks and email, once each', async () => {
    const receiver = await startReceiver(cleanups, () => 200);
    const quiet = await startReceiver(cleanups, () => 200);
    const name = 'notice_resolved';
    const summary = '{{rule}} is at {{value}} ({{aggregation}} over {{window}}, {{operator}} {{threshold}})';
    await createRule(
      ruleInput(name, { severity: 'HIGH', summary, webhookUrls: [receiver.url], emails: ['ops@example.com'] }),
    );
    await createRule(
      ruleInput(`${name}_quiet`, {
        conditions: [{ metric: name, window: 'M1', operator: 'GT', threshold: 1 }],
        notifyOnResolve: false,
        webhookUrls: [quiet.url],
      }),
    );
    await publish(name, 10);
    await receiver.received(1);
    await publish(name, -1_000);
    await receiver.received(2);
    await quiet.received(1);
    await sleep(quietMs);

    const notices = noticesOf(receiver.requests);
    const message = `${name} is at 10 (AVG over M1, GT 1)`;
    expect(notices.map(({ kind, status, message }) => [kind, status, message])).toEqual([
      ['FIRING', 'FIRING', message],
      ['RESOLVED', 'RESOLVED', message],
    ]);
    expect(notices[1]?.alertId).toBe(notices[0]?.alertId);
    expectDistinctKeys(notices);
    // The rule that did not ask for resolutions got its firing only.
    expect(noticesOf(quiet.requests).map((notice) => notice.kind)).toEqual(['FIRING']);
    const emails = smtp.messages.filter((email) => header(email, 'Subject')?.includes(message));
    expect(emails.map((email) => header(email, 'Subject'))).toEqual([
      `[HIGH] ${name}: ${message}`,
      `[RESOLVED] [HIGH] ${name}: ${message}`,
    ]);
  });
});

describe('repeats and acknowledgement', () => {
  it('should repeat a firing alert every interval until it is acknowledged, then resolve once', async () => {
    const receiver = await startReceiver(cleanups, () => 200);
    const name = 'notice_repeat';
    const ruleId = await createRule(
      ruleInput(name, { repeatIntervalSeconds: REPEAT_SECONDS, webhookUrls: [receiver.url] }),
    );
    await publish(name, 10);
    await receiver.received(3); // the firing and two repeats, REPEAT_SECONDS apart

    const { createApiKey } = await gqlOk(api().url, CREATE_API_KEY, { name: 'oncall', role: 'ADMIN' }, adminKey);
    const [alert] = await alertsOf(ruleId);
    assert.exists(alert);
    const { acknowledgeAlert } = await gqlOk(
      api().url,
      ACKNOWLEDGE,
      { id: alert.id, comment: 'on it' },
      createApiKey.key,
    );
    expect(acknowledgeAlert).toMatchObject({
      status: 'ACKNOWLEDGED',
      acknowledgedBy: 'oncall',
      acknowledgeComment: 'on it',
      acknowledgedAt: expect.any(String),
    });
    // A repeat queued just before the acknowledgement is still delivered: the quiet period starts once no notice of
    // the alert is left queued (a fixed 500 ms could end before that delivery under load, which then fell in it).
    const { prisma } = api().app.runtime.db;
    await eventually(async () => (await prisma.notificationDelivery.count({ where: { alertId: alert.id } })) === 0);
    const beforeQuiet = receiver.requests.length;
    await sleep(REPEAT_SECONDS * 1_000 * 2 + 500);
    expect(receiver.requests).toHaveLength(beforeQuiet);

    await publish(name, -1_000);
    await receiver.received(beforeQuiet + 1);
    await sleep(quietMs);
    const notices = noticesOf(receiver.requests);
    const kinds = notices.map((notice) => notice.kind);
    expect(kinds[0]).toBe('FIRING');
    expect(kinds.slice(1, -1).every((kind) => kind === 'REPEAT')).toBe(true);
    expect(kinds.at(-1)).toBe('RESOLVED');
    expect(new Set(notices.map((notice) => notice.alertId))).toEqual(new Set([alert.id]));
    expectDistinctKeys(notices);
    // One interval apart (less a little for the poll's timing), never two at once.
    const gaps = notices.slice(1, -1).map((notice, i) => notice.at - (notices[i]?.at ?? 0));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(REPEAT_SECONDS * 1_000 - 150);
  });
});

describe('silences', () => {
  it('should store and push a silenced alert marked with its silence, and notify it once when the silence ends', async () => {
    const receiver = await startReceiver(cleanups, () => 200);
    const name = 'notice_silenced';
    const ruleId = await createRule(ruleInput(name, { severity: 'MEDIUM', webhookUrls: [receiver.url] }));
    // Long enough that the alert fires inside it even on a loaded machine (at 2.5 s it could fire after the silence).
    const silenceMs = 8_000;
    const { createSilence } = await gqlOk(
      api().url,
      CREATE_SILENCE,
      { input: { ruleIds: [ruleId], endsAt: new Date(Date.now() + silenceMs).toISOString(), comment: 'deploying' } },
      adminKey,
    );
    expect(createSilence).toMatchObject({
      ruleIds: [ruleId],
      severities: [],
      createdBy: expect.any(String),
      active: true,
    });

    const client = wsClient(api().wsUrl, adminKey);
    cleanups.push(() => client.dispose());
    const joined = subscribersJoined(api());
    const triggered = subscribe(client, TRIGGERED, { ruleIds: [ruleId] });
    cleanups.push(() => triggered.dispose());
    await joined;
    await publish(name, 10);
    const { alertTriggered } = await triggered.result(0);
    expect(alertTriggered.silencedBy).toBe(createSilence.id);
    expect((await alertsOf(ruleId))[0]?.silencedBy).toBe(createSilence.id);
    expect(receiver.requests).toEqual([]);

    await receiver.received(1, silenceMs + 25_000);
    await sleep(quietMs);
    const notices = noticesOf(receiver.requests);
    expect(notices.map(({ kind, alertId, silencedBy }) => [kind, alertId, silencedBy])).toEqual([
      ['FIRING', alertTriggered.id, null],
    ]);
    expect((await gqlOk(api().url, SILENCES, { active: true }, adminKey)).silences).toEqual([]);
  });

  it('should notify at once when a silence is expired early, and not for one resolved while silenced', async () => {
    const receiver = await startReceiver(cleanups, () => 200);
    const name = 'notice_expired';
    const ruleId = await createRule(ruleInput(name, { severity: 'CRITICAL', webhookUrls: [receiver.url] }));
    const endsAt = new Date(Date.now() + 60 * 60_000).toISOString();
    const silence = await gqlOk(
      api().url,
      CREATE_SILENCE,
      { input: { severities: ['CRITICAL'], endsAt, comment: 'maintenance' } },
      adminKey,
    );
    // Fired, then resolved, silenced throughout. Each state is waited for before the next value is published: two
    // values published back to back may be evaluated together, and the rule would never have fired.
    const alertIs = (status: string) =>
      vi.waitFor(
        async () => {
          const [alert] = await alertsOf(ruleId);
          expect(alert).toMatchObject({ status, silencedBy: silence.createSilence.id });
        },
        { timeout: 25_000, interval: 200 },
      );
    try {
      await publish(name, 10);
      await alertIs('FIRING');
      await publish(name, -1_000);
      await alertIs('RESOLVED');
      await publish(name, 2_000);
      await alertIs('FIRING');
      await sleep(quietMs);
      expect(receiver.requests).toEqual([]);
    } catch (error) {
      // Not left over the tests after this one, whose CRITICAL alerts it would silence.
      await gql(api().url, EXPIRE_SILENCE, { id: silence.createSilence.id }, adminKey);
      throw error;
    }

    const { expireSilence } = await gqlOk(api().url, EXPIRE_SILENCE, { id: silence.createSilence.id }, adminKey);
    expect(expireSilence.active).toBe(false);
    await receiver.received(1);
    await sleep(quietMs);
    const [firing] = await alertsOf(ruleId);
    expect(noticesOf(receiver.requests).map(({ kind, alertId }) => [kind, alertId])).toEqual([['FIRING', firing?.id]]);
  });
});

describe('redelivery', () => {
  it('should send an alert again with a new idempotency key, for admins only', async () => {
    const receiver = await startReceiver(cleanups, () => 200);
    const name = 'notice_redelivered';
    const ruleId = await createRule(ruleInput(name, { webhookUrls: [receiver.url] }));
    await publish(name, 10);
    await receiver.received(1);
    const [alert] = await alertsOf(ruleId);
    assert.exists(alert);

    const { createApiKey } = await gqlOk(api().url, CREATE_API_KEY, { name: 'viewer', role: 'VIEWER' }, adminKey);
    const forbidden = await gql(api().url, REDELIVER, { id: alert.id }, createApiKey.key);
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    await gqlOk(api().url, REDELIVER, { id: alert.id }, adminKey);
    await receiver.received(2);
    await sleep(quietMs);
    const notices = noticesOf(receiver.requests);
    expect(notices.map(({ kind, alertId }) => [kind, alertId])).toEqual([
      ['FIRING', alert.id],
      ['REDELIVERY', alert.id],
    ]);
    expectDistinctKeys(notices);
  });
});

describe('bad input', () => {
  it('should refuse with BAD_USER_INPUT naming the problem, and change nothing', async () => {
    const ruleId = await createRule(ruleInput('notice_bad_input'));
    const rulesBefore = (await gqlOk(api().url, RULES, {}, adminKey)).alertRules;
    for (const [input, problem] of [
      [ruleInput('bad', { summary: '{{rule}} on {{host}}' }), 'summary has an unknown placeholder {{host}}'],
      [ruleInput('bad', { repeatIntervalSeconds: -5 }), 'repeatIntervalSeconds must be at least 1'],
      [ruleInput('bad', { summary: 'x'.repeat(201) }), 'summary must be at most 200 characters (MAX_SUMMARY_LENGTH)'],
    ] as const) {
      const { errors } = await gql(api().url, CREATE_RULE, { input }, adminKey);
      expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(errors?.[0]?.message).toContain(problem);
    }
    expect((await gqlOk(api().url, RULES, {}, adminKey)).alertRules).toEqual(rulesBefore);

    const now = Date.now();
    const at = (ms: number) => new Date(now + ms).toISOString();
    const silenceCases: [SilenceInput, string][] = [
      [{ ruleIds: [ruleId], startsAt: at(60_000), endsAt: at(30_000), comment: 'x' }, 'endsAt must be after startsAt'],
      [{ ruleIds: ['00000000-0000-4000-8000-000000000000'], endsAt: at(60_000), comment: 'x' }, 'ruleIds name no rule'],
      [{ ruleIds: [ruleId], endsAt: at(60_000), comment: 'x'.repeat(101) }, 'comment must be at most 100 characters'],
    ];
    for (const [input, problem] of silenceCases) {
      const { errors } = await gql(api().url, CREATE_SILENCE, { input }, adminKey);
      expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(errors?.[0]?.message).toContain(problem);
    }
    const { errors } = await gql(api().url, ACKNOWLEDGE, { id: ruleId, comment: 'x'.repeat(101) }, adminKey);
    expect(errors?.[0]?.message).toContain('comment must be at most 100 characters (MAX_COMMENT_LENGTH)');
    const activeSilences = (await gqlOk(api().url, SILENCES, { active: true }, adminKey)).silences;
    expect(activeSilences).toEqual([]);

    // MAX_SILENCES not yet ended: the next is refused until one ends.
    const valid = { ruleIds: [ruleId], endsAt: at(60_000), comment: 'planned' };
    const created = [];
    for (let i = 0; i < 3; i++)
      created.push((await gqlOk(api().url, CREATE_SILENCE, { input: valid }, adminKey)).createSilence);
    const full = await gql(api().url, CREATE_SILENCE, { input: valid }, adminKey);
    expect(full.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(full.errors?.[0]?.message).toContain('there are already 3 silences not yet ended');
    for (const { id } of created) await gqlOk(api().url, EXPIRE_SILENCE, { id }, adminKey);
    expect((await gqlOk(api().url, SILENCES, { active: true }, adminKey)).silences).toEqual([]);
  });
});

describe('a leader stopping mid-repeat', () => {
  it('should go on repeating from the next leader, with no notice sent twice', async () => {
    const receiver = await startReceiver(cleanups, () => 200);
    const name = 'notice_failover';
    await createRule(ruleInput(name, { repeatIntervalSeconds: REPEAT_SECONDS, webhookUrls: [receiver.url] }));
    await publish(name, 10);
    await receiver.received(2);
    const first = leader();
    assert.exists(first);
    await first.stop();
    servers.splice(servers.indexOf(first), 1);
    const count = receiver.requests.length;
    await receiver.received(count + 3, 40_000); // the next leader takes the lease first

    // Stopped at once, the old leader may have abandoned an attempt the receiver had already got: the next leader
    // sends it again under the same idempotency key, with the same body, which is what the key is for.
    const requests = receiver.requests;
    const firstOfKey = new Map<string, ReceivedRequest>();
    for (const request of requests) {
      const key = String(request.headers['idempotency-key']);
      expect(request.body).toBe(firstOfKey.get(key)?.body ?? request.body);
      if (!firstOfKey.has(key)) firstOfKey.set(key, request);
    }
    const notices = noticesOf([...firstOfKey.values()]);
    expect(notices.length).toBeGreaterThanOrEqual(4);
    expect(notices[0]?.kind).toBe('FIRING');
    expect(notices.slice(1).every((notice) => notice.kind === 'REPEAT')).toBe(true);
    expect(new Set(notices.map((notice) => notice.alertId)).size).toBe(1);
    // No notice queued twice: one interval apart, never two at once, across the change of leader.
    const gaps = notices.slice(1).map((notice, i) => notice.at - (notices[i]?.at ?? 0));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(REPEAT_SECONDS * 1_000 - 150);
  });
});
