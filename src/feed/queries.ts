// The SQL of the feed: the one query a cache refresh runs for a (peer_id, msg) key.
import type { Queryable } from '../storage/database.js';
import { toDbTimestamp } from '../domain/time.js';

export interface FeedRow {
  id: number | string;
  created_at: string;
  /** The stored message minus ts, id, msg, level and line, as JSON text. */
  data: string;
}

/**
 * The newest `limit` rows of every connection of `peerId` with this `msg`, stored at or after `sinceUs`,
 * except the ids already held. Newest first, so that a capped cache gets the rows it keeps.
 * Served by the (peer_connection_id, msg, created_at) index and partition pruning on created_at.
 */
export async function selectFeedRows(db: Queryable, peerId: string, msg: string, sinceUs: number, exceptIds: readonly number[], limit: number): Promise<FeedRow[]> {
  const result = await db.query<FeedRow>(
    `SELECT l.id, l.created_at, (l.logs - '{ts,id,msg,level,line}'::text[])::text AS data
       FROM substrate_logs l
      WHERE l.peer_connection_id = ANY (ARRAY(SELECT pc.id FROM peer_connections pc WHERE pc.peer_id = $1))
        AND l.msg = $2
        AND l.created_at >= $3::timestamp
        AND l.id <> ALL ($4::bigint[])
      ORDER BY l.created_at DESC, l.id DESC
      LIMIT $5`,
    [peerId, msg, toDbTimestamp(sinceUs), exceptIds, limit],
  );
  return result.rows;
}
