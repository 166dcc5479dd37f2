// All SQL of `peer_connections`: one row per node connection (per envelope id on a socket). Written by
// ingestion (first message, identity, liveness, disconnection), read by the query API (the node list).
import type { Queryable } from './database.js';
import { readPage, type Page } from './query-runner.js';
import type { Identity } from '../domain/identity.js';

export interface NewConnection {
  ipAddr: string;
  audit: boolean;
  envelopeId: string | null;
  /** What the node told about itself so far (none when omitted). */
  identity?: Identity;
  /** The connection has already ended. */
  disconnected?: boolean;
  /** When the node connected (naive UTC); the insert's own time when omitted. */
  connectedAt?: string;
}

const NOW_UTC = `(now() AT TIME ZONE 'utc')`;

/** The identity columns' parameters, in the order peer_id, name, chain, version, authority, startup_time, implementation, genesis_hash. */
function identityParams(i: Identity): Array<string | boolean | null> {
  return [i.peerId ?? null, i.name ?? null, i.chain ?? null, i.version ?? null, i.authority ?? null, i.startupTime ?? null, i.implementation ?? null, i.genesisHash ?? null];
}

/** Creates a connection's row, with whatever is known of the node already (one statement). */
export async function insertConnection(db: Queryable, connection: NewConnection): Promise<number> {
  const i = connection.identity ?? {};
  const result = await db.query<{ id: number }>(
    `INSERT INTO peer_connections (ip_addr, audit, envelope_id, peer_id, name, chain, version, authority, startup_time, implementation, genesis_hash, last_seen, disconnected_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::bigint, $10, $11, ${NOW_UTC}, CASE WHEN $12 THEN ${NOW_UTC} END, COALESCE($13::timestamp, ${NOW_UTC}))
     RETURNING id`,
    [connection.ipAddr, connection.audit, connection.envelopeId, ...identityParams(i), connection.disconnected ?? false, connection.connectedAt ?? null],
  );
  return result.rows[0].id;
}

export interface ConnectionUpdate {
  id: number;
  identity: Identity;
  envelopeId: string | null;
  disconnected: boolean;
}

/** Writes what a node told about itself; fields it did not send keep their value. */
export async function updateConnection(db: Queryable, update: ConnectionUpdate): Promise<void> {
  const i = update.identity;
  await db.query(
    `UPDATE peer_connections SET
       peer_id = COALESCE($2, peer_id), name = COALESCE($3, name), chain = COALESCE($4, chain),
       version = COALESCE($5, version), authority = COALESCE($6, authority),
       startup_time = COALESCE($7::bigint, startup_time), implementation = COALESCE($8, implementation),
       genesis_hash = COALESCE($9, genesis_hash), envelope_id = COALESCE($10::numeric, envelope_id),
       disconnected_at = CASE WHEN $11 THEN COALESCE(disconnected_at, ${NOW_UTC}) ELSE disconnected_at END,
       last_seen = CASE WHEN $11 THEN last_seen ELSE ${NOW_UTC} END
     WHERE id = $1`,
    [update.id, ...identityParams(i), update.envelopeId, update.disconnected],
  );
}

/** Marks the given connections as alive now; `/nodes` derives `connected` from it. */
export async function touchConnections(db: Queryable, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(`UPDATE peer_connections SET last_seen = ${NOW_UTC} WHERE id = ANY($1::int[])`, [ids]);
}

/**
 * Deletes the closed, non-audit connections that disconnected before `closedBefore` (the purge's cutoff)
 * and have no message left. Only connections closed within the purged time range are examined: one that
 * closed later still has messages, or is examined by a later purge. The probe is a subquery with LIMIT 1
 * so that it stops at the first message of each connection (index-only, one partition after another);
 * as NOT EXISTS the planner made it an anti join whose bitmap scans read every message of a connection
 * in the first partition holding any (12 s instead of milliseconds on 10 M rows, bench/purge.ts).
 */
