// kill -9 of a real server process mid-stream: no message is stored twice, the loss is bounded by what
// was buffered (about DB_SAVE_LATENCY_MS of traffic), and nodes reconnect to the restarted server.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPostgresDatabase } from '../helpers/backends.js';
import { waitFor } from '../helpers/server.js';
import { StreamingNode } from '../helpers/streaming-node.js';
import { freePort, startServerProcess } from '../helpers/process.js';
import { PostgresDatabase } from '../../src/storage/postgres.js';

const SAVE_LATENCY_MS = 100;
/** Messages sent earlier than this before the kill must have been written. Generous for a busy 2-core machine. */
const LOSS_WINDOW_MS = SAVE_LATENCY_MS + 1000;

describe('crash', () => {
  it('kill -9 mid-stream: no duplicates, loss bounded by the buffer, nodes reconnect and resume', { timeout: 120_000 }, async () => {
    const database = await createPostgresDatabase();
    const port = await freePort();
    const env = { DATABASE_URL: database.url, PORT: String(port), DB_SAVE_LATENCY_MS: String(SAVE_LATENCY_MS) };
    let server = (await startServerProcess(env)).child;
    const nodes = Array.from({ length: 10 }, (_, n) => new StreamingNode(`ws://127.0.0.1:${port}/`, n * 1_000_000));
    const db = new PostgresDatabase({ url: database.url, poolSize: 2, maxWriters: 1 });
    try {
      nodes.forEach((node) => node.start());
      await new Promise((r) => setTimeout(r, 2000));
      const killedAt = Date.now();
      server.kill('SIGKILL');
      await new Promise((r) => server.once('exit', r));
      server = (await startServerProcess(env)).child;
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
