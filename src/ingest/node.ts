// One node as the server sees it: a peer_connections row (created by the writer with the node's first
// stored message, so a connection that never sends one leaves no row) and the identity it announced.
// Its state changes only through the named steps below: the connection learns and disconnects it, the
// writer takes what to write and records the outcome, the disk spool rebuilds it after a restart.
import type { Identity } from '../domain/identity.js';

/** What the writer puts in the node's row (a copy: changes after it was taken mark the node again). */
export interface NodeRowState {
  ipAddr: string;
  audit: boolean;
  envelopeId: string | null;
  identity: Identity;
  disconnected: boolean;
  connectedAt: string;
}

export class NodeHandle {
  private row: number | null;
  private known: Identity = {};
  private envelope: string | null;
  private disconnected = false;
  /** Something (identity, envelope id, disconnection) must still be written to the row. */
  private changed = false;
  /** The database refused to create the row for its data: the node's messages are dropped. */
  private refused = false;
  /** A refused write of this node's row was logged (once per node). */
  private rejectionLogged = false;
  private creating: Promise<number> | null = null;
  /**
   * When the server accepted the node (naive UTC): its row's created_at. The row itself is written later,
   * with the first stored message, but a session starts when the node connected (uptime, /nodes?at=).
   */
  readonly connectedAt: string;

  constructor(
    readonly ipAddr: string,
    readonly audit: boolean,
    envelopeId: string | null,
    rowId: number | null,
    /** Given when rebuilt from the disk spool after a restart (the session started in the earlier run). */
    connectedAt = new Date().toISOString().slice(0, 23).replace('T', ' '),
  ) {
    this.envelope = envelopeId;
    this.row = rowId;
    this.connectedAt = connectedAt;
  }

  /** peer_connections.id, once the row exists. */
  get rowId(): number | null {
    return this.row;
  }

  get identity(): Readonly<Identity> {
    return this.known;
  }

  get envelopeId(): string | null {
    return this.envelope;
  }

  /** Its connection has ended. */
  get closed(): boolean {
    return this.disconnected;
  }

  /** Something (identity, envelope id, disconnection) must still be written to the row. */
  get needsUpdate(): boolean {
    return this.changed;
  }

  /** The database refused to create its row: its messages are dropped. */
  get rowRejected(): boolean {
    return this.refused;
  }

  // --- Told by the connection (and the spool replaying an earlier run) ---

  /** Merges what a message told about the node; returns true when anything changed. */
  learn(identity: Identity): boolean {
    let changed = false;
    for (const [key, value] of Object.entries(identity) as [keyof Identity, unknown][]) {
      if (value !== undefined && this.known[key] !== value) {
        (this.known as Record<string, unknown>)[key] = value;
        changed = true;
      }
    }
    if (changed) this.changed = true;
    return changed;
  }

  /** The first V2 envelope id seen on the socket names this (primary) node. */
  assignEnvelope(envelopeId: string): void {
    this.envelope = envelopeId;
    this.changed = true;
  }

  /** Its connection ended (or, replayed from the spool, ended in an earlier run): the row must say so. */
  markDisconnected(): void {
    this.disconnected = true;
    this.changed = true;
  }

  /** The spool recorded the row id an earlier run had created: kept unless this run knows one already. */
  adoptRowId(rowId: number): void {
    this.row ??= rowId;
  }

  // --- Used by the writer ---

  /**
   * The row id, creating the row once even when several batches ask at the same time. `create` writes
   * the node's state as it is when called (taken with takeRowState): what changes during the insert
   * marks the node again.
   */
  async ensureRow(create: () => Promise<number>): Promise<number> {
    if (this.row !== null) return this.row;
    this.creating ??= create().then(
      (id) => {
        this.row = id;
        return id;
      },
      (error: unknown) => {
        this.creating = null;
        throw error;
      },
    );
    return this.creating;
  }

  /** The state to write to the row, now; the node counts as written until rowWriteFailed says otherwise. */
  takeRowState(): NodeRowState {
    this.changed = false;
    return { ipAddr: this.ipAddr, audit: this.audit, envelopeId: this.envelope, identity: { ...this.known }, disconnected: this.disconnected, connectedAt: this.connectedAt };
  }

  /** The write of takeRowState's state did not happen (database unavailable): it must be written again. */
  rowWriteFailed(): void {
    this.changed = true;
  }

  /** The database refused its identity: forgotten (the node may announce a storable one later). */
  forgetIdentity(): void {
    this.known = {};
  }

  /** The database refused to create its row; returns false when that was already known. */
  rejectRow(): boolean {
    if (this.refused) return false;
    this.refused = true;
    return true;
  }

  /** True the first time only: a node whose every write is refused must not flood the log. */
  firstRejection(): boolean {
    if (this.rejectionLogged) return false;
    this.rejectionLogged = true;
    return true;
  }
}
