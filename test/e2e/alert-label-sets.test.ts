// Alerts per label set (issue 12 item 10) end to end: two instances on one Postgres and Redis, notices counted at a
// real webhook receiver and a real SMTP server. One alert per competitor, each firing and resolving on its own;
// exactly the notices expected, none twice, whichever instance leads, a change of leader included; a silence that
// matches one label set only; the backtest per label set; bad matchers, groupBy and too many label sets refused with
// nothing changed.
import { afterAll, assert, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AlertRuleInput } from '../generated/graphql.js';
import { graphql } from '../generated/index.js';
import { gql, gqlOk, sleep, startServer, subscribe, type TestServer, wsClient } from '../helpers/app.js';
import { PUBLISH_EVENTS } from '../helpers/operations.js';
import { type Cleanups, header, type ReceivedRequest, startReceiver, startSmtpSink } from '../helpers/receivers.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

const CREATE_RULE = graphql(`
  mutation LabelSetsCreateRule($input: AlertRuleInput!) {
    createAlertRule(input: $input) {
      id
      groupBy
      conditions {
        metric
        labels {
          name
          value
        }
      }
    }
  }
`);
const RULES = graphql(`
  query LabelSetsRules {
    alertRules {
      id
    }
  }
`);
const ALERTS = graphql(`
  query LabelSetsAlerts($ruleId: ID!) {
    alerts(ruleId: $ruleId, first: 20) {
      edges {
        node {
          id
          status
          message
          silencedBy
          values
          labels {
            name
            value
          }
        }
      }
    }
  }
`);
const ALERTS_BY_LABELS = graphql(`
  query LabelSetsAlertsByLabels($ruleId: ID!, $labels: [LabelMatcher!]) {
    alerts(ruleId: $ruleId, labels: $labels, first: 20) {
      edges {
        node {
          id
          status
        }
      }
    }
  }
`);
const CREATE_SILENCE = graphql(`
  mutation LabelSetsCreateSilence($input: SilenceInput!) {
    createSilence(input: $input) {
      id
      labels {
        name
        value
      }
    }
  }
`);
const EXPIRE_SILENCE = graphql(`
  mutation LabelSetsExpireSilence($id: ID!) {
    expireSilence(id: $id) {
      id
      active
    }
  }
`);
const SILENCES = graphql(`
  query LabelSetsSilences {
    silences {
      id
    }
  }
`);
const LABEL_VALUES = graphql(`
  query LabelSetsLabelValues($metric: String!) {
    metricLabelValues(metric: $metric, label: "competitor")
  }
`);
const PREVIEW = graphql(`
  query LabelSetsPreview($input: AlertRuleInput!, $since: DateTime!) {
    previewAlertRule(input: $input, since: $since) {
      firedAt
      resolvedAt
      values
      labels {
        name
        value
      }
    }
  }
`);
const ALERT_EVENTS = graphql(`
  query LabelSetsAlertEvents {
    events(types: [ALERT_TRIGGERED], first: 50) {
      edges {
        node {
          id
          data
        }
      }
    }
  }
`);
const RULE_STATE = graphql(`
  subscription LabelSetsRuleState($ruleIds: [ID!]) {
    alertRuleState(ruleIds: $ruleIds) {
      ruleId
      state
      values
      labels {
        name
        value
      }
    }
  }
`);

const SECRET = 'e2e-label-sets-webhook-secret';
const MAX_LABEL_SETS = 3;
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
      MAX_ALERT_LABEL_SETS_PER_RULE: MAX_LABEL_SETS,
    },
  });
  servers.push(server);
  return server;
}

const leader = () => servers.find((server) => server.app.runtime.processor.isLeader);
/** Requests go to the instance that does not evaluate: what it stores must reach the leader through Postgres. */
const follower = () => servers.find((server) => !server.app.runtime.processor.isLeader) ?? servers[0];
function api(): TestServer {
  const server = follower();
  assert.exists(server);
  return server;
}

interface Notice {
  kind: string;
  alertId: string;
  competitor: string | undefined;
  message: string;
  key: string;
}

