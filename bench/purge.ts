// Benchmark 4 — purge: 10 million expired rows in hourly partitions; the duration of purgeExpired
// (src/storage/partitions.ts) and the locks it takes, next to a plain DELETE of the same rows on an
// unpartitioned copy of the table with the same indexes (how the reference purged). A concurrent writer
// (COPY of small batches, as the server does) runs during both and reports how long it was held up.
//
// The rows are generated in the database (INSERT … SELECT generate_series straight into each partition,
// with foreign-key triggers off for the session): the one place where not going through the writer is right.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import pg from 'pg';
import { PostgresDatabase } from '../src/storage/postgres.js';
import type { Database, Transaction } from '../src/storage/database.js';
import { migrate } from '../src/storage/migrate.js';
import { purgeExpired, partitionName, utcText, listPartitions, EXPIRING_DEFAULT } from '../src/storage/partitions.js';
import { copyLogsOnce } from '../src/storage/substrate-logs.js';
import { randomUUID } from 'node:crypto';
import { createPostgresDatabase, connect, round } from './lib/db.js';
import { table, save, keyValues, sleep } from './lib/report.js';

export const PURGE_USAGE = `purge [--rows 10000000] [--hours 20] [--kept-hours 2] [--peers 100] [--no-delete]
  --rows N        expired rows, spread evenly over --hours hourly partitions before the cutoff
  --kept-hours H  hours of rows after the cutoff (same rate) that both methods must keep
  --method M      purge: purgeExpired as it is (default). Sketches of what would make it faster, for
                  comparison: one-drop (every expired partition in one DROP TABLE statement, so one
                  lock on the parent and one commit), one-drop-aligned (the same with the cutoff rounded
                  down to a partition boundary, so no boundary DELETE: rows live up to one interval longer)`;

const options = {
  rows: { type: 'string', default: '10000000' },
  hours: { type: 'string', default: '20' },
  'kept-hours': { type: 'string', default: '2' },
  peers: { type: 'string', default: '100' },
  'no-delete': { type: 'boolean', default: false },
  method: { type: 'string', default: 'purge' },
} satisfies ParseArgsConfig['options'];

const HOUR = 3_600_000;

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

interface LockSample {
  relation: string;
  mode: string;
  granted: boolean;
}

/** Polls pg_locks of one backend every few ms; returns the distinct (relation, mode) it held or awaited. */
function watchLocks(client: pg.Client, pid: () => number | null) {
  const seen = new Map<string, LockSample & { samples: number }>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const p = pid();
      if (p !== null) {
        const r = await client.query<{ relation: string; mode: string; granted: boolean }>(
          `SELECT coalesce(c.relname, l.locktype) AS relation, l.mode, l.granted
             FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation
            WHERE l.pid = $1 AND (l.locktype = 'advisory' OR (l.locktype = 'relation' AND c.relkind IN ('r', 'p')))`,
          [p],
        );
        for (const row of r.rows) {
          const relation = row.relation.replace(/substrate_logs_p\d{8}_\d{2}/, 'substrate_logs_p<hour>');
          const key = `${relation}/${row.mode}/${row.granted}`;
          const entry = seen.get(key) ?? { relation, mode: row.mode, granted: row.granted, samples: 0 };
          entry.samples++;
          seen.set(key, entry);
        }
      }
      await sleep(2);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return [...seen.values()].sort((a, b) => a.relation.localeCompare(b.relation));
    },
  };
}

/** Small batches into the current partition, back to back: how long was a writer held up? */
function concurrentWriter(db: PostgresDatabase, connectionId: number) {
  const latencies: number[] = [];
  let running = true;
  const rows = Array.from({ length: 100 }, (_, i) => ({ createdAt: utcText(Date.now()), logs: JSON.stringify({ ...TEMPLATES[i % 4], ts: new Date().toISOString() }), peerConnectionId: connectionId, audit: false }));
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      await copyLogsOnce(db, randomUUID(), rows);
      latencies.push(performance.now() - t0);
      await sleep(10);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const sorted = [...latencies].sort((a, b) => a - b);
      return { batches: sorted.length, medianMs: round(sorted[Math.floor(sorted.length / 2)] ?? NaN, 1), maxMs: round(sorted[sorted.length - 1] ?? NaN, 1) };
    },
  };
}

