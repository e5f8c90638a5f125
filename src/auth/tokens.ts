// Browser tokens: JWTs a frontend's own backend issues to its users, checked with `jose`. HS256 with a shared
// secret (JWT_SECRET), RS256/ES256 with keys from a JWKS file or URL. Nothing is stored: a token is good until its
// `exp`, so the lifetime is capped (JWT_MAX_LIFETIME_S) and the role too (JWT_MAX_ROLE: a leaked signing key must
// not mint admins). The subject (`sub`) is the identity limits are counted under, apart from API keys (`token:`).
import { readFileSync } from 'node:fs';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { DomainError } from '../errors.js';
import { type Principal, ROLE_RANK, type Role } from './keys.js';

/** Where limits of a token's subject are counted: never equal to an API key's id (a UUID). */
export const TOKEN_ID_PREFIX = 'token:';

/** A subject is a user id, not a document: longer ones would grow every limit's key in Redis. */
const MAX_SUBJECT_LENGTH = 256;

const ROLES = Object.keys(ROLE_RANK) as Role[];

export interface TokenSettings {
  JWT_SECRET?: string;
  JWT_JWKS_URL?: string;
  JWT_JWKS_FILE?: string;
  JWT_ISSUER?: string;
  JWT_AUDIENCE?: string;
  JWT_ROLE_CLAIM: string;
  JWT_MAX_ROLE: Role;
  JWT_MAX_LIFETIME_S: number;
  JWT_CLOCK_SKEW_S: number;
  JWT_MAX_BYTES: number;
  JWT_JWKS_TIMEOUT_MS: number;
  JWT_JWKS_COOLDOWN_MS: number;
}

/** Three base64url parts: a compact JWS. API keys (`jds_…`) have no dot. */
export function looksLikeToken(credential: string): boolean {
  return /^[\w-]*\.[\w-]*\.[\w-]*$/.test(credential);
}

const refused = (why: string) => new DomainError('UNAUTHENTICATED', `the token was refused: ${why}`);

/** The key set could not be read (the JWKS URL did not answer): not the token's fault. */
class KeysUnavailable extends Error {}

export class TokenVerifier {
  private readonly getKey: JWTVerifyGetKey;
  private readonly algorithms: string[];

  private constructor(private readonly settings: TokenSettings) {
    const secret = settings.JWT_SECRET ? new TextEncoder().encode(settings.JWT_SECRET) : null;
    const keySet = TokenVerifier.keySet(settings);
    this.algorithms = [...(secret ? ['HS256'] : []), ...(keySet ? ['RS256', 'ES256'] : [])];
    this.getKey = async (header, token) => {
      if (header.alg === 'HS256' && secret) return secret;
      if (!keySet) throw refused(`algorithm ${String(header.alg).slice(0, 16)} is not accepted`);
      return keySet(header, token);
    };
  }

  /** Null when no token is accepted (neither JWT_SECRET nor a JWKS is set). Reads JWT_JWKS_FILE now. */
  static fromConfig(settings: TokenSettings): TokenVerifier | null {
    if (!settings.JWT_SECRET && !settings.JWT_JWKS_URL && !settings.JWT_JWKS_FILE) return null;
    return new TokenVerifier(settings);
  }

  private static keySet(settings: TokenSettings): JWTVerifyGetKey | null {
    if (settings.JWT_JWKS_FILE) {
      return createLocalJWKSet(JSON.parse(readFileSync(settings.JWT_JWKS_FILE, 'utf8')) as JSONWebKeySet);
    }
    if (!settings.JWT_JWKS_URL) return null;
    // jose fetches the set at first use, again when a token names a key it lacks (at most once per cooldown, so
    // made-up key ids cannot make it fetch on every request), and never waits past the timeout.
    const remote = createRemoteJWKSet(new URL(settings.JWT_JWKS_URL), {
      timeoutDuration: settings.JWT_JWKS_TIMEOUT_MS,
      cooldownDuration: settings.JWT_JWKS_COOLDOWN_MS,
    });
    return async (header, token) => {
      try {
        return await remote(header, token);
      } catch (error) {
        if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
        throw new KeysUnavailable(error instanceof Error ? error.message : String(error));
      }
    };
  }

  /**
   * The principal a token speaks for. UNAUTHENTICATED naming what is wrong with it (expired, wrong key or audience,
   * an algorithm not accepted, a role above JWT_MAX_ROLE, ...); UNAVAILABLE when the JWKS URL cannot be read now.
   */
  async verify(token: string): Promise<Principal> {
    const { settings } = this;
    if (Buffer.byteLength(token) > settings.JWT_MAX_BYTES)
      refusedWith(`it is longer than ${settings.JWT_MAX_BYTES} bytes`);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.getKey, {
        algorithms: this.algorithms,
        issuer: settings.JWT_ISSUER,
        audience: settings.JWT_AUDIENCE,
        clockTolerance: settings.JWT_CLOCK_SKEW_S,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      throw this.explain(error);
    }
    const nowS = Date.now() / 1000;
    const exp = payload.exp as number;
    if (exp - nowS > settings.JWT_MAX_LIFETIME_S + settings.JWT_CLOCK_SKEW_S) {
      refusedWith(`it expires more than JWT_MAX_LIFETIME_S (${settings.JWT_MAX_LIFETIME_S} s) from now`);
    }
    const subject = payload.sub;
    if (typeof subject !== 'string' || subject.length === 0 || subject.length > MAX_SUBJECT_LENGTH) {
      refusedWith(`its subject must be 1 to ${MAX_SUBJECT_LENGTH} characters`);
    }
    const role = payload[settings.JWT_ROLE_CLAIM];
    if (!ROLES.includes(role as Role)) {
      refusedWith(`its "${settings.JWT_ROLE_CLAIM}" claim must be one of ${ROLES.join(', ')}`);
    }
    if (ROLE_RANK[role as Role] > ROLE_RANK[settings.JWT_MAX_ROLE]) {
      refusedWith(`tokens may carry roles up to ${settings.JWT_MAX_ROLE} (JWT_MAX_ROLE), not ${role as Role}`);
    }
    return {
      keyId: `${TOKEN_ID_PREFIX}${subject}`,
      name: subject,
      subject,
      role: role as Role,
      expiresAt: new Date(exp * 1000),
      eventTypes: null,
    };
  }

  /** What the client is told; jose's own messages can quote claims back, so each kind gets a fixed message. */
  private explain(error: unknown): DomainError {
    if (error instanceof DomainError) return error;
    if (error instanceof KeysUnavailable) {
      return new DomainError('UNAVAILABLE', 'the keys that sign tokens cannot be read now (JWT_JWKS_URL); retry later');
    }
    if (error instanceof errors.JWTExpired) return refused('it expired');
    if (error instanceof errors.JWTClaimValidationFailed) {
      if (error.claim === 'nbf') return refused('it is not valid yet (nbf)');
      if (error.claim === 'iat') return refused('it was issued in the future (iat)');
      if (error.reason === 'missing') return refused(`it has no "${error.claim}" claim`);
      return refused(`its "${error.claim}" claim does not match (${error.reason})`);
    }
    if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
      return refused(`its algorithm is not accepted (this server takes ${this.algorithms.join(', ')})`);
    }
    if (error instanceof errors.JWKSNoMatchingKey) return refused('no configured key matches it');
    if (error instanceof errors.JWSSignatureVerificationFailed)
      return refused('its signature does not match a configured key');
    return refused('it is not a well-formed signed JWT');
  }
}

function refusedWith(why: string): never {
  throw refused(why);
}
