// All SQL that writes the analytics tables (migration 007): chain ids, the facts of a batch (inside the
// batch's transaction), the per-block summaries of settled blocks, the purge, and the figures of a block
// computed from its arrivals (shared with the query API, which computes them for blocks not summarized yet).
import type { Database, Queryable } from './database.js';
import type { Fact } from '../analytics/derive.js';
import { ANALYTICS_LOCK_KEY } from './locks.js';

const NOW_UTC = `(now() AT TIME ZONE 'utc')`;

// ---------------------------------------------------------------------------------------------------
// Chains

export interface ChainKey {
  chain: string;
  genesisHash: string | null;
}

export const chainKeyText = (chain: string, genesisHash: string | null) => JSON.stringify([chain, genesisHash]);

/** Ids of the given chains, creating the missing ones (idempotent: safe outside the batch's transaction). */
export async function ensureChains(db: Queryable, keys: ChainKey[]): Promise<Map<string, number>> {
  await db.query(
    `INSERT INTO chains (chain, genesis_hash) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`,
    [keys.map((k) => k.chain), keys.map((k) => k.genesisHash)],
  );
  const rows = await db.query<{ id: number; chain: string; genesis_hash: string | null }>(
    `SELECT c.id, c.chain, c.genesis_hash FROM chains c JOIN unnest($1::text[], $2::text[]) k(chain, genesis_hash)
        ON c.chain = k.chain AND c.genesis_hash IS NOT DISTINCT FROM k.genesis_hash`,
    [keys.map((k) => k.chain), keys.map((k) => k.genesisHash)],
  );
  return new Map(rows.rows.map((r) => [chainKeyText(r.chain, r.genesis_hash), r.id]));
}

// ---------------------------------------------------------------------------------------------------
// Facts of a batch

export interface FactRow {
  chainId: number;
  peerId: string;
  connectionId: number;
  audit: boolean;
  /** Naive UTC text. */
  receivedAt: string;
  nodeTs: string;
  fact: Fact;
}

interface FirstOf {
  at: string;
  connectionId: number;
  peerId: string;
  audit: boolean;
}

export interface FirstSeen extends FirstOf {
  chainId: number;
  height: number;
  hash: string;
}

export interface FirstReport extends FirstOf {
  chainId: number;
  height: number;
}

/** Earliest row per key, ties by connection id (times are naive UTC text of one format: they compare as text). */
function firsts(rows: FactRow[], keyOf: (r: FactRow) => string): Map<string, { row: FactRow; first: FirstOf }> {
  const out = new Map<string, { row: FactRow; first: FirstOf }>();
  for (const row of rows) {
    const key = keyOf(row);
    const known = out.get(key);
    if (known === undefined) out.set(key, { row, first: { at: row.receivedAt, connectionId: row.connectionId, peerId: row.peerId, audit: row.audit } });
    else {
      if (row.receivedAt < known.first.at || (row.receivedAt === known.first.at && row.connectionId < known.first.connectionId)) {
        Object.assign(known.first, { at: row.receivedAt, connectionId: row.connectionId, peerId: row.peerId });
      }
      known.first.audit ||= row.audit;
    }
  }
  return out;
}

/**
 * Writes the facts of a batch inside its transaction, in one statement (a round trip counts when the
 * database is busy): the arrivals and finality reports, and the blocks that received arrivals
 * (block_summary_queue, for the summary job). Plain inserts only: no row of another batch is locked, so
 * concurrent batches never wait for each other here.
 */
