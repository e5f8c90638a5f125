import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createMemoryBus } from '../../src/bus/bus.js';
import { ConnectionRegistry, type ConnectionRegistryOptions } from '../../src/security/connections.js';
import { startLoopbackWebSocketServer } from '../helpers/loopback-ws.js';
import { observeBus } from '../helpers/observed-bus.js';
import { deferred, Recording } from '../helpers/waits.js';

const HOUR = 60 * 60_000;

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Connection {
  /** The server's end, as the app hands it to the registry. */
  socket: WebSocket;
  client: WebSocket;
  /** The close code and reason the client saw. */
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves once the server's end has emitted 'close' (after the registry's own listener). */
  serverClosed: Promise<void>;
}

/** A WebSocket server on loopback; `connect()` opens one real client connection to it. */
async function startServer() {
  const { wss, url } = await startLoopbackWebSocketServer(cleanups);
  return {
    async connect(): Promise<Connection> {
      const serverSide = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
      const client = new WebSocket(url);
      client.on('error', () => {}); // shows as the close code
      const closed = new Promise<{ code: number; reason: string }>((resolve) =>
        client.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
      );
      cleanups.push(async () => {
        if (client.readyState !== WebSocket.CLOSED) client.terminate();
        await closed;
      });
      await new Promise<void>((resolve) => client.once('open', () => resolve()));
      const socket = await serverSide;
      cleanups.push(() => {
        if (socket.readyState !== WebSocket.CLOSED) socket.terminate();
      });
      return { socket, client, closed, serverClosed: new Promise((resolve) => socket.once('close', () => resolve())) };
    },
  };
}

function createRegistry(options: Partial<ConnectionRegistryOptions> = {}) {
  const logs: { msg: string; err?: { message?: string } }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const observed = observeBus(createMemoryBus());
  const registry = new ConnectionRegistry({
    maxPerKey: 2,
    checkEveryMs: HOUR,
    bus: observed.bus,
    revokedAmong: async () => [],
    logger,
    ...options,
  });
  cleanups.push(async () => {
    registry.stop();
    await observed.bus.close();
  });
  return { registry, logs, observed };
}

