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
  return new SocketOutbound(socket, options);
}

/**
 * A class, not an object literal of closures: `send` runs once per delivery, for every socket, and V8 keeps a literal
 * with a getter in dictionary mode, so that each call looked its method up in a hash table (BENCHMARKS.md, "Fan-out:
 * the cost per delivery").
 */
class SocketOutbound implements Outbound {
  private readonly updates = new Map<string, string | Buffer>(); // subscription id → its latest unsent update
  private heldBytes = 0;
  /** Writes sent with `afterWrite` whose bytes have not yet left for the kernel. */
  private watching = 0;
  /** Called once a write's bytes left for the kernel: the moment to see whether the socket drained. */
  private readonly afterWrite: (error?: Error) => void;

  constructor(
    private readonly socket: WebSocket,
    private readonly options: OutboundOptions,
  ) {
    // Held updates go once the socket drained, or when no other write is left to say so: updates are held only while
    // one is pending (`send`), whatever else backs the socket up.
    this.afterWrite = (error?: Error) => {
      this.watching -= 1;
      if (!error && this.updates.size > 0 && (this.watching === 0 || !this.backedUp())) this.release();
    };
  }

  send(data: string | Buffer, snapshotOf?: string, onGap?: () => void): void {
    const { socket, updates } = this;
    if (socket.readyState !== socket.OPEN) return;
    // Read once: a getter through two objects whose shapes vary from socket to socket.
    const buffered = socket.bufferedAmount;
    if (buffered + this.heldBytes > this.options.maxBufferedBytes) {
      this.tooSlow();
      return;
    }
    // An update is held only while a write that will say when the socket drained is pending (bytes the guard did not
    // write, such as pings and pongs, can back the socket up too): otherwise it goes now, and is that write.
    if (snapshotOf !== undefined && buffered > this.options.coalesceBytes && this.watching > 0) {
      const replaced = updates.get(snapshotOf);
      if (replaced !== undefined) {
        this.heldBytes -= replaced.length;
        this.options.onCoalesced?.();
      }
      updates.set(snapshotOf, data);
      this.heldBytes += data.length;
      if (replaced !== undefined) onGap?.();
      return;
    }
    // Anything else goes out now, after the held updates, so every subscription's messages keep their order.
    if (updates.size > 0) {
      this.release();
      this.write(data);
    } else {
      this.write(data, buffered);
    }
  }

  drop(id: string): void {
    const dropped = this.updates.get(id);
    if (dropped === undefined) return;
    this.updates.delete(id);
    this.heldBytes -= dropped.length;
  }

  get held(): number {
    return this.updates.size;
  }

  private backedUp(): boolean {
    return this.socket.bufferedAmount > this.options.coalesceBytes;
  }

  /**
   * Only a write that may leave the socket backed up asks to be told when its bytes are out, and `send` holds updates
   * only while one such write is pending, so its callback sees the drain. A client that keeps up (nearly every one)
   * writes with no callback, which spares Node's stream a closure and a call per message. (`length` is the unit of
   * `bufferedAmount` for strings and buffers alike; FRAME_HEADER_BYTES covers the header ws adds.)
   */
  private write(data: string | Buffer, buffered = this.socket.bufferedAmount): void {
    if (buffered + data.length + FRAME_HEADER_BYTES > this.options.coalesceBytes) {
      this.watching += 1;
      this.socket.send(data, TEXT, this.afterWrite);
    } else {
      this.socket.send(data, TEXT);
    }
  }

  private release(): void {
    const messages = [...this.updates.values()];
    this.updates.clear();
    this.heldBytes = 0;
    for (const message of messages) this.write(message);
  }

  private tooSlow(): void {
    this.updates.clear();
    this.heldBytes = 0;
    this.options.onSlowConsumer?.();
    // The close frame queues behind the backlog; ws destroys the connection if the client never answers it.
    this.socket.close(SecurityCloseCode.SlowConsumer, 'client too slow: too much data waiting for it');
  }
}

const TEXT = { binary: false } as const;
/** The longest header of an unmasked frame (a server's): 2 bytes, 2 more past 125 bytes, 8 more past 65,535. */
const FRAME_HEADER_BYTES = 10;
