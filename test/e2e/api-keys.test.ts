// API keys end to end: admins list every key and revoke any by id, keys expire (HTTP and open sockets), a PUBLISHER
// key limited to some event types publishes only those, and a changed ADMIN_API_KEY revokes the previous one.

import type { VariablesOf } from '@graphql-typed-document-node/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EventType } from '../generated/graphql.js';
import { graphql } from '../generated/index.js';
import { gql, gqlOk, startServer, type TestServer } from '../helpers/app.js';
import { openRaw, type RawSocket } from '../helpers/raw-ws.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

const CREATE = graphql(`
  mutation ApiKeysCreate($name: String!, $role: Role!, $expiresAt: DateTime, $eventTypes: [EventType!]) {
    createApiKey(name: $name, role: $role, expiresAt: $expiresAt, eventTypes: $eventTypes) {
      id
      key
      expiresAt
      eventTypes
    }
  }
`);
const LIST = graphql(`
  query ApiKeysList {
    apiKeys {
      id
      name
      role
      createdAt
      lastUsedAt
      expiresAt
      revokedAt
      eventTypes
    }
  }
`);
const REVOKE = graphql(`
  mutation ApiKeysRevoke($id: ID!) {
    revokeApiKey(id: $id)
  }
`);
const PUBLISH = graphql(`
  mutation ApiKeysPublish($inputs: [PublishEventInput!]!) {
    publishEvents(inputs: $inputs) {
      ids
    }
  }
`);
const HISTORY = graphql(`
  query ApiKeysHistory {
    events(first: 50) {
      edges {
        node {
          type
        }
      }
    }
  }
`);
const DASHBOARD = graphql(`
  query ApiKeysDashboard {
    dashboard {
      at
    }
  }
`);

type CreateVariables = VariablesOf<typeof CREATE>;

let database: TestDatabase;
let server: TestServer;
const sockets: RawSocket[] = [];
const restarted: TestServer[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  server = await startServer({ databaseUrl: database.url, config: { REVOCATION_CHECK_MS: 100 } });
});

afterEach(async () => {
  for (const socket of sockets.splice(0)) await socket.close();
  for (const other of restarted.splice(0)) await other.stop();
});

afterAll(async () => {
  await server?.stop();
  await database?.drop();
});

async function createKey(variables: CreateVariables) {
  return (await gqlOk(server.url, CREATE, variables, server.adminKey)).createApiKey;
}

async function listKeys(url = server.url, key = server.adminKey) {
  return (await gqlOk(url, LIST, {}, key)).apiKeys;
}

/** The error code of a viewer's dashboard query with `key`, or OK. */
async function dashboardWith(key: string, url = server.url) {
  const { errors } = await gql(url, DASHBOARD, {}, key);
  return errors?.[0]?.extensions?.code ?? 'OK';
}

async function listWith(key: string, url = server.url) {
  const { errors } = await gql(url, LIST, {}, key);
  return errors?.[0]?.extensions?.code ?? 'OK';
}

describe('apiKeys', () => {
  it('should list every key to admins, without the secret, so any can be revoked by id', async () => {
    const viewer = await createKey({ name: 'dashboard', role: 'VIEWER' });
    const listed = await listKeys();
    expect(listed.map((key) => key.name)).toEqual(['ADMIN_API_KEY', 'dashboard']);
    expect(listed[1]).toEqual({
      id: viewer.id,
      name: 'dashboard',
      role: 'VIEWER',
      createdAt: expect.any(String),
      lastUsedAt: null,
      expiresAt: null,
      revokedAt: null,
      eventTypes: null,
    });
    expect(JSON.stringify(listed)).not.toContain(viewer.key);
    expect(await listWith(viewer.key)).toBe('FORBIDDEN');

    // Used once: listed with lastUsedAt; then revoked by the id from the list.
    expect((await listKeys()).find((key) => key.id === viewer.id)?.lastUsedAt).toEqual(expect.any(String));
    await gqlOk(server.url, REVOKE, { id: viewer.id }, server.adminKey);
    expect((await listKeys()).find((key) => key.id === viewer.id)?.revokedAt).toEqual(expect.any(String));
    expect(await listWith(viewer.key)).toBe('UNAUTHENTICATED');
  });

  it('should refuse an expiry in the past and event types on anything but a PUBLISHER key, storing nothing', async () => {
    const before = await listKeys();
    const past = new Date(Date.now() - 1_000).toISOString();
    const refused: CreateVariables[] = [
      { name: 'late', role: 'VIEWER', expiresAt: past },
      { name: 'viewer with types', role: 'VIEWER', eventTypes: ['PERFORMANCE_METRIC'] },
      { name: 'publishes nothing', role: 'PUBLISHER', eventTypes: [] },
    ];
    for (const variables of refused) {
      const { errors } = await gql(server.url, CREATE, variables, server.adminKey);
      expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(errors?.[0]?.message).toMatch(/expiresAt must be in the future|eventTypes/);
    }
    expect(await listKeys()).toEqual(before);
  });
});

