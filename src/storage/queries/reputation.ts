// Reputation from stored `system.network_state` messages, in both shapes:
//   older Substrate: logs.state.peerset.nodes            = { <peer id>: {connected, reputation} }
//   Tetcore:         logs.state.peerset.sets[i].nodes    = the same, one map per peer set
// A remote peer present in several sets counts once: its reputation is taken from the first set that has
// it (peerset reputation is per peer, so the sets agree), and it is connected if connected in any set.
// Values that are not a number (reputation) are skipped; a non-boolean `connected` counts as false.
import type { Queryable } from '../database.js';

const NOW = `(now() AT TIME ZONE 'utc')`;

/** Entries (key, value, set_index) of a peerset jsonb `p`, both shapes. */
const ENTRIES_OF = (p: string) => `
  SELECT n.key, n.value, 0::bigint AS set_index
    FROM jsonb_each(CASE WHEN jsonb_typeof(${p}->'nodes') = 'object' THEN ${p}->'nodes' ELSE '{}'::jsonb END) n
  UNION ALL
  SELECT n.key, n.value, sets.set_index
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(${p}->'sets') = 'array' THEN ${p}->'sets' ELSE '[]'::jsonb END) WITH ORDINALITY sets(value, set_index)
   CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(sets.value->'nodes') = 'object' THEN sets.value->'nodes' ELSE '{}'::jsonb END) n`;

const REPUTATION = `CASE WHEN jsonb_typeof(value->'reputation') = 'number' THEN trunc((value->'reputation')::numeric) END`;
const CONNECTED = `(jsonb_typeof(value->'connected') = 'boolean' AND (value->'connected')::boolean)`;
/** The reporting node: the connection's peer id, else the one inside the message. */
const REPORTER = `COALESCE(pc.peer_id, s.logs->'state'->>'peerId')`;

export interface SnapshotRow {
  reporting_peer: string;
  ts: string;
  /** JSON arrays, as text. */
  remote_peer: string;
  reputation: string;
  connected: string;
}

export interface SnapshotQuery {
  maxAgeS: number;
  limit: number;
  /** Keep only remote peers that are logged nodes (have a peer_connections row). */
  loggedOnly: boolean;
}

/**
 * For each reporting peer (ascending, at most `limit`), its newest network state younger than `maxAgeS`,
 * expanded into parallel arrays. Candidates come from the partial index substrate_logs_network_state_idx;
 * only the picked state of each reporter is detoasted and expanded. Arrays are in JSONB key order.
 */
export async function reputationSnapshot(db: Queryable, query: SnapshotQuery): Promise<SnapshotRow[]> {
  const loggedFilter = query.loggedOnly ? `WHERE e.key IN (SELECT peer_id FROM peer_connections WHERE peer_id IS NOT NULL)` : '';
  const result = await db.query<SnapshotRow>(
    `WITH picked AS MATERIALIZED (
       SELECT DISTINCT ON (reporting_peer) reporting_peer, ts, logs FROM (
         SELECT ${REPORTER} AS reporting_peer, s.created_at AS ts, s.logs
           FROM substrate_logs s JOIN peer_connections pc ON pc.id = s.peer_connection_id
          WHERE s.msg = 'system.network_state' AND s.created_at > ${NOW} - make_interval(secs => $1)
       ) c
       WHERE reporting_peer IS NOT NULL
       ORDER BY reporting_peer, ts DESC
       LIMIT $2
     ), peersets AS MATERIALIZED (
       SELECT reporting_peer, ts, logs->'state'->'peerset' AS peerset FROM picked
     ), merged AS (
       SELECT p.reporting_peer, p.ts, e.key AS remote_peer,
              (array_agg(${REPUTATION} ORDER BY e.set_index) FILTER (WHERE jsonb_typeof(e.value->'reputation') = 'number'))[1] AS reputation,
              bool_or(${CONNECTED}) AS connected
         FROM peersets p CROSS JOIN LATERAL (${ENTRIES_OF('p.peerset')}) e
         ${loggedFilter}
        GROUP BY p.reporting_peer, p.ts, e.key
     )
     SELECT reporting_peer, ts,
            json_agg(remote_peer ORDER BY length(remote_peer), remote_peer COLLATE "C")::text AS remote_peer,
            json_agg(reputation ORDER BY length(remote_peer), remote_peer COLLATE "C")::text AS reputation,
            json_agg(connected ORDER BY length(remote_peer), remote_peer COLLATE "C")::text AS connected
       FROM merged
      WHERE reputation IS NOT NULL
      GROUP BY reporting_peer, ts
      ORDER BY reporting_peer`,
    [query.maxAgeS, query.limit],
  );
  return result.rows;
}

export interface PeerHistoryQuery {
  peerId: string;
  /** Exclusive bounds, naive UTC text. */
  start?: string;
  end?: string;
  /** Alternative lower bound: now - maxAgeS (database clock). */
  maxAgeS?: number;
  limit: number;
}

export interface PeerHistoryRow {
  reporting_peer: string;
  reputation: string;
  connected: boolean;
  ts: string;
}

/**
 * The entry of one remote peer in every network state of the window that contains it: the newest `limit`
 * (reporter, time) pairs, returned ordered by reporter then time as the reference did.
 */
export async function reputationOfPeer(db: Queryable, query: PeerHistoryQuery): Promise<PeerHistoryRow[]> {
  const params: unknown[] = [query.peerId, query.limit];
  const conditions = [`s.msg = 'system.network_state'`];
  if (query.start !== undefined) {
    params.push(query.start);
    conditions.push(`s.created_at > $${params.length}::timestamp`);
  }
  if (query.maxAgeS !== undefined) {
    params.push(query.maxAgeS);
    conditions.push(`s.created_at > ${NOW} - make_interval(secs => $${params.length})`);
  }
  if (query.end !== undefined) {
    params.push(query.end);
    conditions.push(`s.created_at < $${params.length}::timestamp`);
  } else conditions.push(`s.created_at < ${NOW}`);
  const result = await db.query<PeerHistoryRow>(
    `SELECT reporting_peer, reputation::text AS reputation, connected, ts FROM (
       SELECT ${REPORTER} AS reporting_peer, s.created_at AS ts, entry.reputation, entry.connected
         FROM substrate_logs s
         JOIN peer_connections pc ON pc.id = s.peer_connection_id
        CROSS JOIN LATERAL (SELECT s.logs->'state'->'peerset' AS peerset OFFSET 0) p
        CROSS JOIN LATERAL (
          SELECT (array_agg(${REPUTATION} ORDER BY set_index) FILTER (WHERE jsonb_typeof(value->'reputation') = 'number'))[1] AS reputation,
                 bool_or(${CONNECTED}) AS connected
            FROM (
              SELECT p.peerset->'nodes'->($1::text) AS value, 0::bigint AS set_index
              UNION ALL
              SELECT sets.value->'nodes'->($1::text), sets.set_index
                FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p.peerset->'sets') = 'array' THEN p.peerset->'sets' ELSE '[]'::jsonb END) WITH ORDINALITY sets(value, set_index)
            ) found
           WHERE value IS NOT NULL
        ) entry
        WHERE ${conditions.join(' AND ')} AND entry.reputation IS NOT NULL
        ORDER BY s.created_at DESC
        LIMIT $2
     ) newest
     WHERE reporting_peer IS NOT NULL
     ORDER BY reporting_peer, ts`,
    params,
  );
  return result.rows;
}
