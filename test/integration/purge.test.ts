// Retention: at fixed instants (first and last millisecond of an hour), expired messages of `/` go with
// whole partitions at the partition boundary below the expiry; audit and fresh ones stay; closed connections
// left without messages go. A purge that meets a reader holding substrate_logs waits for it without holding
// up writers, and finishes as soon as the reader ends; an interrupted purge is completed by the next one.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { pino } from 'pino';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { connectNode, type TestNode } from '../helpers/fixtures.js';
import { listPartitions } from '../../src/storage/partitions.js';
import { PURGE_LOCK_KEY } from '../../src/storage/locks.js';
import { Purger } from '../../src/purge/purger.js';

const HOUR = 3_600_000;
const at = (iso: string) => Date.parse(iso);
/** A V2 frame of one node with the given instant as ts. */
const frame = (ms: number, height: number) => `{"id":1,"ts":"${new Date(ms).toISOString().replace('Z', '+00:00')}","payload":{"height":${height},"msg":"block.import"}}`;

async function count(server: TestServer, where: string, params: unknown[] = []): Promise<number> {
  return Number((await server.db.query<{ n: number }>(`SELECT count(*) AS n FROM substrate_logs WHERE ${where}`, params)).rows[0].n);
}

async function heights(server: TestServer, where: string): Promise<number[]> {
  return (await server.db.query<{ h: number }>(`SELECT (logs->>'height')::int AS h FROM substrate_logs WHERE ${where} ORDER BY 1`)).rows.map((r) => r.h);
}

async function tableExists(server: TestServer, name: string): Promise<boolean> {
  return (await server.db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [name])).rows[0].t !== null;
}

/** The connection row of the node that sent the message of this height. */
async function connectionOf(server: TestServer, height: number): Promise<number> {
  return (await server.db.query<{ id: number }>(`SELECT peer_connection_id AS id FROM substrate_logs WHERE (logs->>'height')::int = $1`, [height])).rows[0].id;
}

async function send(server: TestServer, path: string, frames: string[], where: string, expected: number): Promise<TestNode> {
  const node = await connectNode(server.url(path));
  await node.send(...frames);
  await waitFor(async () => (await count(server, where)) === expected, `${expected} rows where ${where}`);
  return node;
}

