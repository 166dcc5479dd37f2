// Admission control over real HTTP: with every query slot taken, a query waits its QUERY_QUEUE_WAIT_MS
// and is answered 503 QUERY_OVERLOADED with Retry-After, one past QUERY_QUEUE_MAX at once; meanwhile
// ingestion, /health and /metrics are untouched, and a freed slot serves the next query.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { connectNode } from '../helpers/fixtures.js';

for (const backend of BACKENDS) {
  describe(`query admission (${backend.name})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(backend, { QUERY_CONCURRENCY: '1', QUERY_QUEUE_MAX: '1', QUERY_QUEUE_WAIT_MS: '300' });
    });
    after(() => server.dispose());

    it('refuses past the queue and the wait with 503 QUERY_OVERLOADED and Retry-After; nothing else is held up', async () => {
      const slot = await server.admission.acquire(); // as a long export would hold it
      const waiting = fetch(server.httpUrl('/nodes'));
      await waitFor(() => server.admission.waiting === 1, 'the first query to queue');
      const refusedAtOnce = await fetch(server.httpUrl('/nodes/log_stats?peer_id=x'));
      assert.equal(refusedAtOnce.status, 503);
      assert.equal(refusedAtOnce.headers.get('retry-after'), '1');
      const body = (await refusedAtOnce.json()) as { code: string; message: string; statusCode: number };
      assert.equal(body.code, 'QUERY_OVERLOADED');
      assert.equal(body.statusCode, 503);
      assert.match(body.message, /QUERY_QUEUE_MAX=1/);

      // While the lane is full: operations answer and a node's messages are stored.
      assert.equal((await fetch(server.httpUrl('/health'))).status, 200);
      const node = await connectNode(server.url('/'));
      await node.send(JSON.stringify({ msg: 'admission.test', ts: new Date().toISOString() }));
      await waitFor(async () => Number((await server.ingestDb.query<{ n: number }>(`SELECT count(*)::int AS n FROM substrate_logs WHERE msg = 'admission.test'`)).rows[0].n) === 1, 'the message stored');
      await node.close();

      const timedOut = await waiting;
      assert.equal(timedOut.status, 503);
      assert.equal(timedOut.headers.get('retry-after'), '1');
      assert.match(((await timedOut.json()) as { message: string }).message, /QUERY_QUEUE_WAIT_MS/);

      const metrics = await (await fetch(server.httpUrl('/metrics'))).text();
      assert.match(metrics, /tetcore_query_admission_rejected_total\{reason="queue_full"\} 1/);
      assert.match(metrics, /tetcore_query_admission_rejected_total\{reason="wait_timeout"\} 1/);
      assert.match(metrics, /tetcore_query_admission_in_flight 1/);

      slot.release();
      const served = await fetch(server.httpUrl('/nodes'));
      assert.equal(served.status, 200);
      assert.equal(server.admission.running, 0);
    });
  });
}
