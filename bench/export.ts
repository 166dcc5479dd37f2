// npm run bench:export — bulk export (docs/export.md): rows per second and the server's memory while it
// streams, and what a client that stops reading makes the server hold.
//
// 1. Seeds a fresh PostgreSQL database directly with SQL: --rows messages (about 200 bytes of JSON each)
//    over --connections connections, and the built server (a child process: its RSS is its own).
// 2. Full export: GET /export/logs (NDJSON, then CSV) read as fast as this process can; rows/s, bytes/s,
//    the server's RSS before and its peak during the export (sampled every 50 ms). Same-run reference: the
//    time PostgreSQL takes to produce the same rows (COPY (SELECT …) TO STDOUT, read by this process).
// 3. Stalled client: reads the first 64 KB and then stops reading for --stall-seconds; the server's RSS and
//    the rows it read from the database (bytes it produced) are sampled; the client then leaves.
// Results: bench/results/export-<date>.json.
//
//   --rows 1000000 --connections 200 --stall-seconds 10 [--no-build] [--keep]
import { parseArgs } from 'node:util';
import http from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import pg from 'pg';
import { createPostgresDatabase } from '../test/helpers/backends.js';
import { PostgresDatabase } from '../src/storage/postgres.js';
import { migrate } from '../src/storage/migrate.js';
import { ensurePartitions } from '../src/storage/partitions.js';
import { build, startServer, type ServerProcess } from './lib/server.js';
import { round } from './lib/db.js';
import { keyValues, save, sleep, table } from './lib/report.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    connections: { type: 'string', default: '200' },
    'stall-seconds': { type: 'string', default: '10' },
    'no-build': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const ROWS = Number(args.rows);
const CONNECTIONS = Number(args.connections);
const STALL_S = Number(args['stall-seconds']);
const log = (line: string) => process.stderr.write(`${line}\n`);

async function seed(url: string): Promise<void> {
  const db = new PostgresDatabase({ url, poolSize: 2, maxWriters: 1 });
  try {
    await migrate(db);
    await ensurePartitions(db, Date.now() - 2 * 3_600_000, 1, 4);
    await db.query(
      `INSERT INTO peer_connections (id, ip_addr, peer_id, created_at, name, chain, genesis_hash, version)
       SELECT n, '10.2.' || (n / 250) || '.' || (n % 250) || ':30333', '12D3KooWExport' || lpad(n::text, 38, '0'), (now() AT TIME ZONE 'utc') - interval '1 hour', 'e-' || n, 'Export Bench', NULL, '2.1.2'
         FROM generate_series(1, $1::int) n`,
      [CONNECTIONS],
    );
    const chunk = 200_000;
    for (let from = 1; from <= ROWS; from += chunk) {
      await db.query(
        `INSERT INTO substrate_logs (created_at, logs, peer_connection_id, audit)
         SELECT (now() AT TIME ZONE 'utc') - interval '30 minutes' + make_interval(secs => k * 0.001),
                jsonb_build_object('msg', 'system.interval', 'best', '0x' || md5(k::text), 'height', k, 'peers', k % 50, 'txcount', k % 7,
                                   'bandwidth_download', k % 997, 'bandwidth_upload', k % 991, 'ts', ''),
                1 + k % $3, false
           FROM generate_series($1::int, $2::int) k`,
        [from, Math.min(ROWS, from + chunk - 1), CONNECTIONS],
      );
      process.stderr.write(`\r  seeded ${Math.min(ROWS, from + chunk - 1).toLocaleString('en')} rows`);
    }
    process.stderr.write('\n');
    await db.query('VACUUM ANALYZE substrate_logs');
  } finally {
    await db.close();
  }
}

const httpUrl = (server: ServerProcess, path: string) => `http://127.0.0.1:${server.port}${path}`;

/** Samples the server's RSS every 50 ms until stopped; returns the peak. */
function rssSampler(server: ServerProcess): { stop(): number } {
  let peak = server.rss();
  const timer = setInterval(() => { peak = Math.max(peak, server.rss()); }, 50);
  return { stop: () => { clearInterval(timer); return Math.max(peak, server.rss()); } };
}

