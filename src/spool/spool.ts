// The disk spool between the parser and the writer (docs/spool.md): every accepted message is appended to
// a segment file before it counts as received, handed to the writer from memory while the writer keeps
// up, and read back from disk (oldest first, bounded memory) when it does not or after a restart. Settled
// messages move the checkpoint; segments wholly below it are deleted. A full spool or a full disk falls
// back to the writer's in-memory buffer and socket backpressure.
import { EventEmitter } from 'node:events';
import { closeSync, fdatasync, fdatasyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { attachSpool, type Metrics } from '../metrics/catalogue.js';
import type { Database } from '../storage/database.js';
import { batchCommitted } from '../storage/ingest-batches.js';
import { DataDirLock } from '../storage/data-dir-lock.js';
import { NodeHandle } from '../ingest/node.js';
import type { StoredRow } from '../ingest/frame.js';
import type { DropRecorder } from '../ingest/drops.js';
import type { BatchWriter, IngestSink } from '../ingest/writer.js';
import { encodeRecord, toRanges, type NodeRecord } from './record.js';
import { SegmentCursor } from './segment.js';
import { Progress } from './progress.js';

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  fsyncMs: number;
  /** A segment is closed past this size (default: 64 MiB, at most an eighth of maxBytes). */
  segmentBytes?: number;
}

interface Segment {
  /** Order of creation (file name), across runs. */
  number: number;
  /** Seq of the first message appended to it (= the next seq when it was opened). */
  first: number;
  file: string;
  size: number;
}

interface LiveNode {
  key: number;
  /** The segment its latest node record is in. */
  segment: Segment | null;
  rowIdWritten: number | null;
  changed: boolean;
  lastSeq: number;
}

const SEGMENT_RE = /^segment-(\d{10})-(\d{16})\.log$/;
const CHECKPOINT = 'checkpoint.json';
/** Records read back per turn of the event loop during catch-up (the rest waits for setImmediate). */
const PUMP_RECORDS_PER_TURN = 2_000;

export class Spool extends EventEmitter implements IngestSink {
  private readonly lock: DataDirLock;
  private readonly progress: Progress;
  private readonly segmentBytes: number;
  /** Distinguishes this process's node keys from those of earlier runs in old segments. */
  private readonly run = randomInt(1, 2 ** 31);
  private segments: Segment[] = [];
  private fd: number | null = null;
  private nextSeq = 0;
  private nextKey = 1;
  private totalBytes = 0;
  private readonly live = new WeakMap<NodeHandle, LiveNode>();
  private readonly liveByKey = new Map<number, NodeHandle>();
  /** Read-back position: everything from here to the append position is not yet with the writer. */
  private reader: { segment: Segment; cursor: SegmentCursor | null; offset: number; nodes: Map<number, NodeHandle> } | null = null;
  /** Nodes of earlier runs met while replaying, by `${run}:${key}`. */
  private readonly replayNodes = new Map<string, NodeHandle>();
  /** The seq the reader expects next (a gap after corrupt bytes is settled as lost). */
  private expectedSeq = 0;
  private pumpScheduled = false;
  private paused = false;
  /** A write failed (ENOSPC, EIO…): messages bypass the spool until a segment is freed. */
  private diskFailed = false;
  private unsynced = false;
  private syncing = false;
  private fsyncTimer: NodeJS.Timeout | null = null;
  private checkpointTimer: NodeJS.Timeout | null = null;
  private readonly recordedBatches = new Set<string>();
  /** (seq, receivedAt) roughly every second of appends: the age of the oldest unsettled message. */
  private readonly ageSamples: Array<[number, number]> = [];
  private closed = false;

  private constructor(
    private readonly options: SpoolOptions,
    private readonly writer: BatchWriter,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly recordDrop: DropRecorder,
  ) {
    super();
    mkdirSync(options.dir, { recursive: true });
    // One process per spool folder (docs/spool.md#one-process-per-folder), whatever the database.
    this.lock = DataDirLock.acquire(options.dir, 'SPOOL_DIR');
    this.progress = Progress.load(path.join(options.dir, CHECKPOINT));
    this.segmentBytes = options.segmentBytes ?? Math.max(64 * 1024, Math.min(64 * 1024 * 1024, Math.floor(options.maxBytes / 8)));
  }