function noticesOf(requests: ReceivedRequest[]): Notice[] {
  return requests.map(({ body, headers }) => {
    const { kind, alert } = JSON.parse(body) as {
      kind: string;
      alert: { id: string; message: string; labels: { name: string; value: string }[] };
    };
    return {
      kind,
      alertId: alert.id,
      competitor: alert.labels.find((label) => label.name === 'competitor')?.value,
      message: alert.message,
      key: String(headers['idempotency-key']),
    };
  });
}

/** What each competitor was told, in order: e.g. { acme: ['FIRING', 'RESOLVED'] }. */
function kindsByCompetitor(notices: Notice[]): Record<string, string[]> {
  const kinds: Record<string, string[]> = {};
  for (const { competitor = '-', kind } of notices) kinds[competitor] = [...(kinds[competitor] ?? []), kind];
  return kinds;
}

async function createRule(input: AlertRuleInput): Promise<string> {
  const { createAlertRule } = await gqlOk(api().url, CREATE_RULE, { input }, adminKey);
  await sleep(300); // the leader's engine has reloaded its rules (told on the bus)
  return createAlertRule.id;
}

/** One value of `metric` per competitor: 10 fires a rule at GT 1, -1000 pulls the minute's average under it. */
async function publish(metric: string, values: Record<string, number>) {
  const inputs = Object.entries(values).map(([competitor, value]) => ({
    type: 'PERFORMANCE_METRIC' as const,
    data: { metric_name: metric, value, labels: { competitor } },
  }));
  await gqlOk(api().url, PUBLISH_EVENTS, { inputs }, adminKey);
}

async function alertsOf(ruleId: string) {
  const { alerts } = await gqlOk(api().url, ALERTS, { ruleId }, adminKey);
  return alerts.edges.map(({ node }) => ({
    ...node,
    competitor: node.labels.find((label) => label.name === 'competitor')?.value,
  }));
}

/** Waits until the rule's alerts are, per competitor, in these states (newest alert of each). */
async function alertStates(ruleId: string, expected: Record<string, string>) {
  await vi.waitFor(
    async () => {
      const newest: Record<string, string> = {};
      for (const alert of (await alertsOf(ruleId)).reverse()) newest[alert.competitor ?? '-'] = alert.status;
      expect(newest).toEqual(expected);
    },
    { timeout: 20_000, interval: 200 },
  );
}

function ruleInput(name: string, overrides: Partial<AlertRuleInput> = {}): AlertRuleInput {
  return {
    name,
    severity: 'LOW',
    conditions: [{ metric: name, window: 'M1', operator: 'GT', threshold: 1 }],
    groupBy: ['competitor'],
    ...overrides,
  };
}

/** Resolves once the wall clock is in a later second than when called. */
async function nextSecond() {
  const second = Math.floor(Date.now() / 1_000);
  await vi.waitFor(() => expect(Math.floor(Date.now() / 1_000)).toBeGreaterThan(second), { interval: 50 });
}

/** After the expected notices arrived, long enough for a duplicate or a stray one to arrive too. */
const quietMs = 1_500;

