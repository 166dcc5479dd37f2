// All SQL of `substrate_logs` but partitions (partitions.ts) and network-state reputation (reputation.ts):
// the COPY text encoding of a batch and its exactly-once write (ingestion); messages per type, recent
// messages of a node and the profiling targets of a benchmarked node (query API); the feed cache's refresh
// and the message counts of connected nodes (/feed/rates).
import type { Database, Queryable, Transaction } from './database.js';
import { withOrderedScans, readPage, type Page, type PageOptions } from './query-runner.js';
import { recordBatch } from './ingest-batches.js';
import { toDbTimestamp } from '../domain/time.js';

export const LOG_COLUMNS = ['created_at', 'logs', 'peer_connection_id', 'audit'] as const;

export interface LogRow {
  createdAt: string;
  logs: string;
  peerConnectionId: number;
  audit: boolean;
}

const COPY_SPECIAL_ALL = /[\\\n\r\t]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Escapes a value for COPY's text format (backslash, and whitespace that would end a field or row). */
export function copyEscape(value: string): string {
  // Four single-character searches (memchr speed) instead of a character-class regex: 20× faster on a
  // 350 KB network state, 3–4× on a 200-byte message; most messages need no escaping at all.
  const special = value.indexOf('\\') >= 0 || value.indexOf('\n') >= 0 || value.indexOf('\r') >= 0 || value.indexOf('\t') >= 0;
  return special ? value.replace(COPY_SPECIAL_ALL, (c) => COPY_ESCAPES[c]) : value;
}

export function encodeCopyRows(rows: readonly LogRow[]): string {
  let payload = '';
  for (const row of rows) {
    payload += `${row.createdAt}\t${copyEscape(row.logs)}\t${row.peerConnectionId}\t${row.audit ? 't' : 'f'}\n`;
  }
  return payload;
}

export async function copyLogs(db: Database, rows: readonly LogRow[]): Promise<number> {
  return db.copyText('substrate_logs', LOG_COLUMNS, encodeCopyRows(rows));
}

/**
 * COPYs the rows and records `batchId` in the same transaction (see ingest-batches.ts); `alsoInTransaction`
 * writes what was derived from the rows (network analytics) in that transaction too.
 */
export async function copyLogsOnce(db: Database, batchId: string, rows: readonly LogRow[], alsoInTransaction?: (tx: Transaction) => Promise<void>): Promise<number> {
  const payload = encodeCopyRows(rows);
  return db.transaction(async (tx) => {
    const copied = await tx.copyText('substrate_logs', LOG_COLUMNS, payload);
    if (alsoInTransaction) await alsoInTransaction(tx);
    await recordBatch(tx, batchId, copied);
    return copied;
  });
}

// Reads for the query API.
export interface LogStatRow {
  qty: number;
  log_type: string | null;
}

/**
 * Messages per type over every connection of a peer (audit or not, any age). Served by
 * substrate_logs_peer_msg_created_idx (index-only scan per connection and partition).
 */
export async function logStats(db: Queryable, peerId: string): Promise<LogStatRow[]> {
  const result = await db.query<LogStatRow>(
    `SELECT count(*)::int8 AS qty, s.msg AS log_type
       FROM peer_connections pc JOIN substrate_logs s ON s.peer_connection_id = pc.id
      WHERE pc.peer_id = $1
      GROUP BY s.msg
      ORDER BY s.msg NULLS LAST`,
    [peerId],
  );
  return result.rows;
}

export interface LogQuery {
  peerId: string;
  msg?: string;
  target?: string;
  /** Exclusive bounds, naive UTC text; `end` null means now. */
  start?: string;
  end?: string;
  /** Continue after this message (the last one of the previous page), in (created_at, id) order. */
  after?: { createdAt: string; id: number };
  limit: number;
  /** Stop adding messages once their text reaches this many bytes (API_MAX_RESPONSE_BYTES). */
  maxBytes: number;
}

export interface LogMessageRow {
  ip_addr: string;
  peer_id: string;
  msg: string | null;
  created_at: string;
  /** substrate_logs.id: with created_at, the place of the message in the answer's order. */
  id: number | string;
  /** The stored JSON document, as text. */
  logs: string;
}

