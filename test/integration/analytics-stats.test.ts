// Network analytics: the order statistics (nearest-rank percentiles equal to PostgreSQL's percentile_disc on
// both databases, the histogram, interval coverage) and the block summary job (stores the same figures as
// the live computation, one server at a time).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pino } from 'pino';
import { BACKENDS } from '../helpers/backends.js';
import type { Database } from '../../src/storage/database.js';
import { migrate } from '../../src/storage/migrate.js';
import { histogramBin, histogramOf, parseIntList, percentile, percentilesOf } from '../../src/analytics/stats.js';
import { coveredPct } from '../../src/analytics/reports.js';
import { ensureChains, firstReportsOf, recordFacts, recordFirstReports, summarizeSettledBlocks, type FactRow } from '../../src/storage/analytics-write.js';
import { ANALYTICS_LOCK_KEY } from '../../src/storage/locks.js';
import { liveFigures } from '../../src/storage/analytics-read.js';
import { BlockSummarizer } from '../../src/analytics/summarizer.js';
import { createMetrics } from '../../src/metrics/catalogue.js';

describe('analytics: order statistics', () => {
  it('takes the nearest rank', () => {
    const sorted = [10, 20, 30, 40];
    assert.equal(percentile(sorted, 0.5), 20);
    assert.equal(percentile(sorted, 0.9), 40);
    assert.equal(percentile(sorted, 0.25), 10);
    assert.equal(percentile(sorted, 0), 10);
    assert.equal(percentile([], 0.5), null);
    assert.deepEqual(percentilesOf([]), { p50: null, p90: null, p99: null, max: null });
    assert.deepEqual(percentilesOf([0, 150, 400]), { p50: 150, p90: 400, p99: 400, max: 400 });
  });

  it('bins delays as ethstats does: 40 bins of 250 ms, then one for 10 s and slower', () => {
    assert.deepEqual([0, 249, 250, 9999, 10_000, 60_000, -5].map(histogramBin), [0, 0, 1, 39, 40, 40, 0]);
    const counts = new Array(41).fill(0);
    counts[0] = 3;
    counts[2] = 1;
    const bins = histogramOf(counts);
    assert.equal(bins.length, 41);
    assert.deepEqual(bins.slice(0, 3), [
      { upper_ms: 250, count: 3, cumulative_pct: 75 },
      { upper_ms: 500, count: 0, cumulative_pct: 75 },
      { upper_ms: 750, count: 1, cumulative_pct: 100 },
    ]);
    assert.deepEqual(bins[40], { upper_ms: null, count: 0, cumulative_pct: 100 });
    assert.ok(histogramOf(new Array(41).fill(0)).every((b) => b.cumulative_pct === 0));
  });

  it('parses integer lists and measures the share of a window the intervals cover', () => {
    assert.deepEqual(parseIntList('0,150,-20,4000', []), [0, 150, -20, 4000]);
    assert.deepEqual(parseIntList('', []), []);
    assert.deepEqual(parseIntList(null, [1]), [1]);
    assert.equal(coveredPct([[0, 50], [25, 75], [90, 200]], 0, 100), 85);
    assert.equal(coveredPct([[-50, 10]], 0, 100), 10);
    assert.equal(coveredPct([], 0, 100), 0);
    assert.equal(coveredPct([[0, 100], [10, 20]], 0, 100), 100);
  });
});

function row(chainId: number, height: number, hash: string, peer: string, connectionId: number, receivedAt: string, catchUp = false): FactRow {
  return { chainId, peerId: peer, connectionId, audit: false, receivedAt, nodeTs: receivedAt, fact: { kind: 'arrival', height, hash, origin: catchUp ? 'NetworkInitialSync' : 'Own', catchUp } };
}

