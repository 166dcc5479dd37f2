// All SQL of the bulk export (GET /export/logs, /export/blocks: docs/export.md). Messages on PostgreSQL: one
// cursor in the export's transaction, FETCHed a page at a time in storage order. Messages on the embedded
// database, and blocks on both: pages read by keyset, each one short statement that starts where the
// previous page ended (the embedded database runs one query at a time: ingestion goes on between pages).
// Either way an export holds one page in memory, and a client that goes away leaves no query running.
import type { Queryable } from './database.js';
import type { BlockFigures } from './analytics-read.js';

export interface LogExportFilter {
  peerId: string | null;
  chain: string | null;
  msg: string | null;
  /** Naive UTC text, [start, end). */
  start: string | null;
  end: string | null;
}

export interface ExportConnection {
  id: number;
  peer_id: string | null;
}

/** The next `limit` connections (id above `afterId`, ascending) of the filter's node and chain. */
export async function exportConnections(db: Queryable, filter: LogExportFilter, afterId: number, limit: number): Promise<ExportConnection[]> {
  const result = await db.query<ExportConnection>(
    `SELECT id, peer_id FROM peer_connections
      WHERE id > $1 AND ($2::text IS NULL OR peer_id = $2) AND ($3::text IS NULL OR chain = $3)
      ORDER BY id LIMIT $4`,
    [afterId, filter.peerId, filter.chain, limit],
  );
  return result.rows;
}

export interface LogCursor {
  connectionId: number;
  /** Naive UTC text of the last row's created_at (`-infinity` before the first row). */
  createdAt: string;
  id: number | string;
}

export interface ExportLogRow {
  id: number | string;
  peer_connection_id: number;
  created_at: string;
  msg: string | null;
  /** The message as stored (JSON text). */
  logs: string;
}

/**
 * The next `limit` messages of the given connections after `cursor`, in (connection, created_at, id)
 * order: an ordered walk of substrate_logs_peer_created_idx (or the msg index) in each partition.
 */
export async function exportLogsPage(db: Queryable, connectionIds: number[], filter: LogExportFilter, cursor: LogCursor, limit: number): Promise<ExportLogRow[]> {
  const result = await db.query<ExportLogRow>(
    `SELECT id, peer_connection_id, created_at, msg, logs::text AS logs FROM substrate_logs
      WHERE peer_connection_id = ANY($1::int4[])
        AND ($2::text IS NULL OR msg = $2) AND ($3::timestamp IS NULL OR created_at >= $3) AND ($4::timestamp IS NULL OR created_at < $4)
        AND (peer_connection_id, created_at) >= ($5::int4, $6::timestamp) AND (peer_connection_id, created_at, id) > ($5::int4, $6::timestamp, $7::int8)
      ORDER BY peer_connection_id, created_at, id
      LIMIT $8`,
    [connectionIds, filter.msg, filter.start, filter.end, cursor.connectionId, cursor.createdAt, cursor.id, limit],
  );
  return result.rows;
}

/** Rows of substrate_logs the filter selects (what a complete export writes), for tests and the benchmark. */
export async function countExportLogs(db: Queryable, filter: LogExportFilter): Promise<number> {
  const result = await db.query<{ n: string | number }>(
    `SELECT count(*) AS n FROM substrate_logs s JOIN peer_connections pc ON pc.id = s.peer_connection_id
      WHERE ($1::text IS NULL OR pc.peer_id = $1) AND ($2::text IS NULL OR pc.chain = $2) AND ($3::text IS NULL OR s.msg = $3)
        AND ($4::timestamp IS NULL OR s.created_at >= $4) AND ($5::timestamp IS NULL OR s.created_at < $5)`,
    [filter.peerId, filter.chain, filter.msg, filter.start, filter.end],
  );
  return Number(result.rows[0]?.n ?? 0);
}

export interface BlockExportFilter {
  chainId: number;
  minHeight: number | null;
  maxHeight: number | null;
  start: string | null;
  end: string | null;
}

