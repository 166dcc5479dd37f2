// One ingestion websocket: turns each received message into a row for the writer, keeps the nodes
// that share the socket apart (one per V2 envelope id) and remembers when anything last arrived.
import type { WebSocket } from 'ws';
import type { Metrics } from '../metrics/catalogue.js';
import type { DropRecorder, IdentityRejectionRecorder } from './drops.js';
import { parseFrame } from './frame.js';
import { NodeHandle } from './node.js';
import type { IngestSink } from './writer.js';
import type { ConnectionLog } from './connection-log.js';

export interface ConnectionDeps {
  /** The disk spool, or the writer itself without one. */
  writer: IngestSink;
  metrics: Metrics;
  recordDrop: DropRecorder;
  recordIdentityRejected: IdentityRejectionRecorder;
  maxNodesPerConnection: number;
  /** Told when a node's identity changes (it logs the node once identified). */
  connectionLog?: ConnectionLog;
  /** MAX_FUTURE_SKEW_S in ms. */
  maxFutureSkewMs: number;
}

const V1_KEY = '';

export class IngestConnection {
  /** Nodes on this socket by envelope id ('' for flat V1 messages); the first one is the primary handle. */
  private readonly nodes = new Map<string, NodeHandle>();
  lastFrameAt = Date.now();

  constructor(
    readonly socket: WebSocket,
    readonly endpoint: string,
    private readonly primary: NodeHandle,
    private readonly deps: ConnectionDeps,
  ) {}

  handleMessage(data: Buffer): void {
    const receivedAt = Date.now();
    this.lastFrameAt = receivedAt;
    const { metrics, recordDrop, writer } = this.deps;
    metrics.bytesReceived.inc(data.length);
    const frame = parseFrame(data, { nowMs: this.lastFrameAt, maxFutureSkewMs: this.deps.maxFutureSkewMs });
    if (frame.drop === 'invalid_utf8' || frame.drop === 'invalid_json' || frame.drop === 'too_deep' || frame.drop === 'not_an_object') {
      recordDrop(frame.drop, 1, { endpoint: this.endpoint, ip: this.primary.ipAddr, bytes: data.length });
      return;
    }
    metrics.messagesReceived.inc();
    if (frame.drop === 'bad_envelope') {
      recordDrop('bad_envelope', 1, { ip: this.primary.ipAddr });
      return;
    }
    const node = this.nodeFor(frame.envelopeId);
    if (node === null) {
      recordDrop('too_many_nodes', 1, { ip: this.primary.ipAddr, envelopeId: frame.envelopeId });
      return;
    }
    if (frame.rejectedIdentity !== null) this.deps.recordIdentityRejected(frame.rejectedIdentity, { ip: this.primary.ipAddr, envelopeId: frame.envelopeId });
    if (frame.identity !== null && node.learn(frame.identity)) {
      writer.nodeChanged(node);
      this.deps.connectionLog?.identified(this, node);
    }
    if (frame.row !== null) writer.enqueue(node, frame.row, receivedAt);
    else recordDrop(frame.drop ?? 'invalid_ts', 1, { ip: this.primary.ipAddr, msg: frame.msg });
  }

  /** Any frame at all (ping and pong included) proves the node is alive. */
  touch(): void {
    this.lastFrameAt = Date.now();
  }

  private nodeFor(envelopeId: string | null): NodeHandle | null {
    const key = envelopeId ?? V1_KEY;
    const known = this.nodes.get(key);
    if (known !== undefined) return known;
    let node: NodeHandle;
    if (this.nodes.size === 0) {
      node = this.primary;
      if (envelopeId !== null) {
        node.assignEnvelope(envelopeId);
        this.deps.writer.nodeChanged(node);
      }
    } else if (this.nodes.size >= this.deps.maxNodesPerConnection) {
      return null;
    } else {
      node = new NodeHandle(this.primary.ipAddr, this.primary.audit, envelopeId, null);
    }
    this.nodes.set(key, node);
    return node;
  }

  /** peer_connections ids of the nodes on this socket that have a row. */
  rowIds(): number[] {
    const ids: number[] = [];
    if (this.primary.rowId !== null) ids.push(this.primary.rowId);
    for (const node of this.nodes.values()) if (node !== this.primary && node.rowId !== null) ids.push(node.rowId);
    return ids;
  }

  /** The socket ended: every node on it is recorded as disconnected. */
  closed(): void {
    const all = new Set([this.primary, ...this.nodes.values()]);
    for (const node of all) {
      node.markDisconnected();
      this.deps.writer.nodeChanged(node);
    }
  }
}
