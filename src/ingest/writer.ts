// The batching writer: buffers parsed messages and writes them to substrate_logs in batches of up to
// DB_BATCH_SIZE rows, at the latest DB_SAVE_LATENCY_MS after the oldest arrived, one COPY per batch.
// Nothing it accepted is lost silently: a failing batch is retried with back-off; a batch the database
// rejects for its data is split until the offending rows are found, and only those are dropped (counted).
// Each node's peer_connections row is created here, with its first message; what the database refuses
// there is given up for that node alone. Written messages are released at once.
// Memory is bounded: past BUFFER_MAX_ROWS/BUFFER_MAX_BYTES it emits 'pause' so sockets stop being read.
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Database } from '../storage/database.js';
import { randomUUID } from 'node:crypto';
import { copyLogsOnce } from '../storage/substrate-logs.js';
import { batchCommitted } from '../storage/ingest-batches.js';
import { insertConnection, updateConnection } from '../storage/peer-connections.js';
import { isDataError } from '../errors.js';
import type { Metrics } from '../metrics/catalogue.js';
import type { NodeHandle } from './node.js';
import type { StoredRow } from './frame.js';
import type { DropReason } from '../domain/drops.js';
import type { AnalyticsIngest, PendingFact } from '../analytics/ingest.js';

interface PendingRow {
  node: NodeHandle;
  createdAt: string;
  logs: string;
  // Network analytics: the message's fact (if any), derived when accepted, written in its batch's transaction.
  fact: PendingFact | null;
  /** Its place in the disk spool (null: not spooled), reported back when settled (docs/spool.md). */
  seq: number | null;
}

interface Chunk {
  id: string;
  rows: PendingRow[];
}

export interface WriterOptions {
  batchSize: number;
  saveLatencyMs: number;
  maxWriters: number;
  bufferMaxRows: number;
  bufferMaxBytes: number;
}

/** Where connections put what they parsed: the writer itself, or the disk spool in front of it. */
export interface IngestSink {
  enqueue(node: NodeHandle, row: StoredRow, receivedAt?: number): void;
  nodeChanged(node: NodeHandle): void;
  readonly isPaused: boolean;
  on(event: 'pause' | 'resume', listener: () => void): unknown;
}

/** What the disk spool learns from the writer: a batch id before its COPY, and messages settled. */
export interface SpoolHooks {
  chunkPrepared(id: string, seqs: number[]): void;
  settled(seqs: number[]): void;
}

export type DropListener = (reason: DropReason, count: number, detail?: unknown) => void;

const MAX_BACKOFF_MS = 5_000;
/**
 * A batch also holds at most this many bytes of messages (a single larger message goes alone): with 350 KB
 * network states, 1,024 messages can make a 10 MB COPY that takes seconds and whose encoding blocks the
 * event loop.
 */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/**
 * While this many batches' worth of messages wait, a batch takes that many (still at most MAX_BATCH_BYTES):
 * a backlog (the spool's replay after an outage, a burst) is written in fewer, larger transactions, each
 * with its batch id and facts. `npm run bench:spool -- --only catchup` (60 s outage, 200 nodes) drained at
 * 23–26 % of the raw COPY rate with batches of 1,024, 37 % with 4,096 and 43 % with 16,384 (bench/README.md).
 */
export const BACKLOG_BATCH_FACTOR = 8;

export class BatchWriter extends EventEmitter implements IngestSink {
  /** Waiting messages from queueHead on; slots before it are taken (null). */
  private queue: Array<PendingRow | null> = [];
  private queueHead = 0;
  private heldRows = 0;
  private heldBytes = 0;
  /** Bytes of the messages still in the queue (not yet taken by a batch). */
  private queuedBytes = 0;
  private activeWriters = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly nodesToUpdate = new Set<NodeHandle>();
  private paused = false;
  private giveUpAt = Infinity;
  private idleWaiters: Array<() => void> = [];
  private spool: SpoolHooks | null = null;
  stored = 0;

  constructor(
    private readonly db: Database,
    private readonly options: WriterOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly onDrop: DropListener,
    /** Network analytics (ANALYTICS=true): derives facts from the messages and writes them with each batch. */
    private readonly analytics: AnalyticsIngest | null = null,
  ) {
    super();
  }

