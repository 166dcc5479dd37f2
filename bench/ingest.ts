// npm run bench:ingest — sustained ingest rate of a real server process fed by N websocket nodes that
// replay the fixture messages as fast as the server takes them, next to the raw COPY rate of the same
// rows into the same table, measured in the same run on the same database.
//   --nodes 100 --seconds 20 --warmup 3 --embedded (PGlite instead of PostgreSQL) --batch 1024
import { writeFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { tmpdir, cpus, totalmem } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { createPostgresDatabase, countRows, databaseName } from './lib/db.js';
import { build, startServer, metricSum, ROOT } from './lib/server.js';
import { PostgresCpu } from './lib/proc.js';
import { v2SessionFrames, v1Messages } from '../test/helpers/fixtures.js';
import { PostgresDatabase } from '../src/storage/postgres.js';
import { EmbeddedDatabase } from '../src/storage/embedded.js';
import type { Database } from '../src/storage/database.js';
import { parseFrame } from '../src/ingest/frame.js';
import { copyLogs, type LogRow } from '../src/storage/substrate-logs.js';

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    batch: { type: 'string', default: '1024' },
    embedded: { type: 'boolean', default: false },
    v1: { type: 'boolean', default: false },
  },
});
const NODES = Number(args.nodes);
const SECONDS = Number(args.seconds);
const WARMUP = Number(args.warmup);

/** The frames one node replays in a loop: the V2 session (default) or the V1 fixture. */
const FRAMES = (args.v1 ? v1Messages().map((m) => JSON.stringify(m)) : v2SessionFrames()).map((f) => Buffer.from(f));
const FRAME_BYTES = FRAMES.reduce((n, f) => n + f.length, 0);

/** A node that sends its frames in a loop, keeping a few in flight (as fast as the server reads). */
function runNode(url: string, stop: { stopped: boolean }, sent: { count: number }) {
  return new Promise<void>((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, autoPong: false });
    ws.on('error', () => {});
    ws.on('close', () => resolve());
    ws.on('open', () => {
      let i = 0;
      const pump = () => {
        if (stop.stopped) return ws.close();
        // Keep the socket's send buffer shallow: the server's read pace sets ours.
        while (ws.bufferedAmount < 256 * 1024 && !stop.stopped) {
          ws.send(FRAMES[i++ % FRAMES.length], { binary: true });
          sent.count++;
        }
        setImmediate(pump);
      };
      pump();
    });
  });
}

async function main() {
  build();
  let db: Database;
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  if (args.embedded) {
    const dir = mkdtempSync(path.join(tmpdir(), 'tetcore-bench-'));
    env = { DATA_DIR: dir, DB_BATCH_SIZE: String(args.batch) };
    db = null as unknown as Database;
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const created = await createPostgresDatabase();
    env = { DATABASE_URL: created.url, DB_BATCH_SIZE: String(args.batch) };
    db = new PostgresDatabase({ url: created.url, poolSize: 4, maxWriters: 1 });
    cleanup = async () => {
      await db.close();
      await created.drop();
    };
  }
  const server = await startServer({ env });
  const url = server.url('/');
  const stop = { stopped: false };
  const sent = { count: 0 };
  const nodes = Array.from({ length: NODES }, () => runNode(url, stop, sent));
  await new Promise((r) => setTimeout(r, WARMUP * 1000));

  // The embedded database belongs to the server process: count through the server's own log of stored rows.
  const storedNow = async () => (args.embedded ? metricSum(await server.metrics(), 'tetcore_messages_stored_total') : countRows(db));
  const stored0 = await storedNow();
  const sent0 = sent.count;
  const cpu0 = server.cpu();
  const postgresCpu = args.embedded ? null : new PostgresCpu(databaseName(env.DATABASE_URL)).start();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const stored1 = await storedNow();
  const sent1 = sent.count;
  const elapsed = (Date.now() - t0) / 1000;
  const serverCpu = (server.cpu() - cpu0) / elapsed;
  const pgCpu = postgresCpu ? postgresCpu.stop() / elapsed : 0;
  const rss = server.peakRss();
  stop.stopped = true;
  await Promise.all(nodes);
  await server.stop();

  const storedRate = (stored1 - stored0) / elapsed;
  const sentRate = (sent1 - sent0) / elapsed;

  // The limit: raw COPY of the same rows into the same table, same batch size, one connection.
  let copyRate: number;
  if (!args.embedded) copyRate = await rawCopyRate(db, Number(args.batch));
  else {
    const edb = await EmbeddedDatabase.open(env.DATA_DIR);
    copyRate = await rawCopyRate(edb, Number(args.batch));
    await edb.close();
  }

  const result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    database: args.embedded ? 'embedded (PGlite)' : 'PostgreSQL',
    nodes: NODES,
    seconds: elapsed,
    batchSize: Number(args.batch),
    frameMix: `${FRAMES.length} fixture frames, ${Math.round(FRAME_BYTES / FRAMES.length)} B average`,
    sentPerSecond: Math.round(sentRate),
    storedPerSecond: Math.round(storedRate),
    rawCopyPerSecond: Math.round(copyRate),
    ratioToCopy: Number((storedRate / copyRate).toFixed(3)),
    serverCpuCores: Number(serverCpu.toFixed(2)),
    postgresCpuCores: Number(pgCpu.toFixed(2)),
    serverPeakRssMiB: Math.round(rss),
  };
  console.table(result);
  mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  const file = path.join(ROOT, `bench/results/ingest-${args.embedded ? 'embedded' : 'postgres'}-${result.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2));
  console.log(`written ${path.relative(ROOT, file)}`);
  await cleanup();
}

async function rawCopyRate(db: Database, batch: number): Promise<number> {
  const connection = (await db.query<{ id: number }>(`INSERT INTO peer_connections (ip_addr) VALUES ('bench') RETURNING id`)).rows[0].id;
  const rows: LogRow[] = [];
  for (const frame of FRAMES) {
    const parsed = parseFrame(frame);
    if (parsed.row) rows.push({ createdAt: parsed.row.createdAt, logs: parsed.row.logs, peerConnectionId: connection, audit: false });
  }
  const batchRows: LogRow[] = Array.from({ length: batch }, (_, i) => rows[i % rows.length]);
  let copied = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < 10_000) copied += await copyLogs(db, batchRows);
  return copied / ((Date.now() - t0) / 1000);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