  /**
   * Opens the folder, finds what earlier runs left unsettled (their batch records, checked against
   * ingest_batches as the writer's retries do) and starts replaying it through the writer.
   */
  static async open(options: SpoolOptions, writer: BatchWriter, db: Database, metrics: Metrics, log: Logger, recordDrop: DropRecorder): Promise<Spool> {
    const spool = new Spool(options, writer, metrics, log, recordDrop);
    try {
      await spool.recover(db);
    } catch (error) {
      spool.lock.release();
      throw error;
    }
    writer.attachSpool({ chunkPrepared: (id, seqs) => spool.recordBatch(id, seqs), settled: (seqs) => spool.settled(seqs) });
    writer.on('progress', () => spool.schedulePump());
    spool.startFsync();
    return spool;
  }

  /**
   * Starts handing messages to the writer (the replay of earlier runs first): called once the time
   * partitions are prepared, or replayed messages would find none.
   */
  start(): void {
    this.reading = true;
    this.schedulePump();
  }

  get isPaused(): boolean {
    return this.paused || (this.diskFailed && this.writer.isPaused);
  }

  /** Messages (and bytes) in the spool not yet settled, and the age of the oldest: the backlog. */
  backlog(): { messages: number; bytes: number; segments: number; oldestAgeS: number | null; diskFailed: boolean } {
    return { messages: Math.max(0, this.nextSeq - this.progress.below), bytes: this.totalBytes, segments: this.segments.length, oldestAgeS: this.oldestAgeS(), diskFailed: this.diskFailed };
  }

  private async recover(db: Database): Promise<void> {
    const found: Segment[] = [];
    for (const name of readdirSync(this.options.dir)) {
      const match = SEGMENT_RE.exec(name);
      if (match === null) continue;
      const file = path.join(this.options.dir, name);
      found.push({ number: Number(match[1]), first: Number(match[2]), file, size: statSync(file).size });
    }
    found.sort((a, b) => a.number - b.number);
    // Which batches may hold unsettled messages, and the highest seq ever appended.
    const batches = new Map<string, Array<[number, number]>>();
    let maxSeq = -1;
    for (const segment of found) {
      const cursor = new SegmentCursor(segment.file);
      try {
        while (cursor.offset < segment.size) {
          const item = cursor.next(segment.size) ?? cursor.skip(segment.size);
          if (item.kind !== 'record') continue;
          const record = item.record;
          if (record.type === 'message') {
            maxSeq = Math.max(maxSeq, record.seq);
            this.sampleAge(record.seq, record.receivedAt);
          } else if (record.type === 'batch' && record.ranges.some(([, end]) => end > this.progress.below)) {
            batches.set(record.id, record.ranges);
          }
        }
      } finally {
        cursor.close();
      }
    }
    for (const [id, ranges] of batches) {
      if (ranges.every(([first, end]) => this.rangeDone(first, end))) continue;
      if (await this.committedWithRetry(db, id)) for (const [first, end] of ranges) this.progress.markRange(first, end);
    }
    this.progress.advance();
    this.nextSeq = Math.max(maxSeq + 1, this.progress.below, found.length > 0 ? found[found.length - 1].first : 0);
    this.segments = found;
    this.totalBytes = found.reduce((n, s) => n + s.size, 0);
    // Never append after what an earlier run left: its tail may be torn. A new segment starts here.
    this.openSegment((found[found.length - 1]?.number ?? 0) + 1);
    this.firstSegmentOfRun = this.current.number;
    this.reader = { segment: this.segments[0], cursor: null, offset: 0, nodes: new Map() };
    this.expectedSeq = this.segments[0].first;
    this.deleteSettledSegments();
    const pending = this.nextSeq - this.progress.below;
    if (found.length > 0) this.log.info({ dir: this.options.dir, segments: found.length, bytes: this.totalBytes, unsettledAtMost: pending, batchesChecked: batches.size }, 'spool opened: replaying what earlier runs left unwritten');
    this.updateGauges();
  }

  private rangeDone(first: number, end: number): boolean {
    for (let seq = first; seq < end; seq++) if (!this.progress.isDone(seq)) return false;
    return true;
  }