  get pendingRows(): number {
    return this.queue.length - this.queueHead;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** The spool hands messages over only below half the buffer limits, so this writer never pauses sockets for it. */
  get hasRoom(): boolean {
    return this.heldRows < this.options.bufferMaxRows / 2 && this.heldBytes < this.options.bufferMaxBytes / 2;
  }

  attachSpool(hooks: SpoolHooks): void {
    this.spool = hooks;
  }

  /**
   * `receivedAt`: when the server read the frame (epoch ms), the receipt time of network analytics.
   * `seq`: the message's place in the spool, if it was spooled.
   */
  enqueue(node: NodeHandle, row: StoredRow, receivedAt = Date.now(), seq: number | null = null): void {
    const fact = this.analytics === null ? null : this.analytics.derive(node, row, receivedAt);
    this.queue.push({ node, createdAt: row.createdAt, logs: row.logs, fact, seq });
    this.heldRows += 1;
    this.heldBytes += row.logs.length;
    this.queuedBytes += row.logs.length;
    this.updateBackpressure();
    this.schedule();
  }

  /** The node's row must be created or updated (identity learnt, disconnected). */
  nodeChanged(node: NodeHandle): void {
    this.nodesToUpdate.add(node);
    this.schedule();
  }

  /**
   * Writes everything held, then resolves. Gives up after `timeoutMs` if the database stays unavailable,
   * dropping (and counting) what is still held; resolves with the number of rows lost.
   */
  async drain(timeoutMs: number): Promise<number> {
    this.giveUpAt = Date.now() + timeoutMs;
    const droppedBefore = this.droppedAtShutdown;
    while (this.pendingRows > 0 || this.nodesToUpdate.size > 0 || this.activeWriters > 0) {
      while (this.activeWriters < this.options.maxWriters && (this.pendingRows > 0 || (this.nodesToUpdate.size > 0 && this.activeWriters === 0))) {
        this.startBatch();
      }
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    return this.droppedAtShutdown - droppedBefore;
  }

  private droppedAtShutdown = 0;

  private schedule(): void {
    if (this.giveUpAt !== Infinity) return; // drain() drives the batches
    while ((this.pendingRows >= this.options.batchSize || this.queuedBytes >= MAX_BATCH_BYTES) && this.activeWriters < this.options.maxWriters) this.startBatch();
    if (this.timer === null && (this.pendingRows > 0 || this.nodesToUpdate.size > 0)) {
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.activeWriters < this.options.maxWriters) this.startBatch();
        // else: the writer finishing calls schedule() again
      }, this.options.saveLatencyMs);
    }
  }

  private takeBatch(): PendingRow[] {
    const backlog = BACKLOG_BATCH_FACTOR * this.options.batchSize;
    const limit = Math.min(this.pendingRows >= backlog ? backlog : this.options.batchSize, this.pendingRows);
    let count = 0;
    let bytes = 0;
    while (count < limit) {
      const size = (this.queue[this.queueHead + count] as PendingRow).logs.length;
      if (count > 0 && bytes + size > MAX_BATCH_BYTES) break;
      bytes += size;
      count++;
    }
    this.queuedBytes -= bytes;
    const batch = this.queue.slice(this.queueHead, this.queueHead + count);
    // The slots taken are emptied at once: the batch alone holds its rows, and they are freed when it is
    // written. (Leaving them until the compaction below kept up to 4,096 written messages alive: 2 GB
    // with 500 KB network states.)
    this.queue.fill(null, this.queueHead, this.queueHead + count);
    this.queueHead += count;
    if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return batch as PendingRow[];
  }

  private startBatch(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const rows = this.takeBatch();
    const nodes = new Set(this.nodesToUpdate);
    this.nodesToUpdate.clear();
    if (rows.length === 0 && nodes.size === 0) return;
    this.activeWriters += 1;
    this.writeBatch(rows, nodes)
      .catch((error) => this.log.error({ err: error }, 'unexpected writer failure'))
      .finally(() => {
        this.activeWriters -= 1;
        for (const row of rows) this.heldBytes -= row.logs.length;
        this.heldRows -= rows.length;
        this.updateBackpressure();
        this.emit('progress');
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const wake of waiters) wake();
        this.schedule();
      });
  }

  /** Writes one batch, retrying until it is stored (or, during shutdown, until the deadline). */
  private async writeBatch(rows: PendingRow[], nodes: Set<NodeHandle>): Promise<void> {
    // Chunks still to write, each with the id that makes its write idempotent: after a failure whose
    // outcome is unknown, a chunk whose id is recorded was committed and is not written again. A chunk
    // the database rejects for its data is split (the halves get new ids: the rejected write left nothing).
    const chunks: Chunk[] = rows.length > 0 ? [{ id: randomUUID(), rows }] : [];
    let outcomeUnknown = false;
    // Nodes whose messages are in this batch: their rows must exist before the COPY.
    const writers = new Set<NodeHandle>();
    for (const row of rows) writers.add(row.node);
    for (const node of writers) nodes.add(node);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.writeNodes(nodes, writers);
        this.dropRowsWithoutConnection(chunks, writers);
        if (outcomeUnknown && chunks.length > 0 && (await batchCommitted(this.db, chunks[0].id))) {
          this.chunkStored(chunks.shift() as Chunk, null);
        }
        outcomeUnknown = false;
        while (chunks.length > 0) {
          const chunk = chunks[0];
          const started = process.hrtime.bigint();
          const facts = this.analytics === null ? [] : await this.analytics.factRows(this.db, chunk.rows);
          this.spoolPrepare(chunk);
          try {
            await copyLogsOnce(
              this.db,
              chunk.id,
              chunk.rows.map((r) => ({ createdAt: r.createdAt, logs: r.logs, peerConnectionId: r.node.rowId as number, audit: r.node.audit })),
              facts.length > 0 ? (tx) => (this.analytics as AnalyticsIngest).record(tx, facts) : undefined,
            );
          } catch (error) {
            if (!isDataError(error)) {
              outcomeUnknown = true;
              throw error;
            }
            chunks.shift();
            if (chunk.rows.length === 1) {
              this.onDrop('rejected_by_database', 1, { error: (error as Error).message, logs: chunk.rows[0].logs.slice(0, 200) });
              this.spoolSettled(chunk.rows);
            } else {
              const middle = chunk.rows.length >> 1;
              chunks.unshift({ id: randomUUID(), rows: chunk.rows.slice(0, middle) }, { id: randomUUID(), rows: chunk.rows.slice(middle) });
            }
            continue;
          }
          chunks.shift();
          this.chunkStored(chunk, started);
          if (facts.length > 0) await this.analytics?.committed(this.db, facts);
        }
        return;
      } catch (error) {
        this.metrics.writeFailures.inc({ kind: isDataError(error) ? 'data' : 'unavailable' });
        if (Date.now() >= this.giveUpAt) {
          // Spooled messages are not lost: they stay in the spool and are written after the restart.
          const lost = chunks.reduce((n, c) => n + c.rows.filter((r) => r.seq === null).length, 0);
          const leftInSpool = chunks.reduce((n, c) => n + c.rows.length, 0) - lost;
          this.droppedAtShutdown += lost;
          if (lost > 0) this.onDrop('shutdown_timeout', lost, { error: (error as Error).message });
          if (leftInSpool > 0) this.log.warn({ messages: leftInSpool }, 'shutdown: database unavailable; spooled messages stay in the spool for the next start');
          return;
        }
        const delay = Math.min(MAX_BACKOFF_MS, 50 * 2 ** Math.min(attempt, 10));
        if (attempt === 0 || attempt % 10 === 0) {
          this.log.warn({ err: error, rows: chunks.reduce((n, c) => n + c.rows.length, 0), attempt }, 'writing a batch failed; retrying');
        }
        await sleep(Math.min(delay, Math.max(0, this.giveUpAt - Date.now())));
      }
    }
  }

  /**
   * Takes out of the chunks (not yet written: no row id was known before) the messages of nodes the
   * database refused a peer_connections row, counting them as dropped.
   */
  private dropRowsWithoutConnection(chunks: Chunk[], writers: Set<NodeHandle>): void {
    let refused = false;
    for (const node of writers) if (node.rowRejected) refused = true;
    if (!refused) return;
    for (let i = 0; i < chunks.length; i++) {
      const kept = chunks[i].rows.filter((r) => !r.node.rowRejected);
      const lost = chunks[i].rows.length - kept.length;
      if (lost === 0) continue;
      this.onDrop('connection_rejected_by_database', lost, { ip: chunks[i].rows.find((r) => r.node.rowRejected)?.node.ipAddr });
      this.spoolSettled(chunks[i].rows.filter((r) => r.node.rowRejected));
      chunks[i] = { id: chunks[i].id, rows: kept };
    }
    for (let i = chunks.length - 1; i >= 0; i--) if (chunks[i].rows.length === 0) chunks.splice(i, 1);
  }

  /** Spooled rows of a chunk about to be written: the spool records the chunk's id first (exactly-once on replay). */
  private spoolPrepare(chunk: Chunk): void {
    if (this.spool === null) return;
    const seqs = chunk.rows.flatMap((r) => (r.seq === null ? [] : [r.seq]));
    if (seqs.length > 0) this.spool.chunkPrepared(chunk.id, seqs);
  }

  private spoolSettled(rows: PendingRow[]): void {
    if (this.spool === null) return;
    const seqs = rows.flatMap((r) => (r.seq === null ? [] : [r.seq]));
    if (seqs.length > 0) this.spool.settled(seqs);
  }

  private chunkStored(chunk: Chunk, started: bigint | null): void {
    this.spoolSettled(chunk.rows);
    this.stored += chunk.rows.length;
    this.metrics.messagesStored.inc(chunk.rows.length);
    this.metrics.batchRows.observe(chunk.rows.length);
    if (started !== null) this.metrics.batchSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
  }

  /**
   * Creates the rows of `writers` (nodes with messages in the batch) that have none yet, and writes what
   * changed about every node of `nodes` that has a row. A node that never had a message written gets no
   * row: a bare handshake leaves nothing behind. What the database refuses for its data is given up for
   * that node alone (counted in tetcore_connection_writes_rejected_total): it must never hold up other
   * nodes' batches. An unavailable database throws, and the batch is retried.
   */
  private async writeNodes(nodes: Set<NodeHandle>, writers: Set<NodeHandle>): Promise<void> {
    for (const node of nodes) {
      if ((node.rowId !== null && !node.needsUpdate) || node.rowRejected || (node.rowId === null && !writers.has(node))) {
        // Nothing to write (skip the await: a batch names up to a thousand nodes), no row possible, or no
        // row yet and no message to give it one: its identity waits in the handle for its first message.
        nodes.delete(node);
        continue;
      }
      let rowId: number;
      try {
        rowId = await node.ensureRow(() => this.createRow(node));
      } catch (error) {
        if (!isDataError(error)) throw error;
        if (node.rejectRow()) this.connectionWriteRejected(node, 'row', error);
        nodes.delete(node);
        continue;
      }
      if (node.needsUpdate) await this.updateRow(node, rowId);
      nodes.delete(node);
    }
  }

  /**
   * Inserts the node's row with all that is known of it (one statement for a new node). If the database
   * refuses its identity, the row is created without it; if it refuses even that, the error is thrown.
   */
  private async createRow(node: NodeHandle): Promise<number> {
    const { identity, ...row } = node.takeRowState(); // a change from now on marks the node again
    try {
      return await insertConnection(this.db, { ...row, identity });
    } catch (error) {
      if (!isDataError(error) || Object.keys(identity).length === 0) {
        node.rowWriteFailed();
        throw error;
      }
      this.connectionWriteRejected(node, 'identity', error);
    }
    node.forgetIdentity();
    return insertConnection(this.db, row);
  }

  /** Writes the node's identity, envelope id and liveness to its row; see writeNodes for failures. */
  private async updateRow(node: NodeHandle, rowId: number): Promise<void> {
    const { identity, envelopeId, disconnected } = node.takeRowState();
    try {
      await updateConnection(this.db, { id: rowId, identity, envelopeId, disconnected });
      return;
    } catch (error) {
      if (!isDataError(error)) {
        node.rowWriteFailed();
        throw error;
      }
      this.connectionWriteRejected(node, 'identity', error);
    }
    // The identity is the likely culprit: forget it (the node may announce a storable one later) and keep
    // what can be kept: the disconnection and last_seen.
    node.forgetIdentity();
    if (Object.keys(identity).length === 0) return;
    try {
      await updateConnection(this.db, { id: rowId, identity: {}, envelopeId: node.envelopeId, disconnected: node.closed });
    } catch (error) {
      if (!isDataError(error)) {
        node.rowWriteFailed();
        throw error;
      }
    }
  }

  /** `row`: no row could be created (the node's messages are dropped); `identity`: a write of its row was given up. */
  private connectionWriteRejected(node: NodeHandle, kind: 'row' | 'identity', error: unknown): void {
    this.metrics.connectionWritesRejected.inc({ kind });
    // One line per node: a node whose every update is refused must not flood the log.
    if (!node.firstRejection()) return;
    this.log.warn(
      { kind, ip: node.ipAddr, envelopeId: node.envelopeId, row: node.rowId, error: (error as Error).message },
      kind === 'row' ? 'the database refused a node connection row: its messages are dropped' : "the database refused a write of a node connection's row: given up, its messages are still stored",
    );
  }

  private updateBackpressure(): void {
    this.metrics.bufferRows.set(this.heldRows);
    this.metrics.bufferBytes.set(this.heldBytes);
    const over = this.heldRows >= this.options.bufferMaxRows || this.heldBytes >= this.options.bufferMaxBytes;
    const under = this.heldRows <= this.options.bufferMaxRows / 2 && this.heldBytes <= this.options.bufferMaxBytes / 2;
    if (!this.paused && over) {
      this.paused = true;
      this.metrics.ingestPaused.set(1);
      this.log.warn({ rows: this.heldRows, bytes: this.heldBytes }, 'database behind: pausing ingestion sockets');
      this.emit('pause');
    } else if (this.paused && under) {
      this.paused = false;
      this.metrics.ingestPaused.set(0);
      this.log.info({ rows: this.heldRows, bytes: this.heldBytes }, 'database caught up: resuming ingestion sockets');
      this.emit('resume');
    }
  }
}