export async function deleteOrphanConnections(db: Queryable, closedBefore: string): Promise<number> {
  const result = await db.query(
    `DELETE FROM peer_connections pc
      WHERE NOT pc.audit AND pc.disconnected_at < $1
        AND (SELECT 1 FROM substrate_logs_expiring s WHERE s.peer_connection_id = pc.id LIMIT 1) IS NULL`,
    [closedBefore],
  );
  return result.rowCount;
}

// Reads for the query API.
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
  /** Only nodes with a connection open at this instant (naive UTC text); the entry is the latest such connection. */
  at?: string;
}

/** Where a page of nodes starts: after this peer id, or (past every named node) after this nameless connection. */
export type NodesAfter = { peerId: string } | { anonymousId: number };

export interface NodesPage {
  limit: number;
  maxBytes: number;
  after?: NodesAfter;
}

const COLUMNS = 'id, ip_addr, peer_id, created_at, audit, name, chain, version, authority, startup_time, implementation';
const LIVE = `(disconnected_at IS NULL AND last_seen > ${NOW_UTC} - make_interval(secs => $3))`;
/**
 * Open at $4: opened at or before it and ended after it. A connection ends at disconnected_at; an open one
 * lasts until now while its server refreshes it, else until its last_seen (its server stopped).
 */
const OPEN_AT = `($4::timestamp IS NULL OR (created_at <= $4 AND
  CASE WHEN disconnected_at IS NOT NULL THEN disconnected_at WHEN ${LIVE} THEN ${NOW_UTC} ELSE COALESCE(last_seen, created_at) END > $4))`;

/**
 * One row per node (peer id): its latest connection row, with `connected` true when any of its connections
 * is open on a live server and `last_seen` the latest sign of life over all of them. Connections that never
 * told a peer id are listed one by one after the others (never collapsed into one). With `at`, only the
 * nodes with a connection open then, each as its latest such connection (`connected`, `last_seen`: now).
 * One page: `page.limit` rows and about `page.maxBytes` at most, after `page.after` (keyset: peer id, then
 * nameless connection id).
 */
export async function listNodes(db: Queryable, filters: NodeFilters, page: NodesPage): Promise<Page<NodeRow>> {
  const after = page.after;
  const afterPeer = after !== undefined && 'peerId' in after ? after.peerId : null;
  const afterAnonymous = after !== undefined && 'anonymousId' in after ? after.anonymousId : null;
  return readPage<NodeRow>(
    db,
    `WITH pc AS MATERIALIZED (
       SELECT ${COLUMNS}, ${LIVE} AS live, GREATEST(last_seen, disconnected_at) AS seen, ${OPEN_AT} AS open_at
         FROM peer_connections
        WHERE ($1::varchar IS NULL OR chain = $1) AND ($2::boolean IS NULL OR audit = $2)
          AND ($5::varchar IS NULL OR peer_id > $5 OR peer_id IS NULL)
          AND ($6::int IS NULL OR (peer_id IS NULL AND id > $6))
     ), latest AS (
       SELECT DISTINCT ON (peer_id) ${COLUMNS} FROM pc WHERE peer_id IS NOT NULL AND open_at ORDER BY peer_id, created_at DESC, id DESC
     ), liveness AS (
       SELECT peer_id, bool_or(live) AS connected, max(seen) AS last_seen FROM pc WHERE peer_id IS NOT NULL GROUP BY peer_id
     )
     SELECT l.*, v.connected, v.last_seen FROM latest l JOIN liveness v USING (peer_id)
     UNION ALL
     SELECT ${COLUMNS}, live, seen FROM pc WHERE peer_id IS NULL AND open_at
     ORDER BY peer_id NULLS LAST, id
     LIMIT $7`,
    [filters.chain ?? null, filters.audit ?? null, filters.connectedWindowS, filters.at ?? null, afterPeer, afterAnonymous, page.limit + 1],
    page,
  );
}
