// Benchmark 4 — purge: the server's Purger (src/purge/purger.ts) on many expired rows in hourly partitions.
// Measures (1) the wall time of a purge of --rows expired rows, with each statement timed, (2) how long a
// concurrent writer (COPY of small batches into the current partition, as the server's writer does) was
// held up during that purge and during a second purge that meets a reader holding substrate_logs for
// --hold-s seconds: the longest time its session waited for a lock (pg_stat_activity sampled every 5 ms,
// what a purge can cause) and its batch latencies (which also show the machine's load), (3) the disk space
// given back: at once by the purge, and by a plain DELETE of the same rows from an unpartitioned copy with
// the same indexes (how the reference purged), before and after VACUUM.
//
// The rows are generated in the database (INSERT … SELECT generate_series straight into each partition):
// the one place where not going through the writer is right.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { PostgresDatabase } from '../src/storage/postgres.js';
import type { Database, Transaction } from '../src/storage/database.js';
import { migrate } from '../src/storage/migrate.js';
import { ensurePartitions, partitionName, listPartitions } from '../src/storage/partitions.js';
import { utcText } from '../src/domain/time.js';
import { copyLogsOnce } from '../src/storage/substrate-logs.js';
import { Purger, type PurgeReport } from '../src/purge/purger.js';
import { createMetrics } from '../src/metrics/catalogue.js';
import { parseSettings } from '../src/config/settings.js';
import { createPostgresDatabase, connect, round } from './lib/db.js';
import { table, save, keyValues, sleep } from './lib/report.js';

export const PURGE_USAGE = `purge [--rows 10000000] [--hours 20] [--kept-hours 2] [--peers 100] [--hold-s 60] [--old-rows 2000000] [--no-delete]
  --rows N        expired rows, spread evenly over --hours hourly partitions, purged by the first purge
  --kept-hours H  hours of rows after the cutoff (same rate) that must be kept
  --hold-s S      second purge: one more expired partition, while a reader holds substrate_logs for S s
                  (0 skips it)
  --old-rows N    then: N rows dated 2020 in the MINVALUE partition, and partitions attached beside them
                  (the case that used to move rows out of the DEFAULT partition under a lock; 0 skips it)
  --no-delete     skip the reference (DELETE of the same rows from an unpartitioned copy)`;

const options = {
  rows: { type: 'string', default: '10000000' },
  hours: { type: 'string', default: '20' },
  'kept-hours': { type: 'string', default: '2' },
  peers: { type: 'string', default: '100' },
  'hold-s': { type: 'string', default: '60' },
  'old-rows': { type: 'string', default: '2000000' },
  'no-delete': { type: 'boolean', default: false },
} satisfies ParseArgsConfig['options'];

const HOUR = 3_600_000;
/** LOG_EXPIRY_H of the purges: rows older than the hour boundary at or below now − 2 h go. */
const EXPIRY_H = 2;

/** Stored shapes of a verbosity-0 mix (compact), cycled by row number; 1 in 30 is a small network state. */
const TEMPLATES = [
  { msg: 'system.interval', best: `0x${'a1'.repeat(32)}`, finalized_hash: `0x${'b2'.repeat(32)}`, finalized_height: 123456, height: 123458, txcount: 0, used_state_cache_size: 8376854 },
  { msg: 'system.interval', bandwidth_download: 18374, bandwidth_upload: 21973, peers: 25 },
  { msg: 'block.import', best: `0x${'c3'.repeat(32)}`, height: 123459, origin: 'NetworkBroadcast' },
  { msg: 'notify.finalized', best: `0x${'d4'.repeat(32)}`, height: '123457' },
];
const NETWORK_STATE = { msg: 'system.network_state', state: { peerId: '12D3KooWExample', connectedPeers: Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`12D3KooWPeer${i}`, { endpoint: { dialing: `/ip4/10.0.0.${i}/tcp/30333` }, knownAddresses: [`/ip4/10.0.0.${i}/tcp/30333`], latestPingTime: { nanos: 12345678, secs: 0 }, versionString: 'Tetcore Node/v2.1.2' }])) } };

function sqlText(value: unknown): string {
  return `'${JSON.stringify(value).replaceAll("'", "''")}'`;
}

interface WriterStats {
  batches: number;
  medianMs: number;
  p99Ms: number;
  maxMs: number;
}

