// The time partitions of the expiring messages (substrate_logs_expiring) and every statement that changes
// them. They tile time with no gap and no DEFAULT partition: substrate_logs_before_<t> from MINVALUE to t,
// then one partition per interval up to the ones prepared ahead. New partitions are attached (a SHARE UPDATE
// EXCLUSIVE lock on the parent: writers and readers go on), expired ones detached concurrently and dropped,
// so no statement here ever takes a lock that writers would queue behind. Design: docs/retention.md.
import type { Database, Queryable, Transaction } from './database.js';
import { utcText, utcTextToEpochMs } from '../domain/time.js';
import { PARTITION_LOCK_KEY, PURGE_LOCK_KEY } from './locks.js';

export const EXPIRING_PARENT = 'substrate_logs_expiring';
export const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Set on a partition before it is detached, so that a table left detached by a crash is known for what it is. */
const EXPIRED_MARK = 'tetcore-analytics: expired partition, dropped by the purge';
/** SQLSTATE lock_not_available: the statement gave up after lock_timeout. */
const LOCK_TIMEOUT = '55P03';

export interface Range {
  /** Epoch milliseconds; `fromMs` -Infinity stands for MINVALUE. From inclusive, to exclusive. */
  fromMs: number;
  toMs: number;
}

export interface Partition extends Range {
  name: string;
  /** A DETACH … CONCURRENTLY of it was interrupted: new queries no longer see it; FINALIZE completes it. */
  detachPending: boolean;
}

const BOUND = /FROM \((MINVALUE|'([^']+)')\) TO \('([^']+)'\)/;
const SAFE_NAME = /^substrate_logs_(p\d{8}(_\d{2})?|before_\d{8}_\d{2})$/;
const SAFE_TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

export function isLockTimeout(error: unknown): boolean {
  return (error as { code?: unknown })?.code === LOCK_TIMEOUT;
}

/** Attached partitions (including ones whose detach is pending), oldest first. */
export async function listPartitions(db: Queryable): Promise<Partition[]> {
  const result = await db.query<{ name: string; bound: string; pending: boolean }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound, i.inhdetachpending AS pending
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = $1::regclass`,
    [EXPIRING_PARENT],
  );
  const partitions: Partition[] = [];
  for (const row of result.rows) {
    const m = BOUND.exec(row.bound);
    if (!m) continue; // not made by this server (MAXVALUE bound, …): never touched
    partitions.push({ name: row.name, fromMs: m[1] === 'MINVALUE' ? -Infinity : utcTextToEpochMs(m[2]), toMs: utcTextToEpochMs(m[3]), detachPending: row.pending });
  }
  return partitions.sort((a, b) => a.fromMs - b.fromMs);
}

function stamp(ms: number, withHour: boolean): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10).replaceAll('-', '')}${withHour ? `_${iso.slice(11, 13)}` : ''}`;
}

/** substrate_logs_p<YYYYMMDD> for whole days from midnight, substrate_logs_p<YYYYMMDD_HH> otherwise; the MINVALUE one is substrate_logs_before_<YYYYMMDD_HH of its end>. */
export function partitionName(range: Range): string {
  if (range.fromMs === -Infinity) return `substrate_logs_before_${stamp(range.toMs, true)}`;
  const wholeDays = range.fromMs % DAY_MS === 0 && (range.toMs - range.fromMs) % DAY_MS === 0;
  return `substrate_logs_p${stamp(range.fromMs, !wholeDays)}`;
}

/**
 * The ranges to attach so that time is covered from the oldest partition up to the interval that holds
 * `nowMs + aheadMs`: the intervals from one before the current one are created one by one (aligned to the
 * epoch), a gap further back (the server was stopped) as one partition. Without any partition, the MINVALUE
 * one comes first. The gap below the oldest partition, left while a purge runs, is the purge's to close.
 */
export function plannedRanges(existing: readonly Range[], nowMs: number, intervalMs: number, aheadMs: number): Range[] {
  const start = Math.floor(nowMs / intervalMs) * intervalMs - intervalMs;
  const end = Math.floor((nowMs + aheadMs) / intervalMs) * intervalMs + intervalMs;
  const holes: Range[] = [];
  if (existing.length === 0) {
    holes.push({ fromMs: -Infinity, toMs: start }, { fromMs: start, toMs: end });
  } else {
    const sorted = [...existing].sort((a, b) => a.fromMs - b.fromMs);
    let reached = sorted[0].toMs;
    for (const p of sorted.slice(1)) {
      if (p.fromMs > reached) holes.push({ fromMs: reached, toMs: p.fromMs });
      reached = Math.max(reached, p.toMs);
    }
    if (reached < end) holes.push({ fromMs: reached, toMs: end });
  }
  const ranges: Range[] = [];
  for (const hole of holes) {
    const to = Math.min(hole.toMs, end);
    if (hole.fromMs >= to) continue;
    if (hole.fromMs < start) ranges.push({ fromMs: hole.fromMs, toMs: Math.min(to, start) });
    for (let from = Math.max(hole.fromMs, start); from < to; ) {
      const next = Math.min(to, Math.floor(from / intervalMs) * intervalMs + intervalMs);
      ranges.push({ fromMs: from, toMs: next });
      from = next;
    }
  }
  return ranges;
}

function boundsSql(range: Range): string {
  const from = range.fromMs === -Infinity ? null : utcText(range.fromMs);
  const to = utcText(range.toMs);
  // DDL takes no bind parameters; these literals are made here from numbers, never from input.
  if ((from !== null && !SAFE_TIMESTAMP.test(from)) || !SAFE_TIMESTAMP.test(to)) throw new Error(`bad partition bounds ${from}..${to}`);
  return `FROM (${from === null ? 'MINVALUE' : `'${from}'`}) TO ('${to}')`;
}

function checkedName(name: string): string {
  if (!SAFE_NAME.test(name)) throw new Error(`bad partition name ${name}`);
  return name;
}

function lockTimeoutSql(ms: number): string {
  if (!Number.isInteger(ms) || ms < 1) throw new Error(`bad lock timeout ${ms}`);
  return `'${ms}ms'`;
}

/**
 * Attaches a new, empty partition for `range`, unless a partition already overlaps it (another instance
 * made it, or the plan is stale): then returns null. The new table is created apart and attached, which
 * locks the parent in SHARE UPDATE EXCLUSIVE mode only (CREATE TABLE … PARTITION OF would take ACCESS
 * EXCLUSIVE); with no DEFAULT partition there is nothing to scan or move. Throws a lock timeout
 * (isLockTimeout) when the lock is not granted within `lockTimeoutMs`.
 */
export async function attachPartition(db: Database, range: Range, lockTimeoutMs: number): Promise<string | null> {
  const name = checkedName(partitionName(range));
  const bounds = boundsSql(range);
  return db.transaction(async (tx) => {
    await tx.exec(`SET LOCAL lock_timeout = ${lockTimeoutSql(lockTimeoutMs)}`);
    await tx.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK_KEY]);
    if ((await listPartitions(tx)).some((p) => p.fromMs < range.toMs && p.toMs > range.fromMs)) return null;
    await tx.exec(`
      CREATE TABLE ${name} (LIKE ${EXPIRING_PARENT} INCLUDING DEFAULTS INCLUDING GENERATED);
      ALTER TABLE ${EXPIRING_PARENT} ATTACH PARTITION ${name} FOR VALUES ${bounds};
    `);
    return name;
  });
}

