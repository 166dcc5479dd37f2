// The network view's one-row-per-node summary (GET /nodes/summary): each node's latest connection with
// its liveness, the last system.interval figures (peers, transactions, heights), its block propagation and
// block time over its last 50 imports, and its uptime over the last 24 hours (docs/analytics.md).
import type { Queryable } from './database.js';

const NOW_UTC = `(now() AT TIME ZONE 'utc')`;
/** Blocks behind a node's "p90 over the last blocks" and its block time. */
export const SUMMARY_BLOCKS = 50;
export const UPTIME_WINDOW_S = 24 * 3600;
/** system.interval messages read per node for its latest figures (two kinds alternate). */
const INTERVAL_MESSAGES = 4;

export interface NodeSummaryRow {
  peer_id: string;
  name: string | null;
  chain: string | null;
  genesis_hash: string | null;
  version: string | null;
  authority: boolean | null;
  connected: boolean;
  last_seen: string | null;
  peers: number | null;
  txcount: number | null;
  best_height: number | null;
  finalized_height: number | null;
  propagation_last_ms: number | null;
  propagation_p90_ms: number | null;
  block_time_ms: number | null;
  uptime_pct: number | null;
}

/** A JSON field of a stored message as a whole number when it is one (number or decimal string), else NULL. */
const INT_FIELD = (field: string) => `CASE WHEN (l.logs->>'${field}') ~ '^[0-9]{1,15}$' THEN (l.logs->>'${field}')::int8 END`;

/**
 * Every node (peer id) with its summary, ordered by peer id. `connectedWindowS`: a connection counts as
 * open while its server refreshed last_seen within that many seconds (the rule of /nodes).
 * Per node, the latest connection gives the identity and the figures (one index lookup each); uptime is
 * the union of all its connections' intervals clipped to the last 24 hours.
 */
export async function nodeSummaries(db: Queryable, connectedWindowS: number): Promise<NodeSummaryRow[]> {
  const result = await db.query<NodeSummaryRow>(
    `WITH pc AS MATERIALIZED (
       SELECT id, peer_id, created_at, name, chain, genesis_hash, version, authority,
              (disconnected_at IS NULL AND last_seen > ${NOW_UTC} - make_interval(secs => $1)) AS live,
              GREATEST(last_seen, disconnected_at) AS seen,
              CASE WHEN disconnected_at IS NOT NULL THEN disconnected_at
                   WHEN last_seen > ${NOW_UTC} - make_interval(secs => $1) THEN ${NOW_UTC}
                   ELSE COALESCE(last_seen, created_at) END AS ended_at
         FROM peer_connections WHERE peer_id IS NOT NULL
     ), latest AS (
       SELECT DISTINCT ON (peer_id) * FROM pc ORDER BY peer_id, created_at DESC, id DESC
     ), liveness AS (
       SELECT peer_id, bool_or(live) AS connected, max(seen) AS last_seen FROM pc GROUP BY peer_id
     ), clipped AS (
       SELECT peer_id, GREATEST(created_at, ${NOW_UTC} - make_interval(secs => $2)) AS s, LEAST(ended_at, ${NOW_UTC}) AS e
         FROM pc WHERE ended_at > ${NOW_UTC} - make_interval(secs => $2)
     ), runs AS (
       -- Sorted by start, a connection adds what lies past the latest end before it: the union's length.
       SELECT peer_id, s, e, max(e) OVER (PARTITION BY peer_id ORDER BY s, e ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before_end
         FROM clipped WHERE e > s
     ), uptime AS (
       SELECT peer_id, sum(GREATEST(0, extract(epoch FROM e - GREATEST(s, COALESCE(before_end, s)))))::float8 AS covered_s FROM runs GROUP BY peer_id
     )
     SELECT x.peer_id, x.name, x.chain, x.genesis_hash, x.version, x.authority, v.connected, v.last_seen,
            i.peers, i.txcount, GREATEST(i.height, a.height) AS best_height, GREATEST(i.finalized_height, f.height) AS finalized_height,
            p.last_ms AS propagation_last_ms, p.p90_ms AS propagation_p90_ms, p.block_time_ms,
            round((COALESCE(u.covered_s, 0) * 100 / $2)::numeric, 2)::float8 AS uptime_pct
       FROM latest x
       JOIN liveness v USING (peer_id)
       LEFT JOIN uptime u USING (peer_id)
       LEFT JOIN LATERAL (
         -- Tetcore splits system.interval in two messages (chain part, network part): each field is taken
         -- from the newest of the last few messages that has it.
         SELECT (array_agg(peers ORDER BY created_at DESC) FILTER (WHERE peers IS NOT NULL))[1] AS peers,
                (array_agg(txcount ORDER BY created_at DESC) FILTER (WHERE txcount IS NOT NULL))[1] AS txcount,
                (array_agg(height ORDER BY created_at DESC) FILTER (WHERE height IS NOT NULL))[1] AS height,
                (array_agg(finalized_height ORDER BY created_at DESC) FILTER (WHERE finalized_height IS NOT NULL))[1] AS finalized_height
           FROM (
             SELECT l.created_at, ${INT_FIELD('peers')} AS peers, ${INT_FIELD('txcount')} AS txcount, ${INT_FIELD('height')} AS height,
                    ${INT_FIELD('finalized_height')} AS finalized_height
               FROM substrate_logs l WHERE l.peer_connection_id = x.id AND l.msg = 'system.interval'
              ORDER BY l.created_at DESC LIMIT ${INTERVAL_MESSAGES}
           ) m
       ) i ON TRUE
       LEFT JOIN LATERAL (
         SELECT height FROM block_arrivals WHERE peer_connection_id = x.id ORDER BY received_at DESC LIMIT 1
       ) a ON TRUE
       LEFT JOIN LATERAL (
         SELECT height FROM finality_reports WHERE peer_connection_id = x.id ORDER BY received_at DESC LIMIT 1
       ) f ON TRUE
       LEFT JOIN LATERAL (
         SELECT (array_agg(delay_ms ORDER BY received_at DESC))[1] AS last_ms,
                percentile_disc(0.9) WITHIN GROUP (ORDER BY delay_ms) AS p90_ms,
                CASE WHEN max(height) > min(height)
                     THEN round(extract(epoch FROM max(received_at) - min(received_at)) * 1000 / (max(height) - min(height)))::int4 END AS block_time_ms
           FROM (
             SELECT ba.received_at, ba.height, round(extract(epoch FROM ba.received_at - b.first_seen_at) * 1000)::int4 AS delay_ms
               FROM block_arrivals ba
               JOIN blocks b ON b.chain_id = ba.chain_id AND b.height = ba.height AND b.hash = ba.hash
              WHERE ba.peer_connection_id = x.id AND NOT ba.catch_up
              ORDER BY ba.received_at DESC LIMIT $3
           ) r
       ) p ON TRUE
      ORDER BY x.peer_id`,
    [connectedWindowS, UPTIME_WINDOW_S, SUMMARY_BLOCKS],
  );
  return result.rows.map((r) => ({
    ...r,
    peers: r.peers === null ? null : Number(r.peers),
    txcount: r.txcount === null ? null : Number(r.txcount),
    best_height: r.best_height === null ? null : Number(r.best_height),
    finalized_height: r.finalized_height === null ? null : Number(r.finalized_height),
  }));
}