for (const backend of BACKENDS) {
  describe(`analytics: percentiles and summaries in SQL (${backend.name})`, () => {
    let db: Database;
    let drop: () => Promise<void>;
    before(async () => {
      const created = await backend.create();
      db = created.db;
      drop = created.drop;
      await migrate(db);
    });
    after(() => drop());

    it('computes the same nearest-rank percentiles as percentile_disc', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.integer({ min: -1000, max: 100_000 }), { minLength: 1, maxLength: 300 }), fc.constantFrom(0.5, 0.9, 0.99, 0.25, 0.75), async (values, p) => {
          const sql = await db.query<{ v: number }>(`SELECT percentile_disc($2::float8) WITHIN GROUP (ORDER BY x) AS v FROM unnest($1::int4[]) x`, [values, p]);
          assert.equal(percentile(Float64Array.from(values).sort(), p), sql.rows[0].v);
        }),
        { numRuns: 40 },
      );
    });

    it('stores, once a block is settled, the figures the live computation gives; one server at a time', async () => {
      const ids = await ensureChains(db, [{ chain: 'Summary Test', genesisHash: null }]);
      const chainId = [...ids.values()][0];
      const t = (ms: number) => new Date(Date.UTC(2024, 0, 1) + ms).toISOString().replace('T', ' ').slice(0, 23);
      const rows = [
        row(chainId, 7, '0x07', 'p1', 1, t(0)),
        row(chainId, 7, '0x07', 'p2', 2, t(120)),
        row(chainId, 7, '0x07', 'p2', 3, t(90_000)), // the same node again, on another connection: its first counts
        row(chainId, 7, '0x07', 'p3', 4, t(700), true), // catch-up: reported, not propagation
        row(chainId, 7, '0x07', 'p4', 5, t(480)),
        row(chainId, 8, '0x08', 'p2', 2, t(6000)),
      ];
      await db.transaction((tx) => recordFacts(tx, rows));
      await recordFirstReports(db, firstReportsOf(rows));
      const live = await liveFigures(db, chainId, [{ height: 7, hash: '0x07' }], true);
      assert.deepEqual(live, [
        {
          height: 7,
          hash: '0x07',
          nodes_reported: 4,
          propagation_arrivals: 3,
          propagation_p50_ms: 120,
          propagation_p90_ms: 480,
          propagation_p99_ms: 480,
          propagation_max_ms: 480,
          arrival_connection_ids: '1,2,5',
          arrival_delays_ms: '0,120,480',
        },
      ]);
      const metrics = createMetrics();
      const job = new BlockSummarizer(db, { settleS: 1, intervalS: 3600 }, metrics, pino({ level: 'silent' }));
      if (db.kind === 'postgres') {
        // Another server holding the lock: this one skips.
        let release!: () => void;
        const held = new Promise<void>((resolve) => (release = resolve));
        let locked!: () => void;
        const isLocked = new Promise<void>((resolve) => (locked = resolve));
        const holder = db.transaction(async (tx) => {
          await tx.query('SELECT pg_advisory_xact_lock($1)', [ANALYTICS_LOCK_KEY]);
          locked();
          await held;
        });
        await isLocked;
        assert.equal(await job.run(), null);
        release();
        await holder;
        assert.match(await metrics.registry.metrics(), /tetcore_analytics_summary_runs_total\{outcome="skipped"\} 1/);
      }
      assert.equal(await job.run(), 2, 'both blocks, first seen in 2024');
      const stored = await db.query(
        `SELECT height, hash, nodes_reported, propagation_arrivals, propagation_p50_ms, propagation_p90_ms, propagation_p99_ms, propagation_max_ms,
                array_to_string(arrival_connection_ids, ',') AS arrival_connection_ids, array_to_string(arrival_delays_ms, ',') AS arrival_delays_ms
           FROM blocks WHERE chain_id = $1 AND height = 7`,
        [chainId],
      );
      assert.deepEqual(stored.rows, live);
      assert.deepEqual(await summarizeSettledBlocks(db, 1, 100), { invalidated: 0, summarized: 0 }, 'nothing left');
      assert.match(await metrics.registry.metrics(), /tetcore_analytics_blocks_summarized_total 2/);
      await job.stop();
    });

    it('creates the rows of queued blocks an upsert after their batch never wrote, and corrects first seen when summarizing', async () => {
      const ids = await ensureChains(db, [{ chain: 'Repair Test', genesisHash: '0xfe' }]);
      const chainId = [...ids.values()][0];
      const t = (ms: number) => new Date(Date.UTC(2024, 0, 2) + ms).toISOString().replace('T', ' ').slice(0, 23);
      // Block 1: facts committed, their first report lost. Block 2: an earlier arrival stored after the first seen was recorded.
      await db.transaction((tx) => recordFacts(tx, [row(chainId, 1, '0x01', 'p9', 9, t(300)), row(chainId, 1, '0x01', 'p8', 8, t(100))]));
      const late = [row(chainId, 2, '0x02', 'p9', 9, t(6500))];
      await db.transaction((tx) => recordFacts(tx, late));
      await recordFirstReports(db, firstReportsOf(late));
      await db.transaction((tx) => recordFacts(tx, [row(chainId, 2, '0x02', 'p8', 8, t(6000))]));
      const firstSeen = async () =>
        (await db.query(`SELECT height, first_seen_at, first_seen_peer_id FROM blocks WHERE chain_id = $1 ORDER BY height`, [chainId])).rows;
      assert.deepEqual(await firstSeen(), [{ height: 2, first_seen_at: '2024-01-02 00:00:06.5', first_seen_peer_id: 'p9' }]);
      assert.deepEqual(await summarizeSettledBlocks(db, 86_400 * 365 * 100, 100), { invalidated: 0, summarized: 0 });
      assert.deepEqual(await firstSeen(), [
        { height: 1, first_seen_at: '2024-01-02 00:00:00.1', first_seen_peer_id: 'p8' },
        { height: 2, first_seen_at: '2024-01-02 00:00:06.5', first_seen_peer_id: 'p9' },
      ]);
      assert.deepEqual(await summarizeSettledBlocks(db, 1, 100), { invalidated: 0, summarized: 2 });
      assert.deepEqual(await firstSeen(), [
        { height: 1, first_seen_at: '2024-01-02 00:00:00.1', first_seen_peer_id: 'p8' },
        { height: 2, first_seen_at: '2024-01-02 00:00:06', first_seen_peer_id: 'p8' },
      ]);
      const delays = await db.query(`SELECT array_to_string(arrival_delays_ms, ',') AS d FROM blocks WHERE chain_id = $1 AND height = 2`, [chainId]);
      assert.deepEqual(delays.rows, [{ d: '0,500' }], 'delays after the corrected first seen');
    });
  });
}
