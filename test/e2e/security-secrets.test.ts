// Secrets never reach logs or error messages. The real entry point runs in a child process at LOG_LEVEL=trace,
// with secrets in every place they can be configured (API keys, the database password, the SMTP password, the
// webhook secret), and is driven through key checks, failed notifications and a database outage. Then everything
// it wrote, and every answer it gave, is searched for them.
import { randomUUID } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { gql, gqlOk } from '../helpers/app.js';
import { type ChildServer, startChildServer } from '../helpers/child-server.js';
import { CREATE_API_KEY, PUBLISH_EVENT } from '../helpers/operations.js';
import { type OwnedPostgres, startOwnedPostgres } from '../helpers/owned-services.js';
import { freePort } from '../helpers/ports.js';
import { openRaw } from '../helpers/raw-ws.js';

const secrets = {
  adminKey: `admin-${randomUUID()}`,
  databasePassword: `pgpw-${randomUUID()}`,
  smtpPassword: `smtppw-${randomUUID()}`,
  webhookSecret: `whsec-${randomUUID()}`,
  wrongKey: `jds_wrong-${randomUUID()}`,
};

let postgres: OwnedPostgres;
let server: ChildServer;

beforeAll(async () => {
  postgres = await startOwnedPostgres();
  const closedPort = await freePort();
  server = await startChildServer({
    // Trust authentication ignores the password, but the server still holds it in its configuration.
    DATABASE_URL: postgres.url.replace('postgres@', `postgres:${secrets.databasePassword}@`),
    ADMIN_API_KEY: secrets.adminKey,
    SMTP_URL: `smtp://alerts:${secrets.smtpPassword}@127.0.0.1:${closedPort}`,
    WEBHOOK_SECRET: secrets.webhookSecret,
    ALLOW_PRIVATE_WEBHOOK_TARGETS: 'true',
    WEBHOOK_ATTEMPTS: '2',
    WEBHOOK_BACKOFF_MS: '10',
    LOG_LEVEL: 'trace',
  });
});

afterAll(async () => {
  await server?.kill('SIGKILL');
  await postgres?.remove();
});

describe('secrets', () => {
  it('should keep every secret out of the logs and the answers, and log masked failures with their request id', async () => {
    const answers: string[] = [];
    const call = async <R, V>(document: TypedDocumentNode<R, V>, variables: NoInfer<V>, key: string) => {
      const result = await gql(server.url, document, variables, key);
      answers.push(JSON.stringify(result));
      return result;
    };
    const history = graphql(`
      query SecretsHistory {
        events(first: 1) {
          edges {
            node {
              id
            }
          }
        }
      }
    `);
    const created = (
      await gqlOk(server.url, CREATE_API_KEY, { name: 'publisher', role: 'PUBLISHER' }, secrets.adminKey)
    ).createApiKey.key;
    await call(history, {}, created);
    await call(history, {}, secrets.wrongKey);
    await call(PUBLISH_EVENT, { input: { type: 'ANOMALY_DETECTED', data: {} } }, secrets.wrongKey);
    for (const key of [created, secrets.wrongKey]) {
      const socket = await openRaw(server.url.replace(/^http/, 'ws'), null);
      socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } });
      await socket.waitFor((m) => m.type === 'connection_ack').catch(() => socket.closed); // the wrong key is closed with 4403
      await socket.close();
    }

    // An alert whose webhook and email both fail, so notification errors get logged.
    await gqlOk(
      server.url,
      graphql(`
        mutation CreateProbeRule($input: AlertRuleInput!) {
          createAlertRule(input: $input) {
            id
          }
        }
      `),
      {
        input: {
          name: 'secret probe',
          severity: 'HIGH',
          conditions: [{ metric: 'secret_probe', aggregation: 'COUNT', operator: 'GT', threshold: 0 }],
          webhookUrls: [`http://127.0.0.1:${await freePort()}/hook`],
          emails: ['ops@example.com'],
        },
      },
      secrets.adminKey,
    );
    await gqlOk(
      server.url,
      PUBLISH_EVENT,
      { input: { type: 'PERFORMANCE_METRIC', data: { metric_name: 'secret_probe', value: 1 } } },
      created,
    );
    // Both channels have given up (the rule's HIGH severity sends email too).
    for (const channel of ['WEBHOOK', 'EMAIL'])
      await server.waitForOutput(new RegExp(`"channel":"${channel}".*"msg":"alert delivery failed"`), 45_000);

    // The database goes away: the failure is masked for the client and logged under the id the client was given.
    await postgres.stop();
    const failed = await call(history, {}, created);
    const error = failed.errors?.[0];
    expect(['UNAVAILABLE', 'INTERNAL']).toContain(error?.extensions?.code);
    const requestId = error?.extensions?.requestId as string;
    expect(requestId).toBeTruthy();
    expect(error?.message).not.toMatch(/127\.0\.0\.1|prisma|postgres|ECONNREFUSED/i);
    await server.waitForOutput(requestId, 25_000);

    const everything = `${server.output()}\n${answers.join('\n')}`;
    const lines = server.output().split('\n');
    console.info('secrets', {
      logLines: lines.length,
      notificationLines: lines.filter((l) => /webhook|email|smtp/i.test(l)).length,
    });
    expect(everything.length).toBeGreaterThan(1_000); // trace logging really wrote something
    for (const [name, secret] of Object.entries({ ...secrets, createdKey: created })) {
      expect(everything.includes(secret), `${name} appeared in the logs or an answer`).toBe(false);
    }
  }, 120_000);
});