/**
 * Not the server's purge: a sketch of two changes to it, measured on the same data. All partitions that
 * end before the cutoff go in one DROP TABLE (one ACCESS EXCLUSIVE lock on the parent, one commit), and
 * with `aligned` the cutoff is rounded down to the partition boundary so no DELETE is needed at all.
 */
async function purgeSketch(db: Database, cutoffMs: number, aligned: boolean): Promise<Awaited<ReturnType<typeof purgeExpired>>> {
  const cutoff = aligned ? Math.floor(cutoffMs / HOUR) * HOUR : cutoffMs;
  const result = { ran: true, partitionsDropped: [] as string[], boundaryRowsDeleted: 0, defaultRowsDeleted: 0, connectionsDeleted: 0 };
  return db.session(async (session) => {
    const partitions = await listPartitions(session);
    const expired = partitions.filter((p) => Date.parse(`${p.to.replace(' ', 'T')}Z`) <= cutoff).map((p) => p.name);
    await session.query(`SET lock_timeout = '5s'`);
    if (expired.length > 0) await session.exec(`DROP TABLE IF EXISTS ${expired.join(', ')}`);
    result.partitionsDropped = expired;
    for (const p of partitions) {
      const from = Date.parse(`${p.from.replace(' ', 'T')}Z`);
      const to = Date.parse(`${p.to.replace(' ', 'T')}Z`);
      if (from < cutoff && to > cutoff) result.boundaryRowsDeleted += (await session.query(`DELETE FROM ${p.name} WHERE created_at < $1`, [utcText(cutoff)])).rowCount;
    }
    result.defaultRowsDeleted = (await session.query(`DELETE FROM ${EXPIRING_DEFAULT} WHERE created_at < $1`, [utcText(cutoff)])).rowCount;
    // The rest as purgeExpired does it (closed connections left without messages).
    result.connectionsDeleted = (await session.query(
      `DELETE FROM peer_connections pc
        WHERE NOT pc.audit AND pc.disconnected_at IS NOT NULL AND pc.disconnected_at < $1
          AND NOT EXISTS (SELECT 1 FROM substrate_logs s WHERE s.peer_connection_id = pc.id)`,
      [utcText(cutoff)],
    )).rowCount;
    await session.query(`SET lock_timeout = 0`);
    return result;
  });
}

/** The database with every statement run through session() timed (purgeExpired runs on one session). */
function timed(db: PostgresDatabase, log: Array<{ sql: string; ms: number; rows: number }>): Database {
  const wrap = (tx: Transaction): Transaction => ({
    query: (async (sql: string, params?: unknown[]) => {
      const t0 = performance.now();
      const r = await tx.query(sql, params);
      log.push({ sql, ms: performance.now() - t0, rows: r.rowCount });
      return r;
    }) as Transaction['query'],
    async exec(script) {
      const t0 = performance.now();
      await tx.exec(script);
      log.push({ sql: script, ms: performance.now() - t0, rows: 0 });
    },
    copyText: (t, c, p) => tx.copyText(t, c, p),
  });
  return Object.assign(Object.create(db) as PostgresDatabase, { session: <T>(fn: (s: Transaction) => Promise<T>) => db.session((s) => fn(wrap(s))) });
}

/** Statements grouped by kind (partition names folded), with total time. */
function summariseStatements(log: Array<{ sql: string; ms: number; rows: number }>) {
  const groups = new Map<string, { statement: string; count: number; totalMs: number; maxMs: number; rows: number }>();
  for (const entry of log) {
    const statement = entry.sql.replace(/\s+/g, ' ').replace(/substrate_logs_p\d{8}(_\d{2})?/g, 'substrate_logs_p…').slice(0, 90);
    const g = groups.get(statement) ?? { statement, count: 0, totalMs: 0, maxMs: 0, rows: 0 };
    g.count++;
    g.totalMs += entry.ms;
    g.maxMs = Math.max(g.maxMs, entry.ms);
    g.rows += entry.rows;
    groups.set(statement, g);
  }
  return [...groups.values()].map((g) => ({ ...g, totalMs: round(g.totalMs, 1), maxMs: round(g.maxMs, 1) })).sort((a, b) => b.totalMs - a.totalMs);
}

