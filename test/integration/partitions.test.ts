// Time partitions of the expiring messages on both databases: the layout at fixed instants (first and last
// millisecond of an hour), attaching with messages in the MINVALUE partition and with readers and writers in
// the middle of transactions, and migration 006 converting a database that had a DEFAULT partition (the plan
// alone: test/unit/partition-plan.test.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { pino } from 'pino';
import { BACKENDS } from '../helpers/backends.js';
import { migrate } from '../../src/storage/migrate.js';
import type { Database } from '../../src/storage/database.js';
import { createMetrics } from '../../src/metrics/catalogue.js';
import { Purger } from '../../src/purge/purger.js';
import { listPartitions } from '../../src/storage/partitions.js';
import { copyLogs } from '../../src/storage/substrate-logs.js';
import { parseSettings } from '../../src/config/settings.js';
import { startTestServer, waitFor } from '../helpers/server.js';
import { connectNode } from '../helpers/fixtures.js';

const HOUR = 3_600_000;
const at = (iso: string) => Date.parse(iso);
/** The first and the last millisecond of an hour, and its middle: no result may depend on where in the hour "now" is. */
const INSTANTS = ['2024-03-10T05:00:00.000Z', '2024-03-10T05:59:59.999Z', '2024-03-10T05:30:00.000Z'];

/** A database at the latest migration, with one connection row (id 1) for messages. */
async function freshDatabase(backend: (typeof BACKENDS)[number]) {
  const created = await backend.create();
  await migrate(created.db);
  await created.db.query(`INSERT INTO peer_connections (ip_addr) VALUES ('10.0.0.1:30333')`);
  return created;
}

function purgerAt(db: Database, clock: { now: number }, env: Record<string, string> = {}) {
  const settings = parseSettings({ LOG_EXPIRY_H: '3', ...env });
  return new Purger(db, settings, createMetrics(), pino({ level: 'silent' }), { clock: () => clock.now });
}

const row = (ms: number, height: number) => ({ createdAt: new Date(ms).toISOString().replace('T', ' ').replace('Z', ''), logs: `{"msg":"block.import","height":${height}}`, peerConnectionId: 1, audit: false });

async function partitionOf(db: Database, height: number): Promise<string> {
  const r = await db.query<{ part: string }>(`SELECT tableoid::regclass::text AS part FROM substrate_logs WHERE (logs->>'height')::int = $1`, [height]);
  assert.equal(r.rows.length, 1, `one row of height ${height}`);
  return r.rows[0].part;
}

async function relationState(db: Database, name: string): Promise<{ filenode: number; rows: number }> {
  const filenode = Number((await db.query<{ f: number }>(`SELECT relfilenode AS f FROM pg_class WHERE relname = $1`, [name])).rows[0].f);
  const rows = Number((await db.query<{ n: number }>(`SELECT count(*) AS n FROM ${name}`)).rows[0].n);
  return { filenode, rows };
}

