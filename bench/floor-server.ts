// The fan-out floor: a bare `ws` server that speaks just enough graphql-transport-ws for the benchmark's clients
// (connection_init → connection_ack, subscribe, complete, ping → pong) and sends every subscriber one pre-built
// `next` frame per event: one JSON.stringify and one Buffer per event, whatever the number of sockets. Nothing is
// executed, stored or authenticated. Events arrive on a Redis channel; the send time is stamped here, as the frame
// is built, so its latency is the cost of writing to every socket and nothing else.
//
// Env: FANOUT_REDIS_URL, FANOUT_CHANNEL. Prints `listening on <url>` once ready; exits when its parent goes.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { type WebSocket, WebSocketServer } from 'ws';
import { type FanoutEvent, GRAPHQL_TRANSPORT_WS, MessageType, wallClock } from './fanout-protocol.js';

const redisUrl = process.env.FANOUT_REDIS_URL ?? 'redis://127.0.0.1:6379';
const channel = process.env.FANOUT_CHANNEL;
if (!channel) throw new Error('FANOUT_CHANNEL is required');

/** Subscribed sockets by operation id: one frame is built per id in use. */
const subscribers = new Map<string, Set<WebSocket>>();

function unsubscribe(socket: WebSocket, id: string): void {
  const sockets = subscribers.get(id);
  sockets?.delete(socket);
  if (sockets?.size === 0) subscribers.delete(id);
}

function broadcast(event: FanoutEvent): void {
  event.data.sent_at = wallClock();
  const { id, type, timestamp, data } = event;
  for (const [operationId, sockets] of subscribers) {
    const frame = Buffer.from(
      JSON.stringify({
        id: operationId,
        type: MessageType.Next,
        payload: { data: { eventPublished: { id, type, timestamp, data } } },
      }),
    );
    for (const socket of sockets) socket.send(frame, { binary: false });
  }
}

const http = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({
  server: http,
  path: '/graphql',
  handleProtocols: (protocols) => (protocols.has(GRAPHQL_TRANSPORT_WS) ? GRAPHQL_TRANSPORT_WS : false),
});

wss.on('connection', (socket) => {
  const operations = new Set<string>();
  socket.on('message', (raw: Buffer) => {
    const message = JSON.parse(raw.toString()) as { type: string; id?: string };
    switch (message.type) {
      case MessageType.ConnectionInit:
        socket.send(JSON.stringify({ type: MessageType.ConnectionAck }));
        return;
      case MessageType.Ping:
        socket.send(JSON.stringify({ type: MessageType.Pong }));
        return;
      case MessageType.Subscribe: {
        const id = String(message.id);
        operations.add(id);
        const sockets = subscribers.get(id) ?? new Set<WebSocket>();
        sockets.add(socket);
        subscribers.set(id, sockets);
        return;
      }
      case MessageType.Complete:
        operations.delete(String(message.id));
        unsubscribe(socket, String(message.id));
        return;
      default:
        return;
    }
  });
  socket.on('close', () => {
    for (const id of operations) unsubscribe(socket, id);
  });
  socket.on('error', () => socket.terminate());
});

const subscriber = new Redis(redisUrl, { enableReadyCheck: false, maxRetriesPerRequest: null });
subscriber.on('reconnecting', () => console.error('floor server: Redis subscriber reconnecting'));
subscriber.on('error', (error: Error) => console.error('floor server: Redis:', error.message));
await subscriber.subscribe(channel);
subscriber.on('message', (_channel: string, message: string) => broadcast(JSON.parse(message) as FanoutEvent));

http.listen(0, '127.0.0.1', () => {
  const { port } = http.address() as AddressInfo;
  process.stdout.write(`floor server listening on http://127.0.0.1:${port}/graphql\n`);
});

process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => {
  for (const socket of wss.clients) socket.terminate();
  subscriber.disconnect();
  http.close(() => process.exit(0));
});
