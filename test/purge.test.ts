// Retention: expired messages of `/` go by whole partitions (plus boundary deletes), audit and fresh ones stay.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from './helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from './helpers/server.js';
import { connectNode } from './helpers/fixtures.js';
import pg from 'pg';
import { listPartitions, ensurePartitions, purgeExpired, PURGE_LOCK_KEY } from '../src/storage/partitions.js';

const HOUR = 3_600_000;
/** A V2 frame of one node with the given instant as ts. */
const frame = (ms: number, height: number) => `{"id":1,"ts":"${new Date(ms).toISOString().replace('Z', '+00:00')}","payload":{"height":${height},"msg":"block.import"}}`;

async function countRows(server: TestServer, where: string, params: unknown[] = []): Promise<number> {
  return Number((await server.db.query<{ n: number }>(`SELECT count(*) AS n FROM substrate_logs WHERE ${where}`, params)).rows[0].n);
}

for (const backend of BACKENDS) {
  describe(`purge (${backend.name})`, () => {
    let server: TestServer;
    before(async () => {
      // 3 h expiry with hourly partitions; the purge is driven by the test, not the timer.
      // MAX_FUTURE_SKEW_S: one test ingests a message 30 h ahead, beyond the prepared partitions.
      server = await startTestServer(backend, { LOG_EXPIRY_H: '3', PURGE_INTERVAL_S: '3600', MAX_FUTURE_SKEW_S: '172_800' });
    });
    after(() => server.dispose());

    it('drops expired partitions whole, deletes at the boundary, keeps audit and fresh rows', async () => {
      const now = Date.now();
      const hourStart = Math.floor(now / HOUR) * HOUR;
      // Partitions for the last 8 hours, as a server running that long would have made.
      await ensurePartitions(server.db, hourStart - 7 * HOUR, 1, 8);
      const old = hourStart - 6 * HOUR + 60_000; // expired, in a whole expired partition
      const boundaryExpired = now - 3 * HOUR - 60_000; // expired, in the partition holding the cutoff
      const boundaryFresh = now - 3 * HOUR + 120_000; // not expired, same partition (or the next)
      const fresh = now - 60_000;
      const ancient = Date.parse('2020-08-19T09:38:48Z'); // outside every partition: DEFAULT

      const expiring = await connectNode(server.url('/'));
      const audit = await connectNode(server.url('/audit'));
      const times = [old, old + 1000, boundaryExpired, boundaryFresh, fresh, ancient];
      await expiring.send(...times.map((t, i) => frame(t, i)));
      await audit.send(...times.map((t, i) => frame(t, 100 + i)));
      await waitFor(async () => (await countRows(server, 'true')) === 12, '12 rows stored');
      assert.equal(await countRows(server, 'audit'), 6);

      const partitionsBefore = await listPartitions(server.db);
      const result = await purgeExpired(server.db, now - 3 * HOUR);
      assert.ok(result.ran);
      assert.ok(result.partitionsDropped.length >= 3, `dropped ${result.partitionsDropped.join(', ')}`);
      // Only the one boundary row and the one DEFAULT row were deleted row by row.
      assert.equal(result.boundaryRowsDeleted, 1);
      assert.equal(result.defaultRowsDeleted, 1);
      const partitionsAfter = await listPartitions(server.db);
      assert.equal(partitionsAfter.length, partitionsBefore.length - result.partitionsDropped.length);

      const heights = (await server.db.query<{ h: number }>(`SELECT (logs->>'height')::int AS h FROM substrate_logs WHERE NOT audit ORDER BY 1`)).rows.map((r) => r.h);
      assert.deepEqual(heights, [3, 4]);
      assert.equal(await countRows(server, 'audit'), 6, 'audit rows never expire');
      // The whole table still answers as one.
      assert.equal(await countRows(server, 'true'), 8);
      await expiring.close();
      await audit.close();
    });

    if (backend.name === 'postgres') {
      it('skips the purge while another instance holds the purge lock', async () => {
        const other = new pg.Client({ connectionString: server.settings.databaseUrl as string });
        await other.connect();
        try {
          await other.query('SELECT pg_advisory_lock($1)', [PURGE_LOCK_KEY]);
          const skipped = await purgeExpired(server.db, Date.now() - 3 * HOUR);
          assert.equal(skipped.ran, false);
          await other.query('SELECT pg_advisory_unlock($1)', [PURGE_LOCK_KEY]);
          const ran = await purgeExpired(server.db, Date.now() - 3 * HOUR);
          assert.equal(ran.ran, true);
        } finally {
          await other.end();
        }
      });
    }

    it('moves rows that landed in DEFAULT into a partition created later for their range', async () => {
      const future = Math.floor(Date.now() / HOUR) * HOUR + 30 * HOUR + 5 * 60_000; // beyond the prepared partitions
      const node = await connectNode(server.url('/'));
      await node.send(frame(future, 4242));
      await waitFor(async () => (await countRows(server, `(logs->>'height')::int = 4242`)) === 1, 'future row stored');
      const inDefault = Number((await server.db.query<{ n: number }>(`SELECT count(*) AS n FROM substrate_logs_expiring_default WHERE (logs->>'height')::int = 4242`)).rows[0].n);
      assert.equal(inDefault, 1);
      const created = await ensurePartitions(server.db, future, 1, 0);
      assert.ok(created.length >= 1);
      const stillDefault = Number((await server.db.query<{ n: number }>(`SELECT count(*) AS n FROM substrate_logs_expiring_default WHERE (logs->>'height')::int = 4242`)).rows[0].n);
      assert.equal(stillDefault, 0);
      assert.equal(await countRows(server, `(logs->>'height')::int = 4242`), 1);
      await node.close();
    });
  });
}
