// Token settings that would make tokens guessable or ambiguous are refused at start.
import { describe, expect, it } from 'vitest';
import { configWith } from '../../src/config.js';

describe('token settings', () => {
  it('should refuse a JWT_SECRET shorter than 32 bytes', () => {
    expect(() => configWith({ JWT_SECRET: 'short-secret' })).toThrow(/JWT_SECRET/);
    expect(configWith({ JWT_SECRET: 's'.repeat(32) }).JWT_SECRET).toHaveLength(32);
  });

  it('should refuse both JWT_JWKS_URL and JWT_JWKS_FILE', () => {
    expect(() =>
      configWith({ JWT_JWKS_URL: 'https://issuer.test/jwks.json', JWT_JWKS_FILE: '/tmp/jwks.json' }),
    ).toThrow(/not both/);
  });

  it('should refuse a JWKS without JWT_AUDIENCE, whose provider may issue tokens for other applications', () => {
    expect(() => configWith({ JWT_JWKS_URL: 'https://issuer.test/jwks.json' })).toThrow(/JWT_AUDIENCE: required/);
    expect(() => configWith({ JWT_JWKS_FILE: '/tmp/jwks.json' })).toThrow(/JWT_AUDIENCE: required/);
    expect(configWith({ JWT_JWKS_FILE: '/tmp/jwks.json', JWT_AUDIENCE: 'api' }).JWT_AUDIENCE).toBe('api');
  });

  it('should default to VIEWER tokens living at most an hour, and cap lifetime and skew', () => {
    const config = configWith({});
    expect(config.JWT_MAX_ROLE).toBe('VIEWER');
    expect(config.JWT_MAX_LIFETIME_S).toBe(3600);
    expect(() => configWith({ JWT_MAX_LIFETIME_S: 7 * 24 * 3600 })).toThrow(/JWT_MAX_LIFETIME_S/);
    expect(() => configWith({ JWT_CLOCK_SKEW_S: 3600 })).toThrow(/JWT_CLOCK_SKEW_S/);
  });
});
