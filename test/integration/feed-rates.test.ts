// GET /feed/rates at fixed instants: the window ends at the server's clock, the answer is refreshed at most
// once per RATES_REFRESH_MS of that clock, and the route is one of the query API's (its `requests`
// counter, its statement timeout and error format, its OpenAPI document).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { connectNode } from '../helpers/fixtures.js';
import { api } from '../helpers/api-support.js';
import { RATES_REFRESH_MS, RATES_WINDOW_S, type RatesReport } from '../../src/feed/rates.js';

const T = Date.parse('2026-01-15T10:30:00.000Z');
const PEER = '12D3KooWRatesTestPeer';
const frame = (ms: number, payload: Record<string, unknown>) => JSON.stringify({ id: 1, ts: new Date(ms).toISOString().replace('Z', '+00:00'), payload });

async function stored(server: TestServer): Promise<number> {
  return Number((await server.db.query<{ n: number }>('SELECT count(*) AS n FROM substrate_logs')).rows[0].n);
}

const requests = async (server: TestServer) => (await server.metrics.requests.get()).values[0]?.value ?? 0;

for (const backend of BACKENDS) {
  describe(`/feed/rates (${backend.name})`, () => {
    const clock = { now: T };
    let server: TestServer;
    before(async () => {
      server = await startTestServer(backend, {}, { clock: () => clock.now });
      await server.purger.preparePartitions();
    });
    after(() => server.dispose());

    it('counts the messages of connected nodes in the minute before the clock, refreshed once per RATES_REFRESH_MS', async () => {
      const node = await connectNode(server.url('/'));
      await node.send(
        frame(T - 90_000, { msg: 'system.connected', network_id: PEER, name: 'rates', chain: 'Test' }), // before the window
        frame(T - 50_000, { msg: 'block.import', height: 1 }),
        frame(T - 10_000, { msg: 'block.import', height: 2 }),
        frame(T - 5_000, { msg: 'system.interval', peers: 3 }),
      );
      await waitFor(async () => (await stored(server)) === 4, 'the four messages stored');
      const before = await requests(server);
      const first = await api<RatesReport>(server, '/feed/rates');
      assert.equal(first.status, 200);
      assert.deepEqual(first.body, { window_s: RATES_WINDOW_S, nodes: { [PEER]: { total: 3, per_minute: 3, by_msg: { 'block.import': 2, 'system.interval': 1 } } } });
      assert.equal(await requests(server), before + 1, 'counted as a query API request');

      await node.send(frame(T - 1_000, { msg: 'block.import', height: 3 }));
      await waitFor(async () => (await stored(server)) === 5, 'the fifth message stored');
      clock.now = T + RATES_REFRESH_MS - 1;
      assert.equal((await api<RatesReport>(server, '/feed/rates')).body.nodes[PEER].total, 3, 'the cached answer');
      clock.now = T + RATES_REFRESH_MS;
      assert.deepEqual((await api<RatesReport>(server, '/feed/rates')).body.nodes[PEER], { total: 4, per_minute: 4, by_msg: { 'block.import': 3, 'system.interval': 1 } });
      // A minute later (by the clock) every message has left the window.
      clock.now = T + 60_000 + RATES_REFRESH_MS;
      assert.deepEqual((await api<RatesReport>(server, '/feed/rates')).body, { window_s: RATES_WINDOW_S, nodes: {} });
      await node.close();
    });

    it('is documented with the query API', async () => {
      const { body } = await api<{ paths: Record<string, unknown> }>(server, '/docs/json');
      assert.ok('/feed/rates' in body.paths);
    });
  });
}

describe('/feed/rates under the statement timeout (postgres)', () => {
  const postgres = BACKENDS.find((b) => b.name === 'postgres');
  it('answers 503 QUERY_TIMEOUT in the API error format when its query outlasts STATEMENT_TIMEOUT_MS, and does not keep the failure', async () => {
    assert.ok(postgres);
    const server = await startTestServer(postgres, { STATEMENT_TIMEOUT_MS: '300' }, { clock: () => T });
    const locker = new pg.Client({ connectionString: server.settings.databaseUrl as string });
    try {
      // Another session holds the table: the rates query waits for its lock until the statement timeout.
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE substrate_logs IN ACCESS EXCLUSIVE MODE');
      const refused = await api<{ statusCode: number; code: string; message: string }>(server, '/feed/rates');
      assert.equal(refused.status, 503);
      assert.equal(refused.body.statusCode, 503);
      assert.equal(refused.body.code, 'QUERY_TIMEOUT');
      await locker.query('ROLLBACK');
      const answered = await api<RatesReport>(server, '/feed/rates');
      assert.equal(answered.status, 200, 'the same instant: the failure was not cached');
      assert.deepEqual(answered.body, { window_s: RATES_WINDOW_S, nodes: {} });
    } finally {
      await locker.end().catch(() => {});
      await server.dispose();
    }
  });
});