/**
 * Creates the partitions `plannedRanges` asks for at `nowMs`: from one interval back to `ahead` intervals
 * ahead (and at least `minAheadMs` ahead). Returns the names created.
 */
export async function ensurePartitions(
  db: Database,
  nowMs: number,
  intervalH: number,
  ahead: number,
  options: { minAheadMs?: number; lockTimeoutMs?: number } = {},
): Promise<string[]> {
  const intervalMs = intervalH * HOUR_MS;
  const aheadMs = Math.max(ahead * intervalMs, options.minAheadMs ?? 0);
  const created: string[] = [];
  for (const range of plannedRanges(await listPartitions(db), nowMs, intervalMs, aheadMs)) {
    const name = await attachPartition(db, range, options.lockTimeoutMs ?? 5_000);
    if (name !== null) created.push(name);
  }
  return created;
}

/** The end of the partitions prepared ahead (the latest instant a message can be dated and stored), or null. */
export function coveredUntil(partitions: readonly Range[]): number | null {
  return partitions.length === 0 ? null : Math.max(...partitions.map((p) => p.toMs));
}

// The purge's statements. It runs them on one session that holds PURGE_LOCK_KEY (see purge/purger.ts).

export async function tryPurgeLock(session: Queryable): Promise<boolean> {
  return (await session.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [PURGE_LOCK_KEY])).rows[0].locked;
}

export async function releasePurgeLock(session: Queryable): Promise<void> {
  await session.query('SELECT pg_advisory_unlock($1)', [PURGE_LOCK_KEY]);
}

export interface Expired {
  /** Partition boundary: every partition ending at or before it goes, and nothing newer. */
  cutoffMs: number;
  /** Oldest first (the MINVALUE one first), so that what remains always covers time without a gap above its oldest partition. */
  partitions: Partition[];
}

