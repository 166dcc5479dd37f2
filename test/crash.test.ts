// kill -9 of a real server process mid-stream: no message is stored twice, the loss is bounded by what
// was buffered (about DB_SAVE_LATENCY_MS of traffic), and nodes reconnect to the restarted server.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { createPostgresDatabase } from './helpers/backends.js';
import { waitFor } from './helpers/server.js';
import { PostgresDatabase } from '../src/storage/postgres.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const SAVE_LATENCY_MS = 100;
/** Messages sent earlier than this before the kill must have been written. Generous for a busy 2-core machine. */
const LOSS_WINDOW_MS = SAVE_LATENCY_MS + 1000;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

async function startServer(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'info', DB_SAVE_LATENCY_MS: String(SAVE_LATENCY_MS), ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('tetcore-analytics listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  return child;
}

/** A node that streams numbered messages and reconnects whenever its connection is lost. */
class StreamingNode {
  private ws: WebSocket | null = null;
  private seq = 0;
  private stopped = false;
  /** height → when its send completed (written to the socket). */
  readonly sentAt = new Map<number, number>();
  reconnects = 0;

  constructor(private readonly url: string, private readonly base: number) {}

  start(): void {
    const ws = new WebSocket(this.url, { perMessageDeflate: false, autoPong: false });
    this.ws = ws;
    ws.on('error', () => {});
    ws.on('open', () => {
      const timer = setInterval(() => {
        if (ws.readyState !== WebSocket.OPEN) return clearInterval(timer);
        const height = this.base + ++this.seq;
        ws.send(Buffer.from(`{"id":1,"ts":"${new Date().toISOString().replace('Z', '+00:00')}","payload":{"height":${height},"msg":"block.import"}}`), { binary: true }, (error) => {
          if (!error) this.sentAt.set(height, Date.now());
        });
      }, 20);
    });
    ws.on('close', () => {
      if (this.stopped) return;
      this.reconnects++;
      setTimeout(() => this.start(), 200);
    });
  }

  stop(): void {
    this.stopped = true;
    this.ws?.terminate();
  }
}

describe('crash', () => {
  it('kill -9 mid-stream: no duplicates, loss bounded by the buffer, nodes reconnect and resume', { timeout: 120_000 }, async () => {
    const database = await createPostgresDatabase();
    const port = await freePort();
    const env = { DATABASE_URL: database.url, PORT: String(port) };
    let server = await startServer(env);
    const nodes = Array.from({ length: 10 }, (_, n) => new StreamingNode(`ws://127.0.0.1:${port}/`, n * 1_000_000));
    const db = new PostgresDatabase({ url: database.url, poolSize: 2, maxWriters: 1 });
    try {
      nodes.forEach((node) => node.start());
      await new Promise((r) => setTimeout(r, 2000));
      const killedAt = Date.now();
      server.kill('SIGKILL');
      await new Promise((r) => server.once('exit', r));
      server = await startServer(env);
      await waitFor(() => nodes.every((node) => node.reconnects >= 1), 'every node reconnected');
      await new Promise((r) => setTimeout(r, 1500));
      nodes.forEach((node) => node.stop());
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));

      const stored = new Set((await db.query<{ h: string }>(`SELECT logs->>'height' AS h FROM substrate_logs`)).rows.map((r) => Number(r.h)));
      const total = Number((await db.query<{ n: number }>('SELECT count(*) AS n FROM substrate_logs')).rows[0].n);
      assert.equal(total, stored.size, 'no message stored twice');
      let lost = 0;
      let lostOutsideWindow = 0;
      let resumed = 0;
      for (const node of nodes) {
        for (const [height, at] of node.sentAt) {
          if (!stored.has(height)) {
            lost++;
            if (at < killedAt - LOSS_WINDOW_MS) lostOutsideWindow++;
          } else if (at > killedAt) resumed++;
        }
      }
      assert.equal(lostOutsideWindow, 0, `messages sent over ${LOSS_WINDOW_MS} ms before the kill were lost`);
      assert.ok(resumed > 0, 'messages after the restart are stored');
      console.log(`crash: ${lost} messages lost (all within ${LOSS_WINDOW_MS} ms before the kill), ${resumed} stored after the restart, no duplicates`);
    } finally {
      nodes.forEach((node) => node.stop());
      if (server.exitCode === null) server.kill('SIGKILL');
      await db.close();
      await database.drop();
    }
  });
});