describe('one alert per label set', () => {
  it('should fire and resolve each competitor on its own, with its labels in every notice, once each', async () => {
    const receiver = await startReceiver(cleanups, () => 200);
    const name = 'ls_parity';
    const since = new Date(Date.now() - 1_000).toISOString();
    const input = ruleInput(name, {
      severity: 'HIGH',
      summary: '{{labels}} is at {{value}}',
      webhookUrls: [receiver.url],
      emails: ['ops@example.com'],
    });
    const ruleId = await createRule(input);
    const client = wsClient(api().wsUrl, adminKey);
    cleanups.push(() => client.dispose());
    const states = subscribe(client, RULE_STATE, { ruleIds: [ruleId] });
    cleanups.push(() => states.dispose());

    await publish(name, { acme: 10, globex: 0.5, initech: 10 });
    await alertStates(ruleId, { acme: 'FIRING', initech: 'FIRING' });
    await receiver.received(2);
    // Each label set has its own state, globex's inactive beside the others' firing.
    await states.until((items) => {
      const latest = new Map(items.map(({ alertRuleState: s }) => [s.labels.map((l) => l.value).join(), s.state]));
      return (
        latest.get('acme') === 'FIRING' && latest.get('initech') === 'FIRING' && latest.get('globex') === 'INACTIVE'
      );
    });

    // The backtest steps through whole seconds (M1's buckets): a value that resolves acme within the second of the
    // one that fired it would be seen together with it there. The clock moves on a second first.
    await nextSecond();
    await publish(name, { acme: -1_000 });
    await alertStates(ruleId, { acme: 'RESOLVED', initech: 'FIRING' });
    await receiver.received(3);
    await publish(name, { globex: 10 });
    await alertStates(ruleId, { acme: 'RESOLVED', initech: 'FIRING', globex: 'FIRING' });
    await receiver.received(4);
    await sleep(quietMs);

    const notices = noticesOf(receiver.requests);
    expect(kindsByCompetitor(notices)).toEqual({
      acme: ['FIRING', 'RESOLVED'],
      initech: ['FIRING'],
      globex: ['FIRING'],
    });
    expect(new Set(notices.map((notice) => notice.key)).size).toBe(notices.length);
    const alerts = await alertsOf(ruleId);
    expect(alerts).toHaveLength(3);
    for (const notice of notices) {
      const alert = alerts.find((a) => a.id === notice.alertId);
      expect(alert?.competitor).toBe(notice.competitor);
      // globex's minute holds 0.5 and 10.
      const value = notice.competitor === 'globex' ? 5.25 : 10;
      expect(notice.message).toBe(`competitor=${notice.competitor} is at ${value}`);
    }
    expect(alerts.find((a) => a.competitor === 'acme')?.values).toEqual({ [`avg(${name})[M1]`]: 10 });
    // The alerts of one label set, by matchers.
    const { alerts: ofAcme } = await gqlOk(
      api().url,
      ALERTS_BY_LABELS,
      { ruleId, labels: [{ name: 'competitor', value: 'acme' }] },
      adminKey,
    );
    expect(ofAcme.edges.map(({ node }) => node.id)).toEqual([alerts.find((a) => a.competitor === 'acme')?.id]);
    const badFilter = await gql(api().url, ALERTS_BY_LABELS, { ruleId, labels: [{ name: '-', value: 'x' }] }, adminKey);
    expect(badFilter.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    // Each firing is in the event history, its label set as the event's labels.
    await vi.waitFor(
      async () => {
        const { events } = await gqlOk(api().url, ALERT_EVENTS, {}, adminKey);
        const recorded = new Map(events.edges.map(({ node }) => [node.id, node.data as { labels?: unknown }]));
        for (const alert of alerts) expect(recorded.get(alert.id)?.labels).toEqual({ competitor: alert.competitor });
      },
      { timeout: 20_000, interval: 200 },
    );
    // Emails name the label set too, one per notice.
    const emails = smtp.messages.filter((email) => header(email, 'Subject')?.includes(`${name}: competitor=`));
    expect(emails).toHaveLength(4);
    const acmeMail = emails.find((email) => header(email, 'Subject')?.startsWith('[RESOLVED]'));
    expect(acmeMail?.body).toContain('Labels:       competitor=acme');

    // The backtest of the same rule over the stored history tells the same story, label set by label set.
    const { previewAlertRule } = await gqlOk(api().url, PREVIEW, { input, since }, adminKey);
    const story = Object.fromEntries(
      previewAlertRule.map((p) => [p.labels.map((l) => `${l.name}=${l.value}`).join(), p.resolvedAt !== null]),
    );
    expect(story).toEqual({ 'competitor=acme': true, 'competitor=initech': false, 'competitor=globex': false });
    expect(previewAlertRule.find((p) => p.labels[0]?.value === 'globex')?.values).toEqual({
      [`avg(${name})[M1]`]: 5.25,
    });
  });

  it('should read only the label sets its matchers select, and fire one alert for a rule without groupBy', async () => {
    const receiver = await startReceiver(cleanups, () => 200);
    const name = 'ls_matched';
    const ruleId = await createRule(
      ruleInput(name, {
        groupBy: [],
        conditions: [
          { metric: name, window: 'M1', operator: 'GT', threshold: 1, labels: [{ name: 'competitor', value: 'acme' }] },
        ],
        webhookUrls: [receiver.url],
      }),
    );
    await publish(name, { globex: 10 });
    await publish(name, { acme: 0 });
    // globex's value is not acme's: nothing fires however long the engine looks.
    await sleep(quietMs);
    expect(await alertsOf(ruleId)).toEqual([]);
    await publish(name, { acme: 10 });
    await alertStates(ruleId, { '-': 'FIRING' });
    await receiver.received(1);
    await sleep(quietMs);
    const [alert] = await alertsOf(ruleId);
    expect(alert).toMatchObject({ labels: [], values: { [`avg(${name}{competitor=acme})[M1]`]: 5 } });
    expect(noticesOf(receiver.requests).map(({ kind, alertId }) => [kind, alertId])).toEqual([['FIRING', alert?.id]]);
  });
});

describe('silences of one label set', () => {
  it('should hold back only the matching label set, and send it once when the silence is expired', async () => {
    const receiver = await startReceiver(cleanups, () => 200);
    const name = 'ls_silenced';
    const ruleId = await createRule(ruleInput(name, { webhookUrls: [receiver.url] }));
    const endsAt = new Date(Date.now() + 60 * 60_000).toISOString();
    const { createSilence } = await gqlOk(
      api().url,
      CREATE_SILENCE,
      {
        input: { labels: [{ name: 'competitor', value: 'acme' }], ruleIds: [ruleId], endsAt, comment: 'acme deploys' },
      },
      adminKey,
    );
    expect(createSilence.labels).toEqual([{ name: 'competitor', value: 'acme' }]);
    try {
      await publish(name, { acme: 10, globex: 10 });
      await alertStates(ruleId, { acme: 'FIRING', globex: 'FIRING' });
      await receiver.received(1);
      await sleep(quietMs);
      const alerts = await alertsOf(ruleId);
      expect(alerts.find((a) => a.competitor === 'acme')?.silencedBy).toBe(createSilence.id);
      expect(alerts.find((a) => a.competitor === 'globex')?.silencedBy).toBeNull();
      expect(kindsByCompetitor(noticesOf(receiver.requests))).toEqual({ globex: ['FIRING'] });
    } finally {
      await gql(api().url, EXPIRE_SILENCE, { id: createSilence.id }, adminKey);
    }
    await receiver.received(2);
    await sleep(quietMs);
    const notices = noticesOf(receiver.requests);
    expect(kindsByCompetitor(notices)).toEqual({ globex: ['FIRING'], acme: ['FIRING'] });
    const acme = (await alertsOf(ruleId)).find((a) => a.competitor === 'acme');
    expect(notices.find((n) => n.competitor === 'acme')?.alertId).toBe(acme?.id);
    expect(acme?.silencedBy).toBeNull();
  });
});

describe('bad input', () => {
  it('should refuse bad matchers, groupBy and too many label sets with BAD_USER_INPUT, storing nothing', async () => {
    const name = 'ls_many';
    await publish(name, { a: 1, b: 1, c: 1, d: 1 });
    await vi.waitFor(
      async () => {
        const { metricLabelValues } = await gqlOk(api().url, LABEL_VALUES, { metric: name }, adminKey);
        expect(metricLabelValues).toHaveLength(4);
      },
      { timeout: 20_000, interval: 200 },
    );
    const rulesBefore = (await gqlOk(api().url, RULES, {}, adminKey)).alertRules;
    const condition = { metric: name, window: 'M1' as const, operator: 'GT' as const, threshold: 1 };
    const refused: [Partial<AlertRuleInput>, RegExp][] = [
      [{ conditions: [{ ...condition, labels: [{ name: 'bad-name', value: 'x' }] }] }, /is not a label name/],
      [{ conditions: [{ ...condition, labels: [{ name: 'a', value: 'has space' }] }] }, /value may hold only/],
      [
        {
          conditions: [
            {
              ...condition,
              labels: [
                { name: 'a', value: 'x' },
                { name: 'a', value: 'y' },
              ],
            },
          ],
        },
        /names label "a" a second time/,
      ],
      [{ groupBy: ['competitor', 'competitor'] }, /groupBy\[1\] names label "competitor" a second time/],
      [
        { conditions: [{ ...condition, labels: [{ name: 'competitor', value: 'a' }] }] },
        /group by it or match it, not both/,
      ],
      [{}, /finds 4 label sets, more than a rule may track \(MAX_ALERT_LABEL_SETS_PER_RULE = 3\)/],
    ];
    for (const [overrides, message] of refused) {
      const result = await gql(api().url, CREATE_RULE, { input: ruleInput(name, overrides) }, adminKey);
      expect(result.errors?.[0]?.extensions?.code, String(message)).toBe('BAD_USER_INPUT');
      expect(result.errors?.[0]?.message).toMatch(message);
    }
    // Matching fewer competitors brings it under the bound.
    const narrowed = await gql(
      api().url,
      CREATE_RULE,
      {
        input: ruleInput(name, {
          groupBy: [],
          conditions: [{ ...condition, labels: [{ name: 'competitor', value: 'a' }] }],
        }),
      },
      adminKey,
    );
    expect(narrowed.errors).toBeUndefined();
    expect((await gqlOk(api().url, RULES, {}, adminKey)).alertRules).toHaveLength(rulesBefore.length + 1);

    const silencesBefore = (await gqlOk(api().url, SILENCES, {}, adminKey)).silences;
    const endsAt = new Date(Date.now() + 60_000).toISOString();
    const badSilence = await gql(
      api().url,
      CREATE_SILENCE,
      { input: { labels: [{ name: 'competitor', value: 'a b' }], endsAt, comment: 'x' } },
      adminKey,
    );
    expect(badSilence.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(badSilence.errors?.[0]?.message).toMatch(/labels are not matchers/);
    expect((await gqlOk(api().url, SILENCES, {}, adminKey)).silences).toEqual(silencesBefore);

    const preview = await gql(
      api().url,
      PREVIEW,
      { input: ruleInput(name), since: new Date(Date.now() - 60_000).toISOString() },
      adminKey,
    );
    expect(preview.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(preview.errors?.[0]?.message).toMatch(/finds 4 label sets in the history, more than a rule may track/);
  });
});

describe('a change of leader', () => {
  it("should carry each label set's state over: no label set fires twice, each resolves once", async () => {
    const receiver = await startReceiver(cleanups, () => 200);
    const name = 'ls_leader';
    const ruleId = await createRule(ruleInput(name, { webhookUrls: [receiver.url] }));
    await publish(name, { acme: 10, globex: 10 });
    await alertStates(ruleId, { acme: 'FIRING', globex: 'FIRING' });
    await receiver.received(2);

    const old = leader();
    assert.exists(old);
    servers.splice(servers.indexOf(old), 1);
    await old.stop();
    await instance(); // two instances again; one of them leads once the lease is taken
    await vi.waitFor(() => expect(leader()).toBeDefined(), { timeout: 20_000, interval: 100 });
    // The new leader keeps both firing (values still hold) and resolves acme alone when it stops holding.
    await publish(name, { acme: -1_000, globex: 10 });
    await alertStates(ruleId, { acme: 'RESOLVED', globex: 'FIRING' });
    await receiver.received(3);
    await sleep(quietMs);
    expect(kindsByCompetitor(noticesOf(receiver.requests))).toEqual({
      acme: ['FIRING', 'RESOLVED'],
      globex: ['FIRING'],
    });
    expect(await alertsOf(ruleId)).toHaveLength(2);
  });
});
