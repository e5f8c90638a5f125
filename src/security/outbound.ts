// A bounded outbound buffer per WebSocket: every message the server sends a client goes through `send` here. While
// the client reads fast enough, messages pass straight through. Once more than `coalesceBytes` wait unsent, updates
// of snapshot subscriptions (dashboard, metrics: each message supersedes the previous one) are held back, one per
// subscription, a newer one replacing the older (latest wins), and go out when the socket drains. Once more than
// `maxBufferedBytes` wait, the client is too slow to serve: it is closed with SlowConsumer. Either way the server
// never waits on one client, so other clients' latency does not depend on it.
import type { WebSocket } from 'ws';
import { SecurityCloseCode } from './close-codes.js';

export interface OutboundOptions {
  coalesceBytes: number;
  maxBufferedBytes: number;
  /** Told when a message is replaced by a newer one, and when the client is closed as too slow. */
  onCoalesced?: () => void;
  onSlowConsumer?: () => void;
}

export interface Outbound {
  /**
   * Sends one whole message. `snapshotOf` names the subscription when the message is a snapshot update, which may
   * be held back (latest wins) while the socket is backed up; anything else always goes out, in order. An update
   * that builds on the ones before comes with `onGap`, called when it replaced one held back: the subscription then
   * sends one that stands alone.
   */
  send(data: string | Buffer, snapshotOf?: string, onGap?: () => void): void;
  /** Drops the update held for subscription `id`: the client completed it, so nothing of it may follow. */
  drop(id: string): void;
  /** Unsent updates currently held back. */
  readonly held: number;
}

export function createOutbound(socket: WebSocket, options: OutboundOptions): Outbound {
  const { coalesceBytes, maxBufferedBytes, onCoalesced, onSlowConsumer } = options;
  const held = new Map<string, string | Buffer>(); // subscription id → its latest unsent update
  let heldBytes = 0;

  const backedUp = () => socket.bufferedAmount > coalesceBytes;

  // Each write's callback runs once its bytes left for the kernel: the moment to see whether we drained.
  const afterWrite = (error?: Error) => {
    if (!error && held.size > 0 && !backedUp()) release();
  };

  const write = (data: string | Buffer) => socket.send(data, { binary: false }, afterWrite);

  const release = () => {
    const messages = [...held.values()];
    held.clear();
    heldBytes = 0;
    for (const message of messages) write(message);
  };

  const tooSlow = () => {
    held.clear();
    heldBytes = 0;
    onSlowConsumer?.();
    // The close frame queues behind the backlog; ws destroys the connection if the client never answers it.
    socket.close(SecurityCloseCode.SlowConsumer, 'client too slow: too much data waiting for it');
  };

  return {
    send(data, snapshotOf, onGap) {
      if (socket.readyState !== socket.OPEN) return;
      if (socket.bufferedAmount + heldBytes > maxBufferedBytes) {
        tooSlow();
        return;
      }
      if (snapshotOf !== undefined && backedUp()) {
        const replaced = held.get(snapshotOf);
        if (replaced !== undefined) {
          heldBytes -= replaced.length;
          onCoalesced?.();
        }
        held.set(snapshotOf, data);
        heldBytes += data.length;
        if (replaced !== undefined) onGap?.();
        return;
      }
      // Anything else goes out now, after the held updates, so every subscription's messages keep their order.
      if (held.size > 0) release();
      write(data);
    },
    drop(id) {
      const dropped = held.get(id);
      if (dropped === undefined) return;
      held.delete(id);
      heldBytes -= dropped.length;
    },
    get held() {
      return held.size;
    },
  };
}
