// GET /nodes/summary on PostgreSQL and the embedded database: nodes stream over real websockets (identity,
// system.interval, block imports, finality), a node with past connections is stored directly; every
// figure of the summary is checked against the rows the database holds (receipt times, the union of
// connections for uptime), and the ordering (pinned, connected, stale; sort columns, nulls last),
// filtering, paging and parameter errors against the rules of docs/analytics.md#get-nodessummary.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { connectNode, type TestNode } from '../helpers/fixtures.js';
import type { NodeSummaryRow } from '../../src/storage/network-summary.js';

const CHAIN = 'Summary Testnet';
const peer = (tag: string) => `12D3KooWSummary${tag.repeat(37)}`;
const [A, B, C] = ['A', 'B', 'C'].map(peer);
const hash = (n: number) => '0x' + String(n).padStart(64, '0');
const v2 = (payload: Record<string, unknown>) => JSON.stringify({ id: 1, ts: new Date().toISOString(), payload });
const connected = (peerId: string, name: string) =>
  v2({ msg: 'system.connected', chain: CHAIN, genesis_hash: '0x' + 'ab'.repeat(32), name, network_id: peerId, version: '2.1.2', authority: false, implementation: 'Tetcore Node', startup_time: '1624410117123' });

/** The route's row: the stored summary, with last_seen formatted, and whether it was pinned. */
type SummaryRow = NodeSummaryRow & { pinned: boolean };
interface Summary {
  generated_at: string;
  total: number;
  connected: number;
  matched: number;
  offset: number;
  rows: SummaryRow[];
}

