// Who may open an ingestion socket: no browser page unless ALLOWED_ORIGINS lists it, the client address
// (TRUST_PROXY) in INGEST_ALLOW, a global cap (MAX_CONNECTIONS) and a per-address cap
// (MAX_CONNECTIONS_PER_IP). Decided before anything is written to the database.
import type { IncomingHttpHeaders } from 'node:http';
import { AppError } from '../errors.js';
import { ApiError } from '../api/errors.js';
import { ClientAddressResolver, type TrustProxy } from './client-address.js';
import { IpList } from './ip-list.js';
import { OriginPolicy, originForbidden } from './origin.js';

export interface IngestGuardOptions {
  allow: string[];
  maxConnections: number;
  maxConnectionsPerIp: number;
  trustProxy: TrustProxy;
  allowedOrigins: string[];
}

/** What the guard reads of a handshake (a FastifyRequest or an IncomingMessage). */
export interface Handshake {
  headers: IncomingHttpHeaders;
  socket: { remoteAddress?: string; remotePort?: number };
}

export type Admission =
  /** Admitted and counted until `release(ip)`; `ipAddr` is the address to store. */
  | { admitted: true; ip: string; ipAddr: string }
  /** `ip` when the client address was known when refused (for the log). */
  | { admitted: false; ip?: string; refusal: AppError };

export class IngestGuard {
  private readonly allow: IpList | null;
  private readonly origins: OriginPolicy;
  private readonly addresses: ClientAddressResolver;
  private readonly perIp = new Map<string, number>();
  private total = 0;

  constructor(private readonly options: IngestGuardOptions) {
    this.allow = options.allow.length === 0 ? null : new IpList(options.allow);
    this.origins = new OriginPolicy(options.allowedOrigins);
    this.addresses = new ClientAddressResolver(options.trustProxy);
  }

  admit(handshake: Handshake): Admission {
    const origin = handshake.headers.origin;
    if (!this.origins.allowsIngestion(origin)) {
      return { admitted: false, refusal: originForbidden(origin, 'the ingestion endpoints', 'only ALLOWED_ORIGINS (nodes send no Origin)') };
    }
    const client = this.addresses.resolve({ socketAddress: handshake.socket.remoteAddress, socketPort: handshake.socket.remotePort, forwardedFor: handshake.headers['x-forwarded-for'] });
    if (!client.ok) {
      return { admitted: false, refusal: new ApiError('BAD_FORWARDED_FOR', `x-forwarded-for: ${JSON.stringify(client.entry.slice(0, 80))} is not an IP address`, { parameter: 'x-forwarded-for', in: 'headers', expected: 'IP addresses separated by commas' }) };
    }
    const { ip, ipAddr } = client;
    if (this.allow !== null && !this.allow.has(ip)) {
      return { admitted: false, ip, refusal: new AppError('INGEST_FORBIDDEN', `${ip} is not in INGEST_ALLOW`) };
    }
    if (this.total >= this.options.maxConnections) {
      return { admitted: false, ip, refusal: new AppError('TOO_MANY_CONNECTIONS', `the server holds its maximum of ${this.options.maxConnections} node connections; try again later`) };
    }
    if (this.options.maxConnectionsPerIp > 0 && (this.perIp.get(ip) ?? 0) >= this.options.maxConnectionsPerIp) {
      return { admitted: false, ip, refusal: new AppError('TOO_MANY_CONNECTIONS_FROM_ADDRESS', `${ip} already holds ${this.options.maxConnectionsPerIp} node connections (MAX_CONNECTIONS_PER_IP)`) };
    }
    this.total++;
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    return { admitted: true, ip, ipAddr };
  }

  release(ip: string): void {
    this.total--;
    const left = (this.perIp.get(ip) ?? 1) - 1;
    if (left <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, left);
  }
}
