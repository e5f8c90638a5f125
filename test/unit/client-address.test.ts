// Which address a request comes from: the TCP peer, or, behind TRUSTED_PROXIES, the right-most X-Forwarded-For hop
// that is not a trusted proxy; and the exposure defaults that depend on NODE_ENV.
import { describe, expect, it } from 'vitest';
import { configWith } from '../../src/config.js';
import { clientAddressResolver, parseTrustedProxies } from '../../src/security/client-address.js';

describe('client addresses', () => {
  const behind = clientAddressResolver(['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);

  it('should take the peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    const direct = clientAddressResolver([]);
    expect(direct('192.0.2.1', '198.51.100.1')).toBe('192.0.2.1');
    expect(direct('::ffff:192.0.2.1', undefined)).toBe('192.0.2.1');
    expect(direct(undefined, undefined)).toBe('unknown');
  });

  it('should take the peer when the peer is not a trusted proxy', () => {
    expect(behind('192.0.2.1', '198.51.100.1')).toBe('192.0.2.1');
  });

  it('should take the right-most hop that is not a trusted proxy', () => {
    expect(behind('10.1.2.3', '198.51.100.1')).toBe('198.51.100.1');
    expect(behind('::ffff:10.1.2.3', 'forged, 198.51.100.9, 198.51.100.1, 10.0.0.7')).toBe('198.51.100.1');
    expect(behind('127.0.0.1', ['198.51.100.2', '10.9.9.9'])).toBe('198.51.100.2');
    expect(behind('fd00::1', '2001:db8::5')).toBe('2001:db8:0:0::/64');
  });

  it('should count an IPv6 client by its /64, so a host cannot pick a new address for every request', () => {
    const direct = clientAddressResolver([]);
    expect(direct('2001:db8:1:2::1', undefined)).toBe('2001:db8:1:2::/64');
    expect(direct('2001:db8:1:2:ffff:eeee:dddd:cccc', undefined)).toBe('2001:db8:1:2::/64');
    expect(direct('2001:db8:1:3::1', undefined)).toBe('2001:db8:1:3::/64');
    expect(direct('::1', undefined)).toBe('0:0:0:0::/64');
    expect(direct('192.0.2.1', undefined)).toBe('192.0.2.1');
  });

  it('should stop at a hop that is no address, and fall back to the last trusted one', () => {
    expect(behind('10.1.2.3', 'not-an-address')).toBe('10.1.2.3');
    expect(behind('10.1.2.3', '10.4.4.4')).toBe('10.4.4.4'); // only proxies: the farthest one
    expect(behind('10.1.2.3', undefined)).toBe('10.1.2.3');
  });

  it('should name the entries of TRUSTED_PROXIES that are neither addresses nor CIDRs', () => {
    expect(parseTrustedProxies(' 10.0.0.0/8, ::1 ,, 192.168.1.1')).toEqual({
      entries: ['10.0.0.0/8', '::1', '192.168.1.1'],
      invalid: [],
    });
    expect(parseTrustedProxies('10.0.0.0/33, proxy.local, 10.0.0.1/8/1').invalid).toEqual([
      '10.0.0.0/33',
      'proxy.local',
      '10.0.0.1/8/1',
    ]);
    expect(() => configWith({ TRUSTED_PROXIES: '10.0.0.0/8, proxy.local' })).toThrow(/proxy\.local/);
  });
});

describe('exposure defaults', () => {
  it('should switch introspection, GraphiQL and cross-origin access off in production unless asked for', () => {
    const production = configWith({ NODE_ENV: 'production' });
    expect([production.INTROSPECTION, production.GRAPHIQL, production.CORS_ORIGINS]).toEqual([false, false, '']);
    const development = configWith({});
    expect([development.INTROSPECTION, development.GRAPHIQL, development.CORS_ORIGINS]).toEqual([true, true, '*']);
    const tryingOut = configWith({
      NODE_ENV: 'production',
      INTROSPECTION: 'true',
      GRAPHIQL: 'true',
      CORS_ORIGINS: '*',
    });
    expect([tryingOut.INTROSPECTION, tryingOut.GRAPHIQL, tryingOut.CORS_ORIGINS]).toEqual([true, true, '*']);
    expect(configWith({ INTROSPECTION: 'false' }).INTROSPECTION).toBe(false);
  });
});
