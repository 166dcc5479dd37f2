// Who may open an ingestion socket: the INGEST_ALLOW address list, a global cap (MAX_CONNECTIONS) and a
// per-address cap (MAX_CONNECTIONS_PER_IP). Decided before anything is written to the database.
import net from 'node:net';

export type GuardRefusal = { status: 403 | 429 | 503; code: string; message: string };

export class IngestGuard {
  private readonly allow: net.BlockList | null;
  private readonly perIp = new Map<string, number>();
  private total = 0;

  constructor(private readonly options: { allow: string[]; maxConnections: number; maxConnectionsPerIp: number }) {
    if (options.allow.length === 0) {
      this.allow = null;
    } else {
      this.allow = new net.BlockList();
      for (const entry of options.allow) {
        const [address, prefix] = entry.split('/');
        const family = net.isIP(address) === 6 ? 'ipv6' : 'ipv4';
        if (prefix === undefined) this.allow.addAddress(address, family);
        else this.allow.addSubnet(address, Number(prefix), family);
      }
    }
  }

  /** Admits `ip` (counting it until `release`), or returns why not. */
  admit(ip: string): GuardRefusal | null {
    if (this.allow !== null && !allowed(this.allow, ip)) {
      return { status: 403, code: 'INGEST_FORBIDDEN', message: `${ip} is not in INGEST_ALLOW` };
    }
    if (this.total >= this.options.maxConnections) {
      return { status: 503, code: 'TOO_MANY_CONNECTIONS', message: `the server holds its maximum of ${this.options.maxConnections} node connections; try again later` };
    }
    if (this.options.maxConnectionsPerIp > 0 && (this.perIp.get(ip) ?? 0) >= this.options.maxConnectionsPerIp) {
      return { status: 429, code: 'TOO_MANY_CONNECTIONS_FROM_ADDRESS', message: `${ip} already holds ${this.options.maxConnectionsPerIp} node connections (MAX_CONNECTIONS_PER_IP)` };
    }
    this.total++;
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    return null;
  }

  release(ip: string): void {
    this.total--;
    const left = (this.perIp.get(ip) ?? 1) - 1;
    if (left <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, left);
  }
}

function allowed(list: net.BlockList, ip: string): boolean {
  const family = net.isIP(ip);
  if (family === 4) return list.check(ip, 'ipv4') || list.check(`::ffff:${ip}`, 'ipv6');
  if (family === 6) return list.check(ip, 'ipv6');
  return false;
}
