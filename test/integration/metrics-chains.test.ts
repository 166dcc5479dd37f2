// The per-chain and per-node series of /metrics on PostgreSQL and the embedded database: three chains
// streamed over websockets; every tetcore_chain_* value equals what /chains and the analytics routes
// answer, METRICS_MAX_CHAINS keeps the chains with the most nodes (the rest counted), per-node series
// appear only with METRICS_PER_NODE and at most METRICS_MAX_NODES; on PostgreSQL two servers sharing the
// database report the same series, and a database that hangs or goes away leaves /metrics answering
// with tetcore_database_up 0. A simulated network (forks, syncing nodes, more than 50 blocks, blocks summarized
// while it runs) gives the same values as the routes too.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { BACKENDS, ADMIN_URL } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { ALPHA, BETA, CHAIN_SERIES, G_ALPHA, GAMMA, analyticsSettled, only, parseExposition, peer, scenarioStored, seriesFromRoutes, seriesKey, streamScenario, type Scenario } from '../helpers/chain-metrics.js';
import { runSimulation } from '../../src/simulator/index.js';

async function scrape(server: TestServer): Promise<Map<string, number>> {
  const response = await fetch(server.httpUrl('/metrics'));
  assert.equal(response.status, 200);
  return parseExposition(await response.text());
}

const ENV = { METRICS_MAX_CHAINS: '2', METRICS_PER_NODE: 'true', METRICS_MAX_NODES: '3', ANALYTICS_SETTLE_S: '86400' };

