// Where webhooks may go. Webhook URLs are set by admins but fetched from inside the server's network, so without a
// check they reach what only the server can: loopback services, the private network, cloud metadata endpoints
// (169.254.169.254, fd00:ec2::254). Only public unicast addresses are allowed unless ALLOW_PRIVATE_WEBHOOK_TARGETS.
//
// A check of the URL's name alone is not enough: the name may resolve to a private address, and resolve differently
// between a check and the connection (DNS rebinding). So at delivery the name is resolved once, every address is
// checked, and the connection goes to a checked address: `guardedLookup` is the socket's own `lookup`.
import { type LookupAddress, type LookupAllOptions, type LookupOneOptions, lookup } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** The error code of a connection refused here because of where it would go. */
export const PRIVATE_TARGET = 'EPRIVATETARGET';

/** Names that lead into the host or its network whatever the DNS says (RFC 6761 `localhost`, mDNS, `.internal`). */
const PRIVATE_NAME = /(^|\.)(localhost|local|internal)\.?$/i;

/**
 * ipaddr.js's name for the range of `address` when a webhook may not reach it ("loopback", "private", "linkLocal",
 * "uniqueLocal", "carrierGradeNat", "reserved"…); null for a public unicast address. Deny by default: ranges that
 * embed another address (6to4, NAT64, Teredo) are refused with the rest. IPv4-mapped IPv6 is judged as the IPv4.
 */
export function privateRange(address: string): string | null {
  const range = ipaddr.process(address).range();
  return range === 'unicast' ? null : range;
}

/** The URL's host as a plain name or address: WHATWG URLs bracket IPv6 and normalize odd IPv4 forms (0x7f.1). */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * Why a webhook URL is refused before anything is resolved (a literal private address or a name that is private
 * by definition); null when it may be saved. Names that resolve to private addresses are caught at delivery.
 */
export function literalTargetProblem(url: URL): string | null {
  const host = hostOf(url);
  if (isIP(host)) {
    const range = privateRange(host);
    return range && `points at a ${range} address (${host})`;
  }
  return PRIVATE_NAME.test(host) ? `points at a private host name (${host})` : null;
}

function refusal(host: string, range: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${host} resolves to a ${range} address`), { code: PRIVATE_TARGET });
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request/net.connect: resolves once, refuses if any address is private, and hands the socket
 * the checked addresses, so the connection goes where the check looked. Any private address refuses the whole name:
 * the socket may try every address (autoSelectFamily).
 */
export function guardedLookup(
  hostname: string,
  options: LookupOneOptions | LookupAllOptions,
  callback: LookupCallback,
) {
  lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    for (const { address } of addresses) {
      const range = privateRange(address);
      if (range) return callback(refusal(hostname, range), []);
    }
    const [first] = addresses;
    if (options.all) return callback(null, addresses);
    if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
    callback(null, first.address, first.family);
  });
}

/** Refuses a literal private address before connecting: sockets do not call `lookup` for an IP address. */
export function checkLiteralTarget(url: URL): void {
  const host = hostOf(url);
  const range = isIP(host) ? privateRange(host) : null;
  if (range) throw refusal(host, range);
}
