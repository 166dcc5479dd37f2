// The ingestion endpoints `/` (expiring) and `/audit` (kept forever) and their handshake: a node is
// admitted (access rules, limits) before the upgrade, then its socket goes to the registry of open
// connections (open-connections.ts). The handshake writes nothing: a node's peer_connections row is
// created with its first stored message (see BatchWriter.writeNodes).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/websocket';
import { IngestGuard } from '../access/ingest-guard.js';
import { sendRefusal } from '../access/refusal.js';
import { AppError } from '../errors.js';
import { OpenConnections, type IngestDeps } from './open-connections.js';

export interface IngestRouteOptions {
  /** Answers a plain (non-websocket) GET on `/`, e.g. with the nodes overview page. */
  httpRoot?: (request: FastifyRequest, reply: FastifyReply) => unknown;
}

const WS_KEY = /^[+/0-9A-Za-z]{22}==$/;

function isValidUpgrade(request: FastifyRequest): boolean {
  const h = request.headers;
  return h['sec-websocket-version'] === '13' && typeof h['sec-websocket-key'] === 'string' && WS_KEY.test(h['sec-websocket-key'].trim());
}

export class IngestEndpoints {
  private accepting = true;
  private readonly guard: IngestGuard;
  private readonly connections: OpenConnections;
  /**
   * The client address of each request admitted by the handshake (preValidation), read by the websocket
   * handler of the same request: fastify hands both the same request object.
   */
  private readonly admitted = new WeakMap<FastifyRequest, string>();

  constructor(private readonly deps: IngestDeps) {
    const { ingestAllow, maxConnections, maxConnectionsPerIp, trustProxy, allowedOrigins } = deps.settings;
    this.guard = new IngestGuard({ allow: ingestAllow, maxConnections, maxConnectionsPerIp, trustProxy, allowedOrigins });
    this.connections = new OpenConnections(deps);
  }

  get openConnections(): number {
    return this.connections.size;
  }

  register(app: FastifyInstance, options: IngestRouteOptions = {}): void {
    for (const [url, audit] of [['/', false], ['/audit', true]] as const) {
      app.route({
        method: 'GET',
        url,
        preValidation: async (request, reply) => {
          if (!request.ws) return;
          await this.admit(request, reply);
        },
        handler: (request, reply) => {
          if (url === '/' && options.httpRoot) return options.httpRoot(request, reply);
          return sendRefusal(reply.header('upgrade', 'websocket'), new AppError('UPGRADE_REQUIRED', `${url} accepts websocket connections from Tetcore nodes (--telemetry-url 'ws://HOST:PORT${url === '/' ? '' : url} 5')`));
        },
        wsHandler: (socket, request) => {
          const ipAddr = this.admitted.get(request);
          if (ipAddr === undefined) {
            // Not expected: a refused handshake is answered in preValidation and never upgraded.
            this.deps.log.error({ url }, 'ingestion socket upgraded without an admitted handshake: closed');
            socket.terminate();
            return;
          }
          this.admitted.delete(request);
          this.connections.open(socket, ipAddr, url, audit);
        },
      });
    }
    this.connections.start();
  }

  private async admit(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const { metrics, log } = this.deps;
    if (!this.accepting) {
      metrics.handshakesRefused.inc({ reason: 'shutting_down' });
      return sendRefusal(reply, new AppError('SHUTTING_DOWN'));
    }
    if (!isValidUpgrade(request)) {
      metrics.handshakesRefused.inc({ reason: 'bad_handshake' });
      return sendRefusal(reply, new AppError('BAD_HANDSHAKE'));
    }
    const admission = this.guard.admit(request);
    if (!admission.admitted) {
      metrics.handshakesRefused.inc({ reason: admission.refusal.code });
      log.debug({ ip: admission.ip, code: admission.refusal.code }, 'ingestion handshake refused');
      return sendRefusal(reply, admission.refusal);
    }
    const { ip, ipAddr } = admission;
    // Admitted: the slot is held until this TCP connection ends, whether or not the upgrade completes.
    request.raw.socket.once('close', () => this.guard.release(ip));
    // Nothing is written here, so a database outage refuses no node: its messages wait in the writer's
    // buffer like everyone's (backpressure bounds it), and 2,000 bare handshakes leave no rows behind.
    this.admitted.set(request, ipAddr);
  }

  /**
   * Refuses new nodes and closes every ingestion socket; resolves once all are closed, so that every
   * message read from them has reached the writer.
   */
  async closeAll(): Promise<void> {
    this.accepting = false;
    await this.connections.closeAll();
  }
}