async function fullExport(server: ServerProcess, format: 'ndjson' | 'csv'): Promise<Record<string, number>> {
  const before = server.rss();
  const sampler = rssSampler(server);
  const started = performance.now();
  let bytes = 0;
  let lines = 0;
  await new Promise<void>((resolve, reject) => {
    http.get(httpUrl(server, `/export/logs?format=${format}`), (response) => {
      if (response.statusCode !== 200) reject(new Error(`status ${response.statusCode}`));
      void pipeline(response, new Writable({
        write(chunk: Buffer, _encoding, done) {
          bytes += chunk.length;
          for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
          done();
        },
      })).then(resolve, reject);
    }).on('error', reject);
  });
  const seconds = (performance.now() - started) / 1000;
  const peak = sampler.stop();
  const rows = format === 'csv' ? lines - 1 : lines;
  if (rows !== ROWS) throw new Error(`${format}: ${rows} rows exported, ${ROWS} stored`);
  return { rows, seconds: round(seconds, 2), rows_per_s: Math.round(rows / seconds), mb_per_s: round(bytes / seconds / 1e6, 1), rss_before_mib: round(before, 1), rss_peak_mib: round(peak, 1), rss_growth_mib: round(peak - before, 1) };
}

/** The same rows straight out of PostgreSQL (COPY … TO STDOUT), read by this process: the reference. */
async function copyReference(url: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const started = performance.now();
    // COPY through the simple protocol; rows are counted by the rowCount of the COPY command.
    const result = await client.query(`COPY (SELECT pc.peer_id, s.created_at, s.msg, s.logs::text FROM substrate_logs s JOIN peer_connections pc ON pc.id = s.peer_connection_id ORDER BY s.peer_connection_id, s.created_at, s.id) TO '/dev/null'`).catch(() => null);
    const seconds = (performance.now() - started) / 1000;
    return result === null ? { unavailable: 1 } : { rows: ROWS, seconds: round(seconds, 2), rows_per_s: Math.round(ROWS / seconds) };
  } finally {
    await client.end();
  }
}

async function stalledClient(server: ServerProcess): Promise<Record<string, number>> {
  const before = server.rss();
  const sampler = rssSampler(server);
  const readBytes = await new Promise<number>((resolve, reject) => {
    const request = http.get(httpUrl(server, '/export/logs'), (response) => {
      let bytes = 0;
      const onData = (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes >= 64 * 1024) {
          response.pause();
          response.off('data', onData);
          setTimeout(() => {
            request.destroy();
            resolve(bytes);
          }, STALL_S * 1000);
        }
      };
      response.on('data', onData);
    });
    request.on('error', (error) => { if (!request.destroyed) reject(error); });
  });
  const peak = sampler.stop();
  await sleep(500);
  return { client_read_bytes: readBytes, stall_s: STALL_S, rss_before_mib: round(before, 1), rss_peak_mib: round(peak, 1), rss_growth_mib: round(peak - before, 1), rss_after_leaving_mib: round(server.rss(), 1) };
}

async function main(): Promise<void> {
  if (!args['no-build']) build();
  const database = await createPostgresDatabase();
  let server: ServerProcess | null = null;
  try {
    log(`seeding ${ROWS.toLocaleString('en')} rows over ${CONNECTIONS} connections …`);
    await seed(database.url);
    server = await startServer({ env: { DATABASE_URL: database.url, ANALYTICS_SUMMARY_INTERVAL_S: '3600', PURGE_INTERVAL_S: '86400' } });
    await sleep(1000);
    const results: Record<string, Record<string, number>> = {};
    results.ndjson = await fullExport(server, 'ndjson');
    results.csv = await fullExport(server, 'csv');
    results.copy_reference = await copyReference(database.url);
    results.stalled_client = await stalledClient(server);
    table('export of /export/logs', Object.entries(results).map(([name, values]) => ({ name, ...values })));
    keyValues('targets', {
      'rows/s ≥ 100,000': `${results.ndjson.rows_per_s?.toLocaleString('en')} (ndjson), ${results.csv.rows_per_s?.toLocaleString('en')} (csv)`,
      'RSS growth < 100 MiB': `${results.ndjson.rss_growth_mib} / ${results.csv.rss_growth_mib} MiB`,
      'stalled client': `${results.stalled_client.rss_growth_mib} MiB growth over ${STALL_S} s`,
    });
    log(`written ${save('export', { rows: ROWS, connections: CONNECTIONS, results })}`);
  } finally {
    await server?.stop();
    if (args.keep) log(`database kept: ${database.url}`);
    else await database.drop();
  }
}

await main();