describe('expiry', () => {
  it('should refuse an expired key over HTTP and close its open sockets with 4403', async () => {
    const expiresAt = new Date(Date.now() + 2_000).toISOString();
    const key = await createKey({ name: 'temporary', role: 'VIEWER', expiresAt });
    expect(key.expiresAt).toBe(expiresAt);
    expect(await dashboardWith(key.key)).toBe('OK');
    const socket = await openRaw(server.wsUrl, { authorization: `Bearer ${key.key}` });
    sockets.push(socket);

    const { code } = await socket.closed;
    expect(code).toBe(4403);
    // Closed by the periodic check (every 100 ms here) once the key expired, not before.
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expiresAt));
    expect(Date.now() - Date.parse(expiresAt)).toBeLessThan(1_500);
    expect(await dashboardWith(key.key)).toBe('UNAUTHENTICATED');
    const again = await openRaw(server.wsUrl, null);
    sockets.push(again);
    again.send({ type: 'connection_init', payload: { authorization: `Bearer ${key.key}` } });
    expect((await again.closed).code).toBe(4403);
  });
});

describe('event types', () => {
  it('should let a limited PUBLISHER key publish its types only, refusing a batch with another whole', async () => {
    const key = await createKey({ name: 'benchmarks', role: 'PUBLISHER', eventTypes: ['BENCHMARK_COMPLETED'] });
    expect(key.eventTypes).toEqual(['BENCHMARK_COMPLETED']);
    const event = (type: EventType) => ({ type, data: { metric_name: 'limited_key', value: 1 } });

    const { errors } = await gql(
      server.url,
      PUBLISH,
      { inputs: [event('BENCHMARK_COMPLETED'), event('ANOMALY_DETECTED')] },
      key.key,
    );
    expect(errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', index: 1 });
    expect(errors?.[0]?.message).toBe(
      'event 1: this API key may publish only BENCHMARK_COMPLETED, not ANOMALY_DETECTED',
    );
    const history = async () => (await gqlOk(server.url, HISTORY, {}, server.adminKey)).events.edges;
    expect(await history()).toEqual([]);

    await gqlOk(server.url, PUBLISH, { inputs: [event('BENCHMARK_COMPLETED')] }, key.key);
    expect(await history()).toEqual([{ node: { type: 'BENCHMARK_COMPLETED' } }]);
    // An unlimited PUBLISHER key is not affected.
    const open = await createKey({ name: 'anything', role: 'PUBLISHER' });
    expect((await gql(server.url, PUBLISH, { inputs: [event('ANOMALY_DETECTED')] }, open.key)).errors).toBeUndefined();
  });
});

describe('ADMIN_API_KEY', () => {
  it('should revoke the previous bootstrap key when an instance starts with a new one', async () => {
    const own = await createTestDatabase();
    try {
      const first = await startServer({ databaseUrl: own.url, adminKey: 'first-admin-key-0123456789' });
      restarted.push(first);
      await first.stop();
      restarted.pop();
      const second = await startServer({ databaseUrl: own.url, adminKey: 'second-admin-key-0123456789' });
      restarted.push(second);

      expect(await listWith('first-admin-key-0123456789', second.url)).toBe('UNAUTHENTICATED');
      const listed = await listKeys(second.url, 'second-admin-key-0123456789');
      // Oldest first: the first instance's key revoked, the second's active.
      expect(listed.map((key) => [key.name, key.revokedAt === null])).toEqual([
        ['ADMIN_API_KEY', false],
        ['ADMIN_API_KEY', true],
      ]);
    } finally {
      for (const other of restarted.splice(0)) await other.stop();
      await own.drop();
    }
  });

  it('should make instances already running drop the previous key at once when one starts with a new one', async () => {
    const own = await createTestDatabase();
    const prefix = redisKeyPrefix();
    const previous = 'running-admin-key-0123456789';
    try {
      // The periodic revocation check is a minute away: only the bus message can close the socket in time.
      const config = { REVOCATION_CHECK_MS: 60_000 };
      const running = await startServer({ databaseUrl: own.url, redisKeyPrefix: prefix, adminKey: previous, config });
      restarted.push(running);
      expect(await listWith(previous, running.url)).toBe('OK'); // now in its key cache
      const socket = await openRaw(running.wsUrl, { authorization: `Bearer ${previous}` });
      sockets.push(socket);

      const replacing = 'replacing-admin-key-0123456789';
      restarted.push(await startServer({ databaseUrl: own.url, redisKeyPrefix: prefix, adminKey: replacing, config }));
      expect((await socket.closed).code).toBe(4403);
      expect(await listWith(previous, running.url)).toBe('UNAUTHENTICATED');
      expect(await listWith(replacing, running.url)).toBe('OK');
    } finally {
      for (const other of restarted.splice(0)) await other.stop();
      await own.drop();
      await deleteRedisKeys(prefix);
    }
  });
});
