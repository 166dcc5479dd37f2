// Time partitions of the expiring messages (substrate_logs_expiring): created ahead of the data, and
// dropped whole by the purge once expired. Audit messages live in substrate_logs_audit and are never
// touched. Timestamps outside the prepared ranges land in the DEFAULT partition.
import type { Database, Queryable } from './database.js';
import { purgeBatchMarkers } from './ingest-batches.js';

export const EXPIRING_PARENT = 'substrate_logs_expiring';
export const EXPIRING_DEFAULT = 'substrate_logs_expiring_default';
const PARTITION_LOCK_KEY = 7_305_002;
export const PURGE_LOCK_KEY = 7_305_003;
const HOUR_MS = 3_600_000;

export interface Partition {
  name: string;
  /** Naive UTC bounds: from inclusive, to exclusive. */
  from: string;
  to: string;
}

const BOUND = /FROM \('([^']+)'\) TO \('([^']+)'\)/;
const SAFE_TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

/** Naive UTC text (second precision) of an epoch-milliseconds instant. */
export function utcText(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

function epochMs(text: string): number {
  return Date.parse(`${text.replace(' ', 'T')}Z`);
}

export async function listPartitions(db: Queryable): Promise<Partition[]> {
  const result = await db.query<{ name: string; bound: string }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = $1::regclass`,
    [EXPIRING_PARENT],
  );
  const partitions: Partition[] = [];
  for (const row of result.rows) {
    const m = BOUND.exec(row.bound);
    if (m) partitions.push({ name: row.name, from: m[1], to: m[2] });
  }
  return partitions.sort((a, b) => epochMs(a.from) - epochMs(b.from));
}

export function partitionName(fromMs: number, intervalH: number): string {
  const iso = new Date(fromMs).toISOString();
  const day = iso.slice(0, 10).replaceAll('-', '');
  return intervalH % 24 === 0 ? `substrate_logs_p${day}` : `substrate_logs_p${day}_${iso.slice(11, 13)}`;
}

/**
 * Creates the partitions covering [now - 1 interval, now + ahead intervals) that do not exist yet.
 * Rows that already landed in the DEFAULT partition for such a range are moved into the new partition.
 */
export async function ensurePartitions(db: Database, nowMs: number, intervalH: number, ahead: number): Promise<string[]> {
  const intervalMs = intervalH * HOUR_MS;
  const start = Math.floor(nowMs / intervalMs) * intervalMs;
  const created: string[] = [];
  for (let k = -1; k <= ahead; k++) {
    const from = start + k * intervalMs;
    const to = from + intervalMs;
    if (await createPartition(db, from, to, intervalH)) created.push(partitionName(from, intervalH));
  }
  return created;
}

async function createPartition(db: Database, fromMs: number, toMs: number, intervalH: number): Promise<boolean> {
  const from = utcText(fromMs);
  const to = utcText(toMs);
  const name = partitionName(fromMs, intervalH);
  // DDL takes no bind parameters; these literals are produced here from numbers, never from input.
  if (!SAFE_TIMESTAMP.test(from) || !SAFE_TIMESTAMP.test(to) || !/^substrate_logs_p[0-9_]+$/.test(name)) throw new Error(`bad partition bounds ${from}..${to}`);
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK_KEY]);
    const overlapping = (await listPartitions(tx)).some((p) => epochMs(p.from) < toMs && epochMs(p.to) > fromMs);
    if (overlapping) return false;
    await tx.exec(`
      SET LOCAL lock_timeout = '10s';
      CREATE TEMP TABLE partition_moving ON COMMIT DROP AS
        WITH moved AS (
          DELETE FROM ${EXPIRING_DEFAULT} WHERE created_at >= '${from}' AND created_at < '${to}'
          RETURNING id, created_at, logs, peer_connection_id, audit)
        SELECT * FROM moved;
      CREATE TABLE ${name} PARTITION OF ${EXPIRING_PARENT} FOR VALUES FROM ('${from}') TO ('${to}');
      INSERT INTO substrate_logs (id, created_at, logs, peer_connection_id, audit) SELECT * FROM partition_moving;
    `);
    return true;
  });
}

export interface PurgeResult {
  /** False when another instance holds the purge lock. */
  ran: boolean;
  partitionsDropped: string[];
  /** Rows deleted from the partition holding the cutoff. */
  boundaryRowsDeleted: number;
  /** Rows deleted from the DEFAULT partition (timestamps outside the prepared ranges). */
  defaultRowsDeleted: number;
  connectionsDeleted: number;
}

/**
 * Removes expiring messages older than `cutoffMs`: whole partitions are dropped, then one boundary delete in
 * the partition holding the cutoff and one in the DEFAULT partition. Finally, closed non-audit connections
 * older than the cutoff with no messages left are removed. One instance at a time (advisory lock).
 */
export async function purgeExpired(db: Database, cutoffMs: number): Promise<PurgeResult> {
  const cutoff = utcText(cutoffMs);
  const result: PurgeResult = { ran: false, partitionsDropped: [], boundaryRowsDeleted: 0, defaultRowsDeleted: 0, connectionsDeleted: 0 };
  return db.session(async (session) => {
    const lock = await session.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [PURGE_LOCK_KEY]);
    if (!lock.rows[0].locked) return result;
    result.ran = true;
    try {
      await session.query(`SET lock_timeout = '5s'`);
      for (const partition of await listPartitions(session)) {
        if (epochMs(partition.to) <= cutoffMs) {
          await session.exec(`DROP TABLE IF EXISTS ${partition.name}`);
          result.partitionsDropped.push(partition.name);
        } else if (epochMs(partition.from) < cutoffMs) {
          const deleted = await session.query(`DELETE FROM ${partition.name} WHERE created_at < $1`, [cutoff]);
          result.boundaryRowsDeleted += deleted.rowCount;
        }
      }
      const fromDefault = await session.query(`DELETE FROM ${EXPIRING_DEFAULT} WHERE created_at < $1`, [cutoff]);
      result.defaultRowsDeleted = fromDefault.rowCount;
      const orphans = await session.query(
        `DELETE FROM peer_connections pc
          WHERE NOT pc.audit AND pc.disconnected_at IS NOT NULL AND pc.disconnected_at < $1
            AND NOT EXISTS (SELECT 1 FROM substrate_logs s WHERE s.peer_connection_id = pc.id)`,
        [cutoff],
      );
      result.connectionsDeleted = orphans.rowCount;
      await purgeBatchMarkers(session, utcText(Date.now() - 24 * HOUR_MS));
      return result;
    } finally {
      await session.query(`SET lock_timeout = 0`);
      await session.query('SELECT pg_advisory_unlock($1)', [PURGE_LOCK_KEY]);
    }
  });
}