for (const backend of BACKENDS) {
  describe(`GET /nodes/summary (${backend.name})`, () => {
    let server: TestServer;
    let a: TestNode;
    let b: TestNode;
    const get = async (query: string) => {
      const response = await fetch(server.httpUrl(`/nodes/summary${query}`));
      return { status: response.status, body: (await response.json()) as Summary & { parameter?: string } };
    };
    const arrivals = async (peerId: string) =>
      (await server.db.query<{ height: string; ms: number }>(`SELECT height, (extract(epoch FROM received_at) * 1000)::float8 AS ms FROM block_arrivals WHERE peer_id = $1 ORDER BY received_at`, [peerId])).rows;

    before(async () => {
      server = await startTestServer(backend, { CLIENT_TIMEOUT_S: '600' });
      a = await connectNode(server.url('/'));
      b = await connectNode(server.url('/'));
      await a.send(connected(A, 'alpha'));
      await b.send(connected(B, 'beta'));
      // A is first to see blocks 10 and 11; B imports each after A's arrival is stored, so its delays are > 0.
      for (const height of [10, 11]) {
        await a.send(v2({ msg: 'block.import', best: hash(height), height, origin: 'NetworkBroadcast' }));
        await waitFor(async () => (await arrivals(A)).length === height - 9, `A's import of ${height}`);
        await new Promise((r) => setTimeout(r, 30));
        await b.send(v2({ msg: 'block.import', best: hash(height), height, origin: 'NetworkBroadcast' }));
        await waitFor(async () => (await arrivals(B)).length === height - 9, `B's import of ${height}`);
      }
      await a.send(v2({ msg: 'system.interval', peers: 7, txcount: 3, height: 11, finalized_height: 9 }), v2({ msg: 'notify.finalized', height: '10', best: hash(10) }));
      // B sends Tetcore's two halves of system.interval: the chain part, then the network part.
      await b.send(v2({ msg: 'system.interval', txcount: 0, height: 11, finalized_height: 9, best: hash(11) }), v2({ msg: 'system.interval', peers: '12', bandwidth_download: 10, bandwidth_upload: 10 }));
      // C: two overlapping past connections, 12 h → 6 h and 10 h → 4 h ago: 8 hours of the last 24 covered.
      await server.db.query(
        `INSERT INTO peer_connections (ip_addr, peer_id, name, chain, version, created_at, last_seen, disconnected_at) VALUES
           ('10.0.0.3:1', $1, 'gamma', $2, '2.0.0', (now() AT TIME ZONE 'utc') - interval '12 hours', NULL, (now() AT TIME ZONE 'utc') - interval '6 hours'),
           ('10.0.0.3:2', $1, 'gamma', $2, '2.0.1', (now() AT TIME ZONE 'utc') - interval '10 hours', NULL, (now() AT TIME ZONE 'utc') - interval '4 hours')`,
        [C, CHAIN],
      );
      await waitFor(
        async () => Number((await server.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM substrate_logs WHERE msg IN ('system.interval', 'notify.finalized')`)).rows[0].n) === 4,
        'interval and finality messages stored',
      );
      await waitFor(async () => (await server.db.query(`SELECT 1 FROM finality_reports WHERE peer_id = $1 AND height = 10`, [A])).rows.length === 1, 'finality of 10');
      // The summary is computed at most every 5 s: wait for one that holds the last messages.
      await waitFor(async () => (await get('?limit=10')).body.rows?.find((r) => r.peer_id === A)?.finalized_height === 10, 'a summary with the finality report', 20_000);
    });

    after(async () => {
      await a?.close();
      await b?.close();
      await server?.dispose();
    });

    it('gives each node its identity, liveness, interval figures, heights, propagation and block time', async () => {
      const { status, body } = await get('');
      assert.equal(status, 200);
      assert.equal(body.total, 3);
      assert.equal(body.connected, 2);
      assert.equal(body.matched, 3);
      const row = (p: string) => body.rows.find((r) => r.peer_id === p)!;
      assert.deepEqual(
        { name: row(A).name, chain: row(A).chain, version: row(A).version, connected: row(A).connected, peers: row(A).peers, txcount: row(A).txcount, best: row(A).best_height, finalized: row(A).finalized_height },
        { name: 'alpha', chain: CHAIN, version: '2.1.2', connected: true, peers: 7, txcount: 3, best: 11, finalized: 10 },
      );
      assert.equal(row(B).peers, 12, 'a decimal string counts as a number, from the network part');
      assert.equal(row(B).txcount, 0, 'from the chain part');
      assert.equal(row(B).best_height, 11);
      assert.equal(row(B).finalized_height, 9, 'from system.interval');
      // A saw both blocks first: its delays are 0. B's are its receipts minus A's.
      assert.equal(row(A).propagation_last_ms, 0);
      assert.equal(row(A).propagation_p90_ms, 0);
      const [a10, a11] = await arrivals(A);
      const [b10, b11] = await arrivals(B);
      const delay10 = Math.round(b10.ms - a10.ms);
      const delay11 = Math.round(b11.ms - a11.ms);
      assert.equal(row(B).propagation_last_ms, delay11);
      assert.equal(row(B).propagation_p90_ms, Math.max(delay10, delay11), 'nearest rank of two delays: the larger');
      assert.ok(delay11 > 0);
      assert.equal(row(A).block_time_ms, Math.round(a11.ms - a10.ms));
      assert.match(row(A).last_seen ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
      assert.equal(row(C).connected, false);
      assert.equal(row(C).version, '2.0.1', 'the latest connection');
      assert.equal(row(C).peers, null);
      assert.equal(row(C).propagation_p90_ms, null);
      assert.ok(Math.abs((row(C).uptime_pct ?? 0) - (8 / 24) * 100) < 0.05, `uptime of the union of C's connections: ${row(C).uptime_pct}`);
      assert.ok((row(A).uptime_pct ?? 100) < 1, 'A connected for seconds of the last day');
    });

    it('orders connected nodes before stale ones, sorts by the column (nulls last), puts pinned nodes first', async () => {
      const order = async (query: string) => (await get(query)).body.rows.map((r) => r.peer_id);
      assert.deepEqual(await order('?sort=peers&order=desc'), [B, A, C]);
      assert.deepEqual(await order('?sort=peers&order=asc'), [A, B, C]);
      assert.deepEqual(await order('?sort=name&order=desc'), [B, A, C], 'stale C stays last whatever the order');
      assert.deepEqual(await order(`?sort=peers&order=desc&pinned=${C},unknown-peer`), [C, B, A]);
      const pinned = await get(`?pinned=${C}`);
      assert.deepEqual(pinned.body.rows.map((r) => r.pinned), [true, false, false]);
      assert.deepEqual(await order('?sort=propagation_last_ms&order=desc'), [B, A, C]);
    });

    it('filters by name or peer id and pages with offset and limit', async () => {
      const beta = await get('?q=BET');
      assert.equal(beta.body.matched, 1);
      assert.deepEqual(beta.body.rows.map((r) => r.name), ['beta']);
      assert.deepEqual((await get(`?q=${C.slice(-10)}`)).body.rows.map((r) => r.name), ['gamma']);
      assert.deepEqual((await get(`?q=beta&pinned=${A}`)).body.rows.map((r) => r.name), ['alpha', 'beta'], 'pinned nodes stay in the list');
      assert.equal((await get('?chain=Other')).body.matched, 0);
      const page = await get('?sort=name&offset=1&limit=1');
      assert.equal(page.body.offset, 1);
      assert.deepEqual(page.body.rows.map((r) => r.name), ['beta']);
      assert.equal(page.body.matched, 3);
    });

    it('answers 400 naming a bad parameter', async () => {
      for (const [query, parameter] of [['?sort=nope', 'sort'], ['?limit=501', 'limit'], ['?offset=-1', 'offset'], ['?order=up', 'order']] as const) {
        const { status, body } = await get(query);
        assert.equal(status, 400, query);
        assert.equal(body.parameter, parameter, query);
      }
    });
  });
}