/** A block's figures as the summary job stored them (the fields of `BlockFigures`, no arrival lists). */
export interface ExportBlockRow extends Omit<BlockFigures, 'arrival_connection_ids' | 'arrival_delays_ms'> {
  height: number | string;
  hash: string;
  first_seen_at: string;
  first_seen_peer_id: string;
}

/** The next `limit` blocks (every hash, forks included) of a chain after (height, hash), along the primary key. */
export async function exportBlocksPage(db: Queryable, filter: BlockExportFilter, after: { height: number | string; hash: string } | null, limit: number): Promise<ExportBlockRow[]> {
  const result = await db.query<ExportBlockRow>(
    `SELECT height, hash, first_seen_at, first_seen_peer_id, nodes_reported, propagation_arrivals,
            propagation_p50_ms, propagation_p90_ms, propagation_p99_ms, propagation_max_ms
       FROM blocks
      WHERE chain_id = $1 AND ($2::int8 IS NULL OR height >= $2) AND ($3::int8 IS NULL OR height <= $3)
        AND ($4::timestamp IS NULL OR first_seen_at >= $4) AND ($5::timestamp IS NULL OR first_seen_at < $5)
        AND ($6::int8 IS NULL OR (height, hash) > ($6, $7::text))
      ORDER BY height, hash
      LIMIT $8`,
    [filter.chainId, filter.minHeight, filter.maxHeight, filter.start, filter.end, after?.height ?? null, after?.hash ?? '', limit],
  );
  return result.rows;
}

export async function countExportBlocks(db: Queryable, filter: BlockExportFilter): Promise<number> {
  const result = await db.query<{ n: string | number }>(
    `SELECT count(*) AS n FROM blocks
      WHERE chain_id = $1 AND ($2::int8 IS NULL OR height >= $2) AND ($3::int8 IS NULL OR height <= $3)
        AND ($4::timestamp IS NULL OR first_seen_at >= $4) AND ($5::timestamp IS NULL OR first_seen_at < $5)`,
    [filter.chainId, filter.minHeight, filter.maxHeight, filter.start, filter.end],
  );
  return Number(result.rows[0]?.n ?? 0);
}

// ---------------------------------------------------------------------------------------------------
// PostgreSQL: one cursor per export

/** Name of the export's cursor (one per transaction). */
export const EXPORT_CURSOR = 'tetcore_export';

/**
 * The statement that declares the cursor of a log export on PostgreSQL: the filter's messages in storage
 * order (no ORDER BY: a sequential read of the partitions, as fast as PostgreSQL produces rows; an index
 * order would read one table page per row). Run inside a transaction, then FETCH from EXPORT_CURSOR.
 */
export function declareLogsCursor(filter: LogExportFilter): { sql: string; params: unknown[] } {
  return {
    sql: `DECLARE ${EXPORT_CURSOR} NO SCROLL CURSOR FOR
          SELECT pc.peer_id, s.created_at, s.msg, s.logs::text AS logs
            FROM substrate_logs s JOIN peer_connections pc ON pc.id = s.peer_connection_id
           WHERE ($1::text IS NULL OR pc.peer_id = $1) AND ($2::text IS NULL OR pc.chain = $2) AND ($3::text IS NULL OR s.msg = $3)
             AND ($4::timestamp IS NULL OR s.created_at >= $4) AND ($5::timestamp IS NULL OR s.created_at < $5)`,
    params: [filter.peerId, filter.chain, filter.msg, filter.start, filter.end],
  };
}

export interface CursorLogRow {
  peer_id: string | null;
  created_at: string;
  msg: string | null;
  logs: string;
}

export async function fetchFromCursor<T>(db: Queryable, rows: number): Promise<T[]> {
  return (await db.query<T>(`FETCH FORWARD ${Math.max(1, Math.floor(rows))} FROM ${EXPORT_CURSOR}`)).rows;
}