export async function recordFacts(tx: Queryable, rows: FactRow[]): Promise<void> {
  if (rows.length === 0) return;
  // One JSON parameter: serializing it (native JSON.stringify) and parsing it (json_to_recordset, in C)
  // costs a fraction of what twenty array parameters cost to escape, element by element.
  const facts = rows.map((r) =>
    r.fact.kind === 'arrival'
      ? { k: 'a', c: r.chainId, h: r.fact.height, x: r.fact.hash, p: r.peerId, n: r.connectionId, r: r.receivedAt, t: r.nodeTs, o: r.fact.origin, u: r.fact.catchUp, a: r.audit }
      : { k: 'f', c: r.chainId, h: r.fact.height, x: r.fact.hash, p: r.peerId, n: r.connectionId, r: r.receivedAt, t: r.nodeTs, s: r.fact.source, a: r.audit },
  );
  await tx.query(
    `WITH facts AS MATERIALIZED (
       SELECT * FROM json_to_recordset($1::json) AS f(k text, c int4, h int8, x text, p text, n int4, r timestamp, t timestamp, o text, u bool, a bool, s text)
     ), arrived AS (
       INSERT INTO block_arrivals (chain_id, height, hash, peer_id, peer_connection_id, received_at, node_ts, origin, catch_up, audit)
       SELECT c, h, x, p, n, r, t, o, u, a FROM facts WHERE k = 'a'
     ), queued AS (
       INSERT INTO block_summary_queue (chain_id, height, hash) SELECT DISTINCT c, h, x FROM facts WHERE k = 'a'
     )
     INSERT INTO finality_reports (chain_id, height, hash, peer_id, peer_connection_id, received_at, node_ts, source, audit)
     SELECT c, h, x, p, n, r, t, s, a FROM facts WHERE k = 'f'`,
    [JSON.stringify(facts)],
  );
}

/** The earliest arrival of each block and the earliest report of each finalized height among the rows. */
export function firstReportsOf(rows: FactRow[]): { blocks: FirstSeen[]; heights: FirstReport[] } {
  const arrivals = rows.filter((r) => r.fact.kind === 'arrival');
  const reports = rows.filter((r) => r.fact.kind === 'finality');
  return {
    blocks: [...firsts(arrivals, (r) => `${r.chainId}|${r.fact.height}|${r.fact.hash}`).values()].map((b) => ({ chainId: b.row.chainId, height: b.row.fact.height, hash: b.row.fact.hash as string, ...b.first })),
    heights: [...firsts(reports, (r) => `${r.chainId}|${r.fact.height}`).values()].map((h) => ({ chainId: h.row.chainId, height: h.row.fact.height, ...h.first })),
  };
}

/**
 * Writes first reports after their batch committed, in one statement of its own: these rows only summarize
 * the facts (the summary job creates a block's row from its arrivals if this never ran, and corrects its
 * first seen when summarizing it), and keeping them out of the batch's transaction means concurrent
 * batches never wait for each other's row locks until commit.
 */
export async function recordFirstReports(db: Queryable, first: { blocks: FirstSeen[]; heights: FirstReport[] }): Promise<void> {
  if (first.blocks.length === 0 && first.heights.length === 0) return;
  await db.query(`WITH blocks_upserted AS (${upsertFirstSeenSql('$1')}) ${upsertFinalizedHeightsSql('$2')}`, [JSON.stringify(first.blocks), JSON.stringify(first.heights)]);
}

const EARLIER_BLOCK = `(EXCLUDED.first_seen_at, EXCLUDED.first_seen_connection_id) < (b.first_seen_at, b.first_seen_connection_id)`;
const EARLIER_HEIGHT = `(EXCLUDED.first_reported_at, EXCLUDED.first_reported_connection_id) < (f.first_reported_at, f.first_reported_connection_id)`;

/** The upsert of blocks' first seen, from the JSON array `param` of FirstSeen. */
function upsertFirstSeenSql(param: string): string {
  return `INSERT INTO blocks AS b (chain_id, height, hash, first_seen_at, first_seen_connection_id, first_seen_peer_id, audit)
     SELECT n."chainId", n.height, n.hash, n.at, n."connectionId", n."peerId", n.audit
       FROM json_to_recordset(${param}::json) AS n("chainId" int4, height int8, hash text, at timestamp, "connectionId" int4, "peerId" text, audit bool)
      WHERE NOT EXISTS (SELECT 1 FROM blocks o WHERE o.chain_id = n."chainId" AND o.height = n.height AND o.hash = n.hash
                           AND (o.first_seen_at, o.first_seen_connection_id) <= (n.at, n."connectionId") AND (o.audit OR NOT n.audit))
      ORDER BY n."chainId", n.height, n.hash
     ON CONFLICT (chain_id, height, hash) DO UPDATE SET
       first_seen_at = CASE WHEN ${EARLIER_BLOCK} THEN EXCLUDED.first_seen_at ELSE b.first_seen_at END,
       first_seen_connection_id = CASE WHEN ${EARLIER_BLOCK} THEN EXCLUDED.first_seen_connection_id ELSE b.first_seen_connection_id END,
       first_seen_peer_id = CASE WHEN ${EARLIER_BLOCK} THEN EXCLUDED.first_seen_peer_id ELSE b.first_seen_peer_id END,
       audit = b.audit OR EXCLUDED.audit,
       summarized_at = CASE WHEN ${EARLIER_BLOCK} THEN NULL ELSE b.summarized_at END
     WHERE ${EARLIER_BLOCK} OR (EXCLUDED.audit AND NOT b.audit)`;
}