  private async committedWithRetry(db: Database, id: string): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await batchCommitted(db, id);
      } catch (error) {
        if (attempt % 10 === 0) this.log.warn({ err: error, attempt }, 'spool replay: cannot check a batch against the database yet; retrying');
        await sleep(Math.min(5_000, 100 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  private openSegment(number: number): void {
    const file = path.join(this.options.dir, `segment-${String(number).padStart(10, '0')}-${String(this.nextSeq).padStart(16, '0')}.log`);
    this.fd = openSync(file, 'a');
    this.segments.push({ number, first: this.nextSeq, file, size: 0 });
  }

  private get current(): Segment {
    return this.segments[this.segments.length - 1];
  }

  private rollSegment(): void {
    const old = this.fd as number;
    // The closed segment is made durable now: group commit covers only the open one.
    try {
      fdatasyncSync(old);
    } catch (error) {
      this.log.warn({ err: error }, 'spool: fsync of a finished segment failed');
    }
    closeSync(old);
    this.fd = null;
    this.openSegment(this.current.number + 1);
    // Closed nodes whose every message is with the writer are not needed for reading back any more.
    const handed = this.handedBelow();
    for (const [key, handle] of this.liveByKey) {
      const entry = this.live.get(handle);
      if (handle.closed && entry !== undefined && entry.lastSeq < handed) this.liveByKey.delete(key);
    }
  }

  /** Seqs below this were handed to the writer (or settled). */
  private handedBelow(): number {
    return this.readerCaughtUp() ? this.nextSeq : this.expectedSeq;
  }

  private readerCaughtUp(): boolean {
    const reader = this.reader as NonNullable<Spool['reader']>;
    return reader.segment === this.current && reader.offset === this.current.size;
  }

  /** Appends `buf` to the open segment; on failure the segment is cut back to its size before. */
  private append(buf: Buffer): void {
    const fd = this.fd as number;
    const segment = this.current;
    try {
      let written = 0;
      while (written < buf.length) written += writeSync(fd, buf, written, buf.length - written);
    } catch (error) {
      try {
        ftruncateSync(fd, segment.size);
      } catch {
        // the next replay skips a torn record by its checksum anyway
      }
      throw error;
    }
    segment.size += buf.length;
    this.totalBytes += buf.length;
    this.metrics.spoolAppendedBytes.inc(buf.length);
    if (this.options.fsyncMs === 0) fdatasyncSync(fd);
    else this.unsynced = true;
  }

  enqueue(node: NodeHandle, row: StoredRow, receivedAt = Date.now()): void {
    if (this.diskFailed || this.closed) {
      this.writer.enqueue(node, row, receivedAt, null);
      return;
    }
    const caughtUp = this.readerCaughtUp();
    const seq = this.nextSeq;
    try {
      if (this.current.size >= this.segmentBytes) {
        this.rollSegment();
        if (caughtUp) this.moveReaderToCurrent();
      }
      const entry = this.nodeEntry(node);
      if (entry.segment !== this.current || entry.changed || entry.rowIdWritten !== node.rowId) this.appendNode(node, entry);
      this.append(encodeRecord({ type: 'message', seq, key: entry.key, receivedAt, createdAt: row.createdAt, logs: row.logs }));
      entry.lastSeq = seq;
    } catch (error) {
      this.diskError(error);
      this.writer.enqueue(node, row, receivedAt, null);
      return;
    }
    this.nextSeq++;
    this.metrics.spoolAppended.inc();
    this.sampleAge(seq, receivedAt);
    if (caughtUp && this.writer.hasRoom && this.reading) {
      // The fast path: the writer keeps up, the message goes on from memory; the disk copy is the insurance.
      this.keepReaderAtEnd();
      this.expectedSeq = this.nextSeq;
      this.writer.enqueue(node, row, receivedAt, seq);
    } else {
      this.schedulePump();
    }
    this.updateFull();
  }

  private keepReaderAtEnd(): void {
    const reader = this.reader as NonNullable<Spool['reader']>;
    reader.offset = this.current.size;
    if (reader.cursor !== null) reader.cursor.offset = reader.offset;
  }

  nodeChanged(node: NodeHandle): void {
    const entry = this.live.get(node);
    if (entry !== undefined) entry.changed = true;
    this.writer.nodeChanged(node);
  }

  private nodeEntry(node: NodeHandle): LiveNode {
    let entry = this.live.get(node);
    if (entry === undefined) {
      entry = { key: this.nextKey++, segment: null, rowIdWritten: null, changed: true, lastSeq: -1 };
      this.live.set(node, entry);
      this.liveByKey.set(entry.key, node);
    }
    return entry;
  }

  private appendNode(node: NodeHandle, entry: LiveNode): void {
    const record: NodeRecord & { run: number } = {
      type: 'node',
      key: entry.key,
      run: this.run,
      ipAddr: node.ipAddr,
      audit: node.audit,
      envelopeId: node.envelopeId,
      connectedAt: node.connectedAt,
      identity: { ...node.identity },
      rowId: node.rowId,
    };
    this.append(encodeRecord(record));
    entry.segment = this.current;
    entry.changed = false;
    entry.rowIdWritten = node.rowId;
  }

  /** The writer is about to COPY these spooled messages under `id`: recorded first, for exactly-once on replay. */
  private recordBatch(id: string, seqs: number[]): void {
    if (this.diskFailed || this.closed || this.recordedBatches.has(id)) return;
    // A reader caught up stays so: the batch record is nothing to hand over (else every batch would push
    // new messages onto the slower read-back path).
    const caughtUp = this.readerCaughtUp();
    try {
      this.append(encodeRecord({ type: 'batch', id, ranges: toRanges([...seqs].sort((a, b) => a - b)) }));
      // Only retries of a chunk ask again, soon after: a bounded memory of ids is enough (a second record is harmless).
      if (this.recordedBatches.size >= 10_000) this.recordedBatches.clear();
      this.recordedBatches.add(id);
      if (caughtUp) this.keepReaderAtEnd();
    } catch (error) {
      // Without its batch record a crash during this COPY could store these messages twice on replay.
      this.diskError(error);
    }
  }

  /** Stored, or dropped and counted: never replayed again. */
  private settled(seqs: number[]): void {
    for (const seq of seqs) this.progress.markDone(seq);
    if (this.progress.advance()) {
      this.deleteSettledSegments();
      this.scheduleCheckpoint();
    }
  }

  private deleteSettledSegments(): void {
    let freed = false;
    while (this.segments.length > 1 && this.segments[1].first <= this.progress.below && this.reader?.segment !== this.segments[0]) {
      const segment = this.segments.shift() as Segment;
      try {
        unlinkSync(segment.file);
      } catch (error) {
        this.log.warn({ err: error, file: segment.file }, 'spool: cannot delete a settled segment');
      }
      this.totalBytes -= segment.size;
      freed = true;
    }
    // Keep the last sample at or below the checkpoint: it dates the oldest unsettled message.
    while (this.ageSamples.length > 1 && this.ageSamples[1][0] <= this.progress.below) this.ageSamples.shift();
    if (freed && this.diskFailed) {
      this.diskFailed = false;
      this.log.info('spool: space freed; appending to the spool again');
      this.openSegmentAfterFailure();
    }
    this.updateGauges();
    this.updateFull();
  }

  /** After a failed write the open segment may have a torn tail: new appends go to a new segment. */
  private openSegmentAfterFailure(): void {
    const caughtUp = this.readerCaughtUp();
    try {
      this.rollSegment();
      if (caughtUp) this.moveReaderToCurrent();
    } catch (error) {
      this.diskError(error);
    }
  }

  private diskError(error: unknown): void {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
    this.metrics.spoolDiskErrors.inc({ code });
    if (this.diskFailed) return;
    this.diskFailed = true;
    this.metrics.spoolDiskFailed.set(1);
    // Logged once per failure spell: the writer's buffer and backpressure take over until space is freed.
    this.log.error({ err: error, code, dir: this.options.dir }, 'spool: cannot append (disk full?): messages go to the in-memory buffer, with its backpressure, until a settled segment is freed');
    if (this.writer.isPaused && !this.paused) this.emit('pause');
  }

  private updateFull(): void {
    const full = this.totalBytes >= this.options.maxBytes;
    if (full && !this.paused) {
      this.paused = true;
      this.metrics.spoolBackpressure.inc();
      this.metrics.ingestPaused.set(1);
      this.log.warn({ bytes: this.totalBytes, max: this.options.maxBytes }, 'spool full (SPOOL_MAX_BYTES): pausing ingestion sockets');
      this.emit('pause');
    } else if (this.paused && this.totalBytes <= this.options.maxBytes * 0.9) {
      this.paused = false;
      this.metrics.ingestPaused.set(0);
      this.log.info({ bytes: this.totalBytes }, 'spool below SPOOL_MAX_BYTES: resuming ingestion sockets');
      this.emit('resume');
    }
  }

  /** The writer's own backpressure matters only while the spool is bypassed (disk failure). */
  writerPaused(paused: boolean): void {
    if (!this.diskFailed || this.paused) return;
    this.emit(paused ? 'pause' : 'resume');
  }

  private moveReaderToCurrent(): void {
    (this.reader as NonNullable<Spool['reader']>).cursor?.close();
    this.resetReader(this.current);
  }

  /** The reader object is kept (pump holds it): only its fields change. */
  private resetReader(segment: Segment): void {
    const reader = this.reader as NonNullable<Spool['reader']>;
    reader.segment = segment;
    reader.cursor = null;
    reader.offset = 0;
    reader.nodes = new Map();
  }

  /** Shutdown: the backlog stays on disk for the next start; only what the writer holds is drained. Also before start(). */
  stopReading(): void {
    this.reading = false;
  }

  private reading = false;

  schedulePump(): void {
    if (this.pumpScheduled || this.closed || !this.reading) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Hands what waits on disk to the writer, oldest first, while the writer has room. */
  private pump(): void {
    if (this.closed || !this.reading) return;
    const reader = this.reader as NonNullable<Spool['reader']>;
    let handed = 0;
    while (this.writer.hasRoom && handed < PUMP_RECORDS_PER_TURN) {
      const segment = reader.segment;
      if (reader.offset >= segment.size) {
        if (segment === this.current) break;
        this.finishSegment();
        continue;
      }
      reader.cursor ??= new SegmentCursor(segment.file, reader.offset);
      const finished = segment !== this.current;
      const item = reader.cursor.next(segment.size) ?? (finished ? reader.cursor.skip(segment.size) : null);
      if (item === null) break;
      reader.offset = reader.cursor.offset;
      if (item.kind === 'corrupt') {
        this.metrics.spoolCorruptRecords.inc();
        this.log.warn({ file: segment.file, from: item.start, to: item.end }, 'spool: corrupt or torn record skipped');
        // Its messages are counted when the next good one shows the gap, or at the segment's end.
        this.pendingCorrupt = true;
        continue;
      }
      const record = item.record;
      if (record.type === 'node') {
        reader.nodes.set(record.key, this.handleFor(record));
        continue;
      }
      if (record.type === 'batch') continue;
      this.settleGap(record.seq);
      this.expectedSeq = record.seq + 1;
      if (this.progress.isDone(record.seq)) continue;
      // A node record passed over by the fast path (enqueue) is known from the live nodes of this run.
      const node = reader.nodes.get(record.key) ?? (segment.number >= this.firstSegmentOfRun ? this.liveByKey.get(record.key) : undefined);
      if (node === undefined) {
        // Its node record was lost to corruption: the message cannot be attributed to a node.
        this.recordDrop('spool_corrupt', 1, { seq: record.seq });
        this.settled([record.seq]);
        continue;
      }
      this.metrics.spoolReplayed.inc();
      this.writer.enqueue(node, { createdAt: record.createdAt, logs: record.logs, msg: null }, record.receivedAt, record.seq);
      handed++;
    }
    if (handed >= PUMP_RECORDS_PER_TURN) this.schedulePump();
  }

  private pendingCorrupt = false;

  /** Seqs skipped between the last good message and `seq` were in corrupt records: dropped, counted. */
  private settleGap(seq: number): void {
    if (seq > this.expectedSeq) {
      const lost: number[] = [];
      for (let s = this.expectedSeq; s < seq; s++) if (!this.progress.isDone(s)) lost.push(s);
      if (lost.length > 0) this.recordDrop('spool_corrupt', lost.length, { seqs: [lost[0], lost[lost.length - 1]] });
      this.settled(lost);
    }
    // A corrupt stretch with no seq missing after it held a node or batch record: nothing to count.
    this.pendingCorrupt = false;
  }

  private finishSegment(): void {
    const reader = this.reader as NonNullable<Spool['reader']>;
    reader.cursor?.close();
    const index = this.segments.indexOf(reader.segment);
    const next = this.segments[index + 1];
    // A torn tail at the end of a segment of an earlier run: at least one message lost (its seq was reused).
    if (this.pendingCorrupt) this.recordDrop('spool_corrupt', 1, { file: reader.segment.file });
    this.pendingCorrupt = false;
    this.settleGap(next.first);
    this.expectedSeq = Math.max(this.expectedSeq, next.first);
    this.resetReader(next);
    // Past the earlier runs' segments, their rebuilt nodes are not needed any more.
    if (next.number >= this.firstSegmentOfRun) this.replayNodes.clear();
    this.deleteSettledSegments();
  }

  /** Number of the first segment this process appended to. */
  private firstSegmentOfRun = Infinity;

  /** The handle of a node record: this run's live handle, or one rebuilt from an earlier run's record. */
  private handleFor(record: NodeRecord & { run?: number }): NodeHandle {
    if (record.run === this.run) {
      const live = this.liveByKey.get(record.key);
      if (live !== undefined) return live;
    }
    const cacheKey = `${record.run ?? 0}:${record.key}`;
    let handle = this.replayNodes.get(cacheKey);
    if (handle === undefined) {
      handle = new NodeHandle(record.ipAddr, record.audit, record.envelopeId, record.rowId, record.connectedAt);
      // Its connection is gone: the row (created with the first message if none was recorded) says so.
      handle.markDisconnected();
      this.replayNodes.set(cacheKey, handle);
      if (record.run === this.run) this.liveByKey.set(record.key, handle);
    }
    handle.learn(record.identity);
    if (record.rowId !== null) handle.adoptRowId(record.rowId);
    return handle;
  }

  private sampleAge(seq: number, receivedAt: number): void {
    const last = this.ageSamples[this.ageSamples.length - 1];
    if (last === undefined || receivedAt - last[1] >= 1000) this.ageSamples.push([seq, receivedAt]);
  }

  private oldestAgeS(): number | null {
    if (this.progress.below >= this.nextSeq) return null;
    let at: number | null = null;
    for (const [seq, receivedAt] of this.ageSamples) {
      if (seq > this.progress.below) break;
      at = receivedAt;
    }
    at ??= this.ageSamples[0]?.[1] ?? null;
    return at === null ? null : Math.max(0, (Date.now() - at) / 1000);
  }

  private updateGauges(): void {
    this.metrics.spoolBytes.set(this.totalBytes);
    this.metrics.spoolSegments.set(this.segments.length);
  }

  private startFsync(): void {
    attachSpool(this.metrics, () => this.oldestAgeS() ?? 0);
    if (this.options.fsyncMs === 0) return;
    // Group commit: at most SPOOL_FSYNC_MS of appends are only in the page cache (docs/spool.md#durability).
    this.fsyncTimer = setInterval(() => {
      if (!this.unsynced || this.syncing || this.fd === null) return;
      this.unsynced = false;
      this.syncing = true;
      fdatasync(this.fd, (error) => {
        this.syncing = false;
        if (error) this.log.warn({ err: error }, 'spool: fsync failed');
      });
    }, this.options.fsyncMs);
    this.fsyncTimer.unref();
  }

  private scheduleCheckpoint(): void {
    if (this.checkpointTimer !== null || this.closed) return;
    this.checkpointTimer = setTimeout(() => {
      this.checkpointTimer = null;
      this.saveCheckpoint();
    }, 200);
    this.checkpointTimer.unref();
  }

  private saveCheckpoint(): void {
    try {
      this.progress.save(path.join(this.options.dir, CHECKPOINT));
    } catch (error) {
      this.log.warn({ err: error }, 'spool: cannot write the checkpoint (replay checks the database instead)');
    }
  }

  /** After the writer drained: the checkpoint is written, files closed, the folder unlocked. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.fsyncTimer) clearInterval(this.fsyncTimer);
    if (this.checkpointTimer) clearTimeout(this.checkpointTimer);
    this.saveCheckpoint();
    this.reader?.cursor?.close();
    if (this.fd !== null) {
      try {
        fdatasyncSync(this.fd);
      } catch {
        // nothing more to do at shutdown
      }
      closeSync(this.fd);
      this.fd = null;
    }
    this.deleteSettledSegments();
    this.lock.release();
  }
}