for (const backend of BACKENDS) {
  describe(`per-chain /metrics series (${backend.name})`, () => {
    let server: TestServer;
    let second: TestServer | undefined;
    let scenario: Scenario;
    after(async () => {
      for (const n of scenario?.nodes ?? []) await n.socket.close();
      await second?.close();
      await server?.dispose();
    });

    it('equal the answers of /chains and the analytics routes, for the chains with the most nodes', async () => {
      server = await startTestServer(backend, ENV);
      const servers = [server];
      if (backend.name === 'postgres') {
        // A second server on the same database: the series come from the database, not from the connections.
        const shared = { name: 'postgres' as const, create: async () => ({ db: { close: async () => {} } as never, url: server.settings.databaseUrl, drop: async () => {} }) };
        second = await startTestServer(shared, ENV);
        servers.push(second);
      }
      scenario = await streamScenario(servers.map((s) => s.url('/')));
      await scenarioStored(server, scenario, servers.slice(1));

      const metrics = await scrape(server);
      const expected = await seriesFromRoutes(server, 2);
      assert.deepEqual(only(metrics, ...CHAIN_SERIES), expected);
      // What the scenario implies, so the comparison above cannot pass on two empty answers.
      const alpha = { chain: ALPHA, genesis_hash: G_ALPHA };
      assert.equal(metrics.get(seriesKey('tetcore_chain_nodes_connected', alpha)), 3);
      assert.equal(metrics.get(seriesKey('tetcore_chain_best_height', alpha)), 104);
      assert.equal(metrics.get(seriesKey('tetcore_chain_finalized_height', alpha)), 103);
      assert.equal(metrics.get(seriesKey('tetcore_chain_best_height', { chain: BETA, genesis_hash: '' })), 8);
      assert.equal(metrics.get(seriesKey('tetcore_chain_nodes_connected', { chain: BETA, genesis_hash: '' })), 1);
      assert.ok((metrics.get(seriesKey('tetcore_chain_block_time_seconds', alpha)) ?? 0) > 0.1);
      const p99 = metrics.get(seriesKey('tetcore_chain_block_propagation_seconds', { ...alpha, quantile: '0.99' })) ?? 0;
      assert.ok(p99 >= 0.04, `p99 ${p99}: B and C import each block at least 40 ms after A`);
      assert.ok(metrics.has(seriesKey('tetcore_chain_time_to_finality_seconds', { ...alpha, quantile: '0.5' })));
      assert.ok(![...metrics.keys()].some((k) => k.includes(GAMMA)), 'Gamma (no node connected) is beyond METRICS_MAX_CHAINS=2');
      assert.equal(metrics.get(seriesKey('tetcore_chains_not_exported', {})), 1);
      assert.equal(metrics.get(seriesKey('tetcore_database_up', {})), 1);

      // Every server of the cluster reports the same values.
      if (second !== undefined) assert.deepEqual(only(await scrape(second), ...CHAIN_SERIES), expected);
    });

    it('per node: best and finalized height, peers, last propagation, for at most METRICS_MAX_NODES nodes', async () => {
      const metrics = only(await scrape(server), 'tetcore_node_', 'tetcore_nodes_not_exported');
      const node = (tag: string) => ({ chain: ALPHA, genesis_hash: G_ALPHA, peer_id: peer(tag), name: `metrics-${tag}` });
      // A, B, C, D are connected; by peer id the first 3 are exported, D is counted.
      assert.equal(metrics.get(seriesKey('tetcore_nodes_not_exported', {})), 1);
      assert.ok(![...metrics.keys()].some((k) => k.includes(peer('D')) || k.includes(peer('E'))));
      for (const tag of ['A', 'B', 'C']) assert.equal(metrics.get(seriesKey('tetcore_node_best_height', node(tag))), 104, tag);
      assert.equal(metrics.get(seriesKey('tetcore_node_finalized_height', node('A'))), 103);
      assert.equal(metrics.get(seriesKey('tetcore_node_finalized_height', node('B'))), 102);
      assert.equal(metrics.has(seriesKey('tetcore_node_finalized_height', node('C'))), false, 'C reported no finality');
      assert.equal(metrics.get(seriesKey('tetcore_node_peers', node('A'))), 5);
      assert.equal(metrics.get(seriesKey('tetcore_node_peers', node('B'))), 7, 'sent as a string');
      assert.equal(metrics.has(seriesKey('tetcore_node_peers', node('C'))), false, 'its interval carried no peers');
      // Last propagation: the node's delay for block 104, as /nodes/{peer_id}/history gives it for a window holding only that block.
      const start = new Date(scenario.lastBlockAt).toISOString().slice(0, 23);
      for (const tag of ['A', 'B', 'C']) {
        const history = (await (await fetch(server.httpUrl(`/nodes/${peer(tag)}/history?start_time=${start}`))).json()) as { propagation: { blocks_seen: number; p90_ms: number } };
        assert.equal(history.propagation.blocks_seen, 1, tag);
        assert.equal(metrics.get(seriesKey('tetcore_node_block_propagation_seconds', node(tag))), history.propagation.p90_ms / 1000, tag);
      }
      assert.equal(metrics.get(seriesKey('tetcore_node_block_propagation_seconds', node('A'))), 0, 'A saw every block first');
    });

    it('are refreshed from the database within the cache time (5 s)', async () => {
      const [a] = scenario.nodes;
      await a.socket.send(JSON.stringify({ id: 1, ts: new Date().toISOString(), payload: { msg: 'block.import', height: 105, best: '0x' + 'b105'.padEnd(64, '0'), origin: 'Own' } }));
      const key = seriesKey('tetcore_chain_best_height', { chain: ALPHA, genesis_hash: G_ALPHA });
      await waitFor(async () => (await scrape(server)).get(key) === 105, 'best height 105 on /metrics', 20_000);
    });

    if (backend.name === 'postgres') {
      it('a database that does not answer: /metrics still answers, with tetcore_database_up 0, and recovers', async () => {
        // Another session holds peer_connections: the read waits on its lock until given up (READ_TIMEOUT_MS).
        const locker = new pg.Client({ connectionString: server.settings.databaseUrl as string });
        await locker.connect();
        try {
          await locker.query(`BEGIN`);
          await locker.query(`LOCK TABLE peer_connections IN ACCESS EXCLUSIVE MODE`);
          const metrics = await waitFor(async () => {
            const m = await scrape(server);
            return m.get(seriesKey('tetcore_database_up', {})) === 0 ? m : null;
          }, 'tetcore_database_up 0 while the table is locked', 30_000);
          assert.equal(only(metrics, 'tetcore_chain_').size, 0);
        } finally {
          await locker.query(`ROLLBACK`).catch(() => {});
          await locker.end();
        }
        await waitFor(async () => (await scrape(server)).get(seriesKey('tetcore_database_up', {})) === 1, 'tetcore_database_up 1 again', 30_000);
        assert.equal((await scrape(server)).get(seriesKey('tetcore_chain_best_height', { chain: ALPHA, genesis_hash: G_ALPHA })), 105);
      });

      it('without the database, /metrics still answers: no chain series, tetcore_database_up 0', async () => {
        for (const n of scenario.nodes) await n.socket.close();
        await second?.close();
        second = undefined;
        // Disconnections written first, so that closing the server has nothing left to write.
        await waitFor(async () => (await server.db.query(`SELECT 1 FROM peer_connections WHERE disconnected_at IS NULL`)).rows.length === 0, 'every connection closed');
        const name = new URL(server.settings.databaseUrl as string).pathname.slice(1);
        const admin = new pg.Client({ connectionString: ADMIN_URL });
        await admin.connect();
        try {
          await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
        } finally {
          await admin.end();
        }
        const metrics = await waitFor(async () => {
          const m = await scrape(server);
          return m.get(seriesKey('tetcore_database_up', {})) === 0 ? m : null;
        }, 'tetcore_database_up 0', 20_000);
        // (A gauge without labels always has a value: the count of chains left out reads 0.)
        assert.deepEqual(only(metrics, ...CHAIN_SERIES, 'tetcore_node_'), new Map([[seriesKey('tetcore_chains_not_exported', {}), 0]]));
      });
    }
  });
}