/** The upsert of finalized heights' first report (as for blocks), from the JSON array `param` of FirstReport. */
function upsertFinalizedHeightsSql(param: string): string {
  return `INSERT INTO finalized_heights AS f (chain_id, height, first_reported_at, first_reported_connection_id, first_reported_peer_id, audit)
     SELECT n."chainId", n.height, n.at, n."connectionId", n."peerId", n.audit
       FROM json_to_recordset(${param}::json) AS n("chainId" int4, height int8, at timestamp, "connectionId" int4, "peerId" text, audit bool)
      WHERE NOT EXISTS (SELECT 1 FROM finalized_heights o WHERE o.chain_id = n."chainId" AND o.height = n.height
                           AND (o.first_reported_at, o.first_reported_connection_id) <= (n.at, n."connectionId") AND (o.audit OR NOT n.audit))
      ORDER BY n."chainId", n.height
     ON CONFLICT (chain_id, height) DO UPDATE SET
       first_reported_at = CASE WHEN ${EARLIER_HEIGHT} THEN EXCLUDED.first_reported_at ELSE f.first_reported_at END,
       first_reported_connection_id = CASE WHEN ${EARLIER_HEIGHT} THEN EXCLUDED.first_reported_connection_id ELSE f.first_reported_connection_id END,
       first_reported_peer_id = CASE WHEN ${EARLIER_HEIGHT} THEN EXCLUDED.first_reported_peer_id ELSE f.first_reported_peer_id END,
       audit = f.audit OR EXCLUDED.audit
     WHERE ${EARLIER_HEIGHT} OR (EXCLUDED.audit AND NOT f.audit)`;
}

// ---------------------------------------------------------------------------------------------------
// Figures of a block, from its arrivals

/** Columns of the figures; `blockFiguresSql` produces them, blocks stores them once summarized. */
export const FIGURE_COLUMNS = [
  'nodes_reported',
  'propagation_arrivals',
  'propagation_p50_ms',
  'propagation_p90_ms',
  'propagation_p99_ms',
  'propagation_max_ms',
  'arrival_connection_ids',
  'arrival_delays_ms',
] as const;

/**
 * SQL of the figures of the blocks `targetSql` selects (columns chain_id, height, hash), from their
 * arrivals alone: each node's first arrival (by peer id, whatever connection), the block's first seen (the
 * earliest of them; ties by connection id), each delay after it in whole milliseconds, nearest-rank
 * percentiles (percentile_disc) of the delays of arrivals that are not catch-up, and those arrivals as two
 * arrays ordered by connection id. One row per target block (first seen NULL without arrivals).
 */
export function blockFiguresSql(targetSql: string): string {
  return `SELECT t.chain_id, t.height, t.hash, f.first_seen_at, f.first[1]::int4 AS first_seen_connection_id, f.first_peer[1] AS first_seen_peer_id,
            f.nodes_reported, f.propagation_arrivals,
            f.pcts[1] AS propagation_p50_ms, f.pcts[2] AS propagation_p90_ms, f.pcts[3] AS propagation_p99_ms,
            f.propagation_max_ms, f.arrival_connection_ids, f.arrival_delays_ms
       FROM (${targetSql}) t
      CROSS JOIN LATERAL (
        SELECT count(*)::int4 AS nodes_reported,
               min(d.received_at) AS first_seen_at,
               array_agg(d.peer_connection_id ORDER BY d.received_at, d.peer_connection_id) AS first,
               array_agg(d.peer_id ORDER BY d.received_at, d.peer_connection_id) AS first_peer,
               (count(*) FILTER (WHERE NOT d.catch_up))::int4 AS propagation_arrivals,
               percentile_disc(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY d.delay_ms) FILTER (WHERE NOT d.catch_up) AS pcts,
               max(d.delay_ms) FILTER (WHERE NOT d.catch_up) AS propagation_max_ms,
               COALESCE(array_agg(d.peer_connection_id ORDER BY d.peer_connection_id) FILTER (WHERE NOT d.catch_up), '{}') AS arrival_connection_ids,
               COALESCE(array_agg(d.delay_ms ORDER BY d.peer_connection_id) FILTER (WHERE NOT d.catch_up), '{}') AS arrival_delays_ms
          FROM (
            SELECT p.*, round(extract(epoch FROM p.received_at - min(p.received_at) OVER ()) * 1000)::int4 AS delay_ms
              FROM (
                SELECT DISTINCT ON (a.peer_id) a.peer_id, a.peer_connection_id, a.catch_up, a.received_at
                  FROM block_arrivals a
                 WHERE a.chain_id = t.chain_id AND a.height = t.height AND a.hash = t.hash
                 ORDER BY a.peer_id, a.received_at, a.peer_connection_id
              ) p
          ) d
      ) f`;
}

