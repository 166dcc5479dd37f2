// One node as the server sees it: a peer_connections row (created at the handshake, or later for a
// further envelope id on the same socket) and the identity the node announced.
import type { Identity } from './frame.js';

export class NodeHandle {
  /** peer_connections.id, once the row exists. */
  rowId: number | null;
  identity: Identity = {};
  /** Something (identity, envelope id, disconnection) must still be written to the row. */
  needsUpdate = false;
  closed = false;
  private creating: Promise<number> | null = null;

  constructor(
    readonly ipAddr: string,
    readonly audit: boolean,
    public envelopeId: string | null,
    rowId: number | null,
  ) {
    this.rowId = rowId;
  }

  /** The row id, creating the row once even when several batches ask at the same time. */
  async ensureRow(create: () => Promise<number>): Promise<number> {
    if (this.rowId !== null) return this.rowId;
    this.creating ??= create().then(
      (id) => {
        this.rowId = id;
        this.needsUpdate = true;
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
