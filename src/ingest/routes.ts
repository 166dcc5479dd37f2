// The ingestion endpoints `/` (expiring) and `/audit` (kept forever): the handshake admits the node
// (access rules, limits), then every message goes to an IngestConnection. The handshake writes nothing:
// a node's peer_connections row is created with its first stored message (see BatchWriter.writeNodes).
// Also owns what spans all sockets: heartbeats, backpressure (pause/resume reading) and last_seen.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/websocket';
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { Database } from '../storage/database.js';
import { touchConnections } from '../storage/peer-connections.js';
import type { Metrics } from '../metrics/catalogue.js';
import type { Settings } from '../config/settings.js';
import { IngestConnection } from './connection.js';
import { NodeHandle } from './node.js';
import { IngestGuard } from '../access/ingest-guard.js';
import { sendRefusal } from '../access/refusal.js';
import { AppError, CLOSE_CODES, closeWithGrace } from '../errors.js';
import type { IngestSink } from './writer.js';
import type { DropRecorder, IdentityRejectionRecorder } from './drops.js';
import { ConnectionLog } from './connection-log.js';


declare module 'fastify' {
  interface FastifyRequest {
    ingestIp?: string;
  }
}

export interface IngestDeps {
  settings: Settings;
  db: Database;
  /** The disk spool, or the writer itself without one. */
  writer: IngestSink;
  metrics: Metrics;
  log: Logger;
  recordDrop: DropRecorder;
  recordIdentityRejected: IdentityRejectionRecorder;
}

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
  private readonly connections = new Set<IngestConnection>();
  private accepting = true;
  private heartbeat: NodeJS.Timeout | null = null;
  private liveness: NodeJS.Timeout | null = null;

  private readonly guard: IngestGuard;
  private readonly connectionLog: ConnectionLog;

  constructor(private readonly deps: IngestDeps) {
    this.connectionLog = new ConnectionLog(deps.log);
    const { ingestAllow, maxConnections, maxConnectionsPerIp, trustProxy, allowedOrigins } = deps.settings;
    this.guard = new IngestGuard({ allow: ingestAllow, maxConnections, maxConnectionsPerIp, trustProxy, allowedOrigins });
    deps.writer.on('pause', () => {
      for (const c of this.connections) c.socket.pause();
    });
    deps.writer.on('resume', () => {
      for (const c of this.connections) {
        c.touch(); // silence while paused was ours, not the node's
        c.socket.resume();
      }
    });
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
          await this.recordHandshake(request, reply);
        },
        handler: (request, reply) => {
          if (url === '/' && options.httpRoot) return options.httpRoot(request, reply);
          return sendRefusal(reply.header('upgrade', 'websocket'), new AppError('UPGRADE_REQUIRED', `${url} accepts websocket connections from Tetcore nodes (--telemetry-url 'ws://HOST:PORT${url === '/' ? '' : url} 5')`));
        },
        wsHandler: (socket, request) => this.accept(socket, request, url, audit),
      });
    }
    this.heartbeat = setInterval(() => this.checkHeartbeats(), this.deps.settings.heartbeatIntervalS * 1000);
    this.liveness = setInterval(() => void this.touchLiveConnections(), this.deps.settings.livenessIntervalS * 1000);
    this.heartbeat.unref();
    this.liveness.unref();
  }

  private async recordHandshake(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
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
    request.ingestIp = ipAddr;
  }

  private accept(socket: WebSocket, request: FastifyRequest, endpoint: string, audit: boolean): void {
    const { writer, metrics, recordDrop, recordIdentityRejected, settings, log } = this.deps;
    const node = new NodeHandle(request.ingestIp as string, audit, null, null);
    const connection = new IngestConnection(socket, endpoint, node, { writer, metrics, recordDrop, recordIdentityRejected, maxNodesPerConnection: settings.maxNodesPerConnection, maxFutureSkewMs: settings.maxFutureSkewS * 1000, connectionLog: this.connectionLog });
    this.connections.add(connection);
    this.connectionLog.opened(connection, node.ipAddr);
    metrics.nodesConnected.inc();
    metrics.currentConnections.inc();
    metrics.connectionsOpen.inc({ endpoint });
    if (writer.isPaused) socket.pause();
    log.debug({ ip: node.ipAddr, endpoint }, 'node socket opened');

    socket.on('message', (data: Buffer) => connection.handleMessage(data));
    socket.on('ping', () => connection.touch());
    socket.on('pong', () => connection.touch());
    socket.on('error', (error: Error & { code?: string }) => {
      log.debug({ ip: node.ipAddr, err: error.message, code: error.code }, 'ingestion socket error');
    });
    socket.on('close', (code: number) => {
      this.connections.delete(connection);
      connection.closed();
      metrics.nodesDropped.inc();
      metrics.currentConnections.dec();
      metrics.connectionsOpen.dec({ endpoint });
      this.connectionLog.closed(connection, code);
    });
  }

  private checkHeartbeats(): void {
    if (this.deps.writer.isPaused) return; // not reading sockets: silence proves nothing
    const deadline = Date.now() - this.deps.settings.clientTimeoutS * 1000;
    for (const connection of this.connections) {
      if (connection.lastFrameAt < deadline) {
        this.deps.log.debug({ endpoint: connection.endpoint }, `nothing received for ${this.deps.settings.clientTimeoutS} s: disconnecting`);
        closeWithGrace(connection.socket, CLOSE_CODES.CLIENT_TIMEOUT, 'client timeout');
      } else {
        connection.socket.ping();
      }
    }
  }

  private async touchLiveConnections(): Promise<void> {
    const ids = [...this.connections].flatMap((c) => c.rowIds());
    try {
      await touchConnections(this.deps.db, ids);
    } catch (error) {
      this.deps.log.warn({ err: error }, 'could not refresh last_seen of open connections');
    }
  }

  /**
   * Refuses new nodes and closes every ingestion socket; resolves once all are closed, so that every
   * message read from them has reached the writer.
   */
  async closeAll(): Promise<void> {
    this.accepting = false;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.liveness) clearInterval(this.liveness);
    const closing = [...this.connections].map(
      (connection) =>
        new Promise<void>((resolve) => {
          if (connection.socket.readyState === connection.socket.CLOSED) return resolve();
          connection.socket.once('close', () => resolve());
          closeWithGrace(connection.socket, CLOSE_CODES.SHUTDOWN, 'server shutting down');
        }),
    );
    await Promise.all(closing);
    this.connectionLog.flush();
  }
}
