// Which address a request comes from, for the per-address limits. The TCP peer, unless the peer is one of
// TRUSTED_PROXIES: then X-Forwarded-For is read from the right (each proxy appends the address it was reached from),
// and the first hop that is not a trusted proxy is the client. Hops further left were written by that client and
// prove nothing. Pure: no I/O.
import { BlockList, isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * What the per-address limits count by: an IPv4 address, or an IPv6 address's /64 (a host or VM is usually given a
 * whole /64, so counting single IPv6 addresses would let a client pick a new one for every request).
 */
export function limitKeyOf(address: string): string {
  if (isIP(address) !== 6) return address;
  const parts = ipaddr.IPv6.parse(address).parts.slice(0, 4);
  return `${parts.map((part) => part.toString(16)).join(':')}::/64`;
}

/** An IPv4 address carried in IPv6 (`::ffff:10.0.0.1`, as a dual-stack socket reports it) as plain IPv4. */
export function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped?.[1] ?? address.toLowerCase();
}

/** One TRUSTED_PROXIES entry: an address or a CIDR; null when it is neither. */
function parseEntry(entry: string): { address: string; prefix: number | null; family: 'ipv4' | 'ipv6' } | null {
  const [rawAddress, rawPrefix, ...rest] = entry.split('/');
  if (rest.length > 0 || rawAddress === undefined) return null;
  const address = normalizeAddress(rawAddress);
  const version = isIP(address);
  if (version === 0) return null;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  if (rawPrefix === undefined) return { address, prefix: null, family };
  const prefix = Number(rawPrefix);
  const max = version === 4 ? 32 : 128;
  if (!/^\d+$/.test(rawPrefix) || prefix > max) return null;
  return { address, prefix, family };
}

/** The entries of a comma-separated list of addresses and CIDRs, and those that are neither. */
export function parseTrustedProxies(text: string): { entries: string[]; invalid: string[] } {
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  return { entries, invalid: entries.filter((entry) => parseEntry(entry) === null) };
}

/** The client's address as the per-address limits count it (`limitKeyOf`). */
export type AddressResolver = (peer: string | undefined, forwardedFor: string | string[] | undefined) => string;

/** How client addresses are found behind these proxies (entries already validated by the configuration). */
export function clientAddressResolver(trustedProxies: readonly string[]): AddressResolver {
  const trusted = new BlockList();
  for (const entry of trustedProxies) {
    const parsed = parseEntry(entry);
    if (!parsed) throw new Error(`not an address or CIDR: ${entry}`);
    if (parsed.prefix === null) trusted.addAddress(parsed.address, parsed.family);
    else trusted.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  const isTrusted = (address: string) => {
    const version = isIP(address);
    return version !== 0 && trusted.check(address, version === 4 ? 'ipv4' : 'ipv6');
  };

  return (peer, forwardedFor) => limitKeyOf(clientOf(peer, forwardedFor));

  function clientOf(peer: string | undefined, forwardedFor: string | string[] | undefined): string {
    let client = normalizeAddress(peer ?? 'unknown');
    if (trustedProxies.length === 0 || !isTrusted(client) || forwardedFor === undefined) return client;
    // Several X-Forwarded-For headers read as one list, in order.
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalizeAddress(hops[i]?.trim() ?? '');
      // A hop that is no address was not written by a proxy we trust: the last trusted one is all we know.
      if (isIP(hop) === 0) return client;
      client = hop;
      if (!isTrusted(hop)) return hop;
    }
    return client;
  }
}
