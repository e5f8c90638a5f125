// The WebSocket keep-alive on real sockets over loopback: a client that answers pings stays, one that does not is
// dropped, and the pings of an interval are spread over it rather than sent all at once.
import { afterEach, describe, expect, it } from 'vitest';
import { type ClientOptions, WebSocket } from 'ws';
import { KeepAlive } from '../../src/transport/keep-alive.js';
import { startLoopbackWebSocketServer } from '../helpers/loopback-ws.js';

const INTERVAL_MS = 1_200;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp() {
  const { wss, url } = await startLoopbackWebSocketServer(cleanups);
  const keepAlive = new KeepAlive(INTERVAL_MS);
  cleanups.push(() => keepAlive.close());
  wss.on('connection', (socket) => keepAlive.add(socket));
  const connect = async (options: ClientOptions = {}) => {
    const client = new WebSocket(url, options);
    const closed = new Promise<number>((resolve) => client.once('close', (code) => resolve(code)));
    client.on('error', () => {});
    cleanups.push(async () => {
      if (client.readyState !== WebSocket.CLOSED) client.terminate();
      await closed;
    });
    const pings: number[] = [];
    client.on('ping', () => pings.push(performance.now()));
    await new Promise<void>((resolve, reject) => {
      client.once('open', () => resolve());
      client.once('error', reject);
    });
    return { client, closed, pings };
  };
  return { connect };
}

describe('WebSocket keep-alive', () => {
  it('should keep a client that answers its pings and drop one that does not', async () => {
    const { connect } = await setUp();
    const answering = await connect();
    const silent = await connect({ autoPong: false });
    const joined = performance.now();
    // The silent one is dropped at its second turn (one interval to be pinged, one to answer), with room for timers
    // running late on a loaded machine.
    const code = await silent.closed;
    expect(code).toBe(1006); // terminated: no close frame
    expect(performance.now() - joined).toBeLessThan(INTERVAL_MS * 3);
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS * 1.5));
    expect(answering.client.readyState).toBe(WebSocket.OPEN);
    expect(answering.pings.length).toBeGreaterThanOrEqual(2);
  });

  it('should spread the pings of an interval over it, each socket pinged once an interval', async () => {
    const { connect } = await setUp();
    const clients = await Promise.all(Array.from({ length: 24 }, () => connect()));
    const start = performance.now();
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS * 2 + 600));
    const firstPings = clients.map(({ pings }) => pings.find((at) => at >= start) ?? Number.NaN);
    expect(firstPings.every(Number.isFinite)).toBe(true);
    // All at once, they would arrive within a few milliseconds of each other.
    expect(Math.max(...firstPings) - Math.min(...firstPings)).toBeGreaterThan(INTERVAL_MS / 2);
    // Once an interval: two or three turns in 2.5 intervals, whatever slice a socket is in.
    for (const { pings } of clients) {
      const since = pings.filter((at) => at >= start).length;
      expect(since).toBeGreaterThanOrEqual(2);
      expect(since).toBeLessThanOrEqual(3);
    }
  });
});
