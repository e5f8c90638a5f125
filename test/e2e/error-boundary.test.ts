// Errors reach clients in one shape over both transports: a contract code, and for a fault no internal message,
// only a request id that matches the server's log line. Faults inside envelop plugins are masked like a
// resolver's, not passed through with their raw message and not turned into a closed socket.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.js';
import { AuthGate } from '../../src/security/auth-gate.js';
import { clientAddressResolver } from '../../src/security/client-address.js';
import { ConnectionRegistry } from '../../src/security/connections.js';
import { type RateLimiter, rateLimitCheck } from '../../src/security/rate-limit.js';
import { createYogaServer } from '../../src/transport/http.js';
import { attachWebSocket } from '../../src/transport/websocket.js';
import { gql, startServer, type TestServer, wsClient } from '../helpers/app.js';

const SECRET_IN_FAULT = 'redis://operator:hunter2@10.1.2.3:6379';

let server: TestServer;
let faulty: Server;
let faultyUrl: string;
let connections: ConnectionRegistry;
const logged: { msg?: string; requestId?: string; err?: { message?: string } }[] = [];

beforeAll(async () => {
  server = await startServer();
  const logger = pino(
    { level: 'error' },
    new Writable({
      write(chunk, _encoding, done) {
        logged.push(JSON.parse(String(chunk)));
        done();
      },
    }),
  );
  // A rate limiter whose store fails on every other call: the plugin throws instead of answering.
  let calls = 0;
  const failingLimiter: RateLimiter = {
    async consume() {
      calls += 1;
      if (calls % 2 === 1) throw new Error(`rate limit store unreachable at ${SECRET_IN_FAULT}`);
      return null;
    },
    async refund() {},
  };
  const { config } = server.app.runtime;
  const rateLimit = rateLimitCheck(failingLimiter, 1_000);
  const yoga = createYogaServer({ config, logger, services: server.app.services, rateLimit, metrics: createMetrics() });
  connections = new ConnectionRegistry({
    maxPerKey: 10,
    checkEveryMs: 60_000,
    bus: server.app.runtime.bus,
    logger,
    revokedAmong: async () => [],
  });
  // The transports hand yoga the principal (the app's HTTP handler does the same, with its body limit besides).
  const gate = new AuthGate(server.app.services.apiKeys, null);
  faulty = createServer(async (req, res) => {
    const principal = await gate.authenticate(req.headers.authorization, 'test client');
    await yoga(req, res, { principal });
  });
  const clientAddress = clientAddressResolver([]);
  attachWebSocket({
    server: faulty,
    yoga,
    config,
    logger,
    connections,
    gate,
    clientAddress,
    connects: null,
    rateLimit,
  });
  await new Promise<void>((resolve) => faulty.listen(0, '127.0.0.1', resolve));
  faultyUrl = `http://127.0.0.1:${(faulty.address() as AddressInfo).port}/graphql`;
});

afterAll(async () => {
  faulty?.closeAllConnections();
  await new Promise((resolve) => faulty?.close(resolve));
  await server?.stop();
});

function expectMaskedFault(error: { message: string; extensions?: Record<string, unknown> } | undefined) {
  expect(error?.extensions?.code).toBe('INTERNAL');
  expect(error?.message).not.toContain('hunter2');
  const requestId = error?.extensions?.requestId;
  expect(typeof requestId).toBe('string');
  expect(error?.message).toContain(String(requestId));
  const line = logged.find((entry) => entry.requestId === requestId);
  expect(line?.msg).toBe('internal error');
  expect(line?.err?.message).toContain('rate limit store unreachable');
}

describe('the error boundary', () => {
  it('should mask a fault thrown inside a plugin over HTTP as INTERNAL with a request id in the log', async () => {
    const failed = await gql(faultyUrl, '{ dashboard { at } }', {}, server.adminKey);
    expect(failed.data ?? null).toBeNull();
    expectMaskedFault(failed.errors?.[0]);
    const next = await gql(faultyUrl, '{ dashboard { at } }', {}, server.adminKey);
    expect(next.errors).toBeUndefined();
  });

  it('should mask a fault thrown inside a plugin over WebSocket as an INTERNAL result, keeping the socket', async () => {
    const client = wsClient(faultyUrl.replace(/^http/, 'ws'), server.adminKey);
    try {
      type Result = { errors?: readonly { message: string; extensions?: Record<string, unknown> }[] };
      const run = () =>
        new Promise<Result>((resolve, reject) => {
          const results: Result[] = [];
          client.subscribe(
            { query: '{ dashboard { at } }' },
            { next: (value) => results.push(value), error: reject, complete: () => resolve(results[0] ?? {}) },
          );
        });
      const results = [await run(), await run()];
      const failed = results.find((result) => result.errors);
      expectMaskedFault(failed?.errors?.[0]);
      expect(results.filter((result) => !result.errors)).toHaveLength(1);
    } finally {
      await client.dispose();
    }
  });

  it('should answer a page size below 1 with BAD_USER_INPUT for every list', async () => {
    for (const query of ['{ alerts(first: 0) { edges { cursor } } }', '{ events(first: 0) { edges { cursor } } }']) {
      const refused = await gql(server.url, query, {}, server.adminKey);
      expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(refused.errors?.[0]?.message).toMatch(/first must be a whole number from 1 to 500, got 0/);
    }
  });
});