/** A logger whose lines the test can read. */
function capturingLogger() {
  const lines: Array<{ level: number; msg: string; step?: string; partition?: string }> = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

for (const backend of BACKENDS) {
  for (const instant of ['2024-03-10T05:00:00.000Z', '2024-03-10T05:59:59.999Z']) {
    describe(`purge at ${instant} (${backend.name})`, () => {
      const clock = { now: at(instant) - 5 * HOUR };
      let server: TestServer;
      before(async () => {
        // 3 h expiry, hourly partitions; the server started 5 h before `instant` and purges only when the test says.
        server = await startTestServer(backend, { LOG_EXPIRY_H: '3', PURGE_INTERVAL_S: '3600' }, { clock: () => clock.now });
      });
      after(() => server.dispose());

      it('drops the partitions older than the hour boundary below the expiry, whole; keeps audit and fresh messages; deletes connections left without messages', async () => {
        const T = at(instant);
        clock.now = T;
        await server.purger.preparePartitions();
        const cutoff = at('2024-03-10T02:00:00Z'); // the boundary at or below T − 3 h, for both instants
        const times = [
          at('2020-08-19T09:38:48Z'), // 0: older than every partition (MINVALUE partition)
          at('2024-03-10T00:01:00Z'), // 1: in a whole expired partition
          cutoff - 1, // 2: the last millisecond before the cutoff
          cutoff, // 3: the cutoff itself: kept
          T - 3 * HOUR + 1, // 4: not expired (in the partition holding T − 3 h)
          T - 60_000, // 5: fresh
        ];
        const expiring = await send(server, '/', times.map((t, i) => frame(t, i)), 'NOT audit', 6);
        const audit = await send(server, '/audit', times.map((t, i) => frame(t, 100 + i)), 'audit', 6);
        // Closed connections: one whose only message expires, one whose message stays, one of /audit.
        const gone = await send(server, '/', [frame(at('2024-03-10T00:30:00Z'), 200)], `(logs->>'height')::int = 200`, 1);
        const kept = await send(server, '/', [frame(cutoff, 201)], `(logs->>'height')::int = 201`, 1);
        const auditClosed = await send(server, '/audit', [frame(at('2024-03-10T00:30:00Z'), 202)], `(logs->>'height')::int = 202`, 1);
        for (const node of [gone, kept, auditClosed]) await node.close();
        const closed = await Promise.all([200, 201, 202].map((h) => connectionOf(server, h)));
        await waitFor(async () => (await server.db.query('SELECT 1 FROM peer_connections WHERE id = ANY($1) AND disconnected_at IS NOT NULL', [closed])).rows.length === 3, 'connections closed');
        // disconnected_at is the database's clock; put it in this test's time, before the cutoff.
        await server.db.query(`UPDATE peer_connections SET disconnected_at = '2024-03-10 01:00:00' WHERE id = ANY($1)`, [closed]);

        const report = await server.purger.purge();
        assert.ok(report?.ran);
        assert.equal(report.cutoff, '2024-03-10 02:00:00');
        assert.deepEqual(report.partitionsDropped, ['substrate_logs_before_20240309_23', 'substrate_logs_p20240309_23', 'substrate_logs_p20240310_00', 'substrate_logs_p20240310_01']);
        assert.equal(report.lockWaits, 0);
        for (const name of report.partitionsDropped) assert.equal(await tableExists(server, name), false, `${name} dropped`);
        assert.deepEqual(await heights(server, 'NOT audit'), [3, 4, 5, 201]);
        assert.deepEqual(await heights(server, 'audit'), [100, 101, 102, 103, 104, 105, 202], 'audit messages never expire');
        assert.equal(report.connectionsDeleted, 1);
        const remaining = (await server.db.query<{ id: number }>('SELECT id FROM peer_connections WHERE id = ANY($1) ORDER BY id', [closed])).rows.map((r) => r.id);
        assert.deepEqual(remaining, closed.slice(1));
        // Time is covered again from MINVALUE: a message dated before the cutoff is stored (and goes with the next purge).
        const partitions = await listPartitions(server.db);
        assert.equal(partitions[0].name, 'substrate_logs_before_20240310_02');
        for (let i = 1; i < partitions.length; i++) assert.equal(partitions[i].fromMs, partitions[i - 1].toMs);
        await expiring.send(frame(at('2024-03-10T01:00:00Z'), 6));
        await waitFor(async () => (await count(server, `(logs->>'height')::int = 6`)) === 1, 'late old message stored');

        // An hour later: the partition holding the cutoff's hour goes, and the late message with the MINVALUE partition.
        clock.now = T + HOUR;
        const next = await server.purger.purge();
        assert.equal(next?.cutoff, '2024-03-10 03:00:00');
        assert.deepEqual(next?.partitionsDropped, ['substrate_logs_before_20240310_02', 'substrate_logs_p20240310_02']);
        assert.deepEqual(await heights(server, 'NOT audit'), T - 3 * HOUR + 1 >= at('2024-03-10T03:00:00Z') ? [4, 5] : [5]);
        // Nothing more is due in the same hour.
        const idle = await server.purger.purge();
        assert.deepEqual([idle?.cutoff, idle?.partitionsDropped], [null, []]);
        await expiring.close();
        await audit.close();
      });
    });
  }

  describe(`purge, interrupted (${backend.name})`, () => {
    const clock = { now: at('2024-03-10T05:30:00Z') };
    let server: TestServer;
    before(async () => {
      server = await startTestServer(backend, { LOG_EXPIRY_H: '1', PURGE_INTERVAL_S: '3600' }, { clock: () => clock.now });
    });
    after(() => server.dispose());

    it('completes the work of a purge that stopped between detaching and dropping, and closes the gap below', async () => {
      const node = await send(server, '/', [frame(at('2024-03-10T04:10:00Z'), 1), frame(at('2024-03-10T05:10:00Z'), 2)], 'true', 2);
      // As a purge stopped right after its detach would leave it: the oldest partitions detached, marked, not dropped.
      for (const name of ['substrate_logs_before_20240310_04', 'substrate_logs_p20240310_04']) {
        await server.db.exec(`COMMENT ON TABLE ${name} IS 'tetcore-analytics: expired partition, dropped by the purge'`);
        await server.db.exec(`ALTER TABLE substrate_logs_expiring DETACH PARTITION ${name}`);
      }
      assert.deepEqual(await heights(server, 'true'), [2]);
      // A table detached by someone else (not marked) is left alone.
      await server.db.exec(`CREATE TABLE substrate_logs_p20200101 (LIKE substrate_logs_expiring)`);
      const report = await server.purger.purge();
      assert.ok(report?.ran);
      assert.deepEqual(report.partitionsDropped, ['substrate_logs_before_20240310_04', 'substrate_logs_p20240310_04']);
      assert.equal(report.cutoff, null, 'nothing else was due');
      assert.equal(await tableExists(server, 'substrate_logs_p20240310_04'), false);
      assert.equal(await tableExists(server, 'substrate_logs_p20200101'), true);
      const partitions = await listPartitions(server.db);
      assert.equal(partitions[0].name, 'substrate_logs_before_20240310_05');
      await node.send(frame(at('2024-03-10T04:20:00Z'), 3));
      await waitFor(async () => (await count(server, `(logs->>'height')::int = 3`)) === 1, 'message of the closed gap stored');
      await node.close();
    });
  });
}

describe('purge with a reader holding substrate_logs (postgres)', () => {
  const backend = BACKENDS.find((b) => b.name === 'postgres')!;
  const clock = { now: at('2024-03-10T05:30:00Z') };
  let server: TestServer;
  before(async () => {
    server = await startTestServer(backend, { LOG_EXPIRY_H: '1', PURGE_INTERVAL_S: '3600' }, { clock: () => clock.now });
  });
  after(() => server.dispose());

  it('skips the purge while another instance holds the purge lock', async () => {
    const other = new pg.Client({ connectionString: server.settings.databaseUrl as string });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock($1)', [PURGE_LOCK_KEY]);
      assert.equal((await server.purger.purge())?.ran, false);
      await other.query('SELECT pg_advisory_unlock($1)', [PURGE_LOCK_KEY]);
      assert.equal((await server.purger.purge())?.ran, true);
    } finally {
      await other.end();
    }
  });

  it('waits for a 20 s reader without holding up writers: messages are stored while it waits, the partition goes when the reader ends', async () => {
    const url = server.settings.databaseUrl as string;
    const node = await send(server, '/', [frame(at('2024-03-10T05:10:00Z'), 1)], 'true', 1);
    const partition = 'substrate_logs_p20240310_05';
    assert.equal((await listPartitions(server.db)).some((p) => p.name === partition), true);
    clock.now = at('2024-03-10T07:30:00Z'); // the 05:00 partition has expired
    await server.purger.preparePartitions();

    const reader = new pg.Client({ connectionString: url, application_name: 'test reader' });
    const observer = new pg.Client({ connectionString: url });
    await Promise.all([reader.connect(), observer.connect()]);
    const { log, lines } = capturingLogger();
    const purger = new Purger(server.retentionDb, server.settings, server.metrics, log, { clock: () => clock.now });
    try {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM substrate_logs');
      const holdUntil = Date.now() + 20_000;
      const purge = purger.purge();
      const purgeDone = { value: false };
      void purge.finally(() => (purgeDone.value = true));
      // The purge hides the oldest partition from new queries, then waits for the reader.
      await waitFor(async () => (await listPartitions(server.db)).some((p) => p.detachPending), 'detach pending');
      const waiters = async () =>
        (await observer.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE NOT l.granted AND a.datname = current_database() AND a.application_name <> 'tetcore-analytics retention'`,
        )).rows[0].n;

      let height = 10;
      while (Date.now() < holdUntil) {
        height++;
        await node.send(frame(clock.now + height * 1000, height));
        await waitFor(async () => (await count(server, `(logs->>'height')::int = $1`, [height])) === 1, `message ${height} stored`);
        // Stored while the purge still waited for the reader: it never queued the writer.
        assert.equal(purgeDone.value, false, 'the purge still waits for the reader');
        assert.equal(await waiters(), 0, 'no session but the purge waits for a lock');
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.ok(height > 20, `${height - 10} messages stored during the hold`);
      // The partitions ahead are not held back by the waiting purge either.
      clock.now += 3 * HOUR;
      assert.deepEqual(await server.purger.preparePartitions(), ['substrate_logs_p20240310_11', 'substrate_logs_p20240310_12', 'substrate_logs_p20240310_13']);
      clock.now -= 3 * HOUR;
      assert.equal(purgeDone.value, false);

      await reader.query('COMMIT');
      const report = await purge;
      assert.ok(report?.ran);
      assert.ok(report.partitionsDropped.includes(partition));
      assert.ok(report.lockWaits >= 1);
      assert.equal(await tableExists(server, partition), false);
      assert.equal(await count(server, `(logs->>'height')::int = 1`), 0, 'the expired message is gone');
      assert.equal(await count(server, `(logs->>'height')::int > 10`), height - 10, 'every message sent during the hold kept');
      const waits = lines.filter((l) => l.msg.includes('waits for other transactions'));
      assert.equal(waits.length, 1, 'the wait is logged once');
      assert.equal(waits[0].partition, 'substrate_logs_before_20240310_04');
      const metrics = await server.metrics.registry.getSingleMetricAsString('tetcore_partition_lock_waits_total');
      const detachWaits = Number(/tetcore_partition_lock_waits_total\{step="detach"\} (\d+)/.exec(metrics)?.[1]);
      assert.ok(detachWaits >= report.lockWaits, metrics);
    } finally {
      await reader.end().catch(() => {});
      await observer.end();
      await purger.stop();
      await node.close();
    }
  });

  it('a purge stopped while it waits leaves the detach pending; the next run finalizes it', async () => {
    const url = server.settings.databaseUrl as string;
    clock.now = at('2024-03-10T07:30:00Z');
    const node = await send(server, '/', [frame(at('2024-03-10T06:10:00Z'), 1001)], `(logs->>'height')::int = 1001`, 1);
    clock.now = at('2024-03-10T08:30:00Z');
    const reader = new pg.Client({ connectionString: url });
    await reader.connect();
    try {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM substrate_logs');
      const { log } = capturingLogger();
      const first = new Purger(server.retentionDb, server.settings, server.metrics, log, { clock: () => clock.now });
      const run = first.purge();
      await waitFor(async () => (await listPartitions(server.db)).some((p) => p.name === 'substrate_logs_before_20240310_06' && p.detachPending), 'detach pending');
      await first.stop();
      assert.equal(await run, null, 'stopped');
      await reader.query('COMMIT');
      const report = await server.purger.purge();
      assert.ok(report?.partitionsDropped.includes('substrate_logs_p20240310_06'));
      assert.equal(await count(server, `(logs->>'height')::int = 1001`), 0);
      const partitions = await listPartitions(server.db);
      assert.equal(partitions.some((p) => p.detachPending), false);
      assert.equal(partitions[0].name, 'substrate_logs_before_20240310_07');
    } finally {
      await reader.end().catch(() => {});
      await node.close();
    }
  });
});
