// A bounded outbound buffer per WebSocket. graphql-ws hands every message to `socket.send`; this guard sits there.
// While the client reads fast enough, messages pass straight through. Once more than `coalesceBytes` wait unsent,
// updates of coalescible subscriptions (dashboard, metrics: each message is a full snapshot) are held back, one per
// subscription, a newer one replacing the older (latest wins), and go out when the socket drains. Once more than
// `maxBufferedBytes` wait, the client is too slow to serve: it is closed with SlowConsumer. Either way the server
// never waits on one client, so other clients' latency does not depend on it.
import type { WebSocket } from 'ws';
import { SecurityCloseCode } from './close-codes.js';

/** Subscriptions whose every message supersedes the previous one. */
export const COALESCIBLE_FIELDS: ReadonlySet<string> = new Set(['dashboardUpdated', 'metricUpdated']);

export interface OutboundGuardOptions {
  coalesceBytes: number;
  maxBufferedBytes: number;
  /** Told when a message is replaced by a newer one, and when the client is closed as too slow. */
  onCoalesced?: () => void;
  onSlowConsumer?: () => void;
}

export interface OutboundGuard {
  /** Lets updates of subscription `id` be coalesced while the socket is backed up. */
  coalesce(id: string): void;
  /**
   * Stops treating `id` as coalescible (its subscription ended; a client may reuse the id). When the client ended it
   * (`dropHeld`), an update still held for it is dropped: nothing may follow the client's `complete`. When the
   * server ended it, the held update goes out ahead of the server's `complete`, as any message does.
   */
  forget(id: string, options?: { dropHeld?: boolean }): void;
  /** Unsent updates currently held back. */
  readonly held: number;
}

type SendCallback = (error?: Error) => void;

/** The id of a graphql-ws `next` message, or null for any other message. */
function nextMessageId(data: string): string | null {
  try {
    const message = JSON.parse(data) as { id?: unknown; type?: unknown };
    return message.type === 'next' && typeof message.id === 'string' ? message.id : null;
  } catch {
    return null;
  }
}

export function guardOutbound(socket: WebSocket, options: OutboundGuardOptions): OutboundGuard {
  const { coalesceBytes, maxBufferedBytes, onCoalesced, onSlowConsumer } = options;
  const coalescible = new Set<string>();
  const held = new Map<string, string>(); // subscription id → its latest unsent message
  let heldBytes = 0;
  const rawSend = socket.send.bind(socket) as (data: unknown, ...rest: unknown[]) => void;

  const backedUp = () => socket.bufferedAmount > coalesceBytes;

  // Each write's callback runs once its bytes left for the kernel: the moment to see whether we drained.
  const afterWrite: SendCallback = (error) => {
    if (!error && held.size > 0 && !backedUp()) release();
  };

  const release = () => {
    const messages = [...held.values()];
    held.clear();
    heldBytes = 0;
    for (const message of messages) rawSend(message, afterWrite);
  };

  const tooSlow = () => {
    held.clear();
    heldBytes = 0;
    onSlowConsumer?.();
    // The close frame queues behind the backlog; ws destroys the connection if the client never answers it.
    socket.close(SecurityCloseCode.SlowConsumer, 'client too slow: too much data waiting for it');
  };

  const guardedSend = (data: unknown, optionsOrCallback?: unknown, maybeCallback?: SendCallback) => {
    const done = (typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback) as
      | SendCallback
      | undefined;
    if (typeof data !== 'string' || socket.readyState !== socket.OPEN) {
      // Not a graphql-ws message (or a closing socket): ws deals with it as usual.
      return rawSend(data, optionsOrCallback, maybeCallback);
    }
    if (socket.bufferedAmount + heldBytes > maxBufferedBytes) {
      tooSlow();
      done?.();
      return;
    }
    if (coalescible.size > 0 && backedUp()) {
      const id = nextMessageId(data);
      if (id !== null && coalescible.has(id)) {
        const replaced = held.get(id);
        if (replaced !== undefined) {
          heldBytes -= replaced.length;
          onCoalesced?.();
        }
        held.set(id, data);
        heldBytes += data.length;
        done?.();
        return;
      }
    }
    // Anything else goes out now, after the held updates, so every subscription's messages keep their order.
    if (held.size > 0) release();
    rawSend(data, afterWrite);
    // Resolve at once: graphql-ws would otherwise wait for the kernel, and the bound above is what limits memory.
    done?.();
  };
  socket.send = guardedSend as WebSocket['send'];

  return {
    coalesce(id) {
      coalescible.add(id);
    },
    forget(id, { dropHeld = false } = {}) {
      coalescible.delete(id);
      const dropped = dropHeld ? held.get(id) : undefined;
      if (dropped === undefined) return;
      held.delete(id);
      heldBytes -= dropped.length;
    },
    get held() {
      return held.size;
    },
  };
}
