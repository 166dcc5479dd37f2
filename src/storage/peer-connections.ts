// All SQL that writes `peer_connections`: one row per node connection (per envelope id on a socket).
import type { Queryable } from './database.js';
import type { Identity } from '../ingest/frame.js';

export interface NewConnection {
  ipAddr: string;
  audit: boolean;
  envelopeId: string | null;
}

const NOW_UTC = `(now() AT TIME ZONE 'utc')`;

export async function insertConnection(db: Queryable, connection: NewConnection): Promise<number> {
  const result = await db.query<{ id: number }>(
    `INSERT INTO peer_connections (ip_addr, audit, envelope_id, last_seen) VALUES ($1, $2, $3, ${NOW_UTC}) RETURNING id`,
    [connection.ipAddr, connection.audit, connection.envelopeId],
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
    [
      update.id,
      i.peerId ?? null,
      i.name ?? null,
      i.chain ?? null,
      i.version ?? null,
      i.authority ?? null,
      i.startupTime ?? null,
      i.implementation ?? null,
      i.genesisHash ?? null,
      update.envelopeId,
      update.disconnected,
    ],
  );
}

/** Marks the given connections as alive now; `/nodes` derives `connected` from it. */
export async function touchConnections(db: Queryable, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(`UPDATE peer_connections SET last_seen = ${NOW_UTC} WHERE id = ANY($1::int[])`, [ids]);
}

export async function markDisconnected(db: Queryable, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(`UPDATE peer_connections SET disconnected_at = ${NOW_UTC} WHERE id = ANY($1::int[]) AND disconnected_at IS NULL`, [ids]);
}