describe('connection registry', () => {
  it('should admit up to maxPerKey sockets per key and refuse the next one', async () => {
    const server = await startServer();
    const { registry } = createRegistry({ maxPerKey: 2 });
    const [a1, a2, a3, b1] = [
      await server.connect(),
      await server.connect(),
      await server.connect(),
      await server.connect(),
    ];
    expect(registry.admit('key-a', a1.socket)).toBe(true);
    expect(registry.admit('key-a', a2.socket)).toBe(true);
    expect(registry.admit('key-a', a3.socket)).toBe(false);
    // The cap is per key: another key is not affected.
    expect(registry.admit('key-b', b1.socket)).toBe(true);
    expect(registry.connectionsOf('key-a')).toBe(2);
    expect(registry.connectionsOf('key-b')).toBe(1);
    // Refusing is the caller's to act on (it closes with its own code); the registry does not count it.
    expect(a3.socket.readyState).toBe(WebSocket.OPEN);
  });

  it('should count a socket out when it closes, making room for another', async () => {
    const server = await startServer();
    const { registry } = createRegistry({ maxPerKey: 2 });
    const [a1, a2, a3] = [await server.connect(), await server.connect(), await server.connect()];
    registry.admit('key-a', a1.socket);
    registry.admit('key-a', a2.socket);
    expect(registry.admit('key-a', a3.socket)).toBe(false);
    a1.client.close();
    await a1.serverClosed;
    expect(registry.connectionsOf('key-a')).toBe(1);
    expect(registry.admit('key-a', a3.socket)).toBe(true);
    expect(registry.connectionsOf('key-a')).toBe(2);
    a2.client.terminate();
    a3.client.terminate();
    await Promise.all([a2.serverClosed, a3.serverClosed]);
    expect(registry.connectionsOf('key-a')).toBe(0);
  });

  it('should not count a socket that closed while its key was being checked', async () => {
    const server = await startServer();
    const { registry } = createRegistry({ maxPerKey: 1 });
    const gone = await server.connect();
    gone.client.terminate();
    await gone.serverClosed;
    expect(registry.admit('key-a', gone.socket)).toBe(true);
    expect(registry.connectionsOf('key-a')).toBe(0);
    const live = await server.connect();
    expect(registry.admit('key-a', live.socket)).toBe(true);
  });

  it("should close every socket of a revoked key with 4403 on closeKey, and no other key's", async () => {
    const server = await startServer();
    const { registry } = createRegistry({ maxPerKey: 5 });
    const [a1, a2, b1] = [await server.connect(), await server.connect(), await server.connect()];
    registry.admit('key-a', a1.socket);
    registry.admit('key-a', a2.socket);
    registry.admit('key-b', b1.socket);
    registry.closeKey('key-a');
    expect(await a1.closed).toEqual({ code: 4403, reason: 'API key revoked' });
    expect((await a2.closed).code).toBe(4403);
    await Promise.all([a1.serverClosed, a2.serverClosed]);
    expect(registry.connectionsOf('key-a')).toBe(0);
    expect(b1.client.readyState).toBe(WebSocket.OPEN);
    expect(registry.connectionsOf('key-b')).toBe(1);
  });

  it("should close a key's sockets with 4403 when its revocation arrives on the bus, until stopped", async () => {
    const server = await startServer();
    const { registry, observed } = createRegistry({ maxPerKey: 5 });
    const [a1, b1] = [await server.connect(), await server.connect()];
    registry.admit('key-a', a1.socket);
    registry.admit('key-b', b1.socket);
    await registry.start();
    expect(observed.listeners('apiKeys:revoked')).toBe(1);
    await observed.bus.publish('apiKeys:revoked', { id: 'key-a' });
    expect((await a1.closed).code).toBe(4403);
    expect(b1.socket.readyState).toBe(WebSocket.OPEN);

    registry.stop();
    expect(observed.listeners('apiKeys:revoked')).toBe(0);
    // A listener of our own sees the message; the stopped registry no longer acts on it.
    const seen = new Recording<{ id: string }>();
    await observed.bus.subscribe('apiKeys:revoked', seen.push);
    await observed.bus.publish('apiKeys:revoked', { id: 'key-b' });
    await seen.atLeast(1);
    expect(b1.socket.readyState).toBe(WebSocket.OPEN);
  });

  it('should close the sockets of keys the periodic check finds revoked, asking only about keys it holds', async () => {
    const server = await startServer();
    const revoked = new Set<string>();
    const asked = new Recording<string[]>();
    const { registry } = createRegistry({
      maxPerKey: 5,
      checkEveryMs: 20,
      revokedAmong: async (keyIds) => {
        asked.push([...keyIds].sort());
        return keyIds.filter((id) => revoked.has(id));
      },
    });
    const [a1, a2, b1] = [await server.connect(), await server.connect(), await server.connect()];
    registry.admit('key-a', a1.socket);
    registry.admit('key-a', a2.socket);
    registry.admit('key-b', b1.socket);
    await registry.start();
    await asked.atLeast(1);
    expect(asked.items[0]).toEqual(['key-a', 'key-b']);
    expect(a1.socket.readyState).toBe(WebSocket.OPEN);
    // Revoked while the bus message was lost: the next check finds it.
    revoked.add('key-a');
    expect((await a1.closed).code).toBe(4403);
    expect((await a2.closed).code).toBe(4403);
    await Promise.all([a1.serverClosed, a2.serverClosed]);
    const after = asked.items.length;
    await asked.atLeast(after + 1);
    expect(asked.items.at(-1)).toEqual(['key-b']);
    expect(b1.client.readyState).toBe(WebSocket.OPEN);
  });

  it('should keep checking after revokedAmong fails, and close revoked sockets once it answers', async () => {
    const server = await startServer();
    let calls = 0;
    const answered = deferred();
    const { registry, logs } = createRegistry({
      maxPerKey: 5,
      checkEveryMs: 20,
      revokedAmong: (keyIds) => {
        calls += 1;
        if (calls === 1) return Promise.reject(new Error('database down'));
        if (calls === 2) throw new Error('database down, thrown at once');
        answered.resolve();
        return Promise.resolve(keyIds.filter((id) => id === 'key-a'));
      },
    });
    const [a1, b1] = [await server.connect(), await server.connect()];
    registry.admit('key-a', a1.socket);
    registry.admit('key-b', b1.socket);
    await registry.start();
    await answered.promise;
    expect((await a1.closed).code).toBe(4403);
    const failures = logs.filter((line) => line.msg === 'revoked key check failed');
    expect(failures.map((line) => line.err?.message)).toEqual(['database down', 'database down, thrown at once']);
    expect(b1.client.readyState).toBe(WebSocket.OPEN);
  });
});