/** Small batches into the current partition, back to back: how long was a writer held up? */
function concurrentWriter(db: PostgresDatabase, connectionId: number) {
  const latencies: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const rows = Array.from({ length: 100 }, (_, i) => ({ createdAt: utcText(Date.now()), logs: JSON.stringify({ ...TEMPLATES[i % 4], ts: new Date().toISOString() }), peerConnectionId: connectionId, audit: false }));
      const t0 = performance.now();
      await copyLogsOnce(db, randomUUID(), rows);
      latencies.push(performance.now() - t0);
      await sleep(10);
    }
  })();
  return {
    async stop(): Promise<WriterStats> {
      running = false;
      await loop;
      const sorted = [...latencies].sort((a, b) => a - b);
      const pick = (q: number) => round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? NaN, 1);
      return { batches: sorted.length, medianMs: pick(0.5), p99Ms: pick(0.99), maxMs: round(sorted[sorted.length - 1] ?? NaN, 1) };
    },
  };
}

interface Timed {
  sql: string;
  /** performance.now() at its start. */
  at: number;
  ms: number;
  rows: number;
}

/** The database with every statement run through session() timed (the purge runs on one session). */
function timed(db: PostgresDatabase, log: Timed[]): Database {
  const wrap = (tx: Transaction): Transaction => ({
    query: (async (sql: string, params?: unknown[]) => {
      const t0 = performance.now();
      try {
        const r = await tx.query(sql, params);
        log.push({ sql, at: t0, ms: performance.now() - t0, rows: r.rowCount });
        return r;
      } catch (error) {
        log.push({ sql: `${sql} [${(error as { code?: string }).code ?? 'error'}]`, at: t0, ms: performance.now() - t0, rows: 0 });
        throw error;
      }
    }) as Transaction['query'],
    async exec(script) {
      const t0 = performance.now();
      try {
        await tx.exec(script);
        log.push({ sql: script, at: t0, ms: performance.now() - t0, rows: 0 });
      } catch (error) {
        log.push({ sql: `${script} [${(error as { code?: string }).code ?? 'error'}]`, at: t0, ms: performance.now() - t0, rows: 0 });
        throw error;
      }
    },
    copyText: (t, c, p) => tx.copyText(t, c, p),
  });
  return Object.assign(Object.create(db) as PostgresDatabase, { session: <T>(fn: (s: Transaction) => Promise<T>) => db.session((s) => fn(wrap(s))) });
}

/** Statements grouped by kind (partition names folded), with total time. */
function summariseStatements(log: Timed[]) {
  const groups = new Map<string, { statement: string; count: number; totalMs: number; maxMs: number; rows: number }>();
  for (const entry of log) {
    const statement = entry.sql.replace(/\s+/g, ' ').replace(/substrate_logs_(p\d{8}(_\d{2})?|before_\d{8}_\d{2})/g, 'substrate_logs_p…').slice(0, 100);
    const g = groups.get(statement) ?? { statement, count: 0, totalMs: 0, maxMs: 0, rows: 0 };
    g.count++;
    g.totalMs += entry.ms;
    g.maxMs = Math.max(g.maxMs, entry.ms);
    g.rows += entry.rows;
    groups.set(statement, g);
  }
  return [...groups.values()].map((g) => ({ ...g, totalMs: round(g.totalMs, 1), maxMs: round(g.maxMs, 1) })).sort((a, b) => b.totalMs - a.totalMs);
}

const phaseOf = (sql: string) => (/DETACH|COMMENT ON/.test(sql) ? 'detach' : /^DROP TABLE/.test(sql.trim()) ? 'drop' : /peer_connections/.test(sql) ? 'orphan connections' : 'other');

function phases(log: Timed[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const entry of log) out[phaseOf(entry.sql)] = round((out[phaseOf(entry.sql)] ?? 0) + entry.ms, 1);
  return out;
}

/** When, after `start`, the last statement of a phase ended: the expired rows were invisible (detach), their disk space back (drop). */
function milestones(log: Timed[], start: number): Record<string, number> {
  const end = (phase: string) => round(Math.max(0, ...log.filter((e) => phaseOf(e.sql) === phase).map((e) => e.at + e.ms - start)), 0);
  return { 'expired rows invisible to queries (ms)': end('detach'), 'disk space given back (ms)': end('drop') };
}

/**
 * Samples pg_stat_activity every few ms: the longest time a writer's session waited for a heavyweight
 * lock (what a purge holding or queueing a lock would cause), and the total.
 */