/** A summary also corrects the first seen, should an upsert after a batch have missed an earlier arrival. */
const SET_FIGURES = [
  ...FIGURE_COLUMNS.map((c) => `${c} = f.${c}`),
  ...['first_seen_at', 'first_seen_connection_id', 'first_seen_peer_id'].map((c) => `${c} = COALESCE(f.${c}, b.${c})`),
].join(', ');

export interface SummaryRun {
  /** Summarized blocks that received arrivals since (or an earlier first seen): summarized again. */
  invalidated: number;
  summarized: number;
}

/**
 * One step of the summary job, in one transaction holding the analytics lock (null when another server
 * holds it): takes the queue of blocks that received arrivals and clears their summary; then summarizes up
 * to `limit` blocks first seen more than `settleS` seconds ago, oldest first (their first seen corrected
 * from their arrivals). The queue is read before the arrivals (statement order), so an arrival committed after the queue
 * was read leaves its queue row for the next step: a summary is never stale for longer than one step.
 */
export async function summarizeSettledBlocks(db: Database, settleS: number, limit: number): Promise<SummaryRun | null> {
  return db.transaction(async (tx) => {
    const lock = await tx.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [ANALYTICS_LOCK_KEY]);
    if (!lock.rows[0].locked) return null;
    // Queued blocks: clear the summary of those summarized (a late arrival), and create those whose row an
    // upsert after a batch never wrote (the server stopped in between), from their arrivals.
    const invalidated = await tx.query<{ n: number }>(
      `WITH taken AS (DELETE FROM block_summary_queue RETURNING chain_id, height, hash),
            keys AS (SELECT DISTINCT chain_id, height, hash FROM taken),
            stale AS (
              UPDATE blocks b SET summarized_at = NULL FROM keys k
               WHERE b.chain_id = k.chain_id AND b.height = k.height AND b.hash = k.hash AND b.summarized_at IS NOT NULL
              RETURNING 1
            ),
            missing AS (
              SELECT k.* FROM keys k WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.chain_id = k.chain_id AND b.height = k.height AND b.hash = k.hash)
            ),
            created AS (
              INSERT INTO blocks (chain_id, height, hash, first_seen_at, first_seen_connection_id, first_seen_peer_id, audit)
              SELECT DISTINCT ON (a.chain_id, a.height, a.hash) a.chain_id, a.height, a.hash, a.received_at, a.peer_connection_id, a.peer_id,
                     bool_or(a.audit) OVER (PARTITION BY a.chain_id, a.height, a.hash)
                FROM missing k JOIN block_arrivals a ON a.chain_id = k.chain_id AND a.height = k.height AND a.hash = k.hash
               ORDER BY a.chain_id, a.height, a.hash, a.received_at, a.peer_connection_id
              ON CONFLICT DO NOTHING
              RETURNING 1
            )
       SELECT count(*)::int4 AS n FROM stale`,
    );
    const summarized = await tx.query(
      `UPDATE blocks b SET summarized_at = ${NOW_UTC}, ${SET_FIGURES}
         FROM (${blockFiguresSql(
           `SELECT chain_id, height, hash FROM blocks
             WHERE summarized_at IS NULL AND first_seen_at < ${NOW_UTC} - make_interval(secs => $1)
             ORDER BY first_seen_at LIMIT $2`,
         )}) f
        WHERE b.chain_id = f.chain_id AND b.height = f.height AND b.hash = f.hash`,
      [settleS, limit],
    );
    return { invalidated: invalidated.rows[0].n, summarized: summarized.rowCount };
  });
}

