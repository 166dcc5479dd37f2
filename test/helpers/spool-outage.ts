// A PostgreSQL outage (the TCP proxy cut) while nodes stream into a server with the disk spool: the
// scenario of test/integration/spool-outage.test.ts (short) and test/chaos/spool-outage.test.ts (5 minutes).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { createPostgresDatabase } from './backends.js';
import { startTcpProxy } from './tcp-proxy.js';
import { testSettings, waitFor } from './server.js';
import { connectNode, type TestNode } from './fixtures.js';
import { startServer } from '../../src/server.js';
import { PostgresDatabase } from '../../src/storage/postgres.js';

export interface OutageRun {
  outageS: number;
  nodes: number;
  intervalMs: number;
  /** SPOOL_MAX_BYTES; small to see the spool fill and backpressure start. */
  spoolMaxBytes?: number;
  /** BUFFER_MAX_ROWS: small, so that the backlog must be read back from disk. */
  bufferMaxRows?: number;
  /** SPOOL_DIR (default: a fresh temporary folder, removed afterwards). */
  spoolDir?: string;
}

export interface OutageFigures {
  sent: number;
  stored: number;
  distinct: number;
  dropped: number;
  backpressure: number;
  replayed: number;
  peakWriterRows: number;
  peakSpoolBytes: number;
  diskErrors: number;
  diskFailedDuringOutage: boolean;
  readyDuringOutage: number;
  drainS: number;
}

async function counter(metric: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> {
  return (await metric.get()).values.reduce((n, v) => n + v.value, 0);
}

export async function runSpoolOutage(run: OutageRun): Promise<OutageFigures> {
  const database = await createPostgresDatabase();
  const proxy = await startTcpProxy(5432);
  const spoolDir = run.spoolDir ?? mkdtempSync(path.join(os.tmpdir(), 'tetcore-spool-outage-'));
  const url = new URL(database.url);
  url.port = String(proxy.port);
  url.hostname = '127.0.0.1';
  const settings = testSettings({
    DATABASE_URL: url.toString(),
    DB_SAVE_LATENCY_MS: '50',
    CLIENT_TIMEOUT_S: '30',
    SPOOL_DIR: spoolDir,
    BUFFER_MAX_ROWS: String(run.bufferMaxRows ?? 2000),
    ...(run.spoolMaxBytes ? { SPOOL_MAX_BYTES: String(run.spoolMaxBytes) } : {}),
  });
  const server = await startServer(settings, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }));
  const direct = new PostgresDatabase({ url: database.url, poolSize: 2, maxWriters: 1 });
  const nodes: TestNode[] = [];
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  let sampler: NodeJS.Timeout | undefined;
  try {
    // Polite nodes answer the server's pings, as real nodes' websocket libraries do: once the sends stop,
    // the drain of a 5-minute backlog can outlast CLIENT_TIMEOUT_S, and a silent node would then be closed
    // (rightly, code 4408) although the server did nothing wrong. The chaos run failed so in CI.
    const closes: string[] = [];
    for (let n = 0; n < run.nodes; n++) {
      const node = await connectNode(`ws://127.0.0.1:${server.port}/`, { polite: true });
      void node.closed.then(({ code, reason }) => closes.push(`node ${n}: ${code} ${reason} at ${new Date().toISOString()}`));
      nodes.push(node);
    }
    let seq = 0;
    timer = setInterval(() => {
      seq++;
      nodes.forEach((node, n) => {
        void node.send(`{"id":1,"ts":"${new Date().toISOString().replace('Z', '+00:00')}","payload":{"height":${n * 10_000_000 + seq},"msg":"block.import","hash":"0x${'ab'.repeat(32)}"}}`).catch(() => {});
        sent++;
      });
    }, run.intervalMs);
    await new Promise((r) => setTimeout(r, 1000));

    let peakWriterRows = 0;
    let peakSpoolBytes = 0;
    sampler = setInterval(() => {
      peakWriterRows = Math.max(peakWriterRows, server.writer.pendingRows);
      peakSpoolBytes = Math.max(peakSpoolBytes, server.spool?.backlog().bytes ?? 0);
    }, 50);
    proxy.cut();
    await new Promise((r) => setTimeout(r, 500));
    const readyDuringOutage = (await fetch(`http://127.0.0.1:${server.port}/ready`)).status;
    await new Promise((r) => setTimeout(r, run.outageS * 1000 - 500));
    assert.ok((server.spool?.backlog().messages ?? 0) > 0, 'messages wait in the spool during the outage');
    const diskFailedDuringOutage = server.spool?.backlog().diskFailed ?? false;
    proxy.restore();
    const restoredAt = Date.now();
    await new Promise((r) => setTimeout(r, 1000));
    clearInterval(timer);
    timer = undefined;
    // Every send handed to the socket (a paused server may hold some in the nodes' buffers).
    await waitFor(() => nodes.every((node) => node.ws.bufferedAmount === 0), 'nodes flushed', 60_000);
    await waitFor(async () => Number((await direct.query<{ n: number }>('SELECT count(*)::int AS n FROM substrate_logs')).rows[0].n) >= sent, `${sent} rows`, 600_000);
    const drainS = (Date.now() - restoredAt) / 1000;
    clearInterval(sampler);
    sampler = undefined;
    assert.deepEqual(closes, [], 'no node was disconnected');
    const { rows, distinct } = (await direct.query<{ rows: number; distinct: number }>(`SELECT count(*)::int AS rows, count(DISTINCT logs->>'height')::int AS distinct FROM substrate_logs`)).rows[0];
    return {
      sent,
      stored: Number(rows),
      distinct: Number(distinct),
      dropped: await counter(server.metrics.messagesDropped),
      backpressure: await counter(server.metrics.spoolBackpressure),
      replayed: await counter(server.metrics.spoolReplayed),
      peakWriterRows,
      peakSpoolBytes,
      diskErrors: await counter(server.metrics.spoolDiskErrors),
      diskFailedDuringOutage,
      readyDuringOutage,
      drainS,
    };
  } finally {
    if (timer) clearInterval(timer);
    if (sampler) clearInterval(sampler);
    for (const node of nodes) await node.close().catch(() => {});
    await server.close();
    await direct.close();
    await proxy.close();
    await database.drop();
    if (run.spoolDir === undefined) rmSync(spoolDir, { recursive: true, force: true });
  }
}
