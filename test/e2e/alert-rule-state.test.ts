// alertRuleState end to end on Postgres and Redis: the state of each rule and the values of its conditions, at once
// and as they change; keepFiringForSeconds and noDataState as the live engine applies them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { gqlOk, startServer, subscribe, type TestServer, wsClient } from '../helpers/app.js';
import { PUBLISH_EVENTS } from '../helpers/operations.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

const CREATE = graphql(`
  mutation CreateRuleForState($input: AlertRuleInput!) {
    createAlertRule(input: $input) {
      id
      keepFiringForSeconds
      noDataState
    }
  }
`);
const RULE_STATE = graphql(`
  subscription AlertRuleState($ruleIds: [ID!]) {
    alertRuleState(ruleIds: $ruleIds) {
      ruleId
      state
      values
      pendingSince
      firesAt
      at
    }
  }
`);

let database: TestDatabase;
let server: TestServer;
const prefix = redisKeyPrefix();
const clients: { dispose(): unknown }[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  server = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix });
});

afterAll(async () => {
  for (const client of clients) await client.dispose();
  await server?.stop();
  await database?.drop();
  await deleteRedisKeys(prefix);
});

const publish = (metric: string, value: number) =>
  gqlOk(
    server.url,
    PUBLISH_EVENTS,
    { inputs: [{ type: 'PERFORMANCE_METRIC', data: { metric_name: metric, value } }] },
    server.adminKey,
  );

function client() {
  const c = wsClient(server.wsUrl, server.adminKey);
  clients.push(c);
  return c;
}

describe('alertRuleState', () => {
  it('should give the state at once, then pending with when it fires, with the current values', async () => {
    const { createAlertRule: rule } = await gqlOk(
      server.url,
      CREATE,
      {
        input: {
          name: 'state',
          severity: 'LOW',
          conditions: [{ metric: 'rs_latency', window: 'M1', aggregation: 'MAX', operator: 'GT', threshold: 500 }],
          forSeconds: 600,
        },
      },
      server.adminKey,
    );
    const first = subscribe(client(), RULE_STATE, { ruleIds: [rule.id] });
    // The engine evaluates a new rule at its next pass; until then it has no values to show.
    const evaluated = await first.until((items) =>
      items.some((i) => 'max(rs_latency)[M1]' in (i.alertRuleState.values as Record<string, unknown>)),
    );
    expect(evaluated.at(-1)?.alertRuleState).toMatchObject({
      ruleId: rule.id,
      state: 'INACTIVE',
      values: { 'max(rs_latency)[M1]': null },
      pendingSince: null,
      firesAt: null,
    });
    await publish('rs_latency', 900);
    const states = await first.until((items) => items.some((i) => i.alertRuleState.state === 'PENDING'));
    const pending = states.find((i) => i.alertRuleState.state === 'PENDING')?.alertRuleState;
    expect(pending?.values).toEqual({ 'max(rs_latency)[M1]': 900 });
    expect(Date.parse(pending?.firesAt as string) - Date.parse(pending?.pendingSince as string)).toBe(600_000);
    // A later subscriber gets the current state at once, without waiting for a change.
    const second = subscribe(client(), RULE_STATE, { ruleIds: [rule.id] });
    const [now] = await second.waitFor(1);
    expect(now?.alertRuleState).toMatchObject({ state: 'PENDING', pendingSince: pending?.pendingSince });
    // Only changes follow: no repeat of an unchanged state.
    const seen = first.received.length;
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(first.received.slice(seen)).toHaveLength(0);
    first.dispose();
    second.dispose();
  });

  it('should keep a rule firing for keepFiringForSeconds, and fire over no data under ALERTING', async () => {
    const { createAlertRule: rule } = await gqlOk(
      server.url,
      CREATE,
      {
        input: {
          name: 'no data',
          severity: 'LOW',
          conditions: [{ metric: 'rs_silent', window: 'M1', aggregation: 'AVG', operator: 'GT', threshold: 500 }],
          noDataState: 'ALERTING',
          keepFiringForSeconds: 3_600,
        },
      },
      server.adminKey,
    );
    expect(rule).toMatchObject({ noDataState: 'ALERTING', keepFiringForSeconds: 3_600 });
    const states = subscribe(client(), RULE_STATE, { ruleIds: [rule.id] });
    await states.until((items) => items.some((i) => i.alertRuleState.state === 'FIRING'));
    // Data below the threshold: the condition stops holding, but the rule keeps firing for an hour.
    await publish('rs_silent', 1);
    await states.until((items) =>
      items.some((i) => (i.alertRuleState.values as Record<string, unknown>)['avg(rs_silent)[M1]'] === 1),
    );
    expect(states.received.at(-1)?.alertRuleState.state).toBe('FIRING');
    states.dispose();
  });
});
