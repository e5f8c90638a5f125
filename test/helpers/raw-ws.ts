// A bare graphql-transport-ws client for tests that need what graphql-ws's own client never does: send malformed
// or out-of-order messages, stop reading, or watch the exact close code.
import type { FormattedExecutionResult, GraphQLFormattedError } from 'graphql';
import { WebSocket } from 'ws';

/**
 * A received graphql-transport-ws message, parsed; `unparsable` stands for one that was not JSON. The shapes are the
 * protocol's: the tests check what the server sends, and a message of another shape fails their expectations.
 */
export type RawMessage =
  | { type: 'connection_ack' | 'ping' | 'pong'; id?: undefined; payload?: Record<string, unknown> | null }
  | { type: 'next'; id: string; payload: FormattedExecutionResult }
  | { type: 'error'; id: string; payload: GraphQLFormattedError[] }
  | { type: 'complete'; id: string; payload?: undefined }
  | { type: 'unparsable'; id?: undefined; payload?: undefined };

export type RawMessageOf<T extends RawMessage['type']> = Extract<RawMessage, { type: T }>;

/** Matches a message of one type (and `test`), typed: `socket.waitFor(isMessage('error', (m) => m.id === 'a'))`. */
export function isMessage<T extends RawMessage['type']>(
  type: T,
  test: (message: RawMessageOf<T>) => boolean = () => true,
): (message: RawMessage) => message is RawMessageOf<T> {
  return (message): message is RawMessageOf<T> => message.type === type && test(message as RawMessageOf<T>);
}

export interface RawSocket {
  socket: WebSocket;
  /** Every message received, parsed. */
  messages: RawMessage[];
  /** Resolves with the close code and reason once the socket is closed. */
  closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
  /** Resolves when a message matching `test` has arrived (or rejects when the socket closes first or on timeout). */
  waitFor<M extends RawMessage>(test: (message: RawMessage) => message is M, timeoutMs?: number): Promise<M>;
  waitFor(test: (message: RawMessage) => boolean, timeoutMs?: number): Promise<RawMessage>;
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
    waitFor(test: (message: RawMessage) => boolean, timeoutMs = 25_000) {
      return new Promise<RawMessage>((resolve, reject) => {
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
