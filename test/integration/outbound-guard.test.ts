import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createOutbound, type OutboundOptions } from '../../src/security/outbound.js';
import { startLoopbackWebSocketServer } from '../helpers/loopback-ws.js';
import { Recording } from '../helpers/waits.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const FILLER = 'f'.repeat(16 * KIB);

interface Received {
  id?: string;
  type: string;
  i?: number;
}

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A server socket guarded as the app guards it, and a real client on loopback recording what it receives. */
async function connect(options: Partial<OutboundOptions> = {}) {
  const { wss, url } = await startLoopbackWebSocketServer(cleanups);
  const serverSide = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  const client = new WebSocket(url);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    client.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  client.on('error', () => {}); // an abrupt end shows as the close code
  cleanups.push(async () => {
    if (client.readyState !== WebSocket.CLOSED) client.terminate();
    await closed;
  });
  const received = new Recording<Received>();
  client.on('message', (data) => {
    const message = JSON.parse(data.toString()) as { id?: string; type: string; payload?: { data?: { i?: number } } };
    received.push({ id: message.id, type: message.type, i: message.payload?.data?.i });
  });
  await new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve());
    client.once('error', reject);
  });
  const socket = await serverSide;
  cleanups.push(() => {
    if (socket.readyState !== WebSocket.CLOSED) socket.terminate();
  });
  const counts = { coalesced: 0, slow: 0 };
  const guard = createOutbound(socket, {
    coalesceBytes: 64 * KIB,
    maxBufferedBytes: 64 * MIB,
    onCoalesced: () => counts.coalesced++,
    onSlowConsumer: () => counts.slow++,
    ...options,
  });
  // Subscriptions whose `next` messages are snapshots, as the transport marks them.
  const snapshots = new Set<string>();
  const out = (data: string) => {
    const message = JSON.parse(data) as { id?: string; type: string };
    const snapshot = message.type === 'next' && message.id !== undefined && snapshots.has(message.id);
    guard.send(data, snapshot ? message.id : undefined);
  };
  return { socket, client, guard, snapshots, out, received, closed, counts };
}

const next = (id: string, i: number, pad = '') => JSON.stringify({ id, type: 'next', payload: { data: { i, pad } } });

/**
 * Fills the socket with messages of subscription `id` until more than `bytes` wait unsent (the client is paused,
 * so the kernel's buffers fill and the rest stays in the process). Returns how many messages that took.
 */
