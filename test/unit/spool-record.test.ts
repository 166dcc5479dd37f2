// Spool records on bytes: round trips, and every kind of damage (torn, flipped, garbage) detected.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from '../../src/spool/crc32.js';
import { decodeRecord, encodeRecord, HEADER_BYTES, nextMagic, toRanges, type SpoolRecord } from '../../src/spool/record.js';

const message: SpoolRecord = { type: 'message', seq: 123_456_789_012, key: 7, receivedAt: 1_700_000_000_123, createdAt: '2026-12-01 10:00:00.123', logs: '{"msg":"block.import","name":"nœud ✓","height":42}' };
const node: SpoolRecord = { type: 'node', key: 7, ipAddr: '10.1.2.3', audit: true, envelopeId: 'env-1', connectedAt: '2026-12-01 09:59:59.000', identity: { name: 'alice', chain: 'Test' }, rowId: 12 };
const batch: SpoolRecord = { type: 'batch', id: '0b6f4d2e-3c1a-4f5e-9a8b-7c6d5e4f3a2b', ranges: [[0, 10], [12, 13]] };

describe('spool records', () => {
  it('crc32 is the IEEE/zlib checksum', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32(Buffer.alloc(0)), 0);
  });

  it('round-trips every record type, back to back', () => {
    const bytes = Buffer.concat([encodeRecord(node), encodeRecord(message), encodeRecord(batch)]);
    const out: SpoolRecord[] = [];
    for (let at = 0; at < bytes.length; ) {
      const decoded = decodeRecord(bytes, at);
      assert.equal(decoded.kind, 'record');
      if (decoded.kind !== 'record') break;
      out.push(decoded.record);
      at += decoded.bytes;
    }
    assert.deepEqual(out, [node, message, batch]);
  });

  it('a record cut short anywhere is short, never a wrong record', () => {
    const bytes = encodeRecord(message);
    for (let cut = 0; cut < bytes.length; cut++) assert.equal(decodeRecord(bytes.subarray(0, cut), 0).kind, 'short', `cut at ${cut}`);
  });

  it('any flipped byte is detected', () => {
    const bytes = encodeRecord(message);
    for (let i = 0; i < bytes.length; i++) {
      const damaged = Buffer.from(bytes);
      damaged[i] ^= 0x40;
      const decoded = decodeRecord(damaged, 0);
      // A flipped length may also ask for more bytes than there are: short, not a record either.
      assert.notEqual(decoded.kind, 'record', `byte ${i}`);
    }
  });

  it('after damage, the next record is found by its magic', () => {
    const first = encodeRecord(message);
    const second = encodeRecord(batch);
    const bytes = Buffer.concat([first, second]);
    bytes[HEADER_BYTES + 3] ^= 1;
    assert.equal(decodeRecord(bytes, 0).kind, 'corrupt');
    const next = nextMagic(bytes, 0);
    assert.equal(next, first.length);
    const decoded = decodeRecord(bytes, next);
    assert.equal(decoded.kind, 'record');
    assert.equal(nextMagic(Buffer.from('no magic here'), 0), 13);
  });

  it('garbage and impossible lengths are corrupt', () => {
    assert.equal(decodeRecord(Buffer.alloc(64, 0), 0).kind, 'corrupt');
    const bytes = encodeRecord(message);
    bytes.writeUInt32LE(0xffffffff, 4);
    assert.equal(decodeRecord(bytes, 0).kind, 'corrupt');
  });

  it('toRanges compresses sorted seqs', () => {
    assert.deepEqual(toRanges([1, 2, 3, 5, 7, 8]), [[1, 4], [5, 6], [7, 9]]);
    assert.deepEqual(toRanges([]), []);
  });
});