describe('per-chain series settings', () => {
  it('METRICS_MAX_CHAINS=0 exports no chain, counting them all; per-node series are off by default', async () => {
    const backend = BACKENDS.find((b) => b.name === 'embedded')!;
    const server = await startTestServer(backend, { METRICS_MAX_CHAINS: '0' });
    let scenario: Scenario | undefined;
    try {
      scenario = await streamScenario([server.url('/')]);
      await scenarioStored(server, scenario);
      const metrics = await scrape(server);
      assert.deepEqual(only(metrics, ...CHAIN_SERIES), new Map([[seriesKey('tetcore_chains_not_exported', {}), 3]]));
      assert.deepEqual(only(metrics, 'tetcore_node_', 'tetcore_nodes_not_exported'), new Map([[seriesKey('tetcore_nodes_not_exported', {}), 0]]));
      assert.equal(metrics.get(seriesKey('tetcore_database_up', {})), 1);
    } finally {
      for (const n of scenario?.nodes ?? []) await n.socket.close();
      await server.dispose();
    }
  });
});

describe('per-chain series of a simulated network (postgres)', () => {
  it('equal the routes with forks, syncing nodes, more than 50 blocks and summarized blocks', async () => {
    const server = await startTestServer(BACKENDS.find((b) => b.name === 'postgres')!, { ANALYTICS_SETTLE_S: '2', ANALYTICS_SUMMARY_INTERVAL_S: '1' });
    try {
      const simulation = await runSimulation({
        url: server.url('/'), nodes: 8, role: 'validator', validators: 4, seed: 'metrics-net', blockTimeS: 0.5, timeScale: 8,
        propagationMs: [50, 400], forkRate: 0.2, churn: 0, syncing: 0.25, networkStateKb: 2,
      });
      // About 40 s of simulated time: some 80 blocks, forks among them.
      await new Promise((resolve) => setTimeout(resolve, 5000));
      const stats = await simulation.stop();
      await waitFor(async () => Number((await server.db.query<{ n: number }>(`SELECT count(*) AS n FROM substrate_logs`)).rows[0].n) === stats.sent, `${stats.sent} messages stored`, 30_000);
      // The nodes' disconnections written (nodes_connected 0), and the facts recorded.
      await waitFor(async () => (await server.db.query(`SELECT 1 FROM peer_connections WHERE disconnected_at IS NULL`)).rows.length === 0, 'every connection closed', 30_000);
      await analyticsSettled(server);
      const metrics = only(await scrape(server), ...CHAIN_SERIES);
      const expected = await seriesFromRoutes(server, 20, { forks: true });
      // With forks in the last 50 blocks no route gives p50 and p99 of their delays (/propagation counts every hash): only p90.
      for (const key of metrics.keys()) if (/block_propagation_seconds.*quantile="0\.(5|99)"/.test(key) && !expected.has(key)) metrics.delete(key);
      assert.deepEqual(metrics, expected);
      const best = [...metrics].find(([key]) => key.startsWith('tetcore_chain_best_height'));
      assert.ok(best && best[1] > 1050, `best height ${best?.[1]}: more than 50 blocks`);
      const forks = Number((await server.db.query<{ n: number }>(`SELECT count(*) AS n FROM (SELECT height FROM blocks GROUP BY chain_id, height HAVING count(*) > 1) f`)).rows[0].n);
      assert.ok(forks > 0, 'the run had forks');
    } finally {
      await server.dispose();
    }
  });
});
