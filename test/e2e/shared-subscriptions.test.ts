// Shared execution of subscriptions: every subscriber gets exactly what executing its subscription alone would give
// it, roles never share a group, and subscribers leave their group however their subscription ends.
import { randomUUID } from 'node:crypto';
import type { Client, FormattedExecutionResult } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, gqlOk, startServer, subscribersJoined, type TestServer, wsClient } from '../helpers/app.js';
import { CREATE_API_KEY, PUBLISH_EVENTS } from '../helpers/operations.js';
import { random } from '../helpers/random.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';
import { Condition } from '../helpers/waits.js';

const TYPES = ['BENCHMARK_COMPLETED', 'ANOMALY_DETECTED', 'COMPETITIVE_UPDATE', 'INSIGHT_GENERATED'] as const;
const FIELDS = ['id', 'type', 'timestamp', 'receivedAt', 'data'] as const;

let database: TestDatabase;
const prefix = redisKeyPrefix();
const adminKey = `test-admin-${randomUUID()}`;
let shared: TestServer;
let alone: TestServer;
const clients: Client[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  // Two instances on one database and one Redis: both see every broadcast, one executes each subscriber alone.
  const options = { databaseUrl: database.url, redisKeyPrefix: prefix, adminKey };
  const secret = { WEBHOOK_SECRET: 'whsec-shared-test' };
  shared = await startServer({ ...options, config: { ...secret, MAX_SUBSCRIPTIONS_PER_KEY: 200 } });
  alone = await startServer({ ...options, config: { ...secret, WS_SHARED_EXECUTION: 'false' } });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.dispose()));
  await shared?.stop();
  await alone?.stop();
  await database?.drop();
  await deleteRedisKeys(prefix);
});

function client(server: TestServer, key: string): Client {
  const made = wsClient(server.wsUrl, key);
  clients.push(made);
  return made;
}

/** Every result of one subscription, whole (data and errors), as the client got it. */
function collect(on: Client, query: string, variables: Record<string, unknown> = {}) {
  const results: FormattedExecutionResult<Record<string, unknown>, unknown>[] = [];
  const arrived = new Condition();
  let ended: unknown = null;
  const dispose = on.subscribe(
    { query, variables },
    {
      next: (result) => {
        results.push(result);
        arrived.changed();
      },
      error: (error) => {
        ended = error;
        arrived.changed();
      },
      complete: () => {
        ended = 'complete';
        arrived.changed();
      },
    },
  );
  return {
    results,
    dispose,
    get ended() {
      return ended;
    },
    count: (n: number) =>
      arrived.until(
        () => results.length >= n,
        25_000,
        () => `${n} results, got ${results.length}`,
      ),
    settled: () =>
      arrived.until(
        () => ended !== null,
        25_000,
        () => 'the subscription to end',
      ),
  };
}

async function createKey(role: 'VIEWER' | 'PUBLISHER' | 'ADMIN'): Promise<string> {
  const { createApiKey } = await gqlOk(shared.url, CREATE_API_KEY, { name: `shared ${role}`, role }, adminKey);
  return createApiKey.key;
}

interface RandomSubscription {
  query: string;
  variables: Record<string, unknown>;
  /** Which published types it receives. */
  wants: ReadonlySet<string>;
}

/**
 * A random `eventPublished` subscription: types as a variable, as a literal or none; one of a few selections, so that
 * operations of the same text with other variables (which must not share a group) come up often.
 */
function randomSubscription(next: () => number, selections: string[]): RandomSubscription {
  const types = next() < 0.2 ? [] : TYPES.filter(() => next() < 0.5);
  const selection = selections[Math.floor(next() * selections.length)] ?? 'id';
  const form = next() < 0.25 ? 1 : 0;
  const wants = new Set<string>(types.length > 0 ? types : TYPES);
  if (types.length === 0) return { query: `subscription { eventPublished { ${selection} } }`, variables: {}, wants };
  if (form < 0.5) {
    return {
      query: `subscription($types: [EventType!]) { eventPublished(types: $types) { ${selection} } }`,
      variables: { types },
      wants,
    };
  }
  return {
    query: `subscription { eventPublished(types: [${types.join(', ')}]) { ${selection} } }`,
    variables: {},
    wants,
  };
}

