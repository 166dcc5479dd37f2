// One node as the server sees it: a peer_connections row (created by the writer with the node's first
// stored message, so a connection that never sends one leaves no row) and the identity it announced.
import type { Identity } from '../domain/identity.js';

export class NodeHandle {
  /** peer_connections.id, once the row exists. */
  rowId: number | null;
  identity: Identity = {};
  /** Something (identity, envelope id, disconnection) must still be written to the row. */
  needsUpdate = false;
  closed = false;
  /** The database refused to create the row for its data: the node's messages are dropped. */
  rowRejected = false;
  /** A refused write of this node's row was logged (once per node). */
  rejectionLogged = false;
  /**
   * When the server accepted the node (naive UTC): its row's created_at. The row itself is written later,
   * with the first stored message, but a session starts when the node connected (uptime, /nodes?at=).
   */
  readonly connectedAt: string;
  private creating: Promise<number> | null = null;

  constructor(
    readonly ipAddr: string,
    readonly audit: boolean,
    public envelopeId: string | null,
    rowId: number | null,
    /** Given when rebuilt from the disk spool after a restart (the session started in the earlier run). */
    connectedAt = new Date().toISOString().slice(0, 23).replace('T', ' '),
  ) {
    this.rowId = rowId;
    this.connectedAt = connectedAt;
  }

  /**
   * The row id, creating the row once even when several batches ask at the same time. `create` writes
   * the node's state as it is when called, and clears needsUpdate: what changes during the insert sets
   * it again.
   */
  async ensureRow(create: () => Promise<number>): Promise<number> {
    if (this.rowId !== null) return this.rowId;
    this.creating ??= create().then(
      (id) => {
        this.rowId = id;
        return id;
      },
      (error: unknown) => {
        this.creating = null;
        throw error;
      },
    );
    return this.creating;
  }

  /** Merges what a message told about the node; returns true when anything changed. */
  learn(identity: Identity): boolean {
    let changed = false;
    for (const [key, value] of Object.entries(identity) as [keyof Identity, unknown][]) {
      if (value !== undefined && this.identity[key] !== value) {
        (this.identity as Record<string, unknown>)[key] = value;
        changed = true;
      }
    }
    if (changed) this.needsUpdate = true;
    return changed;
  }
}
