// Keep-alive for every WebSocket of a process: each socket is pinged once per interval, and one that has not answered
// its previous ping by its next turn is gone (terminated). The sockets take their turns a slice at a time, SLICES
// slices an interval, rather than all at once: pinging 5,000 sockets in one event-loop turn took a serving process
// tens of milliseconds on the test machine, and every delivery due meanwhile waited behind it, once an interval.
import type { WebSocket } from 'ws';

const SLICES = 12;

export class KeepAlive {
  private readonly slices: Set<WebSocket>[] = Array.from({ length: SLICES }, () => new Set());
  private readonly answered = new WeakSet<WebSocket>();
  private joined = 0;
  private turn = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs: number) {
    this.timer = setInterval(() => this.ping(), intervalMs / SLICES);
  }

  /** Watches `socket` from now on, until it closes. */
  add(socket: WebSocket): void {
    // Round robin on arrival: the slices start about the same size (sockets leaving can unbalance them, which costs
    // only evenness, never more than pinging every socket at once).
    const slice = this.slices[this.joined++ % SLICES] as Set<WebSocket>;
    slice.add(socket);
    this.answered.add(socket);
    socket.on('pong', () => this.answered.add(socket));
    socket.once('close', () => slice.delete(socket));
  }

  close(): void {
    clearInterval(this.timer);
  }

  private ping(): void {
    const slice = this.slices[this.turn++ % SLICES] as Set<WebSocket>;
    for (const socket of slice) {
      if (!this.answered.has(socket)) {
        socket.terminate();
        continue;
      }
      this.answered.delete(socket);
      socket.ping();
    }
  }
}
