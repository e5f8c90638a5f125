// The open WebSocket connections of this instance, by API key: caps connections per key and closes a revoked
// key's connections. Revocation arrives on the bus at once; a periodic look at the database covers a message lost
// while the bus was down, so a revoked key's sockets close within REVOCATION_CHECK_MS at worst.
// Counts are per serving process: a key may hold MAX_CONNECTIONS_PER_KEY on each (WEB_CONCURRENCY per instance).
import type { WebSocket } from 'ws';
import type { Bus, Unsubscribe } from '../bus/bus.js';
import type { Logger } from '../observability/logger.js';
import { SecurityCloseCode } from './close-codes.js';

export interface ConnectionRegistryOptions {
  maxPerKey: number;
  /** Subscriptions one key may have running at once across its connections (MAX_SUBSCRIPTIONS_PER_KEY). */
  maxSubscriptionsPerKey?: number;
  checkEveryMs: number;
  bus: Bus;
  /** Which of these key ids are revoked now. */
  revokedAmong(keyIds: string[]): Promise<string[]>;
  logger: Logger;
}

export class ConnectionRegistry {
  private readonly byKey = new Map<string, Set<WebSocket>>();
  private readonly subscriptionsByKey = new Map<string, number>();
  private stopRevocations: Unsubscribe | null = null;
  private timer: NodeJS.Timeout | null = null;
  private checking = false;

  constructor(private readonly options: ConnectionRegistryOptions) {}

  /** Registers an authenticated socket; false when its key already holds the most connections allowed. */
  admit(keyId: string, socket: WebSocket): boolean {
    const sockets = this.byKey.get(keyId) ?? new Set<WebSocket>();
    if (sockets.size >= this.options.maxPerKey) return false;
    if (socket.readyState !== socket.OPEN) return true; // closed while authenticating: nothing to count
    sockets.add(socket);
    this.byKey.set(keyId, sockets);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0 && this.byKey.get(keyId) === sockets) this.byKey.delete(keyId);
    });
    return true;
  }

  /** Counts one more running subscription of the key; false when it already runs the most allowed. */
  admitSubscription(keyId: string): boolean {
    const running = this.subscriptionsByKey.get(keyId) ?? 0;
    if (running >= (this.options.maxSubscriptionsPerKey ?? Number.POSITIVE_INFINITY)) return false;
    this.subscriptionsByKey.set(keyId, running + 1);
    return true;
  }

  releaseSubscription(keyId: string): void {
    const running = (this.subscriptionsByKey.get(keyId) ?? 0) - 1;
    if (running > 0) this.subscriptionsByKey.set(keyId, running);
    else this.subscriptionsByKey.delete(keyId);
  }

  subscriptionsOf(keyId: string): number {
    return this.subscriptionsByKey.get(keyId) ?? 0;
  }

  connectionsOf(keyId: string): number {
    return this.byKey.get(keyId)?.size ?? 0;
  }

  closeKey(keyId: string): void {
    for (const socket of this.byKey.get(keyId) ?? []) socket.close(SecurityCloseCode.KeyRevoked, 'API key revoked');
  }

  async start(): Promise<void> {
    this.stopRevocations = await this.options.bus.subscribe('apiKeys:revoked', ({ id }) => this.closeKey(id));
    this.timer = setInterval(() => void this.check(), this.options.checkEveryMs);
  }

  stop(): void {
    this.stopRevocations?.();
    this.stopRevocations = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async check(): Promise<void> {
    if (this.checking || this.byKey.size === 0) return;
    this.checking = true;
    try {
      for (const keyId of await this.options.revokedAmong([...this.byKey.keys()])) this.closeKey(keyId);
    } catch (error) {
      // The database is down: keys cannot be checked now, and neither can they be revoked; try again next time.
      this.options.logger.debug({ err: error }, 'revoked key check failed');
    } finally {
      this.checking = false;
    }
  }
}
