// Reading a spool segment file record by record from any offset, with resynchronisation after corrupt
// bytes (the next magic whose checksum holds). Memory is one read chunk plus the largest record.
import { closeSync, openSync, readSync } from 'node:fs';
import { decodeRecord, HEADER_BYTES, MAX_PAYLOAD_BYTES, nextMagic, type SpoolRecord } from './record.js';

const CHUNK_BYTES = 1024 * 1024;

export type CursorItem = { kind: 'record'; record: SpoolRecord; start: number; end: number } | { kind: 'corrupt'; start: number; end: number };

export class SegmentCursor {
  private readonly fd: number;
  private buf = Buffer.alloc(0);
  /** File offset of buf[0]. */
  private bufStart = 0;

  constructor(
    readonly path: string,
    /** File offset of the next record. */
    public offset = 0,
  ) {
    this.fd = openSync(path, 'r');
  }

  /** Makes the buffer hold [offset, offset + need) if the file has it below `limit`; false if not. */
  private fill(need: number, limit: number): boolean {
    if (this.offset + need > limit) return false;
    if (this.offset >= this.bufStart && this.offset + need <= this.bufStart + this.buf.length) return true;
    const size = Math.min(limit - this.offset, Math.max(CHUNK_BYTES, need));
    this.buf = Buffer.allocUnsafe(size);
    const read = readSync(this.fd, this.buf, 0, size, this.offset);
    this.buf = this.buf.subarray(0, read);
    this.bufStart = this.offset;
    return read >= need;
  }

  /**
   * The next record or corrupt stretch below `limit` (the bytes known written), or null when what is left
   * is not a whole record yet. At the end of a finished segment, the caller treats a non-empty rest as a
   * torn record (`offset < limit` after null).
   */
  next(limit: number): CursorItem | null {
    if (!this.fill(HEADER_BYTES, limit)) return null;
    let at = this.offset - this.bufStart;
    let decoded = decodeRecord(this.buf, at);
    if (decoded.kind === 'short') {
      const length = this.buf.readUInt32LE(at + 4);
      if (length > MAX_PAYLOAD_BYTES || !this.fill(HEADER_BYTES + length, limit)) return null;
      at = this.offset - this.bufStart;
      decoded = decodeRecord(this.buf, at);
    }
    const start = this.offset;
    if (decoded.kind === 'record') {
      this.offset += decoded.bytes;
      return { kind: 'record', record: decoded.record, start, end: this.offset };
    }
    // Corrupt (or short past the limit with a valid-looking length: decided above). Skip to the next
    // magic in what is buffered; none there: skip all but the last 3 bytes (a magic may straddle).
    const found = nextMagic(this.buf, at);
    const bufEnd = this.bufStart + this.buf.length;
    this.offset = found < this.buf.length ? this.bufStart + found : Math.max(start + 1, bufEnd - 3);
    return { kind: 'corrupt', start, end: this.offset };
  }

  /**
   * In a finished segment whose rest is not a whole record: skips to the next magic (a corrupt length may
   * hide good records behind it), or to `limit`. Returns the stretch skipped.
   */
  skip(limit: number): CursorItem {
    const start = this.offset;
    const size = Math.min(limit - start, CHUNK_BYTES);
    this.buf = Buffer.allocUnsafe(size);
    this.buf = this.buf.subarray(0, readSync(this.fd, this.buf, 0, size, start));
    this.bufStart = start;
    const found = nextMagic(this.buf, 0);
    this.offset = found < this.buf.length ? start + found : start + this.buf.length >= limit ? limit : Math.max(start + 1, start + this.buf.length - 3);
    return { kind: 'corrupt', start, end: this.offset };
  }

  close(): void {
    closeSync(this.fd);
  }
}
