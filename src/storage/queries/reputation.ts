// Reputation from stored `system.network_state` messages, in both shapes (the snapshot's peersets are
// expanded by api/peerset.ts; the one-peer history is extracted here, in SQL):
//   older Substrate: logs.state.peerset.nodes            = { <peer id>: {connected, reputation} }
//   Tetcore:         logs.state.peerset.sets[i].nodes    = the same, one map per peer set
// A remote peer present in several sets counts once: its reputation is taken from the first set that has
// it (peerset reputation is per peer, so the sets agree), and it is connected if connected in any set.
// Values that are not a number (reputation) are skipped; a non-boolean `connected` counts as false.
import type { Queryable } from '../database.js';

const NOW = `(now() AT TIME ZONE 'utc')`;

const REPUTATION = `CASE WHEN jsonb_typeof(value->'reputation') = 'number' THEN trunc((value->'reputation')::numeric) END`;
const CONNECTED = `(jsonb_typeof(value->'connected') = 'boolean' AND (value->'connected')::boolean)`;
/** The reporting node: the connection's peer id, else the one inside the message. */
const REPORTER = `COALESCE(pc.peer_id, s.logs->'state'->>'peerId')`;

export interface PickedState {
  reporting_peer: string;
  ts: string;
  /** `logs.state.peerset` of the picked network state, as JSON text (null if absent). */
  peerset: string | null;
}

/**
 * For each reporting peer after `after` (ascending, at most `limit`), its newest network state younger than
 * `maxAgeS`. Candidates come from the partial index substrate_logs_network_state_idx; only the picked
 * state of each reporter is detoasted, and only its peerset is converted to text.
 */
export async function newestNetworkStates(db: Queryable, query: { maxAgeS: number; limit: number; after?: string }): Promise<PickedState[]> {
  const result = await db.query<PickedState>(
    `SELECT reporting_peer, ts, (logs->'state'->'peerset')::text AS peerset FROM (
       SELECT DISTINCT ON (reporting_peer) reporting_peer, ts, logs FROM (
         SELECT ${REPORTER} AS reporting_peer, s.created_at AS ts, s.logs
           FROM substrate_logs s JOIN peer_connections pc ON pc.id = s.peer_connection_id
          WHERE s.msg = 'system.network_state' AND s.created_at > ${NOW} - make_interval(secs => $1)
       ) c
       WHERE reporting_peer IS NOT NULL AND ($3::varchar IS NULL OR reporting_peer > $3)
       ORDER BY reporting_peer, ts DESC
       LIMIT $2
     ) picked
     ORDER BY reporting_peer`,
    [query.maxAgeS, query.limit, query.after ?? null],
  );
  return result.rows;
}

/** Every peer id that has a connection row (the "logged" nodes). */
export async function loggedPeerIds(db: Queryable): Promise<Set<string>> {
  const result = await db.query<{ peer_id: string }>(`SELECT DISTINCT peer_id FROM peer_connections WHERE peer_id IS NOT NULL`);
  return new Set(result.rows.map((r) => r.peer_id));
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
