// Encoding and decoding of spool records on bytes (no files): a 12-byte header (magic, payload length,
// CRC-32 of the payload) and a typed payload. See docs/spool.md#record-format.
import { crc32 } from './crc32.js';

export const MAGIC = 0x53504c31; // "SPL1"
export const HEADER_BYTES = 12;
/** Larger than any message (WS_MAX_PAYLOAD is at most a few MiB in practice): a longer length is corruption. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

export const RECORD_TYPES = { node: 1, message: 2, batch: 3 } as const;

/** What the spool must know of a node to create its peer_connections row after a restart. */
export interface NodeRecord {
  type: 'node';
  key: number;
  ipAddr: string;
  audit: boolean;
  envelopeId: string | null;
  connectedAt: string;
  identity: Record<string, unknown>;
  rowId: number | null;
}

export interface MessageRecord {
  type: 'message';
  seq: number;
  key: number;
  receivedAt: number;
  createdAt: string;
  logs: string;
}

/** The batch id a set of messages is (about to be) written under: exactly-once on replay. */
export interface BatchRecord {
  type: 'batch';
  id: string;
  /** Half-open [first, end) ranges of message seqs. */
  ranges: Array<[number, number]>;
}

export type SpoolRecord = NodeRecord | MessageRecord | BatchRecord;

function frame(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(payload.length, 4);
  out.writeUInt32LE(crc32(payload), 8);
  payload.copy(out, HEADER_BYTES);
  return out;
}

export function encodeRecord(record: SpoolRecord): Buffer {
  if (record.type === 'message') {
    // type u8, seq f64, key u32, receivedAt f64, createdAt length u16 + utf8, logs utf8 (the rest).
    const createdLength = Buffer.byteLength(record.createdAt);
    const logsLength = Buffer.byteLength(record.logs);
    const out = Buffer.allocUnsafe(HEADER_BYTES + 23 + createdLength + logsLength);
    const p = HEADER_BYTES;
    out.writeUInt8(RECORD_TYPES.message, p);
    out.writeDoubleLE(record.seq, p + 1);
    out.writeUInt32LE(record.key, p + 9);
    out.writeDoubleLE(record.receivedAt, p + 13);
    out.writeUInt16LE(createdLength, p + 21);
    out.write(record.createdAt, p + 23, 'utf8');
    out.write(record.logs, p + 23 + createdLength, 'utf8');
    out.writeUInt32LE(MAGIC, 0);
    out.writeUInt32LE(out.length - HEADER_BYTES, 4);
    out.writeUInt32LE(crc32(out, HEADER_BYTES), 8);
    return out;
  }
  if (record.type === 'node') {
    const { key, type: _type, ...rest } = record;
    const json = Buffer.from(JSON.stringify(rest));
    const payload = Buffer.allocUnsafe(5 + json.length);
    payload.writeUInt8(RECORD_TYPES.node, 0);
    payload.writeUInt32LE(key, 1);
    json.copy(payload, 5);
    return frame(payload);
  }
  const payload = Buffer.allocUnsafe(1 + 36 + 4 + record.ranges.length * 16);
  payload.writeUInt8(RECORD_TYPES.batch, 0);
  payload.write(record.id, 1, 36, 'latin1');
  payload.writeUInt32LE(record.ranges.length, 37);
  record.ranges.forEach(([first, end], i) => {
    payload.writeDoubleLE(first, 41 + i * 16);
    payload.writeDoubleLE(end, 49 + i * 16);
  });
  return frame(payload);
}

export type Decoded =
  | { kind: 'record'; record: SpoolRecord; bytes: number }
  /** Not enough bytes for the record announced (yet, or ever: a torn tail). */
  | { kind: 'short' }
  /** Bad magic, impossible length, failed checksum or an unknown payload: not a record at `offset`. */
  | { kind: 'corrupt' };

/** The record at `offset` of `buf`, looking no further than `end`. */
export function decodeRecord(buf: Buffer, offset: number, end = buf.length): Decoded {
  if (end - offset < HEADER_BYTES) return { kind: 'short' };
  if (buf.readUInt32LE(offset) !== MAGIC) return { kind: 'corrupt' };
  const length = buf.readUInt32LE(offset + 4);
  if (length === 0 || length > MAX_PAYLOAD_BYTES) return { kind: 'corrupt' };
  if (end - offset - HEADER_BYTES < length) return { kind: 'short' };
  const start = offset + HEADER_BYTES;
  if (crc32(buf, start, start + length) !== buf.readUInt32LE(offset + 8)) return { kind: 'corrupt' };
  const record = decodePayload(buf.subarray(start, start + length));
  return record === null ? { kind: 'corrupt' } : { kind: 'record', record, bytes: HEADER_BYTES + length };
}

function decodePayload(p: Buffer): SpoolRecord | null {
  try {
    switch (p.readUInt8(0)) {
      case RECORD_TYPES.message: {
        const createdLength = p.readUInt16LE(21);
        if (23 + createdLength > p.length) return null;
        return {
          type: 'message',
          seq: p.readDoubleLE(1),
          key: p.readUInt32LE(9),
          receivedAt: p.readDoubleLE(13),
          createdAt: p.toString('utf8', 23, 23 + createdLength),
          logs: p.toString('utf8', 23 + createdLength),
        };
      }
      case RECORD_TYPES.node: {
        const rest = JSON.parse(p.toString('utf8', 5)) as Omit<NodeRecord, 'type' | 'key'>;
        return { type: 'node', key: p.readUInt32LE(1), ...rest };
      }
      case RECORD_TYPES.batch: {
        const count = p.readUInt32LE(37);
        if (41 + count * 16 !== p.length) return null;
        const ranges: Array<[number, number]> = [];
        for (let i = 0; i < count; i++) ranges.push([p.readDoubleLE(41 + i * 16), p.readDoubleLE(49 + i * 16)]);
        return { type: 'batch', id: p.toString('latin1', 1, 37), ranges };
      }
      default:
        return null;
    }
  } catch {
    return null; // a checksum collision on garbage: treat as corrupt
  }
}

/**
 * Where the next record may start after a corrupt one at `offset`: the next position holding the magic
 * (or `end` if none). Only a valid checksum there makes it a record (decodeRecord).
 */
export function nextMagic(buf: Buffer, offset: number, end = buf.length): number {
  const magic = Buffer.allocUnsafe(4);
  magic.writeUInt32LE(MAGIC, 0);
  const found = buf.subarray(0, end).indexOf(magic, offset + 1);
  return found === -1 ? end : found;
}

/** Turns a sorted list of seqs into half-open ranges. */
export function toRanges(seqs: readonly number[]): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const seq of seqs) {
    const last = ranges[ranges.length - 1];
    if (last !== undefined && last[1] === seq) last[1] = seq + 1;
    else ranges.push([seq, seq + 1]);
  }
  return ranges;
}
