// Who the client is (TRUST_PROXY): the socket peer, or, when that peer is a trusted proxy, the address
// that proxy saw, read from the RIGHT of X-Forwarded-For. Every proxy appends the address it received
// the request from, so only the entries appended by trusted proxies are facts; anything to their left
// was written by the client and is never believed.
import net from 'node:net';
import { IpList, normalizeIp } from './ip-list.js';

export type TrustProxy =
  /** X-Forwarded-For is ignored: the client is the socket peer. */
  | { kind: 'none' }
  /** The socket peer and the `hops - 1` proxies before it are trusted, whoever they are (`true` = 1). */
  | { kind: 'hops'; hops: number }
  /** Only peers in this list (addresses, CIDR blocks) are trusted proxies. */
  | { kind: 'addresses'; proxies: string[] };

export interface ConnectionFacts {
  socketAddress: string | undefined;
  socketPort: number | undefined;
  /** The X-Forwarded-For header(s) as received. */
  forwardedFor: string | string[] | undefined;
}

export type ClientAddress =
  /** `ip` for access rules; `ipAddr` as stored: `ip:port` (`[v6]:port`) from the socket, the bare address from a proxy. */
  | { ok: true; ip: string; ipAddr: string }
  /** An X-Forwarded-For entry that had to be read is not an IP address: the request is refused. */
  | { ok: false; entry: string };

export class ClientAddressResolver {
  private readonly proxies: IpList | null;

  constructor(private readonly trust: TrustProxy) {
    this.proxies = trust.kind === 'addresses' ? new IpList(trust.proxies) : null;
  }

  resolve(facts: ConnectionFacts): ClientAddress {
    const socketIp = facts.socketAddress === undefined ? 'unknown' : normalizeIp(facts.socketAddress);
    const fromSocket: ClientAddress = { ok: true, ip: socketIp, ipAddr: socketIp.includes(':') ? `[${socketIp}]:${facts.socketPort}` : `${socketIp}:${facts.socketPort}` };
    if (this.trust.kind === 'none') return fromSocket;
    // Nearest first: chain[0] is the socket peer, chain[1] the rightmost X-Forwarded-For entry, ...
    const forwarded = forwardedEntries(facts.forwardedFor);
    const chainLength = 1 + forwarded.length;
    const entry = (index: number) => forwarded[forwarded.length - index];
    let clientIndex: number;
    if (this.trust.kind === 'hops') {
      // The `hops` nearest addresses are proxies; the next one is the client. With fewer entries, the
      // farthest one the proxies reported.
      clientIndex = Math.min(this.trust.hops, chainLength - 1);
      for (let i = 1; i <= clientIndex; i++) if (net.isIP(entry(i)) === 0) return { ok: false, entry: entry(i) };
    } else {
      const proxies = this.proxies as IpList;
      if (!proxies.has(socketIp)) return fromSocket;
      clientIndex = 0;
      while (clientIndex < chainLength - 1) {
        clientIndex++;
        const next = entry(clientIndex);
        if (net.isIP(next) === 0) return { ok: false, entry: next };
        if (!proxies.has(normalizeIp(next))) break;
      }
    }
    if (clientIndex === 0) return fromSocket;
    const ip = normalizeIp(entry(clientIndex));
    return { ok: true, ip, ipAddr: ip };
  }
}

/** The entries of every X-Forwarded-For header, in order (several headers read as one list). */
function forwardedEntries(header: string | string[] | undefined): string[] {
  const text = Array.isArray(header) ? header.join(',') : header;
  if (text === undefined || text.trim() === '') return [];
  return text.split(',').map((part) => part.trim());
}