for (const backend of BACKENDS) {
  describe(`partition layout (${backend.name})`, () => {
    for (const instant of INSTANTS.slice(0, 2)) {
      it(`at ${instant}: every message finds its partition, old ones the MINVALUE one; beyond the partitions ahead it is refused`, async () => {
        const { db, drop } = await freshDatabase(backend);
        try {
          const created = await purgerAt(db, { now: at(instant) }).preparePartitions();
          assert.deepEqual(created, ['substrate_logs_before_20240310_04', 'substrate_logs_p20240310_04', 'substrate_logs_p20240310_05', 'substrate_logs_p20240310_06', 'substrate_logs_p20240310_07', 'substrate_logs_p20240310_08']);
          await copyLogs(db, [
            row(at('2020-08-19T09:38:48Z'), 1),
            row(at('2024-03-10T03:59:59.999Z'), 2),
            row(at('2024-03-10T04:00:00Z'), 3),
            row(at(instant), 4),
            row(at('2024-03-10T08:59:59.999Z'), 5),
          ]);
          assert.equal(await partitionOf(db, 1), 'substrate_logs_before_20240310_04');
          assert.equal(await partitionOf(db, 2), 'substrate_logs_before_20240310_04');
          assert.equal(await partitionOf(db, 3), 'substrate_logs_p20240310_04');
          assert.equal(await partitionOf(db, 4), 'substrate_logs_p20240310_05');
          assert.equal(await partitionOf(db, 5), 'substrate_logs_p20240310_08');
          // No DEFAULT partition: a message dated past the partitions ahead is refused (the writer counts it).
          await assert.rejects(copyLogs(db, [row(at('2024-03-10T09:00:00Z'), 6)]), (e: { code?: string }) => e.code === '23514');
          // The whole table still answers as one.
          assert.equal(Number((await db.query<{ n: number }>('SELECT count(*) AS n FROM substrate_logs')).rows[0].n), 5);
        } finally {
          await drop();
        }
      });
    }

    it('a message dated past the partitions ahead is refused by the database and counted; the rest of its batch is stored', async () => {
      const server = await startTestServer(backend, { LOG_EXPIRY_H: '3' }, { clock: () => at('2024-03-10T05:00:00Z') });
      try {
        const frame = (iso: string, height: number) => `{"id":1,"ts":"${iso}","payload":{"height":${height},"msg":"block.import"}}`;
        const node = await connectNode(server.url('/'));
        // The partitions reach 2024-03-10 09:00 (3 ahead); the real clock is later still, so the parser lets all three through.
        await node.send(frame('2024-03-10T05:00:01Z', 1), frame('2024-03-10T09:00:00Z', 2), frame('2020-01-01T00:00:00Z', 3));
        const dropped = () => server.metrics.messagesDropped.get().then((m) => m.values.find((v) => v.labels.reason === 'rejected_by_database')?.value ?? 0);
        await waitFor(async () => (await dropped()) === 1, 'one message counted as rejected');
        await waitFor(async () => Number((await server.db.query<{ n: number }>('SELECT count(*) AS n FROM substrate_logs')).rows[0].n) === 2, 'the other two stored');
        assert.equal(await partitionOf(server.db, 3), 'substrate_logs_before_20240310_04');
        await node.close();
      } finally {
        await server.dispose();
      }
    });

    it('attaches new partitions without touching the messages in the MINVALUE partition', async () => {
      const { db, drop } = await freshDatabase(backend);
      try {
        const clock = { now: at('2024-03-10T05:59:59.999Z') };
        const purger = purgerAt(db, clock);
        await purger.preparePartitions();
        // Old timestamps: the rows that used to sit in the DEFAULT partition and be moved out of it under a lock.
        await db.query(
          `INSERT INTO substrate_logs (created_at, logs, peer_connection_id)
           SELECT timestamp '2024-03-01' + i * interval '1 second', jsonb_build_object('msg', 'old', 'height', -i), 1 FROM generate_series(1, 20000) i`,
        );
        const before = await relationState(db, 'substrate_logs_before_20240310_04');
        assert.equal(before.rows, 20000);
        clock.now += 2 * HOUR;
        assert.deepEqual(await purger.preparePartitions(), ['substrate_logs_p20240310_09', 'substrate_logs_p20240310_10']);
        assert.deepEqual(await relationState(db, 'substrate_logs_before_20240310_04'), before, 'not one row moved or rewritten');
      } finally {
        await drop();
      }
    });

    if (backend.name === 'postgres') {
      it('attaches while a reader and a writer are in the middle of transactions on substrate_logs, and makes nobody wait', async () => {
        const { db, url, drop } = await freshDatabase(backend);
        const reader = new pg.Client({ connectionString: url as string });
        const writer = new pg.Client({ connectionString: url as string });
        const observer = new pg.Client({ connectionString: url as string });
        await Promise.all([reader.connect(), writer.connect(), observer.connect()]);
        try {
          const clock = { now: at('2024-03-10T05:00:00Z') };
          const purger = purgerAt(db, clock);
          await purger.preparePartitions();
          await db.query(`INSERT INTO substrate_logs (created_at, logs, peer_connection_id) SELECT timestamp '2024-03-01' + i * interval '1 second', '{"msg":"old"}', 1 FROM generate_series(1, 20000) i`);
          // A reader holding every partition and the parent, a writer with an uncommitted insert.
          await reader.query('BEGIN');
          await reader.query('SELECT count(*) FROM substrate_logs');
          await writer.query('BEGIN');
          await writer.query(`INSERT INTO substrate_logs (created_at, logs, peer_connection_id) VALUES ('2024-03-10 05:00:01', '{"msg":"w"}', 1)`);
          clock.now += 3 * HOUR;
          // CREATE TABLE … PARTITION OF (ACCESS EXCLUSIVE on the parent) would wait here for both of them and
          // make every later writer queue behind it; ATTACH PARTITION needs neither to end.
          const created = await purger.preparePartitions();
          assert.deepEqual(created, ['substrate_logs_p20240310_09', 'substrate_logs_p20240310_10', 'substrate_logs_p20240310_11']);
          // Both transactions still open, and they can go on writing and reading, the new partitions included.
          await writer.query(`INSERT INTO substrate_logs (created_at, logs, peer_connection_id) VALUES ('2024-03-10 10:00:00', '{"msg":"w"}', 1)`);
          await reader.query('SELECT count(*) FROM substrate_logs');
          const waiting = await observer.query(`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())`);
          assert.equal(waiting.rows[0].n, 0);
          await writer.query('COMMIT');
          await reader.query('COMMIT');
          assert.equal(Number((await db.query<{ n: number }>(`SELECT count(*) AS n FROM substrate_logs`)).rows[0].n), 20002);
        } finally {
          await Promise.all([reader.end(), writer.end(), observer.end()]);
          await drop();
        }
      });
    }

    it('migration 006 moves the rows of the DEFAULT partition into the tiling, keeps every row and drops the foreign key', async () => {
      const { db, drop } = await backend.create();
      try {
        await migrate(db, 5);
        await db.query(`INSERT INTO peer_connections (ip_addr) VALUES ('10.0.0.1:30333')`);
        // The layout the previous version made: hourly partitions (with a gap: the server was stopped) and a DEFAULT one.
        for (const [from, to, name] of [
          ['2024-03-10 00:00:00', '2024-03-10 01:00:00', 'substrate_logs_p20240310_00'],
          ['2024-03-10 01:00:00', '2024-03-10 02:00:00', 'substrate_logs_p20240310_01'],
          ['2024-03-10 03:00:00', '2024-03-10 04:00:00', 'substrate_logs_p20240310_03'],
        ]) {
          await db.exec(`CREATE TABLE ${name} PARTITION OF substrate_logs_expiring FOR VALUES FROM ('${from}') TO ('${to}')`);
        }
        const times = ['2020-08-19 09:38:48', '2024-03-09 23:59:59.999', '2024-03-10 00:30:00', '2024-03-10 02:15:00', '2024-03-10 03:59:59', '2024-03-10 04:00:00', '2024-03-10 06:00:00', '2024-03-15 12:00:00', '2024-03-15 13:00:00'];
        for (const [i, t] of times.entries()) {
          await db.query(`INSERT INTO substrate_logs (created_at, logs, peer_connection_id, audit) VALUES ($1, $2, 1, false)`, [t, JSON.stringify({ msg: 'm', height: i })]);
        }
        await db.query(`INSERT INTO substrate_logs (created_at, logs, peer_connection_id, audit) VALUES ('2024-03-10 06:00:00', '{"msg":"a","height":100}', 1, true)`);
        const beforeRows = (await db.query(`SELECT id, created_at, logs::text, audit FROM substrate_logs ORDER BY id`)).rows;
        assert.equal(Number((await db.query<{ n: number }>(`SELECT count(*) AS n FROM substrate_logs_expiring_default`)).rows[0].n), 7);

        const result = await migrate(db, 6);
        assert.deepEqual(result.applied, ['6.partitions-without-default']);
        assert.deepEqual((await db.query(`SELECT id, created_at, logs::text, audit FROM substrate_logs ORDER BY id`)).rows, beforeRows, 'every row kept as it was');
        assert.equal((await db.query<{ t: string | null }>(`SELECT to_regclass('substrate_logs_expiring_default')::text AS t`)).rows[0].t, null);
        assert.equal(Number((await db.query<{ n: number }>(`SELECT count(*) AS n FROM pg_constraint WHERE conrelid = 'substrate_logs'::regclass AND contype = 'f'`)).rows[0].n), 0);
        assert.deepEqual(
          await Promise.all([0, 1, 2, 3, 4, 5, 6, 7, 8].map((h) => partitionOf(db, h))),
          [
            'substrate_logs_before_20240310_00',
            'substrate_logs_before_20240310_00',
            'substrate_logs_p20240310_00',
            'substrate_logs_p20240310_02',
            'substrate_logs_p20240310_03',
            'substrate_logs_p20240310_04',
            'substrate_logs_p20240310_04',
            'substrate_logs_p20240315',
            'substrate_logs_p20240315',
          ],
        );
        assert.equal(await partitionOf(db, 100), 'substrate_logs_audit');
        // The tiling continues where the server takes over; the days between are filled as they come near.
        const purger = purgerAt(db, { now: at('2024-03-14T05:00:00Z') }, { PARTITION_INTERVAL_H: '24', PARTITIONS_AHEAD: '2' });
        assert.deepEqual(await purger.preparePartitions(), ['substrate_logs_p20240311', 'substrate_logs_p20240313', 'substrate_logs_p20240314', 'substrate_logs_p20240316']);
        const partitions = await listPartitions(db);
        for (let i = 1; i < partitions.length; i++) assert.equal(partitions[i].fromMs, partitions[i - 1].toMs, `no gap before ${partitions[i].name}`);
      } finally {
        await drop();
      }
    });
  });
}
