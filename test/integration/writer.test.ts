// The batching writer against real databases made to misbehave: a write whose outcome is unknown
// (committed, but the acknowledgement lost) is not stored twice; a slow database makes it hold back.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { BACKENDS } from '../helpers/backends.js';
import { waitFor } from '../helpers/server.js';
import type { Database, Transaction } from '../../src/storage/database.js';
import { migrate } from '../../src/storage/migrate.js';
import { ensurePartitions } from '../../src/storage/partitions.js';
import { insertConnection } from '../../src/storage/peer-connections.js';
import { createMetrics } from '../../src/metrics/catalogue.js';
import { BatchWriter } from '../../src/ingest/writer.js';
import { NodeHandle } from '../../src/ingest/node.js';

const log = pino({ level: 'silent' });

/** The real database, except that the next `n` transactions lose their acknowledgement after committing. */
function losingAcknowledgements(db: Database) {
  let toLose = 0;
  const wrapped: Database = Object.create(db);
  wrapped.transaction = async <T>(fn: (tx: Transaction) => Promise<T>) => {
    const result = await db.transaction(fn);
    if (toLose > 0) {
      toLose--;
      throw Object.assign(new Error('Connection terminated unexpectedly'), { code: undefined });
    }
    return result;
  };
  return { db: wrapped, loseNext: (n: number) => (toLose = n) };
}

const row = (height: number) => ({ createdAt: '2021-06-23 01:02:03.000000', logs: `{"msg":"block.import","height":${height}}`, msg: 'block.import' });

for (const backend of BACKENDS) {
  describe(`batch writer (${backend.name})`, () => {
    let created: Awaited<ReturnType<typeof backend.create>>;
    before(async () => {
      created = await backend.create();
      await migrate(created.db);
      // Time partitions around the messages' instant, as the server prepares them at start.
      await ensurePartitions(created.db, Date.parse('2021-06-23T01:00:00Z'), 1, 3);
    });
    after(() => created.drop());

    it('stores a batch once when the acknowledgement of its commit is lost', async () => {
      const { db, loseNext } = losingAcknowledgements(created.db);
      const metrics = createMetrics();
      const dropped: string[] = [];
      const writer = new BatchWriter(db, { batchSize: 50, saveLatencyMs: 10, maxWriters: 1, bufferMaxRows: 10_000, bufferMaxBytes: 1e8 }, metrics, log, (reason) => dropped.push(reason));
      const id = await insertConnection(created.db, { ipAddr: 'test', audit: false, envelopeId: null });
      const node = new NodeHandle('test', false, null, id);
      loseNext(2);
      for (let i = 0; i < 120; i++) writer.enqueue(node, row(i));
      await writer.drain(30_000);
      const { rows, distinct } = (await created.db.query<{ rows: number; distinct: number }>(`SELECT count(*) AS rows, count(DISTINCT logs->>'height') AS distinct FROM substrate_logs WHERE peer_connection_id = $1`, [id])).rows[0];
      assert.deepEqual({ rows, distinct }, { rows: 120, distinct: 120 });
      assert.deepEqual(dropped, []);
      assert.equal((await metrics.writeFailures.get()).values.reduce((n, v) => n + v.value, 0), 2);
    });
  });
}

for (const backend of BACKENDS) {
  describe(`batch writer, rows the database rejects (${backend.name})`, () => {
    let created: Awaited<ReturnType<typeof backend.create>>;
    before(async () => {
      created = await backend.create();
      await migrate(created.db);
      await ensurePartitions(created.db, Date.parse('2021-06-23T01:00:00Z'), 1, 3);
      await created.db.query(`ALTER TABLE substrate_logs ADD CONSTRAINT test_no_poison CHECK (logs->>'poison' IS NULL)`);
    });
    after(() => created.drop());

    it('splits out and drops each rejected row alone, whatever the rejection (overflow, bad JSON, CHECK), the same on both databases', async () => {
      const metrics = createMetrics();
      const dropped: string[] = [];
      const writer = new BatchWriter(created.db, { batchSize: 64, saveLatencyMs: 10, maxWriters: 1, bufferMaxRows: 10_000, bufferMaxBytes: 1e8 }, metrics, log, (reason, count) => {
        for (let i = 0; i < count; i++) dropped.push(reason);
      });
      const id = await insertConnection(created.db, { ipAddr: 'test', audit: false, envelopeId: null });
      const node = new NodeHandle('test', false, null, id);
      const poisoned = ['{"msg":"bad","n":1e999999}', '{"msg":"bad",', '{"msg":"bad","poison":true}'];
      for (let i = 0; i < 40; i++) {
        writer.enqueue(node, row(i));
        if (i % 10 === 5) writer.enqueue(node, { createdAt: '2021-06-23 01:02:03.000000', logs: poisoned[(i - 5) / 10] ?? poisoned[0], msg: 'bad' });
      }
      await writer.drain(30_000);
      // (A foreign key is no longer among the rejections: migration 006 dropped it, docs/retention.md.)
      assert.deepEqual(dropped, Array(4).fill('rejected_by_database'));
      const stored = (await created.db.query<{ n: number; distinct: number }>(`SELECT count(*)::int AS n, count(DISTINCT logs->>'height')::int AS distinct FROM substrate_logs WHERE peer_connection_id = $1`, [id])).rows[0];
      assert.deepEqual(stored, { n: 40, distinct: 40 });
      assert.equal(writer.stored, 40);
      assert.deepEqual((await created.db.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'the database still answers');
    });
  });
}

describe('batch writer (postgres, slow database)', () => {
  let created: Awaited<ReturnType<(typeof BACKENDS)[0]['create']>>;
  before(async () => {
    created = await BACKENDS[0].create();
    await migrate(created.db);
    await ensurePartitions(created.db, Date.parse('2021-06-23T01:00:00Z'), 1, 3);
  });
  after(() => created.drop());

  it('signals pause past BUFFER_MAX_ROWS while a lock blocks writes, resumes and stores everything', async () => {
    const metrics = createMetrics();
    const writer = new BatchWriter(created.db, { batchSize: 100, saveLatencyMs: 10, maxWriters: 2, bufferMaxRows: 500, bufferMaxBytes: 1e8 }, metrics, log, () => assert.fail('nothing may be dropped'));
    const events: string[] = [];
    writer.on('pause', () => events.push('pause'));
    writer.on('resume', () => events.push('resume'));
    const id = await insertConnection(created.db, { ipAddr: 'test', audit: false, envelopeId: null });
    const node = new NodeHandle('test', false, null, id);
    const release = await holdTableLock(created.url as string);
    for (let i = 0; i < 600; i++) writer.enqueue(node, row(i));
    assert.deepEqual(events, ['pause']);
    assert.equal(writer.isPaused, true);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(writer.stored, 0, 'nothing written while the table is locked');
    await release();
    await waitFor(() => events.includes('resume'), 'resume');
    await writer.drain(30_000);
    assert.equal(writer.stored, 600);
  });
});

/** Holds an ACCESS EXCLUSIVE lock on substrate_logs from another session until released. */
async function holdTableLock(url: string): Promise<() => Promise<void>> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE substrate_logs IN ACCESS EXCLUSIVE MODE');
  return async () => {
    await client.query('COMMIT');
    await client.end();
  };
}
