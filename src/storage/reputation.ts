// Reputation from stored `system.network_state` messages, in both shapes (the snapshot's peersets are
// expanded by api/peerset.ts; the one-peer history is extracted here, in SQL):
//   older Substrate: logs.state.peerset.nodes            = { <peer id>: {connected, reputation} }
//   Tetcore:         logs.state.peerset.sets[i].nodes    = the same, one map per peer set
import type { Queryable } from './database.js';
import { withOrderedScans } from './query-runner.js';

const NOW = `(now() AT TIME ZONE 'utc')`;

/** The reporting node: the connection's peer id, else the one inside the message. */
const REPORTER = `COALESCE(pc.peer_id, s.logs->'state'->>'peerId')`;

export interface PickedState {
  reporting_peer: string;
  ts: string;
  /** `logs.state.peerset` of the picked network state, as JSON text (null if absent). */
  peerset: string | null;
}

/**
 * For each reporting peer after `after` (ascending bytewise, at most `limit`), its newest network state younger than
 * `maxAgeS`. Candidates come from the partial index substrate_logs_network_state_idx; only the picked
 * state of each reporter is detoasted, and only its peerset is converted to text.
 */
export async function newestNetworkStates(db: Queryable, query: { maxAgeS: number; limit: number; after?: string }): Promise<PickedState[]> {
  const result = await db.query<PickedState>(
    `SELECT reporting_peer, ts, (logs->'state'->'peerset')::text AS peerset FROM (
       SELECT DISTINCT ON (reporting_peer) reporting_peer, ts, logs FROM (
         SELECT ${REPORTER} COLLATE "C" AS reporting_peer, s.created_at AS ts, s.logs
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
  ts: string;
  /** JSON array of the peer's entries in the state's sets (one for the older shape), as text. */
  entries: string;
}

/**
 * The entries of one remote peer in the newest `limit` network states of the window that contain it,
 * ordered by reporter then time (as the reference did). The states are read newest first along
 * substrate_logs_network_state_idx and the scan stops after `limit` matches; each state is detoasted
 * once, and only the peer's own entries leave the database.
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
  const result = await withOrderedScans(db, () =>
    db.query<PeerHistoryRow>(
      `SELECT COALESCE(pc.peer_id, m.state_peer) AS reporting_peer, m.ts, m.entries::text AS entries FROM (
         SELECT c.* FROM (
           SELECT s.peer_connection_id, s.created_at AS ts, st.state->>'peerId' AS state_peer,
                  (SELECT jsonb_agg(v) FROM (
                     SELECT st.state->'peerset'->'nodes'->($1::text) AS v
                     UNION ALL
                     SELECT x->'nodes'->($1::text)
                       FROM jsonb_array_elements(CASE WHEN jsonb_typeof(st.state->'peerset'->'sets') = 'array' THEN st.state->'peerset'->'sets' ELSE '[]'::jsonb END) x
                   ) found WHERE v IS NOT NULL) AS entries
             FROM substrate_logs s
            CROSS JOIN LATERAL (SELECT s.logs->'state' AS state OFFSET 0) st
            WHERE ${conditions.join(' AND ')}
            ORDER BY s.created_at DESC
           OFFSET 0
         ) c
         WHERE c.entries IS NOT NULL
         LIMIT $2
       ) m
       JOIN peer_connections pc ON pc.id = m.peer_connection_id
       WHERE COALESCE(pc.peer_id, m.state_peer) IS NOT NULL
       ORDER BY 1, 2`,
      params,
    ),
  );
  return result.rows;
}
