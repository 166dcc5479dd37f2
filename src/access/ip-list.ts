// A list of IP addresses and CIDR blocks (INGEST_ALLOW, the proxies of TRUST_PROXY) and the test
// "is this address in it", the same for every list; IPv4 and IPv4-mapped IPv6 forms match each other.
import net from 'node:net';

export class IpList {
  private readonly list = new net.BlockList();

  /** `entries`: addresses or CIDR blocks, already validated by the settings. */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address, prefix] = entry.split('/');
      const family = net.isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (prefix === undefined) this.list.addAddress(address, family);
      else this.list.addSubnet(address, Number(prefix), family);
    }
  }

  has(ip: string): boolean {
    const family = net.isIP(ip);
    if (family === 4) return this.list.check(ip, 'ipv4') || this.list.check(`::ffff:${ip}`, 'ipv6');
    if (family === 6) return this.list.check(ip, 'ipv6');
    return false;
  }
}

/** The address as the rest of the server compares and stores it: IPv4-mapped IPv6 unwrapped, lower case. */
export function normalizeIp(ip: string): string {
  const lower = ip.toLowerCase();
  return lower.startsWith('::ffff:') && net.isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}