export async function purge(argv: string[]): Promise<void> {
  const { values: a } = parseArgs({ args: argv, options });
  const rows = Number(a.rows);
  const hours = Number(a.hours);
  const keptHours = Number(a['kept-hours']);
  const peers = Number(a.peers);
  const perHour = Math.ceil(rows / hours);
  const created = await createPostgresDatabase();
  const db = new PostgresDatabase({ url: created.url, poolSize: 4, maxWriters: 2, applicationName: 'tetcore-bench' });
  const admin = await connect(created.url);
  const watcher = await connect(created.url);
  try {
    await migrate(db);
    // Cutoff half-way through an hour: whole partitions before it are dropped, the one holding it is
    // cleaned by a DELETE. Expired rows fill [cutoff − hours, cutoff), kept rows [cutoff, cutoff + kept).
    const now = Date.now();
    const cutoffMs = Math.floor((now - 26 * HOUR) / HOUR) * HOUR + HOUR / 2;
    const first = Math.floor((cutoffMs - hours * HOUR) / HOUR) * HOUR;
    const last = Math.ceil((cutoffMs + keptHours * HOUR) / HOUR) * HOUR;
    await admin.query(`INSERT INTO peer_connections (ip_addr, peer_id, disconnected_at) SELECT '10.0.0.' || i, 'peer-' || i, $1::timestamp FROM generate_series(1, $2) i`, [utcText(cutoffMs - hours * HOUR), peers]);
    const live = (await admin.query<{ id: number }>(`INSERT INTO peer_connections (ip_addr) VALUES ('writer') RETURNING id`)).rows[0]!.id;
    for (let from = first; from < last; from += HOUR) {
      await admin.query(`CREATE TABLE ${partitionName(from, 1)} PARTITION OF substrate_logs_expiring FOR VALUES FROM ('${utcText(from)}') TO ('${utcText(from + HOUR)}')`);
    }
    // Partitions for the concurrent writer's rows (now).
    const nowHour = Math.floor(now / HOUR) * HOUR;
    for (let from = nowHour - HOUR; from <= nowHour + HOUR; from += HOUR) {
      await admin.query(`CREATE TABLE IF NOT EXISTS ${partitionName(from, 1)} PARTITION OF substrate_logs_expiring FOR VALUES FROM ('${utcText(from)}') TO ('${utcText(from + HOUR)}')`);
    }

    // Generate: evenly spaced timestamps over [cutoff − hours, cutoff + kept), per hourly partition, on two sessions.
    console.log(`purge: generating ${rows.toLocaleString()} expired rows over ${hours} h + ${(perHour * keptHours).toLocaleString()} kept rows…`);
    const spanStart = cutoffMs - hours * HOUR;
    const spanEnd = cutoffMs + keptHours * HOUR;
    // Integer microseconds, so every row falls exactly inside the partition it is inserted into.
    const stepUs = Math.floor((HOUR * 1000) / perHour);
    const spanStartUs = spanStart * 1000;
    const templates = `ARRAY[${TEMPLATES.map((t) => `${sqlText(t)}::jsonb`).join(', ')}]`;
    const t0 = performance.now();
    const ranges: Array<[number, number]> = [];
    for (let from = first; from < last; from += HOUR) ranges.push([Math.max(from, spanStart), Math.min(from + HOUR, spanEnd)]);
    let nextRange = 0;
    await Promise.all(
      [0, 1].map(async () => {
        const c = await connect(created.url);
        await c.query(`SET session_replication_role = replica`); // no FK triggers while generating
        try {
          while (nextRange < ranges.length) {
            const [from, to] = ranges[nextRange++]!;
            const firstIndex = Math.ceil(((from - spanStart) * 1000) / stepUs);
            const lastIndex = Math.ceil(((to - spanStart) * 1000) / stepUs) - 1;
            if (lastIndex < firstIndex) continue;
            await c.query(
              `INSERT INTO ${partitionName(Math.floor(from / HOUR) * HOUR, 1)} (created_at, logs, peer_connection_id, audit)
               SELECT timestamp '1970-01-01' + ($1::bigint + i * $2::bigint) * interval '1 microsecond',
                      CASE WHEN i % 30 = 0 THEN ${sqlText(NETWORK_STATE)}::jsonb ELSE (${templates})[1 + i % 4] END,
                      1 + i % $3, false
                 FROM generate_series($4::bigint, $5::bigint) i`,
              [spanStartUs, stepUs, peers, firstIndex, lastIndex],
            );
          }
        } finally {
          await c.end();
        }
      }),
    );
    const generateSeconds = (performance.now() - t0) / 1000;
    await admin.query('ANALYZE substrate_logs');
    const counts = (await admin.query<{ expired: string; kept: string }>(`SELECT count(*) FILTER (WHERE created_at < $1) AS expired, count(*) FILTER (WHERE created_at >= $1) AS kept FROM substrate_logs`, [utcText(cutoffMs)])).rows[0]!;
    const size = (await admin.query<{ size: string }>(`SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) AS size FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'substrate_logs_expiring'::regclass`)).rows[0]!.size;
    console.log(`  generated in ${generateSeconds.toFixed(0)} s: ${Number(counts.expired).toLocaleString()} expired, ${Number(counts.kept).toLocaleString()} kept, ${size}`);

    // The reference's table: the same rows in one unpartitioned table with the same indexes.
    let deleteResult: { seconds: number; rowsDeleted: number; writer: { batches: number; medianMs: number; maxMs: number }; locks: Array<LockSample & { samples: number }> } | null = null;
    if (!a['no-delete']) {
      const t1 = performance.now();
      await admin.query(`CREATE TABLE substrate_logs_copy (LIKE substrate_logs INCLUDING DEFAULTS INCLUDING GENERATED)`);
      await admin.query(`INSERT INTO substrate_logs_copy (id, created_at, logs, peer_connection_id, audit) SELECT id, created_at, logs, peer_connection_id, audit FROM substrate_logs`);
      await admin.query(`CREATE INDEX ON substrate_logs_copy (peer_connection_id, msg, created_at)`);
      await admin.query(`CREATE INDEX ON substrate_logs_copy (created_at) WHERE msg = 'system.network_state'`);
      await admin.query(`CREATE INDEX ON substrate_logs_copy (peer_connection_id, created_at)`);
      await admin.query(`ALTER TABLE substrate_logs_copy ADD FOREIGN KEY (peer_connection_id) REFERENCES peer_connections (id)`);
      await admin.query('VACUUM ANALYZE substrate_logs_copy');
      console.log(`  copy for the DELETE built in ${((performance.now() - t1) / 1000).toFixed(0)} s`);
    }

    // 1. The purge, with a writer streaming into the current partition and a lock watcher on its session.
    let purgePid: number | null = null;
    const pidOf = async () => {
      const r = await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tetcore-bench-purge'`);
      return r.rows[0]?.pid ?? null;
    };
    const purgeDb = new PostgresDatabase({ url: created.url, poolSize: 1, maxWriters: 1, applicationName: 'tetcore-bench-purge' });
    await purgeDb.query('SELECT 1'); // open its one connection, so its pid is known before the purge starts
    purgePid = await pidOf();
    const writerBefore = concurrentWriter(db, live);
    await sleep(2000);
    const baseline = await writerBefore.stop();
    const writer = concurrentWriter(db, live);
    const locks = watchLocks(watcher, () => purgePid);
    await sleep(200);
    const statements: Array<{ sql: string; ms: number; rows: number }> = [];
    const p0 = performance.now();
    const purgeResult = a.method === 'purge' ? await purgeExpired(timed(purgeDb, statements), cutoffMs) : await purgeSketch(timed(purgeDb, statements), cutoffMs, a.method === 'one-drop-aligned');
    const purgeSeconds = (performance.now() - p0) / 1000;
    await sleep(200);
    const purgeLocks = await locks.stop();
    const purgeWriter = await writer.stop();
    await purgeDb.close();
    const left = (await admin.query<{ expired: string }>(`SELECT count(*) AS expired FROM substrate_logs WHERE created_at < $1`, [utcText(cutoffMs)])).rows[0]!;

    // 2. The reference: DELETE … WHERE created_at < cutoff on the copy, with the same writer beside it.
    if (!a['no-delete']) {
      const deleter = await connect(created.url);
      const pid = (await deleter.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const dWriter = concurrentWriter(db, live);
      const dLocks = watchLocks(watcher, () => pid);
      await sleep(200);
      const d0 = performance.now();
      const deleted = await deleter.query('DELETE FROM substrate_logs_copy WHERE created_at < $1', [utcText(cutoffMs)]);
      const seconds = (performance.now() - d0) / 1000;
      await sleep(200);
      deleteResult = { seconds: round(seconds, 2), rowsDeleted: deleted.rowCount ?? 0, locks: await dLocks.stop(), writer: await dWriter.stop() };
      await deleter.end();
    }

    const purgeRows = purgeResult.boundaryRowsDeleted + purgeResult.defaultRowsDeleted;
    const expiredRows = Number(counts.expired);
    table('purge of expired rows', [
      {
        method: a.method === 'purge' ? 'purgeExpired (drop partitions + boundary DELETE)' : `sketch: ${a.method}`,
        'expired rows': expiredRows,
        seconds: round(purgeSeconds, 3),
        'partitions dropped': purgeResult.partitionsDropped.length,
        'rows by DELETE': purgeRows,
        'expired left': Number(left.expired),
        'writer max ms': purgeWriter.maxMs,
        'writer median ms': purgeWriter.medianMs,
      },
      ...(deleteResult
        ? [{ method: 'DELETE … WHERE created_at < cutoff (copy)', 'expired rows': expiredRows, seconds: deleteResult.seconds, 'partitions dropped': 0, 'rows by DELETE': deleteResult.rowsDeleted, 'expired left': 0, 'writer max ms': deleteResult.writer.maxMs, 'writer median ms': deleteResult.writer.medianMs }]
        : []),
    ]);
    if (deleteResult) console.log(`\npurge is ${round(deleteResult.seconds / purgeSeconds, 1)}× faster than DELETE`);
    table('locks seen on the purge session (sampled every ~2 ms)', purgeLocks.map((l) => ({ ...l })));
    if (deleteResult) table('locks seen on the DELETE session', deleteResult.locks.map((l) => ({ ...l })));
    table('purge statements (each timed)', summariseStatements(statements));
    keyValues('details', { generateSeconds: round(generateSeconds), tableSize: size, keptRows: Number(counts.kept), writerBaseline: baseline, purgeResult: { ...purgeResult, partitionsDropped: purgeResult.partitionsDropped.length } });
    save('purge', {
      command: `npm run bench -- purge ${argv.join(' ')}`.trim(),
      options: a,
      expiredRows,
      keptRows: Number(counts.kept),
      tableSize: size,
      generateSeconds: round(generateSeconds),
      purge: { seconds: round(purgeSeconds, 3), statements: summariseStatements(statements), result: purgeResult, expiredLeft: Number(left.expired), locks: purgeLocks, writer: purgeWriter },
      delete: deleteResult,
      writerBaseline: baseline,
      speedup: deleteResult ? round(deleteResult.seconds / purgeSeconds, 1) : null,
      targets: { under1s: purgeSeconds < 1, atLeast100xFaster: deleteResult ? deleteResult.seconds / purgeSeconds >= 100 : null },
    });
  } finally {
    await admin.end().catch(() => {});
    await watcher.end().catch(() => {});
    await db.close().catch(() => {});
    await created.drop();
  }
}
