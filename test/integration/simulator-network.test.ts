// Tests of the simulator's network mode over sockets: the extra frames of verbosity 9, and a short network
// run against the real server on both databases, checking the stored messages against the run's ground
// truth (the model and the peer graph alone: test/unit/simulator-network.test.ts).

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { expandPeerset } from '../../src/api/peerset.js';
import { runSimulation, type GroundTruth } from '../../src/simulator/index.js';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';

test('verbosity 9: each reported import comes with babe.checked_and_importing and two tracing.profiling spans', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  const frames: Array<{ payload: Record<string, unknown> }> = [];
  wss.on('connection', (socket) => socket.on('message', (data) => frames.push(JSON.parse((data as Buffer).toString()))));
  try {
    const simulation = await runSimulation({
      url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, nodes: 1, verbosity: 9, blockTimeS: 0.5, timeScale: 10,
      forkRate: 0, seed: 'v9', truth: true,
    });
    await waitFor(() => frames.filter((f) => f.payload.msg === 'block.import').length >= 5, 'five imports');
    const stats = await simulation.stop();
    await waitFor(() => frames.length === stats.sent, 'every frame sent to arrive');
    const msgs = frames.map((f) => f.payload.msg);
    const imports = frames.filter((f) => f.payload.msg === 'block.import');
    assert.deepEqual(imports.map((f) => [f.payload.height, f.payload.best]), simulation.truth()!.nodes[0].block_imports.map((i) => [i.height, i.hash]));
    const spans = frames.filter((f) => f.payload.msg === 'tracing.profiling').map((f) => f.payload);
    assert.equal(spans.length, 2 * imports.length);
    for (let i = 0; i < spans.length; i += 2) {
      const [parent, child] = [spans[i], spans[i + 1]];
      assert.deepEqual([parent.name, parent.parent_id, child.name, child.parent_id], ['import_block', null, 'execute_block', parent.id]);
      assert.ok(typeof parent.time === 'number' && typeof child.time === 'number' && typeof parent.target === 'string');
    }
    assert.equal(msgs.filter((msg) => msg === 'babe.checked_and_importing').length, imports.length);
  } finally {
    for (const client of wss.clients) client.terminate();
    await new Promise((resolve) => wss.close(resolve));
  }
});

// ---------------------------------------------------------------------------------------------
// A short network against the real server.

interface StoredReport {
  peer_id: string;
  msg: string;
  height: string;
  hash: string;
  origin: string | null;
  created_at: string;
}

const utcMs = (naive: string) => Date.parse(`${naive.replace(' ', 'T')}Z`);

