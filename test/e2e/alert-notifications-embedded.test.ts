// The notices on the embedded database (PGlite, one process): the same transactions and statements as on Postgres.
import { afterAll, assert, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { eventually, gqlOk, sleep, startServer, type TestServer } from '../helpers/app.js';
import { PUBLISH_EVENTS } from '../helpers/operations.js';
import { type Cleanups, startReceiver } from '../helpers/receivers.js';

const CREATE_RULE = graphql(`
  mutation EmbeddedNoticesCreateRule($input: AlertRuleInput!) {
    createAlertRule(input: $input) {
      id
    }
  }
`);
const CREATE_SILENCE = graphql(`
  mutation EmbeddedNoticesCreateSilence($input: SilenceInput!) {
    createSilence(input: $input) {
      id
    }
  }
`);
const ALERTS = graphql(`
  query EmbeddedNoticesAlerts($ruleId: ID!) {
    alerts(ruleId: $ruleId, first: 5) {
      edges {
        node {
          status
          silencedBy
        }
      }
    }
  }
`);
const EXPIRE_SILENCE = graphql(`
  mutation EmbeddedNoticesExpireSilence($id: ID!) {
    expireSilence(id: $id) {
      active
    }
  }
`);

const cleanups: Cleanups = [];
let server: TestServer;

beforeAll(async () => {
  server = await startServer({
    config: {
      WEBHOOK_SECRET: 'embedded-notices-secret',
      ALLOW_PRIVATE_WEBHOOK_TARGETS: 'true',
      ALERT_EVALUATION_INTERVAL_MS: 100,
    },
  });
}, 180_000); // PGlite migrates its new folder first: slow on a loaded machine

afterAll(async () => {
  await server?.stop();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('notices on the embedded database', () => {
  it('should hold a firing back while silenced, send it when the silence ends, then its resolution', async () => {
    const receiver = await startReceiver(cleanups, () => 200);
    const metric = 'embedded_notice';
    const input = {
      name: metric,
      severity: 'LOW' as const,
      conditions: [{ metric, window: 'M1' as const, operator: 'GT' as const, threshold: 1 }],
      webhookUrls: [receiver.url],
    };
    const { createAlertRule } = await gqlOk(server.url, CREATE_RULE, { input }, server.adminKey);
    const endsAt = new Date(Date.now() + 60_000).toISOString();
    const { createSilence } = await gqlOk(
      server.url,
      CREATE_SILENCE,
      { input: { ruleIds: [createAlertRule.id], endsAt, comment: 'embedded' } },
      server.adminKey,
    );
    const publish = (value: number) =>
      gqlOk(
        server.url,
        PUBLISH_EVENTS,
        { inputs: [{ type: 'PERFORMANCE_METRIC', data: { metric_name: metric, value } }] },
        server.adminKey,
      );
    await publish(10);
    // Fired under the silence first: a quiet period that began before the engine's evaluation (late on a loaded
    // machine) would pass whether or not the silence held the notice back.
    await eventually(async () => {
      const { alerts } = await gqlOk(server.url, ALERTS, { ruleId: createAlertRule.id }, server.adminKey);
      return alerts.edges.some(({ node }) => node.status === 'FIRING' && node.silencedBy === createSilence.id);
    });
    await sleep(1_500); // quiet period: a notice sent despite the silence would arrive in it
    expect(receiver.requests).toEqual([]);
    await gqlOk(server.url, EXPIRE_SILENCE, { id: createSilence.id }, server.adminKey);
    await receiver.received(1);
    await publish(-1_000);
    await receiver.received(2);
    const kinds = receiver.requests.map((request) => JSON.parse(request.body).kind);
    expect(kinds).toEqual(['FIRING', 'RESOLVED']);
    const [firing, resolved] = receiver.requests.map((request) => JSON.parse(request.body).alert.id);
    assert.exists(firing);
    expect(resolved).toBe(firing);
  });
});