describe('shared execution', () => {
  it('should give every subscriber in a group exactly what executing its subscription alone gives', async () => {
    const next = random(20261127);
    const keys = { VIEWER: await createKey('VIEWER'), ADMIN: adminKey };
    const pick = () =>
      FIELDS.filter(() => next() < 0.6).map((field) => (next() < 0.3 ? `renamed_${field}: ${field}` : field));
    const selections = [pick(), pick(), pick()].map((fields) => (fields.length > 0 ? fields.join(' ') : 'id'));
    const subscriptions = Array.from({ length: 16 }, () => randomSubscription(next, selections));
    const runs = subscriptions.map((subscription) => {
      const key = next() < 0.5 ? keys.VIEWER : keys.ADMIN;
      // Up to three subscribers of the same operation on the shared instance, over separate sockets.
      const members = Array.from({ length: 1 + Math.floor(next() * 3) }, () =>
        collect(client(shared, key), subscription.query, subscription.variables),
      );
      return {
        subscription,
        members,
        reference: collect(client(alone, key), subscription.query, subscription.variables),
      };
    });
    const joined = runs.reduce((sum, run) => sum + run.members.length, 0);
    await subscribersJoined(shared, joined);
    // The unshared instance gives no signal: one event each side must see first proves both are live.
    const probe = await gqlOk(
      shared.url,
      PUBLISH_EVENTS,
      { inputs: [{ type: 'INSIGHT_GENERATED', data: {} }] },
      adminKey,
    );
    const probed = (run: (typeof runs)[number]) => (run.subscription.wants.has('INSIGHT_GENERATED') ? 1 : 0);
    await Promise.all(runs.flatMap((run) => [run.reference, ...run.members].map((c) => c.count(probed(run)))));

    const published: string[] = [];
    for (let batch = 0; batch < 3; batch++) {
      const inputs = Array.from({ length: 20 }, (_, i) => ({
        type: TYPES[Math.floor(next() * TYPES.length)] ?? 'INSIGHT_GENERATED',
        data: { batch, i, nested: { score: Math.round(next() * 1000) / 10 } },
      }));
      await gqlOk(alone.url, PUBLISH_EVENTS, { inputs }, adminKey);
      published.push(...inputs.map((input) => input.type));
    }
    for (const run of runs) {
      const expected = probed(run) + published.filter((type) => run.subscription.wants.has(type)).length;
      await Promise.all([run.reference, ...run.members].map((c) => c.count(expected)));
      const reference = run.reference.results.map((result) => JSON.stringify(result));
      expect(reference.length).toBe(expected);
      for (const member of run.members)
        expect(member.results.map((result) => JSON.stringify(result))).toEqual(reference);
    }
    expect(probe.publishEvents.accepted).toBe(1);
    // Identical operations of one role shared a group: fewer groups than subscribers.
    expect(shared.app.webSocket.shared.size).toBeLessThan(joined);
  });

  it('should never give a VIEWER the admin-only fields an ADMIN of the same operation receives', async () => {
    const viewer = await createKey('VIEWER');
    const query = 'subscription { alertTriggered { id rule { name webhookUrls } } }';
    const joined = subscribersJoined(shared, 2);
    const asAdmin = collect(client(shared, adminKey), query);
    const asViewer = collect(client(shared, viewer), query);
    await joined;
    const rule = await gqlOk(
      shared.url,
      `mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id } }`,
      {
        input: {
          name: 'roles apart',
          severity: 'LOW',
          conditions: [{ metric: 'roles_apart', window: 'M1', aggregation: 'COUNT', operator: 'GTE', threshold: 0 }],
          webhookUrls: ['https://hooks.invalid/secret-token'],
        },
      },
      adminKey,
    );
    expect(rule).toBeDefined();
    // COUNT ≥ 0 holds with no data at all: the leading instance fires it at its next evaluation.
    await Promise.all([asAdmin.count(1), asViewer.count(1)]);
    expect(JSON.stringify(asViewer.results)).not.toContain('secret-token');
    expect(asViewer.results[0]?.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(JSON.stringify(asAdmin.results)).toContain('secret-token');
    expect(asAdmin.results[0]?.errors).toBeUndefined();
  });

  it('should take a subscriber out of its group when it completes, disconnects or its key is revoked', async () => {
    const { createApiKey } = await gqlOk(shared.url, CREATE_API_KEY, { name: 'leaves', role: 'VIEWER' }, adminKey);
    const query = 'subscription { eventPublished(types: [COMPETITIVE_UPDATE]) { id data } }';
    const groups = shared.app.webSocket.shared;
    const before = groups.members;
    const joined = subscribersJoined(shared, 3);
    const [completes, disconnects] = [client(shared, adminKey), client(shared, adminKey)];
    const completing = collect(completes, query);
    collect(disconnects, query);
    const revoked = collect(wsClient(shared.wsUrl, createApiKey.key), query);
    await joined;
    expect(groups.members).toBe(before + 3);
    // Polled: a member leaves on the server's reading of a socket event, which nothing reports to the test.
    completing.dispose();
    await eventually(() => groups.members === before + 2);
    await disconnects.dispose();
    await eventually(() => groups.members === before + 1);
    await gqlOk(shared.url, 'mutation($id: ID!) { revokeApiKey(id: $id) }', { id: createApiKey.id }, adminKey);
    await eventually(() => groups.members === before);
    await revoked.settled();
  });

  it('should refuse a subscription past MAX_SUBSCRIPTIONS_PER_KEY, across connections, and admit one again after', async () => {
    // On the same Redis as the others, so it shares their processor lease instead of processing the outbox alone.
    const server = await startServer({
      databaseUrl: database.url,
      redisKeyPrefix: prefix,
      adminKey,
      config: { MAX_SUBSCRIPTIONS_PER_KEY: 3 },
    });
    try {
      const { createApiKey } = await gqlOk(server.url, CREATE_API_KEY, { name: 'budget', role: 'VIEWER' }, adminKey);
      const [first, second] = [wsClient(server.wsUrl, createApiKey.key), wsClient(server.wsUrl, createApiKey.key)];
      clients.push(first, second);
      const query = 'subscription { eventPublished { id } }';
      const joined = subscribersJoined(server, 3);
      const running = [collect(first, query), collect(first, query), collect(second, query)];
      await joined;
      const refused = collect(second, query);
      await refused.settled();
      expect(refused.ended).toMatchObject([{ extensions: { code: 'RATE_LIMITED' } }]);
      expect(String((refused.ended as { message: string }[])[0]?.message)).toContain('at most 3 subscriptions');
      running[0]?.dispose();
      const again = subscribersJoined(server);
      collect(second, query);
      await again;
    } finally {
      await server.stop();
    }
  });
});
