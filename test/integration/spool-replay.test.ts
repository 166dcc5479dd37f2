// Replay of a spool left by an earlier run, with damage (a flipped payload byte, a flipped length, a tail
// cut in the middle of a record): every intact message is stored once, the rest counted as spool_corrupt.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { encodeRecord, HEADER_BYTES } from '../../src/spool/record.js';

function segmentName(number: number, first: number): string {
  return `segment-${String(number).padStart(10, '0')}-${String(first).padStart(16, '0')}.log`;
}

/** A segment of `count` messages from seq `first` (heights = seqs), one node; returns the bytes and each record's offset. */
function segment(first: number, count: number): { bytes: Buffer; offsets: number[] } {
  const createdAt = new Date().toISOString().slice(0, 23).replace('T', ' ');
  const parts = [encodeRecord({ type: 'node', key: 1, ipAddr: '10.0.0.9', audit: false, envelopeId: null, connectedAt: createdAt, identity: { name: 'replayed' }, rowId: null })];
  const offsets: number[] = [];
  let at = parts[0].length;
  for (let seq = first; seq < first + count; seq++) {
    const record = encodeRecord({ type: 'message', seq, key: 1, receivedAt: Date.now(), createdAt, logs: `{"msg":"block.import","height":${seq}}` });
    offsets.push(at);
    at += record.length;
    parts.push(record);
  }
  return { bytes: Buffer.concat(parts), offsets };
}

async function dropped(server: TestServer, reason: string): Promise<number> {
  return (await server.metrics.messagesDropped.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

for (const backend of BACKENDS) {
  describe(`spool replay (${backend.name})`, () => {
    it('a flipped byte, a flipped length and a torn tail: intact records stored once, the three others counted', { timeout: 60_000 }, async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'tetcore-spool-replay-'));
      const one = segment(0, 100);
      one.bytes[one.offsets[20] + HEADER_BYTES + 30] ^= 0x01; // inside message 20's payload
      one.bytes[one.offsets[50] + 5] ^= 0x10; // message 50's length
      const two = segment(100, 50);
      writeFileSync(path.join(dir, segmentName(1, 0)), one.bytes);
      // Cut in the middle of the last record, as a power loss during its write would.
      writeFileSync(path.join(dir, segmentName(2, 100)), two.bytes.subarray(0, two.offsets[49] + 20));
      const server = await startTestServer(backend, { SPOOL_DIR: dir });
      try {
        await waitFor(async () => server.spool?.backlog().messages === 0 && server.writer.pendingRows === 0, 'the spool replayed');
        const heights = (await server.db.query<{ h: string }>(`SELECT logs->>'height' AS h FROM substrate_logs ORDER BY 1`)).rows.map((r) => Number(r.h));
        const expected = Array.from({ length: 149 }, (_, i) => i).filter((h) => h !== 20 && h !== 50);
        assert.deepEqual(heights.sort((a, b) => a - b), expected, 'every intact message, once');
        assert.equal(await dropped(server, 'spool_corrupt'), 3, 'the payload flip, the length flip and the torn tail');
        assert.equal((await server.metrics.spoolCorruptRecords.get()).values[0]?.value, 3);
        const nodes = (await server.db.query<{ name: string | null }>('SELECT name FROM peer_connections')).rows;
        assert.deepEqual(nodes.map((n) => n.name), ['replayed'], 'the node row rebuilt from its spool record');
      } finally {
        await server.dispose();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('settled segments are deleted and the checkpoint keeps a second start from replaying them', { timeout: 60_000 }, async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'tetcore-spool-replay-'));
      writeFileSync(path.join(dir, segmentName(1, 0)), segment(0, 40).bytes);
      const server = await startTestServer(backend, { SPOOL_DIR: dir });
      try {
        await waitFor(async () => server.spool?.backlog().messages === 0 && server.writer.pendingRows === 0, 'the spool replayed');
      } finally {
        await server.dispose();
      }
      try {
        assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'checkpoint.json'), 'utf8')), { committedBelow: 40, done: [] });
        assert.ok(!readdirSync(dir).includes(segmentName(1, 0)), 'the settled segment is deleted');
        // A fresh database: had the spool replayed anything again, it would be stored there.
        const again = await startTestServer(backend, { SPOOL_DIR: dir });
        try {
          await new Promise((r) => setTimeout(r, 300));
          assert.equal((await again.metrics.spoolReplayed.get()).values[0]?.value ?? 0, 0);
          assert.equal(Number((await again.db.query<{ n: number }>('SELECT count(*)::int AS n FROM substrate_logs')).rows[0].n), 0);
        } finally {
          await again.dispose();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
