// The registry of open ingestion sockets: it opens an IngestConnection for each admitted socket and keeps
// what spans all of them: heartbeats, pause/resume with the writer's backpressure, last_seen, and closing
// them all at shutdown.
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { Database } from '../storage/database.js';
import { touchConnections } from '../storage/peer-connections.js';
import type { Metrics } from '../metrics/catalogue.js';
import type { Settings } from '../config/settings.js';
import { CLOSE_CODES, closeWithGrace } from '../errors.js';
import { IngestConnection } from './connection.js';
import { NodeHandle } from './node.js';
import type { IngestSink } from './writer.js';
import type { DropRecorder, IdentityRejectionRecorder } from './drops.js';
import { ConnectionLog } from './connection-log.js';

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

export class OpenConnections {
  private readonly connections = new Set<IngestConnection>();
  private heartbeat: NodeJS.Timeout | null = null;
  private liveness: NodeJS.Timeout | null = null;
  private readonly connectionLog: ConnectionLog;

  constructor(private readonly deps: IngestDeps) {
    this.connectionLog = new ConnectionLog(deps.log);
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

  get size(): number {
    return this.connections.size;
  }

  /** Starts the heartbeat and last_seen timers. */
  start(): void {
    this.heartbeat = setInterval(() => this.checkHeartbeats(), this.deps.settings.heartbeatIntervalS * 1000);
    this.liveness = setInterval(() => void this.touchLiveConnections(), this.deps.settings.livenessIntervalS * 1000);
    this.heartbeat.unref();
    this.liveness.unref();
  }

  /** An admitted socket from `ipAddr` on `endpoint`: from now on every message goes to its IngestConnection. */
  open(socket: WebSocket, ipAddr: string, endpoint: string, audit: boolean): void {
    const { writer, metrics, recordDrop, recordIdentityRejected, settings, log } = this.deps;
    const node = new NodeHandle(ipAddr, audit, null, null);
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

  /** Stops the timers and closes every socket; resolves once all are closed. */
  async closeAll(): Promise<void> {
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