// ---------------------------------------------------------------------------------------------------
// Retention

export interface AnalyticsPurgeResult {
  arrivals: number;
  finalityReports: number;
  blocks: number;
  finalizedHeights: number;
}

/**
 * Removes the analytics rows of expiring (non-audit) nodes older than `cutoff` (naive UTC text): arrivals
 * and finality reports received before it, then blocks and finalized heights first reported before it that
 * no audit node reported. The arrivals of a connection are reached through its index, one expired
 * connection at a time. Call it before the connections themselves are purged.
 */
export async function purgeAnalyticsBefore(db: Queryable, cutoff: string): Promise<AnalyticsPurgeResult> {
  const expired = `SELECT id FROM peer_connections WHERE NOT audit AND created_at < $1`;
  const arrivals = await db.query(
    `DELETE FROM block_arrivals a USING (${expired}) pc WHERE a.peer_connection_id = pc.id AND a.received_at < $1 AND NOT a.audit`,
    [cutoff],
  );
  const reports = await db.query(
    `DELETE FROM finality_reports r USING (${expired}) pc WHERE r.peer_connection_id = pc.id AND r.received_at < $1 AND NOT r.audit`,
    [cutoff],
  );
  const blocks = await db.query(`DELETE FROM blocks WHERE NOT audit AND first_seen_at < $1`, [cutoff]);
  const heights = await db.query(`DELETE FROM finalized_heights WHERE NOT audit AND first_reported_at < $1`, [cutoff]);
  // Left only when no summary job runs (ANALYTICS=false).
  await db.query(`DELETE FROM block_summary_queue WHERE queued_at < $1`, [cutoff]);
  return { arrivals: arrivals.rowCount, finalityReports: reports.rowCount, blocks: blocks.rowCount, finalizedHeights: heights.rowCount };
}

// ---------------------------------------------------------------------------------------------------
// Rebuild from substrate_logs (analytics:rebuild). The field rules of analytics/derive.ts, in SQL.

const HEIGHT_RULE = (field: string) => `CASE jsonb_typeof(s.logs->'${field}')
    WHEN 'number' THEN CASE WHEN (s.logs->'${field}')::numeric BETWEEN 0 AND 9007199254740991
                             AND (s.logs->'${field}')::numeric = trunc((s.logs->'${field}')::numeric)
                            THEN (s.logs->'${field}')::numeric::int8 END
    WHEN 'string' THEN CASE WHEN s.logs->>'${field}' ~ '^[0-9]{1,15}$' THEN (s.logs->>'${field}')::int8 END END`;
const HASH_RULE = (field: string) => `CASE WHEN jsonb_typeof(s.logs->'${field}') = 'string' AND length(s.logs->>'${field}') BETWEEN 1 AND 256 THEN s.logs->>'${field}' END`;
const CATCH_UP = `('NetworkInitialSync', 'File', 'Genesis')`;
/** Messages of identified connections (chain and peer id known), with their chain id. */
const IDENTIFIED = `FROM substrate_logs s
  JOIN peer_connections pc ON pc.id = s.peer_connection_id AND pc.chain IS NOT NULL AND pc.peer_id IS NOT NULL
  JOIN chains c ON c.chain = pc.chain AND c.genesis_hash IS NOT DISTINCT FROM pc.genesis_hash`;

/**
 * Starts a rebuild of the facts of messages with created_at in [since, until) on `session` (one database
 * session: the keys touched are collected in temporary tables): creates the chains of every identified
 * connection, deletes the facts derived from those messages and remembers their blocks and heights.
 */
