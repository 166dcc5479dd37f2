// The operator's log of node connections: one info line when a node is identified (its system.connected,
// or the peer id of a flat network_state, arrives up to ~5 s after the handshake) and one when its socket
// closes, each with name, peer id, address and endpoint. A reconnect storm (thousands of nodes within
// seconds after a restart) must not flood the log: past a budget of lines per window, lines are folded
// into one line per window that counts them.
import type { Logger } from 'pino';
import { CLOSE_CODES } from '../errors.js';
import type { NodeHandle } from './node.js';

export interface ConnectionLogOptions {
  /** Lines written one by one per window; the rest are counted. */
  linesPerWindow: number;
  windowMs: number;
}

export const DEFAULT_CONNECTION_LOG: ConnectionLogOptions = { linesPerWindow: 50, windowMs: 10_000 };

/** What the log needs of a connection; IngestConnection satisfies it. */
export interface LoggedConnection {
  readonly endpoint: string;
}

interface ConnectionRecord {
  openedAt: number;
  ipAddr: string;
  /** Nodes identified on this socket (several with envelope ids). */
  nodes: NodeHandle[];
}

/** Why a socket closed, by close code (docs/wire-protocol.md#close-codes): the node's codes, then ours. */
const CLOSE_REASONS: Record<number, string> = {
  1000: 'closed by the node',
  1005: 'closed by the node',
  1006: 'connection lost (nodes close without a close frame)',
  ...Object.fromEntries(Object.values(CLOSE_CODES).map((close) => [close.code, close.meaning])),
};

export class ConnectionLog {
  private readonly records = new WeakMap<LoggedConnection, ConnectionRecord>();
  private windowStart = 0;
  private written = 0;
  private folded = { identified: 0, disconnected: 0 };
  private foldTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly log: Logger,
    private readonly options: ConnectionLogOptions = DEFAULT_CONNECTION_LOG,
  ) {}

  /** The handshake completed; nothing is logged at info yet (the node has not said who it is). */
  opened(connection: LoggedConnection, ipAddr: string): void {
    this.records.set(connection, { openedAt: Date.now(), ipAddr, nodes: [] });
  }

  /** Called whenever a node's identity changed; logs the first time its peer id is known. */
  identified(connection: LoggedConnection, node: NodeHandle): void {
    const record = this.records.get(connection);
    if (record === undefined || node.identity.peerId === undefined || record.nodes.includes(node)) return;
    record.nodes.push(node);
    if (!this.admit('identified')) return;
    this.log.info({ ...describe(node), address: node.ipAddr, endpoint: connection.endpoint, envelopeId: node.envelopeId ?? undefined }, 'node connected');
  }

  /** The socket closed: one line per node identified on it, or one line for the address if none was. */
  closed(connection: LoggedConnection, code: number): void {
    const record = this.records.get(connection);
    if (record === undefined) return;
    this.records.delete(connection);
    const connectedForS = Math.round((Date.now() - record.openedAt) / 1000);
    const nodes: Array<NodeHandle | null> = record.nodes.length > 0 ? record.nodes : [null];
    for (const node of nodes) {
      if (!this.admit('disconnected')) continue;
      const who = node === null ? { name: null, peerId: null } : describe(node);
      this.log.info({ ...who, address: record.ipAddr, endpoint: connection.endpoint, code, reason: CLOSE_REASONS[code] ?? 'closed', connectedForS }, 'node disconnected');
    }
  }

  /** Writes the count of folded lines now (shutdown, tests); no-op when nothing was folded. */
  flush(): void {
    if (this.foldTimer !== null) clearTimeout(this.foldTimer);
    this.foldTimer = null;
    const { identified, disconnected } = this.folded;
    if (identified + disconnected === 0) return;
    this.folded = { identified: 0, disconnected: 0 };
    this.log.info(
      { connected: identified, disconnected, linesPerWindow: this.options.linesPerWindow, windowS: this.options.windowMs / 1000 },
      'node connections and disconnections over the line budget, counted here instead of logged one by one',
    );
  }

  private admit(kind: 'identified' | 'disconnected'): boolean {
    const now = Date.now();
    if (now - this.windowStart >= this.options.windowMs) {
      this.windowStart = now;
      this.written = 0;
    }
    if (this.written < this.options.linesPerWindow) {
      this.written++;
      return true;
    }
    this.folded[kind]++;
    if (this.foldTimer === null) {
      this.foldTimer = setTimeout(() => this.flush(), this.windowStart + this.options.windowMs - now);
      this.foldTimer.unref();
    }
    return false;
  }
}

function describe(node: NodeHandle): { name: string | null; peerId: string | null; chain?: string } {
  return { name: node.identity.name ?? null, peerId: node.identity.peerId ?? null, chain: node.identity.chain };
}
