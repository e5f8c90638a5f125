// The one place a request's key is checked, for HTTP (before its body is read) and WebSocket (at connection_init).
// A key the cache knows costs nothing; a key it does not know costs a database look-up, so those are counted per
// client address first: made-up keys never repeat, so no cache can stop a flood of them, but this limit does. A
// look-up that finds a good key is given back, so the limit counts failures only; callers joining a look-up already
// under way (a crowd reconnecting with one key) cost nothing, so they count nothing.
// A browser token (a JWT: auth/tokens.ts) is checked by its signature alone, with no look-up, so it counts nothing.
import type { Principal } from '../auth/keys.js';
import { bearerKey } from '../auth/keys.js';
import type { ApiKeyService, LookupGuard } from '../auth/service.js';
import { looksLikeToken, type TokenVerifier } from '../auth/tokens.js';
import { DomainError } from '../errors.js';
import type { RateLimiter } from './rate-limit.js';

export const MISSING_KEY_MESSAGE = 'an API key is required: send "Authorization: Bearer <key>"';

export class AuthGate {
  constructor(
    private readonly apiKeys: ApiKeyService,
    /** Failed look-ups per address (AUTH_FAILURES_PER_ADDRESS_PER_MINUTE); null when unlimited. */
    private readonly failures: RateLimiter | null,
    /** Browser tokens; null when none is accepted (no JWT_SECRET, JWT_JWKS_URL or JWT_JWKS_FILE). */
    readonly tokens: TokenVerifier | null = null,
  ) {}

  /**
   * The owner of the key in a `Bearer <key>` header. Throws UNAUTHENTICATED for no key or a bad one, RATE_LIMITED
   * when the address has failed too often to be given a look-up, UNAVAILABLE when keys cannot be checked now.
   */
  async authenticate(
    authorization: string | null | undefined,
    address: string,
    requestId?: string,
  ): Promise<Principal> {
    const key = bearerKey(authorization);
    if (!key) throw new DomainError('UNAUTHENTICATED', MISSING_KEY_MESSAGE);
    if (looksLikeToken(key)) return this.verifyToken(key);
    const { failures } = this;
    const guard: LookupGuard | undefined = failures
      ? {
          async before() {
            const waitMs = await failures.consume(address);
            if (waitMs === null) return;
            throw new DomainError(
              'RATE_LIMITED',
              `too many unknown API keys from this address; retry in ${Math.ceil(waitMs / 1000)} s`,
              { retryAfterMs: waitMs },
            );
          },
          found: () => failures.refund(address),
        }
      : undefined;
    const principal = await this.apiKeys.authenticate(key, requestId, guard);
    if (!principal) throw new DomainError('UNAUTHENTICATED', 'the API key is unknown or revoked');
    return principal;
  }

  /** The principal of a browser token; UNAUTHENTICATED when tokens are not accepted here or this one is bad. */
  verifyToken(token: string): Promise<Principal> {
    if (!this.tokens) {
      throw new DomainError(
        'UNAUTHENTICATED',
        'this server accepts API keys only, not tokens (no JWT key is configured)',
      );
    }
    return this.tokens.verify(token);
  }
}