export async function beginRebuild(session: Queryable, since: string, until: string): Promise<{ arrivalsDeleted: number; reportsDeleted: number }> {
  // A slice sorts its finality candidates per connection: in memory rather than on disk (reset by finishRebuild).
  await session.query(`SET work_mem = '64MB'`);
  await session.query(`DROP TABLE IF EXISTS rebuild_blocks`);
  await session.query(`DROP TABLE IF EXISTS rebuild_heights`);
  await session.query(`CREATE TEMP TABLE rebuild_blocks (chain_id INTEGER, height BIGINT, hash VARCHAR)`);
  await session.query(`CREATE TEMP TABLE rebuild_heights (chain_id INTEGER, height BIGINT)`);
  await session.query(
    `INSERT INTO chains (chain, genesis_hash) SELECT DISTINCT chain, genesis_hash FROM peer_connections WHERE chain IS NOT NULL AND peer_id IS NOT NULL ON CONFLICT DO NOTHING`,
  );
  const arrivals = await session.query<{ n: number }>(
    `WITH gone AS (DELETE FROM block_arrivals WHERE node_ts >= $1 AND node_ts < $2 RETURNING chain_id, height, hash),
          kept AS (INSERT INTO rebuild_blocks SELECT DISTINCT chain_id, height, hash FROM gone RETURNING 1)
     SELECT count(*)::int4 AS n FROM gone`,
    [since, until],
  );
  const reports = await session.query<{ n: number }>(
    `WITH gone AS (DELETE FROM finality_reports WHERE node_ts >= $1 AND node_ts < $2 RETURNING chain_id, height),
          kept AS (INSERT INTO rebuild_heights SELECT DISTINCT chain_id, height FROM gone RETURNING 1)
     SELECT count(*)::int4 AS n FROM gone`,
    [since, until],
  );
  return { arrivalsDeleted: arrivals.rows[0].n, reportsDeleted: reports.rows[0].n };
}

export interface RebuildSlice {
  /** Messages of the slice that can carry a fact (block.import, notify.finalized, system.interval). */
  candidates: number;
  arrivals: number;
  reports: number;
}

/**
 * Derives the facts of the messages with created_at in [from, to), one statement (atomic): arrivals of
 * every block.import; finality reports of notify.finalized and system.interval that raise their
 * connection's finalized height, in (created_at, id) order, after its reports of earlier messages.
 * Rebuilt rows take the node's ts as received_at (old messages have no receipt time).
 */
export async function rebuildSlice(session: Queryable, from: string, to: string): Promise<RebuildSlice> {
  const result = await session.query<RebuildSlice>(
    `WITH arrivals AS (
       INSERT INTO block_arrivals (chain_id, height, hash, peer_id, peer_connection_id, received_at, node_ts, origin, catch_up, rebuilt, audit)
       SELECT chain_id, height, hash, peer_id, peer_connection_id, created_at, created_at, origin, COALESCE(origin IN ${CATCH_UP}, FALSE), TRUE, audit
         FROM (SELECT c.id AS chain_id, ${HEIGHT_RULE('height')} AS height, ${HASH_RULE('best')} AS hash, pc.peer_id, s.peer_connection_id, s.created_at,
                      CASE WHEN jsonb_typeof(s.logs->'origin') = 'string' THEN s.logs->>'origin' END AS origin, s.audit
                 ${IDENTIFIED}
                WHERE s.msg = 'block.import' AND s.created_at >= $1 AND s.created_at < $2) m
        WHERE height IS NOT NULL AND hash IS NOT NULL
       RETURNING chain_id, height, hash
     ), arrival_keys AS (
       INSERT INTO rebuild_blocks SELECT DISTINCT chain_id, height, hash FROM arrivals RETURNING 1
     ), candidates AS (
       SELECT c.id AS chain_id, pc.peer_id, s.id, s.peer_connection_id, s.created_at, s.audit, s.msg,
              CASE WHEN s.msg = 'notify.finalized' THEN ${HEIGHT_RULE('height')} ELSE ${HEIGHT_RULE('finalized_height')} END AS height,
              CASE WHEN s.msg = 'notify.finalized' THEN ${HASH_RULE('best')} ELSE ${HASH_RULE('finalized_hash')} END AS hash
         ${IDENTIFIED}
        WHERE s.msg IN ('notify.finalized', 'system.interval') AND s.created_at >= $1 AND s.created_at < $2
     ), valid AS (
       SELECT * FROM candidates WHERE height IS NOT NULL
     ), prior AS (
       SELECT r.peer_connection_id, max(r.height) AS height FROM finality_reports r
        WHERE r.peer_connection_id IN (SELECT DISTINCT peer_connection_id FROM valid) AND r.node_ts < $1
        GROUP BY r.peer_connection_id
     ), rising AS (
       SELECT v.*, GREATEST(COALESCE(p.height, -1),
                COALESCE(max(v.height) OVER (PARTITION BY v.peer_connection_id ORDER BY v.created_at, v.id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), -1)) AS before
         FROM valid v LEFT JOIN prior p ON p.peer_connection_id = v.peer_connection_id
     ), reports AS (
       INSERT INTO finality_reports (chain_id, height, hash, peer_id, peer_connection_id, received_at, node_ts, source, rebuilt, audit)
       SELECT chain_id, height, hash, peer_id, peer_connection_id, created_at, created_at, msg, TRUE, audit FROM rising WHERE height > before
       RETURNING chain_id, height
     ), report_keys AS (
       INSERT INTO rebuild_heights SELECT DISTINCT chain_id, height FROM reports RETURNING 1
     )
     SELECT (SELECT count(*) FROM candidates)::int4 + (SELECT count(*) FROM arrivals)::int4 AS candidates,
            (SELECT count(*) FROM arrivals)::int4 AS arrivals, (SELECT count(*) FROM reports)::int4 AS reports,
            (SELECT count(*) FROM arrival_keys) + (SELECT count(*) FROM report_keys) AS keys`,
    [from, to],
  );
  const { candidates, arrivals, reports } = result.rows[0];
  return { candidates, arrivals, reports };
}

