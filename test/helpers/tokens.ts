// Browser tokens for tests, made as a frontend's backend would make them (jose), and a real local HTTP server serving
// a JWKS, as an identity provider does.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import type { Cleanups } from './receivers.js';

export const TEST_JWT_SECRET = 'test-jwt-secret-of-at-least-32-bytes!';
export const TEST_ISSUER = 'https://issuer.test';
export const TEST_AUDIENCE = 'jackdaw-test';

export interface TokenClaims extends JWTPayload {
  role?: string;
}

const nowS = () => Math.floor(Date.now() / 1000);

/** The claims a well-made token carries: the test's issuer and audience, expiring in `lifetimeS`. */
export function claims(subject: string, role: string, lifetimeS = 60, extra: TokenClaims = {}): TokenClaims {
  return { sub: subject, role, iss: TEST_ISSUER, aud: TEST_AUDIENCE, iat: nowS(), exp: nowS() + lifetimeS, ...extra };
}

/** An HS256 token signed with `secret` (the server's JWT_SECRET unless said otherwise). */
export function hs256(payload: TokenClaims, secret = TEST_JWT_SECRET): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
}

/** An unsigned token (`alg: none`), as an attacker would forge one. */
export function unsigned(payload: TokenClaims): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(payload)}.`;
}

export interface SigningKey {
  alg: 'RS256' | 'ES256';
  kid: string;
  publicJwk: JWK;
  sign(payload: TokenClaims): Promise<string>;
}

export async function signingKey(alg: 'RS256' | 'ES256'): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return {
    alg,
    kid,
    publicJwk,
    sign: (payload) => new SignJWT(payload).setProtectedHeader({ alg, kid }).sign(privateKey),
  };
}

export function jwks(...keys: SigningKey[]): { keys: JWK[] } {
  return { keys: keys.map((key) => key.publicJwk) };
}

/** A real HTTP server serving `keys` as a JWKS; `hang` makes it accept requests and never answer. */
export async function startJwksServer(cleanups: Cleanups, keys: SigningKey[], options: { hang?: boolean } = {}) {
  let fetches = 0;
  const server: Server = createServer((_req, res) => {
    fetches += 1;
    if (options.hang) return;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks(...keys)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get fetches() {
      return fetches;
    },
  };
}
