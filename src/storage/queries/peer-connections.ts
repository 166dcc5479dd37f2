// Reads of peer_connections for the query API: the node list.
import type { Queryable } from '../database.js';

export interface NodeRow {
  id: number;
  ip_addr: string;
  peer_id: string | null;
  created_at: string;
  audit: boolean;
  name: string | null;
  chain: string | null;
  version: string | null;
  authority: boolean | null;
  startup_time: number | string | null;
  implementation: string | null;
  connected: boolean;
  last_seen: string | null;
}

export interface NodeFilters {
  chain?: string;
  audit?: boolean;
  /** A connection counts as connected if its server refreshed last_seen within this many seconds. */
  connectedWindowS: number;
}

const COLUMNS = 'id, ip_addr, peer_id, created_at, audit, name, chain, version, authority, startup_time, implementation';
const LIVE = `(disconnected_at IS NULL AND last_seen > (now() AT TIME ZONE 'utc') - make_interval(secs => $3))`;

/**
 * One row per node (peer id): its latest connection row, with `connected` true when any of its connections
 * is open on a live server and `last_seen` the latest sign of life over all of them. Connections that never
 * told a peer id are listed one by one after the others (never collapsed into one).
 */
export async function listNodes(db: Queryable, filters: NodeFilters): Promise<NodeRow[]> {
  const result = await db.query<NodeRow>(
    `WITH pc AS MATERIALIZED (
       SELECT ${COLUMNS}, ${LIVE} AS live, GREATEST(last_seen, disconnected_at) AS seen
         FROM peer_connections
        WHERE ($1::varchar IS NULL OR chain = $1) AND ($2::boolean IS NULL OR audit = $2)
     ), latest AS (
       SELECT DISTINCT ON (peer_id) ${COLUMNS} FROM pc WHERE peer_id IS NOT NULL ORDER BY peer_id, created_at DESC, id DESC
     ), liveness AS (
       SELECT peer_id, bool_or(live) AS connected, max(seen) AS last_seen FROM pc WHERE peer_id IS NOT NULL GROUP BY peer_id
     )
     SELECT l.*, v.connected, v.last_seen FROM latest l JOIN liveness v USING (peer_id)
     UNION ALL
     SELECT ${COLUMNS}, live, seen FROM pc WHERE peer_id IS NULL
     ORDER BY peer_id NULLS LAST, id`,
    [filters.chain ?? null, filters.audit ?? null, filters.connectedWindowS],
  );
  return result.rows;
}
