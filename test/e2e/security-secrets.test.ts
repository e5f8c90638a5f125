// Secrets never reach logs or error messages. The real entry point runs in a child process at LOG_LEVEL=trace,
// with secrets in every place they can be configured (API keys, the database password, the SMTP password, the
// webhook secret), and is driven through key checks, failed notifications and a database outage. Then everything
// it wrote, and every answer it gave, is searched for them.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, gql, gqlOk } from '../helpers/app.js';
import { type ChildServer, startChildServer } from '../helpers/child-server.js';
import { freePort, type OwnedPostgres, startOwnedPostgres } from '../helpers/owned-services.js';
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
    const call = async (query: string, variables: Record<string, unknown>, key?: string) => {
      const result = await gql(server.url, query, variables, key);
      answers.push(JSON.stringify(result));
      return result;
    };
    const created = (
      await gqlOk(
        server.url,
        `mutation { createApiKey(name: "publisher", role: PUBLISHER) { key } }`,
        {},
        secrets.adminKey,
      )
    ).createApiKey.key as string;
    await call(`{ events(first: 1) { edges { node { id } } } }`, {}, created);
    await call(`{ events(first: 1) { edges { node { id } } } }`, {}, secrets.wrongKey);
    await call(`mutation { publishEvent(input: { type: ANOMALY_DETECTED, data: {} }) { id } }`, {}, secrets.wrongKey);
    for (const key of [created, secrets.wrongKey]) {
      const socket = await openRaw(server.url.replace(/^http/, 'ws'), null);
      socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } });
      await socket.waitFor((m) => m.type === 'connection_ack').catch(() => socket.closed); // the wrong key is closed with 4403
      await socket.close();
    }

    // An alert whose webhook and email both fail, so notification errors get logged.
    await gqlOk(
      server.url,
      `mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id } }`,
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
      `mutation { publishEvent(input: { type: PERFORMANCE_METRIC, data: { metric_name: "secret_probe", value: 1 } }) { id } }`,
      {},
      created,
    );
    await eventually(
      async () =>
        (await gqlOk(server.url, `{ alerts(first: 1) { edges { node { id } } } }`, {}, secrets.adminKey)).alerts.edges
          .length > 0,
      20_000,
      200,
    );
    await eventually(() => /webhook|email|smtp/i.test(server.output()), 20_000, 200).catch(() => {});

    // The database goes away: the failure is masked for the client and logged under the id the client was given.
    await postgres.stop();
    const failed = await call(`{ events(first: 1) { edges { node { id } } } }`, {}, created);
    const error = failed.errors?.[0];
    expect(['UNAVAILABLE', 'INTERNAL']).toContain(error?.extensions?.code);
    const requestId = error?.extensions?.requestId as string;
    expect(requestId).toBeTruthy();
    expect(error?.message).not.toMatch(/127\.0\.0\.1|prisma|postgres|ECONNREFUSED/i);
    await eventually(() => server.output().includes(requestId), 5_000);

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