/**
 * The partitions to purge when messages dated before `limitMs` are expired: those that end at or before
 * the latest partition boundary ≤ `limitMs`. The cutoff is thus rounded down to a boundary (a message lives
 * up to one interval longer than its expiry) and the purge drops partitions only, never deletes rows.
 * Null when nothing is due: a MINVALUE partition alone goes only when `beforeHasRows`.
 */
export function expiredPartitions(partitions: readonly Partition[], limitMs: number, beforeHasRows: boolean): Expired | null {
  const due = partitions.filter((p) => p.toMs <= limitMs).sort((a, b) => a.fromMs - b.fromMs);
  if (due.length === 0) return null;
  if (due.every((p) => p.fromMs === -Infinity && !p.detachPending) && !beforeHasRows) return null;
  return { cutoffMs: Math.max(...due.map((p) => p.toMs)), partitions: due };
}

export async function hasRows(db: Queryable, partition: Partition): Promise<boolean> {
  return (await db.query(`SELECT 1 FROM ${checkedName(partition.name)} LIMIT 1`)).rows.length > 0;
}

/**
 * One attempt at detaching an expired partition: DETACH … CONCURRENTLY, or FINALIZE when `pending` (a
 * previous attempt was interrupted). Its first transaction hides the partition from new queries (a message
 * dated in its range now finds no partition and is refused); it then waits for the transactions that may
 * still read it, and throws a lock timeout if they outlast the session's lock_timeout, leaving the detach
 * pending. Its locks (SHARE UPDATE EXCLUSIVE on the parent, ACCESS EXCLUSIVE on the partition nobody new can
 * see) never stop a writer or a reader.
 */
export async function detachPartition(session: Transaction, name: string, pending: boolean): Promise<void> {
  checkedName(name);
  if (!pending) {
    await session.exec(`COMMENT ON TABLE ${name} IS '${EXPIRED_MARK}'`);
    await session.exec(`ALTER TABLE ${EXPIRING_PARENT} DETACH PARTITION ${name} CONCURRENTLY`);
  } else {
    await session.exec(`ALTER TABLE ${EXPIRING_PARENT} DETACH PARTITION ${name} FINALIZE`);
  }
}

/** Where a partition is in its detach: still attached, detach pending, or detached (or gone). */
export async function detachState(session: Queryable, name: string): Promise<'attached' | 'pending' | 'detached'> {
  const result = await session.query<{ pending: boolean }>(
    `SELECT i.inhdetachpending AS pending FROM pg_inherits i WHERE i.inhrelid = to_regclass($1) AND i.inhparent = $2::regclass`,
    [checkedName(name), EXPIRING_PARENT],
  );
  if (result.rows.length === 0) return 'detached';
  return result.rows[0].pending ? 'pending' : 'attached';
}

/** Drops detached expired partitions, in one statement (one commit): their disk space is given back then. Nobody else can hold them. */
export async function dropDetached(session: Queryable, names: readonly string[]): Promise<void> {
  if (names.length > 0) await session.query(`DROP TABLE IF EXISTS ${names.map(checkedName).join(', ')}`);
}

/**
 * Session settings of the purge (null: back to the defaults). With `asyncCommit` its commits do not wait
 * for the disk: after a crash, a detach whose commit was lost is simply done again (a DROP's commit is
 * flushed by PostgreSQL anyway). Not for the embedded database, whose one session is the writer's too.
 */
export async function setPurgeSession(session: Transaction, lockTimeoutMs: number | null, asyncCommit: boolean): Promise<void> {
  if (lockTimeoutMs === null) await session.exec(`RESET lock_timeout${asyncCommit ? '; RESET synchronous_commit' : ''}`);
  else await session.exec(`SET lock_timeout = ${lockTimeoutSql(lockTimeoutMs)}${asyncCommit ? '; SET synchronous_commit = off' : ''}`);
}

/** Expired partitions already detached but not dropped (the server stopped in between). */
export async function leftoverDetached(session: Queryable): Promise<string[]> {
  const result = await session.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c
      WHERE c.relkind = 'r' AND NOT c.relispartition AND c.relnamespace = current_schema()::regnamespace
        AND obj_description(c.oid, 'pg_class') = $1
      ORDER BY c.relname`,
    [EXPIRED_MARK],
  );
  return result.rows.map((r) => r.name).filter((name) => SAFE_NAME.test(name));
}

/**
 * The MINVALUE partition to attach after a purge: up to the oldest partition left. Null when there is
 * nothing to close (one exists, no partition at all, or a detach is still pending below).
 */
export function gapBelow(partitions: readonly Partition[]): Range | null {
  if (partitions.length === 0 || partitions.some((p) => p.detachPending)) return null;
  const oldest = partitions.reduce((a, b) => (a.fromMs <= b.fromMs ? a : b));
  return oldest.fromMs === -Infinity ? null : { fromMs: -Infinity, toMs: oldest.fromMs };
}
