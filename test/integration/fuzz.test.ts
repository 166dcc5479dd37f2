// Fuzzing a real server with fast-check: hostile frames next to a well-behaved node whose messages must
// all arrive (the parser alone: test/unit/fuzz-parser.test.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor } from '../helpers/server.js';
import { connectNode } from '../helpers/fixtures.js';
import { TS, hostileFrame } from '../helpers/hostile-frames.js';

for (const backend of BACKENDS) {
  describe(`fuzzing a real server (${backend.name})`, () => {
    it("hostile frames never crash it, never cost another node's messages, and every one is stored or counted", { timeout: 180_000 }, async () => {
      // The nodes go silent while the test waits: no liveness timeout may close them meanwhile.
      const server = await startTestServer(backend, { DB_BATCH_SIZE: '64', CLIENT_TIMEOUT_S: '600' });
      try {
        const good = await connectNode(server.url('/'));
        await good.send(`{"id":1,"ts":"${TS}","payload":{"msg":"system.connected","network_id":"12D3KooWFuzzGoodNode","name":"good"}}`);
        let goodSent = 1;
        // Rows are created with a node's first stored message: find the good node's by its peer id.
        const goodId = await waitFor(async () => (await server.db.query<{ id: number }>(`SELECT id FROM peer_connections WHERE peer_id = '12D3KooWFuzzGoodNode'`)).rows[0]?.id, "the good node's row");
        const hostile = await connectNode(server.url('/'));
        const frames = fc.sample(hostileFrame, { numRuns: backend.name === 'postgres' ? 3_000 : 1_000, seed: 42 });
        for (let i = 0; i < frames.length; i += 50) {
          await hostile.send(...frames.slice(i, i + 50));
          await good.send(`{"id":1,"ts":"${TS}","payload":{"height":${goodSent},"msg":"block.import"}}`);
          goodSent++;
        }
        await waitFor(async () => Number((await server.db.query<{ n: number }>('SELECT count(*) AS n FROM substrate_logs WHERE peer_connection_id = $1', [goodId])).rows[0].n) === goodSent, `the good node's ${goodSent} messages`, 60_000);
        // Reconcile the hostile node: everything it sent is stored or counted as dropped.
        const accounted = async () => {
          const stored = Number((await server.db.query<{ n: number }>('SELECT count(*) AS n FROM substrate_logs WHERE peer_connection_id <> $1', [goodId])).rows[0].n);
          const dropped = (await server.metrics.messagesDropped.get()).values.reduce((n, v) => n + v.value, 0);
          return stored + dropped;
        };
        await waitFor(async () => (await accounted()) === frames.length, `${frames.length} hostile frames accounted for`, 60_000);
        assert.equal(hostile.ws.readyState, hostile.ws.OPEN, 'bad content does not close the connection');
        const dropped = async (reason: string) => (await server.metrics.messagesDropped.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
        assert.ok((await dropped('too_deep')) > 0 && (await dropped('ts_in_future')) > 0, 'deep and future frames were among them');
        assert.ok((await server.metrics.identityFieldsRejected.get()).values.some((v) => v.value > 0), 'so were oversized identity fields');
        assert.equal((await fetch(server.httpUrl('/health'))).status, 200);
        await hostile.close();
        await good.close();
      } finally {
        await server.dispose();
      }
    });
  });
}
