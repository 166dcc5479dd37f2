// The batching writer: buffers parsed messages and writes them to substrate_logs in batches of up to
// DB_BATCH_SIZE rows, at the latest DB_SAVE_LATENCY_MS after the oldest arrived, one COPY per batch.
// Nothing it accepted is lost silently: a failing batch is retried with back-off; a batch the database
// rejects for its data is split until the offending rows are found, and only those are dropped (counted).
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
import type { DropReason, StoredRow } from './frame.js';
import type { AnalyticsIngest, PendingFact } from '../analytics/ingest.js';

interface PendingRow {
  node: NodeHandle;
  createdAt: string;
  logs: string;
  // Network analytics: the message's fact (if any), derived when accepted, written in its batch's transaction.
  fact: PendingFact | null;
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

export type DropListener = (reason: DropReason, count: number, detail?: unknown) => void;

const MAX_BACKOFF_MS = 5_000;
/**
 * A batch also holds at most this many bytes of messages (a single larger message goes alone): with 350 KB
 * network states, 1,024 messages can make a 10 MB COPY that takes seconds and whose encoding blocks the
 * event loop.
 */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;

export class BatchWriter extends EventEmitter {
  private queue: PendingRow[] = [];
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

  /** `receivedAt`: when the server read the frame (epoch ms), the receipt time of network analytics. */
  enqueue(node: NodeHandle, row: StoredRow, receivedAt = Date.now()): void {
    const fact = this.analytics === null ? null : this.analytics.derive(node, row, receivedAt);
    this.queue.push({ node, createdAt: row.createdAt, logs: row.logs, fact });
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
    const limit = Math.min(this.options.batchSize, this.pendingRows);
    let count = 0;
    let bytes = 0;
    while (count < limit) {
      const size = this.queue[this.queueHead + count].logs.length;
      if (count > 0 && bytes + size > MAX_BATCH_BYTES) break;
      bytes += size;
      count++;
    }
    this.queuedBytes -= bytes;
    const batch = this.queue.slice(this.queueHead, this.queueHead + count);
    this.queueHead += count;
    if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return batch;
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
    for (const row of rows) nodes.add(row.node);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.writeNodes(nodes);
        if (outcomeUnknown && chunks.length > 0 && (await batchCommitted(this.db, chunks[0].id))) {
          this.chunkStored(chunks.shift() as Chunk, null);
        }
        outcomeUnknown = false;
        while (chunks.length > 0) {
          const chunk = chunks[0];
          const started = process.hrtime.bigint();
          const facts = this.analytics === null ? [] : await this.analytics.factRows(this.db, chunk.rows);
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
          const lost = chunks.reduce((n, c) => n + c.rows.length, 0);
          this.droppedAtShutdown += lost;
          if (lost > 0) this.onDrop('shutdown_timeout', lost, { error: (error as Error).message });
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

  private chunkStored(chunk: Chunk, started: bigint | null): void {
    this.stored += chunk.rows.length;
    this.metrics.messagesStored.inc(chunk.rows.length);
    this.metrics.batchRows.observe(chunk.rows.length);
    if (started !== null) this.metrics.batchSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
  }

  /** Creates the rows of nodes that have none yet and writes what changed about them. */
  private async writeNodes(nodes: Set<NodeHandle>): Promise<void> {
    for (const node of nodes) {
      if (node.rowId !== null && !node.needsUpdate) {
        nodes.delete(node); // nothing to write: skip the await (a batch names up to a thousand nodes)
        continue;
      }
      const rowId = await node.ensureRow(() => insertConnection(this.db, { ipAddr: node.ipAddr, audit: node.audit, envelopeId: node.envelopeId }));
      if (node.needsUpdate) {
        node.needsUpdate = false;
        try {
          await updateConnection(this.db, { id: rowId, identity: { ...node.identity }, envelopeId: node.envelopeId, disconnected: node.closed });
        } catch (error) {
          node.needsUpdate = true;
          throw error;
        }
      }
      nodes.delete(node);
    }
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
