// The writer's batch shape: a batch ends at DB_BATCH_SIZE messages or at MAX_BATCH_BYTES of them
// (whichever comes first, at least one message), and nothing is lost or stored twice either way; once
// written, a message is no longer held by the writer.
import { describe, it, before, after } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { BACKENDS } from '../helpers/backends.js';
import type { Database } from '../../src/storage/database.js';
import { migrate } from '../../src/storage/migrate.js';
import { ensurePartitions } from '../../src/storage/partitions.js';
import { insertConnection } from '../../src/storage/peer-connections.js';
import { createMetrics } from '../../src/metrics/catalogue.js';
import { BACKLOG_BATCH_FACTOR, BatchWriter, MAX_BATCH_BYTES } from '../../src/ingest/writer.js';
import { NodeHandle } from '../../src/ingest/node.js';

const log = pino({ level: 'silent' });

// A full garbage collection on demand, without starting node with --expose-gc.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

/** The real database, recording the rows of every batch it is asked to COPY. */
function recording(db: Database) {
  const batches: Array<{ rows: number; bytes: number }> = [];
  const wrapped: Database = Object.create(db);
  wrapped.transaction = (fn) =>
    db.transaction((tx) =>
      fn({
        ...tx,
        query: tx.query.bind(tx),
        exec: tx.exec.bind(tx),
        copyText: (table, columns, payload) => {
          const lines = payload.split('\n').filter((l) => l !== '');
          batches.push({ rows: lines.length, bytes: lines.reduce((n, l) => n + l.split('\t')[1].length, 0) });
          return tx.copyText(table, columns, payload);
        },
      }),
    );
  return { db: wrapped, batches };
}

for (const backend of BACKENDS) {
  describe(`writer batch size (${backend.name})`, () => {
    let created: Awaited<ReturnType<typeof backend.create>>;
    before(async () => {
      created = await backend.create();
      await migrate(created.db);
      // Time partitions around the messages' instant, as the server prepares them at start.
      await ensurePartitions(created.db, Date.parse('2021-06-23T01:00:00Z'), 1, 3);
    });
    after(() => created.drop());

    it('cuts batches at MAX_BATCH_BYTES, keeps a lone oversized message whole, stores every message once', async () => {
      const { db, batches } = recording(created.db);
      const writer = new BatchWriter(db, { batchSize: 1000, saveLatencyMs: 10, maxWriters: 1, bufferMaxRows: 100_000, bufferMaxBytes: 1e9 }, createMetrics(), log, () => {});
      const id = await insertConnection(created.db, { ipAddr: 'test', audit: false, envelopeId: null });
      const node = new NodeHandle('test', false, null, id);
      const filler = 'x'.repeat(400_000);
      const huge = 'y'.repeat(MAX_BATCH_BYTES + 1000);
      for (let i = 0; i < 40; i++) {
        const logs = `{"msg":"system.network_state","n":${i},"state":"${i === 20 ? huge : filler}"}`;
        writer.enqueue(node, { createdAt: '2021-06-23 01:02:03.000000', logs, msg: 'system.network_state' });
      }
      await writer.drain(30_000);
      const stored = (await created.db.query<{ n: number; distinct: number }>(`SELECT count(*)::int AS n, count(DISTINCT logs->>'n')::int AS distinct FROM substrate_logs WHERE peer_connection_id = $1`, [id])).rows[0];
      assert.deepEqual(stored, { n: 40, distinct: 40 });
      assert.equal(batches.reduce((n, b) => n + b.rows, 0), 40);
      assert.ok(batches.length >= 5, `${batches.length} batches`);
      for (const b of batches) assert.ok(b.rows === 1 || b.bytes <= MAX_BATCH_BYTES, JSON.stringify(b));
      assert.ok(batches.some((b) => b.rows === 1 && b.bytes > MAX_BATCH_BYTES));
    });

    it('writes a backlog in larger batches: BACKLOG_BATCH_FACTOR × DB_BATCH_SIZE while that many wait, never more', async () => {
      const { db, batches } = recording(created.db);
      const writer = new BatchWriter(db, { batchSize: 10, saveLatencyMs: 5, maxWriters: 1, bufferMaxRows: 100_000, bufferMaxBytes: 1e9 }, createMetrics(), log, () => {});
      const id = await insertConnection(created.db, { ipAddr: 'test', audit: false, envelopeId: null });
      const node = new NodeHandle('test', false, null, id);
      const backlog = BACKLOG_BATCH_FACTOR * 10;
      // The tenth message starts a batch of ten; the rest wait behind it, a backlog of more than `backlog`.
      for (let i = 0; i < 10 + backlog + 5; i++) writer.enqueue(node, { createdAt: '2021-06-23 01:02:03.000000', logs: `{"msg":"backlog","n":${i}}`, msg: 'backlog' });
      await writer.drain(30_000);
      assert.equal(writer.stored, 10 + backlog + 5);
      assert.deepEqual(batches.map((b) => b.rows), [10, backlog, 5]);
    });

    it('written messages kept in memory (item 7): once written, no message stays reachable from the writer', async () => {
      const writer = new BatchWriter(created.db, { batchSize: 10, saveLatencyMs: 5, maxWriters: 1, bufferMaxRows: 100_000, bufferMaxBytes: 1e9 }, createMetrics(), log, () => {});
      const id = await insertConnection(created.db, { ipAddr: 'test', audit: false, envelopeId: null });
      // Each message gets a handle of its own, reachable only through the message while it is held.
      const handles: Array<WeakRef<NodeHandle>> = [];
      const enqueueWithOwnHandle = (i: number) => {
        const node = new NodeHandle('test', false, null, id);
        handles.push(new WeakRef(node));
        writer.enqueue(node, { createdAt: '2021-06-23 01:02:03.000000', logs: `{"msg":"release","n":${i}}`, msg: 'release' });
      };
      for (let i = 0; i < 100; i++) enqueueWithOwnHandle(i);
      await writer.drain(30_000);
      assert.equal(writer.stored, 100);
      await new Promise((resolve) => setImmediate(resolve)); // WeakRefs hold their target until the end of the job
      collectGarbage();
      assert.equal(handles.filter((h) => h.deref() !== undefined).length, 0, 'messages still referenced after being written');
    });
  });
}
