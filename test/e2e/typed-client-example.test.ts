// The typed client example (examples/typed-client) run against two real instances on one Postgres and Redis: it
// publishes, subscribes on one instance, drops its socket, and resumes on the other, missing and repeating nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExample } from '../../examples/typed-client/client.js';
import { startServer, type TestServer } from '../helpers/app.js';
import { createTestDatabase, deleteRedisKeys, redisKeyPrefix, type TestDatabase } from '../helpers/services.js';

let database: TestDatabase;
const prefix = redisKeyPrefix();
let one: TestServer;
let two: TestServer;
const adminKey = `test-admin-${Date.now()}-example`;

beforeAll(async () => {
  database = await createTestDatabase();
  one = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, adminKey });
  two = await startServer({ databaseUrl: database.url, redisKeyPrefix: prefix, adminKey });
});

afterAll(async () => {
  await one?.stop();
  await two?.stop();
  await database?.drop();
  await deleteRedisKeys(prefix);
});

describe('the typed client example', () => {
  it('should publish, query, subscribe, and resume on another instance after a dropped socket', async () => {
    const lines: string[] = [];
    const { published, received } = await runExample({
      httpUrl: one.url,
      wsUrl: one.wsUrl,
      apiKey: adminKey,
      resumeAt: { httpUrl: two.url, wsUrl: two.wsUrl },
      log: (line) => lines.push(line),
    });
    expect(published).toHaveLength(7);
    expect(received).toEqual(published);
    expect(lines.filter((line) => line.startsWith('history: '))).toHaveLength(3);
    expect(lines.join('\n')).toContain('resumed: 7 events in all');
  });
});
