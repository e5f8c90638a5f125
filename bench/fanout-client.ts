// A fan-out load generator: a child process of bench/fanout.ts holding thousands of graphql-transport-ws sockets on
// raw `ws` (no graphql-ws client per socket, so the generator costs little), timing every `next` it receives against
// the send time stamped in the event. Driven over IPC by GeneratorCommand messages; exits when its parent goes.
import { WebSocket } from 'ws';
import {
  type CollectResult,
  type ConnectResult,
  type EventDeliveries,
  type GeneratorCommand,
  type GeneratorReply,
  GRAPHQL_TRANSPORT_WS,
  LatencyHistogram,
  MessageType,
  PROBE_SEQ,
  readStamp,
  type StatusResult,
  SUBSCRIPTION,
  SUBSCRIPTION_ID,
  wallClock,
} from './fanout-protocol.js';

const HANDSHAKE_TIMEOUT_MS = 30_000; // a socket not acknowledged by then counts as failed

interface Client {
  socket: WebSocket;
  acked: boolean;
  live: boolean;
}

const clients: Client[] = [];
let live = 0;
let received = 0;
let allLiveAt: number | null = null;
let timed = { from: 0, to: -1 };
let histogram = new LatencyHistogram();
let perEvent = new Map<number, EventDeliveries>();
let delivered = 0;
let outside = 0;
let errors = 0;
let firstReceiveAt = 0;
let lastReceiveAt = 0;
let closedByServer: Record<string, number> = {};
let closing = false;

function reply(message: GeneratorReply): void {
  process.send?.(message);
}

function onEvent(client: Client, seq: number, sentAt: number): void {
  const now = wallClock();
  received++;
  if (!client.live) {
    client.live = true;
    live++;
    if (live === openCount()) allLiveAt = now;
  }
  if (seq === PROBE_SEQ) return;
  if (seq < timed.from || seq > timed.to) {
    outside++;
    return;
  }
  const latency = now - sentAt;
  histogram.record(latency);
  const seen = perEvent.get(seq);
  if (seen) {
    seen[1]++;
    if (latency < seen[2]) seen[2] = latency;
    if (latency > seen[3]) seen[3] = latency;
  } else perEvent.set(seq, [seq, 1, latency, latency]);
  delivered++;
  if (firstReceiveAt === 0) firstReceiveAt = now;
  lastReceiveAt = now;
}

function onMessage(client: Client, text: string): void {
  // The hot path: a `next` carrying a benchmark event, read without parsing the whole frame.
  if (text.includes('"type":"next"')) {
    const stamp = readStamp(text);
    if (stamp && !text.includes('"errors"')) {
      onEvent(client, stamp.seq, stamp.sentAt);
      return;
    }
  }
  const message = JSON.parse(text) as { type: string; payload?: { errors?: unknown[] } };
  switch (message.type) {
    case MessageType.ConnectionAck:
      client.acked = true;
      client.socket.send(
        JSON.stringify({ id: SUBSCRIPTION_ID, type: MessageType.Subscribe, payload: { query: SUBSCRIPTION } }),
      );
      client.socket.emit('acked');
      return;
    case MessageType.Ping:
      client.socket.send(JSON.stringify({ type: MessageType.Pong }));
      return;
    case MessageType.Next:
    case MessageType.Error:
      errors++;
      return;
    default:
      return;
  }
}

const openCount = () => clients.length;

function openOne(url: string, key: string, failures: Record<string, number>): Promise<Client | null> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, GRAPHQL_TRANSPORT_WS, { perMessageDeflate: false, skipUTF8Validation: true });
    const client: Client = { socket, acked: false, live: false };
    const fail = (reason: string) => {
      if (client.acked) return;
      failures[reason] = (failures[reason] ?? 0) + 1;
      clearTimeout(timer);
      socket.terminate();
      resolve(null);
    };
    const timer = setTimeout(() => fail('no connection_ack in time'), HANDSHAKE_TIMEOUT_MS);
    socket.on('open', () =>
      socket.send(JSON.stringify({ type: MessageType.ConnectionInit, payload: { authorization: `Bearer ${key}` } })),
    );
    socket.on('message', (data: Buffer) => onMessage(client, data.toString()));
    socket.once('acked', () => {
      clearTimeout(timer);
      resolve(client);
    });
    socket.on('error', (error: Error) => fail(error.message));
    socket.on('close', (code: number) => {
      if (!client.acked) return fail(`closed ${code} before connection_ack`);
      if (closing) return;
      closedByServer[code] = (closedByServer[code] ?? 0) + 1;
      if (client.live) live--;
      const at = clients.indexOf(client);
      if (at !== -1) clients.splice(at, 1);
    });
  });
}

/** Opens a socket for every global index, `concurrency` handshakes at a time; index i uses key i mod keys. */
async function connect(url: string, keys: string[], indices: number[], concurrency: number): Promise<ConnectResult> {
  const failures: Record<string, number> = {};
  let acked = 0;
  let failed = 0;
  let lastAckAt = 0;
  let next = 0;
  const worker = async () => {
    while (next < indices.length) {
      const index = indices[next++] as number;
      const client = await openOne(url, keys[index % keys.length] as string, failures);
      if (!client) {
        failed++;
        continue;
      }
      clients.push(client);
      acked++;
      lastAckAt = wallClock();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, indices.length) }, worker));
  return { type: 'connected', acked, failed, lastAckAt, failures };
}

function status(): StatusResult {
  return { type: 'status', open: clients.length, live, received, allLiveAt, delivered, lastReceiveAt };
}

function collect(): CollectResult {
  return {
    type: 'collected',
    histogram: histogram.toData(),
    delivered,
    firstReceiveAt,
    lastReceiveAt,
    outside,
    errors,
    closedByServer,
    perEvent: [...perEvent.values()],
  };
}

function closeClients(): Promise<void> {
  const gone = clients.splice(0);
  closing = true;
  return Promise.all(
    gone.map(
      (client) =>
        new Promise<void>((resolve) => {
          if (client.socket.readyState === WebSocket.CLOSED) return resolve();
          client.socket.once('close', () => resolve());
          client.socket.close(1000);
          // A server too busy to answer the closing handshake is not waited for.
          setTimeout(() => {
            client.socket.terminate();
            resolve();
          }, 5_000).unref();
        }),
    ),
  ).then(() => {
    closing = false;
    live = 0;
  });
}

async function handle(command: GeneratorCommand): Promise<void> {
  switch (command.cmd) {
    case 'connect':
      live = 0;
      allLiveAt = null;
      closedByServer = {};
      errors = 0;
      return reply(await connect(command.url, command.keys, command.indices, command.concurrency));
    case 'window':
      timed = { from: command.from, to: command.to };
      histogram = new LatencyHistogram();
      perEvent = new Map();
      delivered = 0;
      outside = 0;
      firstReceiveAt = 0;
      lastReceiveAt = 0;
      return reply(status());
    case 'status':
      return reply(status());
    case 'collect':
      return reply(collect());
    case 'close':
      await closeClients();
      return reply({ type: 'closed' });
  }
}

process.on('message', (command: GeneratorCommand) => {
  handle(command).catch((error: unknown) => {
    console.error('load generator:', error);
    process.exit(1);
  });
});
// Never outlive the orchestrator, whatever way it ended.
process.on('disconnect', () => process.exit(0));
