// A bare graphql-transport-ws client for tests that need what graphql-ws's own client never does: send malformed
// or out-of-order messages, stop reading, or watch the exact close code.
import { WebSocket } from 'ws';

export interface RawSocket {
  socket: WebSocket;
  /** Every message received, parsed. */
  messages: { id?: string; type: string; payload?: any }[];
  /** Resolves with the close code and reason once the socket is closed. */
  closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
  /** Resolves when a message matching `test` has arrived (or rejects when the socket closes first or on timeout). */
  waitFor(test: (message: { id?: string; type: string; payload?: any }) => boolean, timeoutMs?: number): Promise<any>;
  /** Stops reading from the TCP connection, so the server's writes back up (a slow client). */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function openRaw(wsUrl: string, init?: { authorization?: string } | null): Promise<RawSocket> {
  const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
  const messages: RawSocket['messages'] = [];
  const listeners = new Set<() => void>();
  let closedWith: { code: number; reason: string } | null = null;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.once('close', (code, reason) => {
      closedWith = { code, reason: reason.toString() };
      for (const listener of listeners) listener();
      resolve(closedWith);
    });
  });
  socket.on('error', () => {}); // surfaces as the close code
  socket.on('message', (data) => {
    try {
      messages.push(JSON.parse(data.toString()));
    } catch {
      messages.push({ type: 'unparsable' });
    }
    for (const listener of listeners) listener();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('close', () => reject(new Error('closed before open')));
  });
  const raw: RawSocket = {
    socket,
    messages,
    closed,
    send: (message) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
    waitFor(test, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(test);
          if (found) {
            cleanup();
            resolve(found);
          } else if (closedWith) {
            cleanup();
            reject(new Error(`socket closed (${closedWith.code} ${closedWith.reason}) before the message came`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error('timed out waiting for a message'));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    async close() {
      if (socket.readyState === socket.CLOSED) return;
      socket.terminate();
      await closed;
    },
  };
  if (init !== null) {
    raw.send({ type: 'connection_init', payload: init ?? {} });
    if (init?.authorization) await raw.waitFor((m) => m.type === 'connection_ack');
  }
  return raw;
}