/**
 * Ends a rebuild: recomputes the blocks and finalized heights it touched from their arrivals and reports
 * (earliest first; ties by connection id), their summaries to be made again. Returns the keys recomputed.
 */
export async function finishRebuild(session: Queryable): Promise<{ blocks: number; heights: number }> {
  await session.query(`DELETE FROM blocks b USING (SELECT DISTINCT * FROM rebuild_blocks) k WHERE b.chain_id = k.chain_id AND b.height = k.height AND b.hash = k.hash`);
  const blocks = await session.query(
    `INSERT INTO blocks (chain_id, height, hash, first_seen_at, first_seen_connection_id, first_seen_peer_id, audit)
     SELECT DISTINCT ON (a.chain_id, a.height, a.hash) a.chain_id, a.height, a.hash, a.received_at, a.peer_connection_id, a.peer_id,
            bool_or(a.audit) OVER (PARTITION BY a.chain_id, a.height, a.hash)
       FROM (SELECT DISTINCT * FROM rebuild_blocks) k
       JOIN block_arrivals a ON a.chain_id = k.chain_id AND a.height = k.height AND a.hash = k.hash
      ORDER BY a.chain_id, a.height, a.hash, a.received_at, a.peer_connection_id`,
  );
  await session.query(`DELETE FROM finalized_heights f USING (SELECT DISTINCT * FROM rebuild_heights) k WHERE f.chain_id = k.chain_id AND f.height = k.height`);
  const heights = await session.query(
    `INSERT INTO finalized_heights (chain_id, height, first_reported_at, first_reported_connection_id, first_reported_peer_id, audit)
     SELECT DISTINCT ON (r.chain_id, r.height) r.chain_id, r.height, r.received_at, r.peer_connection_id, r.peer_id,
            bool_or(r.audit) OVER (PARTITION BY r.chain_id, r.height)
       FROM (SELECT DISTINCT * FROM rebuild_heights) k
       JOIN finality_reports r ON r.chain_id = k.chain_id AND r.height = k.height
      ORDER BY r.chain_id, r.height, r.received_at, r.peer_connection_id`,
  );
  await session.query(`DROP TABLE rebuild_blocks`);
  await session.query(`DROP TABLE rebuild_heights`);
  await session.query(`RESET work_mem`);
  return { blocks: blocks.rowCount, heights: heights.rowCount };
}

/** The span of created_at of the stored messages. */
export async function messageSpan(db: Queryable): Promise<{ oldest: string | null; newest: string | null }> {
  const result = await db.query<{ oldest: string | null; newest: string | null }>(`SELECT min(created_at) AS oldest, max(created_at) AS newest FROM substrate_logs`);
  return result.rows[0];
}

/** Messages with created_at in [from, to) (the rebuild's progress and rate). */
export async function messagesBetween(db: Queryable, from: string, to: string): Promise<number> {
  const result = await db.query<{ n: number }>(`SELECT count(*)::int8 AS n FROM substrate_logs WHERE created_at >= $1 AND created_at < $2`, [from, to]);
  return Number(result.rows[0].n);
}
