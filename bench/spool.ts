// npm run bench:spool — what the disk spool (docs/spool.md) costs and how fast its backlog drains:
// 1. saturation A/B in one run: stored messages/s without (SPOOL_DIR empty) and with the spool, rounds
//    interleaved (A B A B) so the machine's noise spreads over both; target: the spool costs ≤ 10 %;
// 2. catch-up: nodes stream at a fixed rate through a PostgreSQL outage (a TCP proxy cut); once it
//    returns, the rate at which the server writes (backlog plus new traffic) until the backlog is gone,
//    next to the raw COPY rate of the same rows into the same table in the same run, and the server's
//    peak RSS during the catch-up.
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { runIngest } from './lib/ingest-run.js';
import { build, startServer, scrape, metricSum } from './lib/server.js';
import { createPostgresDatabase, rawCopy, sampleStoredRows, round } from './lib/db.js';
import { table, keyValues, save, sleep, until } from './lib/report.js';
import { startTcpProxy } from '../test/helpers/tcp-proxy.js';
import { PostgresDatabase } from '../src/storage/postgres.js';
import { closeSync, fdatasyncSync, openSync, appendFileSync, statSync, writeSync } from 'node:fs';
import { encodeRecord } from '../src/spool/record.js';
import { SegmentCursor } from '../src/spool/segment.js';

const { values: a } = parseArgs({
  options: {
    nodes: { type: 'string', default: '500' },
    rate: { type: 'string', default: '40' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '2' },
    'outage-s': { type: 'string', default: '60' },
    'outage-nodes': { type: 'string', default: '200' },
    'outage-rate': { type: 'string', default: '2000' },
    'copy-seconds': { type: 'string', default: '10' },
    only: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
  },
});
const only = new Set((a.only ?? 'format,saturation,catchup').split(','));
if (!a['no-build']) build();

const results: Record<string, unknown> = {};

// 0. The format (docs/decisions.md#disk-spool): the hand-written segmented log (length + CRC-32 records,
// one write(2) each) against the naive alternative (a JSON line per message appended with
// appendFileSync, i.e. open/write/close each time), and the cost of fsync on every append.
if (only.has('format')) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tetcore-bench-format-'));
  const logs = `{"best":"0x${'ab'.repeat(32)}","height":123456,"msg":"block.import","origin":"NetworkBroadcast"}`;
  const createdAt = '2026-12-01 10:00:00.123456';
  const count = 200_000;
  const rate = (n: number, t0: number) => Math.round(n / ((performance.now() - t0) / 1000));
  try {
    let t0 = performance.now();
    const fd = openSync(path.join(dir, 'segment.log'), 'a');
    for (let seq = 0; seq < count; seq++) {
      const buf = encodeRecord({ type: 'message', seq, key: 1, receivedAt: Date.now(), createdAt, logs });
      writeSync(fd, buf);
    }
    closeSync(fd);
    const segmented = rate(count, t0);
    const size = statSync(path.join(dir, 'segment.log')).size;
    t0 = performance.now();
    const cursor = new SegmentCursor(path.join(dir, 'segment.log'));
    let read = 0;
    while (cursor.next(size) !== null) read++;
    cursor.close();
    const readBack = rate(read, t0);
    t0 = performance.now();
    for (let seq = 0; seq < count; seq++) appendFileSync(path.join(dir, 'naive.jsonl'), JSON.stringify({ seq, key: 1, receivedAt: Date.now(), createdAt, logs }) + '\n');
    const naive = rate(count, t0);
    const syncCount = 2_000;
    t0 = performance.now();
    const fd2 = openSync(path.join(dir, 'fsync.log'), 'a');
    for (let seq = 0; seq < syncCount; seq++) {
      writeSync(fd2, encodeRecord({ type: 'message', seq, key: 1, receivedAt: Date.now(), createdAt, logs }));
      fdatasyncSync(fd2);
    }
    closeSync(fd2);
    const everyFsync = rate(syncCount, t0);
    const format = { messageBytes: logs.length, segmentedAppendsPerSecond: segmented, segmentedReadBackPerSecond: readBack, naiveJsonlAppendsPerSecond: naive, fsyncEveryAppendPerSecond: everyFsync, recordBytes: Math.round(size / count) };
    keyValues('Spool format: appends/s on this disk', format);
    results.format = format;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (only.has('saturation')) {
  const variants = [
    { name: 'no spool', spool: false },
    { name: 'spool', spool: true },
  ];
  const runs: Array<{ variant: string; round: number; storedPerSecond: number; sentPerSecond: number; serverCpuCores: number; peakRssMiB: number; exact: boolean }> = [];
  for (let round = 1; round <= Number(a.rounds); round++) {
    for (const variant of variants) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'tetcore-bench-spool-'));
      try {
        const run = await runIngest({
          database: 'postgres',
          env: { SPOOL_DIR: variant.spool ? dir : '' },
          simulation: { nodes: Number(a.nodes), verbosity: 0, role: 'full', rate: Number(a.rate), networkStateKb: 22, rampPerSecond: 500 },
          warmupSeconds: Number(a.warmup),
          seconds: Number(a.seconds),
          log: () => {},
        });
        const r = run.result;
        runs.push({ variant: variant.name, round, storedPerSecond: r.storedPerSecond, sentPerSecond: r.sentPerSecond, serverCpuCores: r.serverCpuCores, peakRssMiB: r.serverPeakRssMiB, exact: r.check.mismatchedNodes === 0 && r.check.missing === 0 && r.check.extra === 0 });
        console.log(`saturation round ${round} ${variant.name}: stored ${r.storedPerSecond}/s (sent ${r.sentPerSecond}/s), server ${r.serverCpuCores} cores, missing ${r.check.missing}, extra ${r.check.extra}`);
        await run.dispose();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const mean = (name: string) => {
    const xs = runs.filter((r) => r.variant === name).map((r) => r.storedPerSecond);
    return xs.reduce((s, x) => s + x, 0) / xs.length;
  };
  const off = mean('no spool');
  const on = mean('spool');
  const costPercent = round(((off - on) / off) * 100, 1);
  table('Saturation: stored messages/s without and with the spool (same run, interleaved)', runs);
  keyValues('Spool cost at saturation', { withoutSpool: Math.round(off), withSpool: Math.round(on), costPercent, target: '≤ 10 %' });
  results.saturation = { runs, withoutSpool: Math.round(off), withSpool: Math.round(on), costPercent };
}

/** `count` nodes sending realistic small frames at `rate` messages/s in all, until stopped. */
function streamers(url: string, count: number, rate: number) {
  const sockets: WebSocket[] = [];
  let sent = 0;
  let seq = 0;
  const perTickEach = Math.max(1, Math.round(rate / 20 / count));
  const timer = setInterval(() => {
    for (const [n, ws] of sockets.entries()) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      for (let k = 0; k < perTickEach; k++) {
        seq++;
        const ts = new Date().toISOString().replace('Z', '+00:00');
        ws.send(Buffer.from(`{"id":1,"ts":"${ts}","payload":{"best":"0x${(seq * 7919).toString(16).padStart(64, '0')}","height":${n * 100_000_000 + seq},"msg":"block.import","origin":"NetworkBroadcast"}}`), { binary: true });
        sent++;
      }
    }
  }, 50);
  return {
    async open() {
      for (let n = 0; n < count; n++) {
        const ws = new WebSocket(url, { perMessageDeflate: false });
        ws.on('error', () => {});
        await new Promise((r) => ws.once('open', r));
        sockets.push(ws);
      }
    },
    get sent() {
      return sent;
    },
    /** The rate actually offered: at least one message per node per 50 ms tick. */
    rate: count * 20 * perTickEach,
    stop() {
      clearInterval(timer);
      for (const ws of sockets) ws.close();
    },
  };
}

