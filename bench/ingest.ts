// npm run bench:ingest — sustained ingest rate of a real server process fed by N websocket nodes that
// replay the fixture messages as fast as the server takes them, next to the raw COPY rate of the same
// rows into the same table, measured in the same run on the same database.
//   --nodes 100 --seconds 20 --warmup 3 --embedded (PGlite instead of PostgreSQL) --batch 1024
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, mkdtempSync, rmSync, readdirSync, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { tmpdir, cpus, totalmem } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { createPostgresDatabase } from '../test/helpers/backends.js';
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
const ROOT = path.resolve(import.meta.dirname, '..');

/** The frames one node replays in a loop: the V2 session (default) or the V1 fixture. */
const FRAMES = (args.v1 ? v1Messages().map((m) => JSON.stringify(m)) : v2SessionFrames()).map((f) => Buffer.from(f));
const FRAME_BYTES = FRAMES.reduce((n, f) => n + f.length, 0);

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, clock ticks of 10 ms
}
function peakRssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:')) ?? '0';
  return Number(line.replace(/\D+/g, '')) / 1024;
}
/** CPU seconds used so far by every process named postgres (the server's backends included). */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/stat`, 'utf8').includes('(postgres)')) total += cpuSeconds(Number(pid));
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

async function startServer(env: Record<string, string>) {
  const child = spawn(process.execPath, ['dist/main.js'], { cwd: ROOT, env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const entry = JSON.parse(line);
        if (entry.msg === 'tetcore-analytics listening') resolve(entry.port);
      } catch {
        /* not json */
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  return { child, port };
}

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

async function count(db: Database): Promise<number> {
  return Number((await db.query<{ n: number }>('SELECT count(*) AS n FROM substrate_logs')).rows[0].n);
}

async function main() {
  if (!existsSync(path.join(ROOT, 'dist/main.js'))) throw new Error('run `npm run build` first');
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
  const server = await startServer(env);
  const url = `ws://127.0.0.1:${server.port}/`;
  const stop = { stopped: false };
  const sent = { count: 0 };
  const nodes = Array.from({ length: NODES }, () => runNode(url, stop, sent));
  await new Promise((r) => setTimeout(r, WARMUP * 1000));

  // The embedded database belongs to the server process: count through the server's own log of stored rows.
  const storedNow = async () => (args.embedded ? storedFromMetrics(server.port) : count(db));
  const stored0 = await storedNow();
  const sent0 = sent.count;
  const cpu0 = cpuSeconds(server.child.pid!);
  const pg0 = args.embedded ? 0 : postgresCpuSeconds();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const stored1 = await storedNow();
  const sent1 = sent.count;
  const elapsed = (Date.now() - t0) / 1000;
  const serverCpu = (cpuSeconds(server.child.pid!) - cpu0) / elapsed;
  const pgCpu = args.embedded ? 0 : (postgresCpuSeconds() - pg0) / elapsed;
  const rss = peakRssMb(server.child.pid!);
  stop.stopped = true;
  await Promise.all(nodes);
  server.child.kill('SIGTERM');
  await new Promise((r) => server.child.on('exit', r));

  const storedRate = (stored1 - stored0) / elapsed;
  const sentRate = (sent1 - sent0) / elapsed;

  // The limit: raw COPY of the same rows into the same table, same batch size, one connection.
  let copyRate = NaN;
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

async function storedFromMetrics(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('tetcore_messages_stored_total '));
  return Number(line?.split(' ')[1] ?? 0);
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