for (const backend of BACKENDS) {
  describe(`network run against the server (${backend.name})`, () => {
    let server: TestServer;
    after(async () => server?.dispose());

    test('stored block.import and notify.finalized match the ground truth exactly; sessions, intervals and network states agree', async () => {
      server = await startTestServer(backend);
      // The seed gives (deterministically: the schedule depends on nothing else) a syncing node, about
      // ten outages in the first 40 s, and an even and an odd node up for the first 60 s, long enough
      // for their first network state (30 s in) to go out even on a busy machine.
      const simulation = await runSimulation({
        url: server.url('/'), nodes: 10, role: 'validator', validators: 4, seed: 'net-run-3',
        blockTimeS: 0.5, timeScale: 8, propagationMs: [50, 400], forkRate: 0.2, churn: 0.25, churnPeriodS: 8,
        downtimeS: [1.5, 3], syncing: 0.2, networkStateKb: 4, truth: true,
      });
      // At least 40 s of simulated time: 80 blocks, outages and their syncs, network states in both shapes.
      await new Promise((resolve) => setTimeout(resolve, 5000));
      const peersetShapes = async () => (await server.db.query<{ sets: boolean }>(
        `SELECT DISTINCT logs->'state'->'peerset' ? 'sets' AS sets FROM substrate_logs WHERE msg = 'system.network_state'`)).rows;
      await waitFor(async () => (await peersetShapes()).length === 2, 'network states in both peerset shapes', 30_000);
      // Sync reports go out only once the node's connection is up: on a busy machine that can take a few outages.
      const syncReported = async () => (await server.db.query(`SELECT 1 FROM substrate_logs WHERE msg = 'block.import' AND logs->>'origin' = 'NetworkInitialSync' LIMIT 1`)).rows.length > 0;
      await waitFor(syncReported, 'a NetworkInitialSync import stored', 30_000);
      const stats = await simulation.stop();
      const truth = simulation.truth()!;
      const sentImports = truth.nodes.reduce((sum, node) => sum + node.block_imports.length, 0);
      const sentFinalized = truth.nodes.reduce((sum, node) => sum + node.finalized.length, 0);
      assert.equal(sentImports, stats.sentByType['block.import']);
      assert.equal(sentFinalized, stats.sentByType['notify.finalized']);

      const stored = async () => (await server.db.query<StoredReport>(
        `SELECT pc.peer_id, s.msg, s.logs->>'height' AS height, COALESCE(s.logs->>'best', '') AS hash, s.logs->>'origin' AS origin,
                s.created_at::text AS created_at
           FROM substrate_logs s JOIN peer_connections pc ON pc.id = s.peer_connection_id
          WHERE s.msg IN ('block.import', 'notify.finalized')
          ORDER BY s.created_at, s.id`)).rows;
      await waitFor(async () => (await stored()).length === sentImports + sentFinalized, 'every report stored', 30_000);
      const rows = await stored();

      checkTruthIsCoherent(truth);
      for (const node of truth.nodes) {
        const mine = rows.filter((row) => row.peer_id === node.peer_id);
        const imports = mine.filter((row) => row.msg === 'block.import');
        assert.deepEqual(
          imports.map((row) => [Number(row.height), row.hash, row.origin]),
          node.block_imports.map((i) => [i.height, i.hash, i.origin]),
          `${node.name}: block.import rows`,
        );
        const finalized = mine.filter((row) => row.msg === 'notify.finalized');
        assert.deepEqual(finalized.map((row) => [row.height, row.hash]), node.finalized.map((f) => [String(f.height), f.hash]), `${node.name}: notify.finalized rows`);
        // created_at is the frame's ts (the simulator's clock): sent_at is the same instant to the ms.
        const sent = [...node.block_imports, ...node.finalized].map((r) => Date.parse(r.sent_at));
        const got = [...imports, ...finalized].map((row) => utcMs(row.created_at));
        sent.forEach((ms, i) => assert.ok(Math.abs(got[i] - ms) <= 50, `${node.name}: sent ${ms}, stored ${got[i]}`));

      }
      // One server connection row per session that announced the node (identities are written a little later than messages).
      const connectionRows = async () => (await server.db.query<{ peer_id: string; created_at: string; disconnected_at: string | null }>(
        'SELECT peer_id, created_at::text AS created_at, disconnected_at::text AS disconnected_at FROM peer_connections ORDER BY id')).rows;
      const sessionsMatch = async () => {
        const rows = await connectionRows();
        return truth.nodes.every((node) => rows.filter((row) => row.peer_id === node.peer_id).length === node.sessions.filter((s) => s.announced_at !== null).length);
      };
      await waitFor(sessionsMatch, 'a connection row per announced session', 10_000).catch(async () => {
        const rows = await connectionRows();
        for (const node of truth.nodes) {
          assert.deepEqual(rows.filter((row) => row.peer_id === node.peer_id), node.sessions, `${node.name}: sessions`);
        }
      });

      // The run exercised what it is meant to.
      const allImports = truth.nodes.flatMap((node) => node.block_imports);
      for (const origin of ['Own', 'NetworkBroadcast', 'NetworkInitialSync']) assert.ok(allImports.some((i) => i.origin === origin), `some ${origin} import`);
      const forkHashes = new Set(truth.blocks.filter((b) => b.kind === 'fork').map((b) => b.hash));
      assert.ok(allImports.some((i) => forkHashes.has(i.hash)), 'some fork block imported');
      assert.ok(truth.nodes.some((node) => node.sessions.length >= 2), 'some node reconnected after an outage');

      // system.interval (chain part) reports the node's state: a known block, a canonical finalized one, lag respected.
      const canonical = new Map(truth.blocks.filter((b) => b.kind === 'canonical').map((b) => [b.height, b.hash]));
      const known = new Set(truth.blocks.map((b) => `${b.height}/${b.hash}`));
      const intervals = (await server.db.query<{ height: string; best: string; fh: string; fhash: string }>(
        `SELECT logs->>'height' AS height, logs->>'best' AS best, logs->>'finalized_height' AS fh, logs->>'finalized_hash' AS fhash
           FROM substrate_logs WHERE msg = 'system.interval' AND logs ? 'best'`)).rows;
      assert.ok(intervals.length > 10, `${intervals.length} intervals`);
      for (const row of intervals) {
        // Blocks below the truth's range are the syncing nodes' old ones, before their first report.
        if (canonical.has(Number(row.height))) assert.ok(known.has(`${row.height}/${row.best}`), `interval best ${row.height}`);
        if (canonical.has(Number(row.fh))) assert.equal(row.fhash, canonical.get(Number(row.fh)));
        assert.ok(Number(row.height) - Number(row.fh) >= 2);
      }

      // The network part counts the node's peers that are up: other simulated nodes, at most 9 of them here.
      const peerCounts = (await server.db.query<{ peers: string }>(
        `SELECT logs->>'peers' AS peers FROM substrate_logs WHERE msg = 'system.interval' AND logs ? 'peers'`)).rows;
      assert.ok(peerCounts.length > 0 && peerCounts.every((row) => Number(row.peers) >= 0 && Number(row.peers) <= 9));
      assert.ok(peerCounts.some((row) => Number(row.peers) > 0));

      // Network states name the other simulated nodes, in both peerset shapes; /reputation/logged shows them.
      const peerIds = new Set(truth.nodes.map((node) => node.peer_id));
      const networkStates = (await server.db.query<{ peer_id: string; peerset: string }>(
        `SELECT pc.peer_id, (s.logs->'state'->'peerset')::text AS peerset
           FROM substrate_logs s JOIN peer_connections pc ON pc.id = s.peer_connection_id WHERE s.msg = 'system.network_state'`)).rows;
      for (const state of networkStates) {
        const named = expandPeerset(state.peerset).remote_peer.filter((peer) => peerIds.has(peer));
        assert.ok(named.length > 0 && !named.includes(state.peer_id), 'a network state names other simulated nodes');
      }
      const response = await fetch(server.httpUrl('/reputation/logged?max_age_s=3600'));
      const snapshots = await response.json() as Array<{ reporting_peer: string; remote_peer: string[] }>;
      assert.ok(snapshots.length >= 2);
      for (const snapshot of snapshots) {
        assert.ok(peerIds.has(snapshot.reporting_peer));
        assert.ok(snapshot.remote_peer.length > 0 && snapshot.remote_peer.every((peer) => peerIds.has(peer) && peer !== snapshot.reporting_peer));
      }
    });
  });
}

/** Internal consistency of a ground truth: every reported block is one of its blocks, sessions are ordered. */
function checkTruthIsCoherent(truth: GroundTruth): void {
  const blocks = new Map(truth.blocks.map((b) => [b.hash, b]));
  for (const node of truth.nodes) {
    for (const report of [...node.block_imports, ...node.finalized]) {
      const block = blocks.get(report.hash);
      assert.ok(block && block.height === report.height, `${node.name}: ${report.height} ${report.hash} is a block of the run`);
    }
    for (const finalized of node.finalized) assert.equal(blocks.get(finalized.hash)!.kind, 'canonical');
    for (const session of node.sessions) {
      assert.ok(session.disconnected_at !== null && session.connected_at <= session.disconnected_at);
    }
    for (let i = 1; i < node.sessions.length; i++) assert.ok(node.sessions[i - 1].disconnected_at! <= node.sessions[i].connected_at);
  }
}
