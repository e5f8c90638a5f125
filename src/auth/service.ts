// API keys as the application uses them: authentication for both transports, creation and revocation by admins,
// and the first admin key. Revocation is told to every instance on the bus, so their sockets of that key close.
import { randomUUID } from 'node:crypto';
import type { Bus } from '../bus/bus.js';
import { badInput, DomainError, notFound } from '../errors.js';
import { isUuid } from '../ids.js';
import type { Logger } from '../observability/logger.js';
import type { ApiKeyStore, Principal, Role } from './keys.js';

const MAX_NAME_LENGTH = 200; // a label for people, not a document

export interface ApiKeyServiceOptions {
  store: ApiKeyStore;
  bus: Bus;
  logger: Logger;
}

export class ApiKeyService {
  constructor(private readonly options: ApiKeyServiceOptions) {}

  /** The key's owner, or null for an unknown or revoked key; UNAVAILABLE when keys cannot be checked now. */
  async authenticate(key: string, requestId: string = randomUUID()): Promise<Principal | null> {
    try {
      return await this.options.store.authenticate(key);
    } catch (error) {
      // The driver's message may name hosts: the client gets a request id to quote instead.
      this.options.logger.error({ err: error, requestId }, 'API key check failed');
      throw new DomainError('UNAVAILABLE', `API keys cannot be checked now; retry later (request id ${requestId})`, {
        requestId,
      });
    }
  }

  async createKey(name: string, role: Role) {
    const trimmed = name.trim();
    if (trimmed.length === 0 || trimmed.length > MAX_NAME_LENGTH) {
      throw badInput(`name must be 1 to ${MAX_NAME_LENGTH} characters`);
    }
    return this.options.store.create(trimmed, role);
  }

  async revokeKey(id: string): Promise<boolean> {
    const known = isUuid(id) && (await this.options.store.revoke(id));
    if (!known) throw notFound(`no active API key has id "${id.slice(0, 64)}"`);
    // Stored first: an instance that misses this message still finds the revocation in its periodic check.
    await this.options.bus.publish('apiKeys:revoked', { id }).catch(() => {});
    return true;
  }

  /** Which of these key ids are revoked now (their open connections must close). */
  revokedAmong(ids: string[]): Promise<string[]> {
    return this.options.store.revokedAmong(ids);
  }

  /** Registers ADMIN_API_KEY, or creates the first admin key; returns a key only when it was generated here. */
  bootstrapAdmin(configuredKey: string | undefined): Promise<string | null> {
    return this.options.store.bootstrapAdmin(configuredKey);
  }
}