/**
 * The newest messages of a peer, newest first (ties by id), one page: at most `limit` messages and about
 * `maxBytes` of text, after `after` when given. For each of its connections, the newest rows come from a
 * backward scan of (peer_connection_id, msg, created_at) when `msg` is given, else of
 * (peer_connection_id, created_at) (migration 003), merged across partitions; then the newest overall.
 * `logs` is converted to text only for the rows fetched (readPage). The plan is kept to ordered scans
 * (see withOrderedScans): a `target` or `msg` filter on a node with 100,000 messages would otherwise be
 * estimated at a handful of rows and answered by reading all of them.
 */
export async function recentLogs(db: Queryable, query: LogQuery): Promise<Page<LogMessageRow>> {
  const params: unknown[] = [query.peerId, query.limit + 1];
  const conditions = ['s.peer_connection_id = pc.id'];
  const bind = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (query.start !== undefined) conditions.push(`s.created_at > ${bind(query.start)}::timestamp`);
  conditions.push(query.end !== undefined ? `s.created_at < ${bind(query.end)}::timestamp` : `s.created_at < (now() AT TIME ZONE 'utc')`);
  if (query.after !== undefined) {
    // created_at alone bounds the index scan; the id only breaks ties at the boundary.
    const at = bind(query.after.createdAt);
    conditions.push(`s.created_at <= ${at}::timestamp AND (s.created_at < ${at}::timestamp OR s.id < ${bind(query.after.id)}::bigint)`);
  }
  if (query.msg !== undefined) conditions.push(`s.msg = ${bind(query.msg)}`);
  if (query.target !== undefined) conditions.push(`s.logs->>'target' = ${bind(query.target)}`);
  return withOrderedScans(db, () =>
    readPage<LogMessageRow>(
      db,
      `SELECT ip_addr, peer_id, msg, created_at, id, logs::text AS logs FROM (
         SELECT pc.ip_addr, pc.peer_id, l.msg, l.created_at, l.id, l.logs
           FROM peer_connections pc
          CROSS JOIN LATERAL (
            SELECT s.id, s.msg, s.created_at, s.logs FROM substrate_logs s
             WHERE ${conditions.join(' AND ')}
             ORDER BY s.created_at DESC, s.id DESC
             LIMIT $2
          ) l
          WHERE pc.peer_id = $1
          ORDER BY l.created_at DESC, l.id DESC
          LIMIT $2
       ) newest
       ORDER BY created_at DESC, id DESC`,
      params,
      { limit: query.limit, maxBytes: query.maxBytes },
    ),
  );
}

/** Distinct non-null `target` values over every message of a peer, ascending; one page, after `after` when given. */
export async function targetsOfPeer(db: Queryable, peerId: string, page: PageOptions & { after?: string }): Promise<Page<{ target: string }>> {
  return readPage<{ target: string }>(
    db,
    `SELECT DISTINCT s.logs->>'target' AS target
       FROM peer_connections pc JOIN substrate_logs s ON s.peer_connection_id = pc.id
      WHERE pc.peer_id = $1 AND s.logs ? 'target' AND s.logs->>'target' IS NOT NULL
        AND ($2::text IS NULL OR s.logs->>'target' > $2)
      ORDER BY 1
      LIMIT $3`,
    [peerId, page.after ?? null, page.limit + 1],
    page,
  );
}

// ---- The feed (src/feed/)

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

/**
 * Messages per type of every connected node (docs/decisions.md#disconnections-recorded: no disconnected_at,
 * last_seen refreshed within `connectedWindowS`) stored at or after `sinceUs`, through the
 * (peer_connection_id, created_at) index.
 */
export async function messageCountsOfConnectedNodes(db: Queryable, sinceUs: number, connectedWindowS: number): Promise<Array<{ peer_id: string; msg: string | null; n: number }>> {
  const result = await db.query<{ peer_id: string; msg: string | null; n: number }>(
    `SELECT pc.peer_id, l.msg, count(*)::int AS n
       FROM peer_connections pc
       JOIN substrate_logs l ON l.peer_connection_id = pc.id AND l.created_at >= $1::timestamp
      WHERE pc.peer_id IS NOT NULL AND pc.disconnected_at IS NULL
        AND pc.last_seen >= (now() AT TIME ZONE 'utc') - make_interval(secs => $2)
      GROUP BY pc.peer_id, l.msg`,
    [toDbTimestamp(sinceUs), connectedWindowS],
  );
  return result.rows;
}
