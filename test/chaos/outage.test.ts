// A database outage while nodes stream, without the disk spool (SPOOL_DIR empty; with it: test/integration/spool-outage.test.ts): sockets stay open, messages wait in memory, /ready says not
// ready, and when the database returns every message is stored exactly once.
// OUTAGE_S (default 5) and OUTAGE_NODES (default 20) make it the 30 s / 200 nodes run of test:chaos.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { createPostgresDatabase } from '../helpers/backends.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor, testSettings } from '../helpers/server.js';
import { connectNode, type TestNode } from '../helpers/fixtures.js';
import { startServer } from '../../src/server.js';
import { PostgresDatabase } from '../../src/storage/postgres.js';

const OUTAGE_S = Number(process.env.OUTAGE_S ?? 5);
const NODES = Number(process.env.OUTAGE_NODES ?? 20);
const INTERVAL_MS = 100;

describe('database outage', () => {
  it(`loses nothing through a ${OUTAGE_S} s outage with ${NODES} nodes streaming`, { timeout: (OUTAGE_S + 120) * 1000 }, async () => {
    const database = await createPostgresDatabase();
    const proxy = await startTcpProxy(5432);
    const url = new URL(database.url);
    url.port = String(proxy.port);
    url.hostname = '127.0.0.1';
    const settings = testSettings({ DATABASE_URL: url.toString(), DB_SAVE_LATENCY_MS: '50', CLIENT_TIMEOUT_S: '30' });
    const server = await startServer(settings, pino({ level: 'silent' }));
    // The test reads the database directly, not through the proxy it cuts.
    const direct = new PostgresDatabase({ url: database.url, poolSize: 2, maxWriters: 1 });
    const nodes: TestNode[] = [];
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    try {
      for (let n = 0; n < NODES; n++) nodes.push(await connectNode(`ws://127.0.0.1:${server.port}/`));
      let seq = 0;
      const tick = () => {
        seq++;
        nodes.forEach((node, n) => {
          void node.send(`{"id":1,"ts":"${new Date().toISOString().replace('Z', '+00:00')}","payload":{"height":${n * 1_000_000 + seq},"msg":"block.import"}}`);
          sent++;
        });
      };
      timer = setInterval(tick, INTERVAL_MS);
      await new Promise((r) => setTimeout(r, 1000));

      let peakBuffer = 0;
      const sampler = setInterval(() => (peakBuffer = Math.max(peakBuffer, server.writer.pendingRows)), 50);
      proxy.cut();
      await new Promise((r) => setTimeout(r, 500));
      const ready = await fetch(`http://127.0.0.1:${server.port}/ready`);
      assert.equal(ready.status, 503, 'not ready while the database is unreachable');
      await new Promise((r) => setTimeout(r, OUTAGE_S * 1000 - 500));
      assert.ok(server.writer.pendingRows > 0, 'messages wait in memory during the outage');
      proxy.restore();
      clearInterval(sampler);
      await new Promise((r) => setTimeout(r, 1000));
      clearInterval(timer);
      timer = undefined;
      await new Promise((r) => setTimeout(r, 200));

      assert.ok(nodes.every((node) => node.ws.readyState === node.ws.OPEN), 'no node was disconnected');
      await waitFor(async () => (await direct.query<{ n: number }>('SELECT count(*) AS n FROM substrate_logs')).rows[0].n >= sent, `${sent} rows`, 60_000);
      const { rows, distinct } = (await direct.query<{ rows: number; distinct: number }>(`SELECT count(*) AS rows, count(DISTINCT logs->>'height') AS distinct FROM substrate_logs`)).rows[0];
      assert.equal(rows, sent, 'every message stored');
      assert.equal(distinct, sent, 'none stored twice');
      await waitFor(async () => (await fetch(`http://127.0.0.1:${server.port}/ready`)).status === 200, 'ready again');
      const dropped = (await server.metrics.messagesDropped.get()).values.reduce((n, v) => n + v.value, 0);
      assert.equal(dropped, 0);
      console.log(`outage: ${OUTAGE_S} s with ${NODES} nodes: ${sent} sent, ${rows} stored once, ${dropped} dropped; peak buffer ${peakBuffer} messages`);
    } finally {
      if (timer) clearInterval(timer);
      for (const node of nodes) await node.close().catch(() => {});
      await server.close();
      await direct.close();
      await proxy.close();
      await database.drop();
    }
  });
});