function backUp(
  { socket, out }: { socket: WebSocket; out: (data: string) => void },
  bytes: number,
  id = 'events',
): number {
  let sent = 0;
  while (socket.bufferedAmount <= bytes) {
    if (sent === 10_000) throw new Error(`${sent} messages sent and still only ${socket.bufferedAmount} bytes waiting`);
    out(next(id, sent, FILLER));
    sent += 1;
  }
  return sent;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const of = (items: readonly Received[], id: string) => items.filter((m) => m.id === id);

describe('outbound guard', () => {
  it('should send every message straight through, in order, while the client keeps up', async () => {
    const { guard, snapshots, out, received, counts } = await connect();
    snapshots.add('dash');
    for (const i of range(50)) {
      out(next('dash', i));
      out(next('events', i));
      expect(guard.held).toBe(0);
    }
    const items = await received.atLeast(100);
    expect(items.map((m) => `${m.id}:${m.i}`)).toEqual(range(50).flatMap((i) => [`dash:${i}`, `events:${i}`]));
    expect(counts.coalesced).toBe(0);
    expect(counts.slow).toBe(0);
  });

  it('should hold back only the latest update of a backed-up coalescible subscription and send it once drained', async () => {
    const { socket, client, guard, received, counts, snapshots, out } = await connect();
    snapshots.add('dash');
    snapshots.add('metric');
    client.pause();
    const fillers = backUp({ socket, out }, 64 * KIB);
    for (const i of range(10)) out(next('dash', i));
    for (const i of range(3)) out(next('metric', i));
    expect(guard.held).toBe(2);
    expect(counts.coalesced).toBe(9 + 2);
    client.resume();
    // Nothing more is sent: the held updates go out when the socket drains.
    const items = await received.until((all) => of(all, 'dash').length > 0 && of(all, 'metric').length > 0);
    expect(of(items, 'dash').map((m) => m.i)).toEqual([9]);
    expect(of(items, 'metric').map((m) => m.i)).toEqual([2]);
    expect(of(items, 'events').map((m) => m.i)).toEqual(range(fillers));
    // The held updates come after everything sent before them.
    expect(items.findIndex((m) => m.id === 'dash')).toBe(fillers);
    expect(guard.held).toBe(0);
    expect(socket.readyState).toBe(WebSocket.OPEN);
    expect(counts.slow).toBe(0);
  });

  it('should release a single held update when the socket drains, with nothing sent after it', async () => {
    const { socket, client, guard, received, snapshots, out } = await connect();
    snapshots.add('dash');
    client.pause();
    const fillers = backUp({ socket, out }, 64 * KIB);
    out(next('dash', 7));
    expect(guard.held).toBe(1);
    client.resume();
    const items = await received.until((all) => of(all, 'dash').length > 0);
    expect(items.slice(fillers).map((m) => `${m.id}:${m.i}`)).toEqual(['dash:7']);
    expect(guard.held).toBe(0);
  });

  it('should not hold an update when only frames it did not write back the socket up, and deliver it', async () => {
    const { socket, client, guard, received, snapshots, out } = await connect();
    snapshots.add('dash');
    client.pause();
    // Frames written past the guard (as ws writes pings and pongs): nothing the guard wrote would say when the socket
    // drained.
    for (let frames = 0; socket.bufferedAmount <= 64 * KIB; frames++) {
      if (frames === 10_000) throw new Error(`${frames} frames sent and only ${socket.bufferedAmount} bytes waiting`);
      socket.send(next('events', frames, FILLER));
    }
    out(next('dash', 1));
    expect(guard.held).toBe(0);
    client.resume();
    const items = await received.until((all) => of(all, 'dash').length > 0);
    expect(of(items, 'dash').map((m) => m.i)).toEqual([1]);
  });

  it('should never coalesce other messages, and send held updates ahead of the next one to keep order', async () => {
    const { socket, client, guard, received, counts, snapshots, out } = await connect();
    snapshots.add('dash');
    client.pause();
    const fillers = backUp({ socket, out }, 64 * KIB);
    out(next('dash', 1));
    out(next('dash', 2));
    expect(guard.held).toBe(1);
    // A non-coalescible subscription backed up as well: every one of its messages is kept.
    for (const i of range(5)) out(next('events', fillers + i));
    expect(guard.held).toBe(0);
    out(next('dash', 3));
    expect(guard.held).toBe(1);
    // The end of the coalescible subscription is not an update: it goes out, after the update it follows.
    out(JSON.stringify({ id: 'dash', type: 'complete' }));
    expect(guard.held).toBe(0);
    // Once forgotten (the subscription ended; the client may reuse its id), the id is not coalesced any more.
    snapshots.delete('dash');
    out(next('dash', 4));
    out(next('dash', 5));
    expect(guard.held).toBe(0);
    client.resume();
    const items = await received.until((all) => all.at(-1)?.id === 'dash' && all.at(-1)?.i === 5);
    expect(items.slice(fillers).map((m) => `${m.id}:${m.type}:${m.i ?? ''}`)).toEqual([
      'dash:next:2',
      ...range(5).map((i) => `events:next:${fillers + i}`),
      'dash:next:3',
      'dash:complete:',
      'dash:next:4',
      'dash:next:5',
    ]);
    expect(of(items, 'events').map((m) => m.i)).toEqual(range(fillers + 5));
    expect(counts.coalesced).toBe(1);
  });

  it('should drop an update held for a subscription the client completed, so a reused id starts clean', async () => {
    const { socket, client, guard, received, snapshots, out } = await connect();
    snapshots.add('1');
    client.pause();
    const fillers = backUp({ socket, out }, 64 * KIB);
    out(next('1', 100));
    expect(guard.held).toBe(1);
    guard.drop('1'); // the client sent `complete` for "1"
    snapshots.delete('1');
    expect(guard.held).toBe(0);
    out(next('1', 200)); // the client reused the id for a new subscription
    client.resume();
    const items = await received.until((all) => all.at(-1)?.id === '1');
    expect(items.slice(fillers).map((m) => `${m.id}:${m.i}`)).toEqual(['1:200']);
  });

  it('should close the client with 4413 once more than maxBufferedBytes wait for it', async () => {
    const maxBufferedBytes = 1 * MIB;
    const { socket, client, received, closed, counts, out } = await connect({ maxBufferedBytes });
    client.pause();
    const waitingBefore: number[] = [];
    let sent = 0;
    while (socket.readyState === WebSocket.OPEN) {
      if (sent === 10_000) throw new Error(`still open after ${sent} messages`);
      waitingBefore.push(socket.bufferedAmount);
      out(next('events', sent, FILLER));
      sent += 1;
    }
    // Closed on the first send that found more than the limit waiting, and not before.
    expect(waitingBefore.at(-1)).toBeGreaterThan(maxBufferedBytes);
    expect(waitingBefore.slice(0, -1).every((bytes) => bytes <= maxBufferedBytes)).toBe(true);
    expect(counts.slow).toBe(1);
    client.resume();
    expect((await closed).code).toBe(4413);
    // What was accepted before the limit was still delivered, in order; the refused message was not.
    expect(received.items.map((m) => m.i)).toEqual(range(sent - 1));
  });

  it('should count held updates as waiting bytes toward the hard limit', async () => {
    const maxBufferedBytes = 1 * MIB;
    const { socket, client, guard, closed, counts, snapshots, out } = await connect({ maxBufferedBytes });
    client.pause();
    backUp({ socket, out }, 64 * KIB);
    const waitingAtStart = socket.bufferedAmount;
    expect(waitingAtStart).toBeLessThan(maxBufferedBytes / 2);
    // Large updates of many coalescible subscriptions: each is held, none reaches the socket.
    const big = 'b'.repeat(256 * KIB);
    let sent = 0;
    while (socket.readyState === WebSocket.OPEN) {
      if (sent === 20) throw new Error(`still open with ${guard.held} updates held`);
      snapshots.add(`s${sent}`);
      out(next(`s${sent}`, sent, big));
      sent += 1;
    }
    expect(socket.bufferedAmount).toBeLessThanOrEqual(waitingAtStart + 64 * KIB);
    // 1 MiB is passed with the fourth held update (plus the backlog): the fifth send closes.
    expect(sent).toBe(5);
    expect(counts.slow).toBe(1);
    client.resume();
    expect((await closed).code).toBe(4413);
  });
});