function writerLockWaits(client: pg.Client, applicationName: string) {
  let running = true;
  const since = new Map<number, number>();
  let longest = 0;
  let samples = 0;
  let waitingSamples = 0;
  const loop = (async () => {
    while (running) {
      const r = await client.query<{ pid: number; wait: string | null }>(`SELECT pid, wait_event_type AS wait FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'`, [applicationName]);
      const now = performance.now();
      const waiting = new Set(r.rows.filter((row) => row.wait === 'Lock').map((row) => row.pid));
      samples++;
      if (waiting.size > 0) waitingSamples++;
      for (const pid of waiting) if (!since.has(pid)) since.set(pid, now);
      for (const [pid, t] of since) {
        longest = Math.max(longest, now - t);
        if (!waiting.has(pid)) since.delete(pid);
      }
      await sleep(5);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { samples, samplesWithAWriterWaitingForALock: waitingSamples, longestLockWaitMs: round(longest, 0) };
    },
  };
}

async function bytesOf(client: pg.Client, where: string, params: unknown[] = []): Promise<number> {
  const r = await client.query<{ bytes: string | null }>(`SELECT sum(pg_total_relation_size(c.oid))::int8 AS bytes FROM pg_class c WHERE ${where}`, params);
  return Number(r.rows[0].bytes ?? 0);
}

const gb = (bytes: number) => round(bytes / 1024 ** 3, 2);

export async function purge(argv: string[]): Promise<void> {
  const { values: a } = parseArgs({ args: argv, options });
  const rows = Number(a.rows);
  const hours = Number(a.hours);
  const keptHours = Number(a['kept-hours']);
  const peers = Number(a.peers);
  const holdS = Number(a['hold-s']);
  const perHour = Math.ceil(rows / hours);
  const created = await createPostgresDatabase();
  const db = new PostgresDatabase({ url: created.url, poolSize: 4, maxWriters: 2, applicationName: 'tetcore-bench' });
  const writerDb = new PostgresDatabase({ url: created.url, poolSize: 2, maxWriters: 2, applicationName: 'tetcore-bench-writer' });
  const admin = await connect(created.url);
  const sampler = await connect(created.url);
  try {
    await migrate(db);
    // Layout, oldest first: `hours` expired partitions for the first purge, one for the second (with a
    // reader), `keptHours` that both keep, then the partitions around now for the concurrent writer.
    const now = Date.now();
    const cutoff2 = Math.floor((now - EXPIRY_H * HOUR) / HOUR) * HOUR; // what the purge computes at `now`
    const cutoff1 = cutoff2 - HOUR;
    const first = cutoff1 - hours * HOUR;
    const spanEnd = cutoff2 + keptHours * HOUR;
    for (let t = first + HOUR; t <= now; t += HOUR) await ensurePartitions(db, t, 1, 0);
    await ensurePartitions(db, now, 1, 3);
    await admin.query(`INSERT INTO peer_connections (ip_addr, peer_id, disconnected_at) SELECT '10.0.0.' || i, 'peer-' || i, $1::timestamp FROM generate_series(1, $2) i`, [utcText(first), peers]);
    const live = (await admin.query<{ id: number }>(`INSERT INTO peer_connections (ip_addr) VALUES ('writer') RETURNING id`)).rows[0].id;

    console.log(`purge: generating ${rows.toLocaleString()} expired rows over ${hours} h, ${perHour.toLocaleString()} for the purge with a reader, ${(perHour * keptHours).toLocaleString()} kept…`);
    // Integer microseconds, so every row falls exactly inside the partition it is inserted into.
    const stepUs = Math.floor((HOUR * 1000) / perHour);
    const templates = `ARRAY[${TEMPLATES.map((t) => `${sqlText(t)}::jsonb`).join(', ')}]`;
    const hoursToFill: number[] = [];
    for (let from = first; from < spanEnd; from += HOUR) hoursToFill.push(from);
    const t0 = performance.now();
    let nextHour = 0;
    await Promise.all(
      [0, 1].map(async () => {
        const c = await connect(created.url);
        try {
          while (nextHour < hoursToFill.length) {
            const from = hoursToFill[nextHour++];
            await c.query(
              `INSERT INTO ${partitionName({ fromMs: from, toMs: from + HOUR })} (created_at, logs, peer_connection_id, audit)
               SELECT timestamp '1970-01-01' + ($1::bigint + i * $2::bigint) * interval '1 microsecond',
                      CASE WHEN i % 30 = 0 THEN ${sqlText(NETWORK_STATE)}::jsonb ELSE (${templates})[1 + i % 4] END,
                      1 + i % $3, false
                 FROM generate_series(0, $4::bigint - 1) i`,
              [from * 1000, stepUs, peers, perHour],
            );
          }
        } finally {
          await c.end();
        }
      }),
    );
    const generateSeconds = (performance.now() - t0) / 1000;
    await admin.query('VACUUM ANALYZE substrate_logs');
    const counts = (await admin.query<{ first: string; second: string; kept: string }>(
      `SELECT count(*) FILTER (WHERE created_at < $1) AS first, count(*) FILTER (WHERE created_at >= $1 AND created_at < $2) AS second, count(*) FILTER (WHERE created_at >= $2) AS kept FROM substrate_logs`,
      [utcText(cutoff1), utcText(cutoff2)],
    )).rows[0];
    const expiredRows = Number(counts.first);
    const partitionBytes = async (until: number) => {
      const names = (await listPartitions(db)).filter((p) => p.toMs <= until).map((p) => p.name);
      return bytesOf(admin, `c.relname = ANY($1)`, [names]);
    };
    const expiredBytes = await partitionBytes(cutoff1);
    console.log(`  generated in ${generateSeconds.toFixed(0)} s: ${expiredRows.toLocaleString()} rows for the first purge (${gb(expiredBytes)} GB with indexes), ${Number(counts.second).toLocaleString()} for the second, ${Number(counts.kept).toLocaleString()} kept`);

    // The reference's table: the same rows in one unpartitioned table with the same indexes.
    if (!a['no-delete']) {
      const t1 = performance.now();
      await admin.query(`CREATE TABLE substrate_logs_copy (LIKE substrate_logs INCLUDING DEFAULTS INCLUDING GENERATED)`);
      await admin.query(`INSERT INTO substrate_logs_copy (id, created_at, logs, peer_connection_id, audit) SELECT id, created_at, logs, peer_connection_id, audit FROM substrate_logs WHERE created_at < $1`, [utcText(spanEnd)]);
      await admin.query(`CREATE INDEX ON substrate_logs_copy (peer_connection_id, msg, created_at)`);
      await admin.query(`CREATE INDEX ON substrate_logs_copy (created_at) WHERE msg = 'system.network_state'`);
      await admin.query(`CREATE INDEX ON substrate_logs_copy (peer_connection_id, created_at)`);
      await admin.query('VACUUM ANALYZE substrate_logs_copy');
      console.log(`  copy for the DELETE built in ${((performance.now() - t1) / 1000).toFixed(0)} s`);
    }

    const settings = parseSettings({ LOG_EXPIRY_H: String(EXPIRY_H), PARTITION_INTERVAL_H: '1', PURGE_INTERVAL_S: '3600' });
    const retention = new PostgresDatabase({ url: created.url, poolSize: 3, maxWriters: 0, applicationName: 'tetcore-bench-retention' });
    const logLines: Array<{ msg: string }> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line)) });
    const metrics = createMetrics();

    // Baseline of the writer without any purge.
    const baselineWriter = concurrentWriter(writerDb, live);
    await sleep(3000);
    const baseline = await baselineWriter.stop();

    // 1. The purge of the `rows` expired rows (its clock one hour back, so the second purge's partition stays).
    const statements1: Timed[] = [];
    const databaseBefore1 = Number((await admin.query<{ b: string }>('SELECT pg_database_size(current_database()) AS b')).rows[0].b);
    const purger1 = new Purger(timed(retention, statements1), settings, metrics, log, { clock: () => now - HOUR });
    const writer1 = concurrentWriter(writerDb, live);
    const waits1 = writerLockWaits(sampler, 'tetcore-bench-writer');
    await sleep(300);
    const p0 = performance.now();
    const report1 = (await purger1.purge()) as PurgeReport;
    const purgeSeconds = (performance.now() - p0) / 1000;
    await sleep(300);
    const writerDuring1 = await writer1.stop();
    const writerWaits1 = await waits1.stop();
    const milestones1 = milestones(statements1, p0);
    const expiredBytesAfter = await bytesOf(admin, `c.relname = ANY($1)`, [report1.partitionsDropped]);
    const databaseAfter1 = Number((await admin.query<{ b: string }>('SELECT pg_database_size(current_database()) AS b')).rows[0].b);
    const left1 = Number((await admin.query<{ n: string }>(`SELECT count(*) AS n FROM substrate_logs WHERE created_at < $1`, [utcText(cutoff1)])).rows[0].n);

    // 2. A purge that meets a reader holding substrate_logs (the one expired partition left) for holdS s.
    let withReader: Record<string, unknown> | null = null;
    if (holdS > 0) {
      const statements2: Timed[] = [];
      const reader = await connect(created.url);
      const purger2 = new Purger(timed(retention, statements2), settings, metrics, log, { clock: () => now });
      const target = (await listPartitions(db)).find((p) => p.fromMs === cutoff1)!.name;
      const writer2 = concurrentWriter(writerDb, live);
      const waits2 = writerLockWaits(sampler, 'tetcore-bench-writer');
      await reader.query('BEGIN');
      await reader.query(`SELECT count(*) FROM substrate_logs WHERE created_at >= $1 AND created_at < $2 AND peer_connection_id = 1`, [utcText(cutoff1), utcText(cutoff2)]);
      const r0 = performance.now();
      const run = purger2.purge();
      await sleep(holdS * 1000);
      const released = performance.now();
      await reader.query('COMMIT');
      while ((await admin.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [target])).rows[0].t !== null) await sleep(10);
      const dropped = performance.now();
      const report2 = (await run) as PurgeReport;
      const done = performance.now();
      await sleep(300);
      const writerDuring2 = await writer2.stop();
      const writerWaits2 = await waits2.stop();
      await reader.end();
      withReader = {
        holdSeconds: holdS,
        purgeSeconds: round((done - r0) / 1000, 2),
        droppedAfterReaderEndedMs: round(dropped - released, 0),
        lockWaits: report2.lockWaits,
        partitionsDropped: report2.partitionsDropped.length,
        writer: writerDuring2,
        writerLockWaits: writerWaits2,
        statements: summariseStatements(statements2),
      };
    }
    // 3. Attaching partitions while the MINVALUE partition holds many rows.
    let attach: Record<string, unknown> | null = null;
    const oldRows = Number(a['old-rows']);
    if (oldRows > 0) {
      const before = (await listPartitions(db))[0].name;
      await admin.query(`INSERT INTO substrate_logs (created_at, logs, peer_connection_id) SELECT timestamp '2020-01-01' + i * interval '1 second', ${sqlText(TEMPLATES[2])}::jsonb, 1 + i % $2 FROM generate_series(1, $1::int) i`, [oldRows, peers]);
      const countBefore = async () => Number((await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${before}`)).rows[0].n);
      const rowsBefore = await countBefore();
      const purger3 = new Purger(retention, settings, metrics, log, { clock: () => now + 2 * HOUR });
      const writer4 = concurrentWriter(writerDb, live);
      const waits4 = writerLockWaits(sampler, 'tetcore-bench-writer');
      await sleep(300);
      const a0 = performance.now();
      const created = await purger3.preparePartitions();
      const attachMs = performance.now() - a0;
      await sleep(300);
      attach = { oldRows: rowsBefore, partitionsAttached: created.length, ms: round(attachMs, 1), rowsMoved: rowsBefore - (await countBefore()), writer: await writer4.stop(), writerLockWaits: await waits4.stop() };
    }
    await retention.close();

    // 4. The reference: DELETE … WHERE created_at < cutoff on the copy, with the same writer beside it.
    let deleteResult: Record<string, unknown> | null = null;
    if (!a['no-delete']) {
      const deleter = await connect(created.url);
      const copyBytes = () => bytesOf(admin, `c.relname = 'substrate_logs_copy' OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'substrate_logs_copy'::regclass)`);
      const before = await copyBytes();
      const writer3 = concurrentWriter(writerDb, live);
      const waits3 = writerLockWaits(sampler, 'tetcore-bench-writer');
      await sleep(300);
      const d0 = performance.now();
      const deleted = await deleter.query('DELETE FROM substrate_logs_copy WHERE created_at < $1', [utcText(cutoff1)]);
      const seconds = (performance.now() - d0) / 1000;
      await sleep(300);
      const writerDuring3 = await writer3.stop();
      const writerWaits3 = await waits3.stop();
      const afterDelete = await copyBytes();
      const v0 = performance.now();
      await deleter.query('VACUUM substrate_logs_copy');
      const vacuumSeconds = (performance.now() - v0) / 1000;
      const afterVacuum = await copyBytes();
      await deleter.end();
      deleteResult = { seconds: round(seconds, 2), rowsDeleted: deleted.rowCount ?? 0, writer: writerDuring3, writerLockWaits: writerWaits3, bytesBefore: before, bytesAfterDelete: afterDelete, vacuumSeconds: round(vacuumSeconds, 1), bytesAfterVacuum: afterVacuum };
    }

    table('purge of expired rows', [
      {
        method: 'Purger (detach concurrently + drop)',
        'expired rows': expiredRows,
        seconds: round(purgeSeconds, 3),
        'partitions dropped': report1.partitionsDropped.length,
        'expired left': left1,
        'their disk before GB': gb(expiredBytes),
        'their disk after GB': gb(expiredBytesAfter),
        'writer longest lock wait ms': writerWaits1.longestLockWaitMs,
        'writer batch max ms': writerDuring1.maxMs,
        'writer batch p99 ms': writerDuring1.p99Ms,
      },
      ...(deleteResult
        ? [{
            method: 'DELETE … WHERE created_at < cutoff (copy)',
            'expired rows': expiredRows,
            seconds: deleteResult.seconds as number,
            'partitions dropped': 0,
            'expired left': 0,
            'their disk before GB': gb(deleteResult.bytesBefore as number),
            'their disk after GB': gb(deleteResult.bytesAfterDelete as number),
            'writer longest lock wait ms': (deleteResult.writerLockWaits as { longestLockWaitMs: number }).longestLockWaitMs,
            'writer batch max ms': (deleteResult.writer as WriterStats).maxMs,
            'writer batch p99 ms': (deleteResult.writer as WriterStats).p99Ms,
          }]
        : []),
    ]);
    keyValues('first purge: milestones after its start', milestones1);
    keyValues('first purge: time per phase (ms)', phases(statements1));
    table('first purge: statements (each timed)', summariseStatements(statements1));
    if (withReader) {
      keyValues(`second purge: a reader holds substrate_logs for ${holdS} s`, {
        'purge wall time s': withReader.purgeSeconds,
        'partition dropped after the reader ended (ms)': withReader.droppedAfterReaderEndedMs,
        'attempts that waited (lock timeout 1 s)': withReader.lockWaits,
        'writer longest lock wait ms': (withReader.writerLockWaits as { longestLockWaitMs: number }).longestLockWaitMs,
        'samples with a writer waiting for a lock': (withReader.writerLockWaits as { samplesWithAWriterWaitingForALock: number }).samplesWithAWriterWaitingForALock,
        'writer batches': (withReader.writer as WriterStats).batches,
        'writer max ms': (withReader.writer as WriterStats).maxMs,
        'writer p99 ms': (withReader.writer as WriterStats).p99Ms,
      });
    }
    if (attach) {
      keyValues(`attaching partitions with ${(attach.oldRows as number).toLocaleString()} rows in the MINVALUE partition`, {
        'partitions attached': attach.partitionsAttached,
        'time ms': attach.ms,
        'rows moved': attach.rowsMoved,
        'writer longest lock wait ms': (attach.writerLockWaits as { longestLockWaitMs: number }).longestLockWaitMs,
        'writer batch max ms': (attach.writer as WriterStats).maxMs,
      });
    }
    if (deleteResult) {
      keyValues('DELETE: disk space', {
        'table + indexes before GB': gb(deleteResult.bytesBefore as number),
        'after DELETE GB': gb(deleteResult.bytesAfterDelete as number),
        'VACUUM seconds': deleteResult.vacuumSeconds,
        'after VACUUM GB': gb(deleteResult.bytesAfterVacuum as number),
      });
    }
    keyValues('writer without purge (baseline)', { ...baseline });
    console.log(`\nlog lines of the purges: ${logLines.map((l) => l.msg).join(' | ')}`);
    save('purge', {
      command: `npm run bench -- purge ${argv.join(' ')}`.trim(),
      options: a,
      expiredRows,
      expiredBytes,
      generateSeconds: round(generateSeconds),
      purge: { seconds: round(purgeSeconds, 3), milestones: milestones1, writerLockWaits: writerWaits1, expiredBytesAfter, phases: phases(statements1), statements: summariseStatements(statements1), report: { ...report1, partitionsDropped: report1.partitionsDropped.length }, expiredLeft: left1, databaseBytesBefore: databaseBefore1, databaseBytesAfter: databaseAfter1, writer: writerDuring1 },
      withReader,
      attach,
      delete: deleteResult,
      writerBaseline: baseline,
      log: logLines.map((l) => l.msg),
      targets: { under1s: purgeSeconds < 1 },
    });
  } finally {
    await admin.end().catch(() => {});
    await sampler.end().catch(() => {});
    await writerDb.close().catch(() => {});
    await db.close().catch(() => {});
    await created.drop();
  }
}