if (only.has('catchup')) {
  const outageS = Number(a['outage-s']);
  const database = await createPostgresDatabase();
  const proxy = await startTcpProxy(5432);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tetcore-bench-spool-'));
  const url = new URL(database.url);
  url.port = String(proxy.port);
  url.hostname = '127.0.0.1';
  const server = await startServer({ env: { DATABASE_URL: url.toString(), SPOOL_DIR: dir, CLIENT_TIMEOUT_S: '600' } });
  const direct = new PostgresDatabase({ url: database.url, poolSize: 4, maxWriters: 2 });
  const nodes = streamers(server.url('/'), Number(a['outage-nodes']), Number(a['outage-rate']));
  try {
    await nodes.open();
    await sleep(5000);
    proxy.cut();
    console.log(`catch-up: PostgreSQL cut for ${outageS} s while ${a['outage-nodes']} nodes send ${nodes.rate} messages/s`);
    await sleep(outageS * 1000);
    const m0 = await scrape(server.port);
    const backlogAtRestore = (await (await fetch(`http://127.0.0.1:${server.port}/stats/ingest`)).json()) as { spool: { messages: number; bytes: number } };
    proxy.restore();
    const t0 = performance.now();
    let peakRssMiB = 0;
    const rss = setInterval(() => (peakRssMiB = Math.max(peakRssMiB, server.rss())), 200);
    const caughtUp = await until(async () => {
      const stats = (await (await fetch(`http://127.0.0.1:${server.port}/stats/ingest`)).json()) as { spool: { messages: number } };
      return stats.spool.messages < nodes.rate / 2; // less than half a second of traffic waits
    }, 1_800_000, 250);
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(rss);
    const m1 = await scrape(server.port);
    const written = metricSum(m1, 'tetcore_messages_stored_total') - metricSum(m0, 'tetcore_messages_stored_total');
    nodes.stop();
    const serverPeakRssMiB = server.peakRss();
    await server.stop();
    // Counted before the raw COPY below adds its own rows to the table.
    const stored = Number((await direct.query<{ n: number }>('SELECT count(*)::int AS n FROM substrate_logs')).rows[0].n);
    const rows = await sampleStoredRows(direct, 20_000);
    const copy = await rawCopy(direct, rows, { batchRows: 1024, connections: 2, seconds: Number(a['copy-seconds']) });
    const catchup = {
      outageS,
      nodes: Number(a['outage-nodes']),
      ratePerSecond: nodes.rate,
      backlogMessages: backlogAtRestore.spool.messages,
      backlogBytes: backlogAtRestore.spool.bytes,
      caughtUp,
      catchUpSeconds: round(seconds, 1),
      writtenPerSecondDuringCatchUp: Math.round(written / seconds),
      rawCopyPerSecond: copy.rowsPerSecond,
      catchUpVsRawCopyPercent: round((written / seconds / copy.rowsPerSecond) * 100, 1),
      peakRssMiBDuringCatchUp: round(peakRssMiB, 0),
      sent: nodes.sent,
      stored,
      serverPeakRssMiBWholeRun: round(serverPeakRssMiB, 0),
    };
    keyValues('Catch-up after an outage (same rows, same run)', catchup);
    results.catchup = catchup;
  } finally {
    nodes.stop();
    await server.stop().catch(() => null);
    await direct.close();
    await proxy.close();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`results: ${save('spool', results)}`);
