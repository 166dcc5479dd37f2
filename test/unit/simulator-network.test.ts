// Tests of the simulator's network mode without a server: the network model (chain, timelines, forks,
// finality, churn, sync), the peer graph and its network states (a network run against the real server
// on both databases: test/integration/simulator-network.test.ts).

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { NetworkModel, SYNC_REPORT_SHARE, type NetworkOptions, type NodeEvent } from '../../src/simulator/network.js';
import { PeerGraph, buildPadding, networkStateFrame } from '../../src/simulator/peers.js';
import * as m from '../../src/simulator/messages.js';
import { expandPeerset } from '../../src/api/peerset.js';
import { runSimulation, networkOptionsProblem } from '../../src/simulator/index.js';

type Import = Extract<NodeEvent, { kind: 'import' }>;

const BASE: NetworkOptions = {
  seed: 'model-test', nodes: 40, blockTimeMs: 500, propagationMs: [50, 300], finalityLag: 2, finalityDelayMs: [100, 400],
  forkRate: 0.25, forkShare: 0.3, churn: 0.4, churnPeriodMs: 10_000, downtimeMs: [2000, 5000], syncing: 0.2,
  syncBacklog: [20, 60], syncBlocksPerSecond: 50, authorities: 4, nodesAuthor: true,
};
const HORIZON_MS = 60_000;

function timelines(model: NetworkModel, until = HORIZON_MS): NodeEvent[][] {
  return Array.from({ length: model.nodes }, (_, node) => model.eventsUntil(node, until));
}

/** Walks a node's timeline, calling `visit` with the best height and the last import before each event. */
function walk(model: NetworkModel, node: number, events: NodeEvent[], visit: (event: NodeEvent, best: number, lastImport: Import | undefined) => void): void {
  let best = model.initialState(node).bestHeight;
  let lastImport: Import | undefined;
  for (const event of events) {
    visit(event, best, lastImport);
    if (event.kind === 'import') {
      best = event.height;
      lastImport = event;
    }
  }
}

describe('network model', () => {
  const model = new NetworkModel(BASE);
  const all = timelines(model);

  test('is deterministic from its seed, and another seed gives another chain', () => {
    const again = new NetworkModel(BASE);
    assert.deepEqual(timelines(again), all);
    for (let height = 990; height < 1050; height++) assert.deepEqual(again.block(height), model.block(height));
    const other = new NetworkModel({ ...BASE, seed: 'another' });
    assert.notEqual(other.block(1001).hash, model.block(1001).hash);
    assert.notDeepEqual(timelines(other), all);
  });

  test('one block per block time, each the child of the one before; times are ordered per node', () => {
    for (let height = 1001; height < 1100; height++) {
      const block = model.block(height);
      assert.equal(block.producedAt, (height - 1000) * 500);
      assert.equal(block.parentHash, model.block(height - 1).hash);
      assert.match(block.hash, /^0x[0-9a-f]{64}$/);
    }
    for (const events of all) {
      for (let i = 1; i < events.length; i++) assert.ok(events[i].at >= events[i - 1].at, 'events in time order');
    }
  });

  test('broadcast imports arrive within the propagation range (or right after the parent), children after parents', () => {
    let checked = 0;
    all.forEach((events, node) => walk(model, node, events, (event, best, previous) => {
      if (event.kind !== 'import') return;
      // Heights only go up by one, or stay (the re-org to the canonical block of a fork height).
      const reorg = event.height === best && previous !== undefined && previous.hash !== event.hash && previous.hash === model.block(best).fork?.hash;
      assert.ok(event.height === best + 1 || reorg, `node ${node}: ${best} → ${event.height}`);
      const block = model.block(event.height);
      // Never before its parent: an import waits at least 1 ms after the previous one.
      const bumped = previous !== undefined && Math.abs(event.at - (previous.at + 1)) < 1e-9;
      if (event.origin === 'Own') {
        assert.ok(event.at === block.producedAt || bumped, 'an author imports its block when it makes it');
        assert.equal(block.authorNode, node);
      } else if (event.origin === 'NetworkBroadcast') {
        const isFork = block.fork !== null && event.hash === block.fork.hash;
        const sent = isFork ? block.fork!.producedAt : block.producedAt;
        const delay = event.at - sent;
        if (reorg) {
          const gap = event.at - previous.at;
          assert.ok(gap >= 0.1 * 500 && gap <= 0.3 * 500, `re-org ${gap} ms after the fork block`);
        } else {
          // Waiting for the parent (or for the end of a sync) only ever makes an import later.
          assert.ok(delay >= 50 && (delay <= 300 + 1 || bumped), `node ${node} height ${event.height}: delay ${delay}`);
          if (!bumped) checked++;
        }
      }
    }));
    assert.ok(checked > 1000, `${checked} delays checked`);
    // The jitter keeps each node near its own base delay.
    for (let node = 0; node < 5; node++) {
      const base = model.baseDelayMs(node);
      for (let height = 1001; height < 1100; height++) assert.ok(Math.abs(model.delayMs(node, height) - base) <= (300 - 50) / 10 + 1e-9);
    }
  });

  test('fork heights have two hashes: some nodes import the fork block before or instead of the canonical one; it is never finalized', () => {
    const forkHeights = [];
    for (let height = 1001; height <= model.tipAt(HORIZON_MS); height++) if (model.block(height).fork) forkHeights.push(height);
    assert.ok(forkHeights.length > 10, `${forkHeights.length} fork heights`);
    let before = 0;
    let instead = 0;
    for (const height of forkHeights) {
      const block = model.block(height);
      assert.notEqual(block.fork!.hash, block.hash);
      for (const events of all) {
        const imports = events.filter((e): e is Import => e.kind === 'import' && e.height === height);
        if (imports[0]?.hash !== block.fork!.hash) continue;
        if (imports[1]?.hash === block.hash) before++;
        else instead++;
        assert.ok(imports.length <= 2);
      }
    }
    assert.ok(before > 0 && instead > 0, `fork seen before the canonical block by ${before}, instead of it by ${instead}`);
    for (const events of all) {
      for (const event of events) if (event.kind === 'finalized') assert.equal(event.hash, model.block(event.height).hash, 'only canonical blocks are finalized');
    }
  });

  test('finality lags the best block by finality-lag, after a delay, always increasing', () => {
    let count = 0;
    all.forEach((events, node) => {
      let finalized = model.initialState(node).finalizedHeight;
      const importedAt = new Map<number, number>();
      walk(model, node, events, (event, best) => {
        if (event.kind === 'import' && !importedAt.has(event.height)) importedAt.set(event.height, event.at);
        if (event.kind !== 'finalized') return;
        count++;
        assert.ok(event.height > finalized, 'finalized height increases');
        assert.ok(best - event.height >= 2, `best ${best}, finalized ${event.height}`);
        const lagBlockAt = importedAt.get(event.height + 2);
        assert.ok(lagBlockAt !== undefined && event.at - lagBlockAt >= 100, 'finalized after a delay once the block 2 above it is in');
        finalized = event.height;
      });
    });
    assert.ok(count > 1000, `${count} finality reports`);
  });

  test('churn: outages stay in their period, the node is silent during them, then syncs back reporting ~10 % of the blocks', () => {
    let outages = 0;
    let synced = 0;
    let reported = 0;
    all.forEach((events, node) => {
      for (let i = 0; i < events.length; i++) {
        const event = events[i];
        if (event.kind !== 'offline') continue;
        outages++;
        const online = events[i + 1];
        assert.equal(online.kind, 'online', 'offline is followed by online');
        const period = Math.floor(event.at / BASE.churnPeriodMs!);
        const outage = model.outage(model.socketOf(node), period)!;
        assert.deepEqual([event.at, online.at], [outage.start, outage.end]);
        assert.ok(outage.end - outage.start >= 2000 && outage.end - outage.start <= 5000);
        assert.ok(outage.end <= (period + 1) * BASE.churnPeriodMs!);
        assert.equal(model.isOnline(node, (outage.start + outage.end) / 2), false);
        assert.equal(model.isOnline(node, outage.end), true);
        // Back up: after finding peers (2–5 s), sync imports until the node follows broadcasts again.
        let j = i + 2;
        const firstSync = events[j];
        if (firstSync?.kind === 'import' && firstSync.origin === 'NetworkInitialSync') {
          assert.ok(firstSync.at - online.at >= 2000 && firstSync.at - online.at <= 5000, `sync starts ${firstSync.at - online.at} ms after the restart`);
        }
        while (events[j]?.kind === 'import' && (events[j] as Import).origin === 'NetworkInitialSync') {
          synced++;
          if ((events[j] as Import).reported) reported++;
          j++;
        }
        const next = events[j];
        if (next?.kind === 'import') assert.notEqual(next.origin, 'NetworkInitialSync');
      }
    });
    assert.ok(outages > 20, `${outages} outages`);
    assert.ok(synced > 100, `${synced} blocks synced after outages`);
    // Deterministic for the seed; the share is drawn per block, so it is close to 10 % on this many.
    assert.ok(Math.abs(reported / synced - SYNC_REPORT_SHARE) < 0.05, `${reported} of ${synced} reported`);
  });

  test('nodes sharing a socket go offline together', () => {
    const shared = new NetworkModel({ ...BASE, idsPerSocket: 4 });
    const transitions = (node: number) => shared.eventsUntil(node, HORIZON_MS).filter((e) => e.kind === 'offline' || e.kind === 'online');
    assert.ok(transitions(0).length > 0);
    for (const node of [1, 2, 3]) assert.deepEqual(transitions(node), transitions(0));
    assert.notDeepEqual(transitions(4), transitions(0));
  });

  test('syncing nodes start behind, catch up block by block, then follow the chain', () => {
    const syncing = Array.from({ length: model.nodes }, (_, node) => node).filter((node) => model.startsSyncing(node));
    assert.ok(syncing.length >= 3 && syncing.length < model.nodes / 2, `${syncing.length} syncing nodes`);
    for (const node of syncing) {
      const start = model.initialState(node).bestHeight;
      assert.ok(start >= 1000 - 60 && start <= 1000 - 20, `starts at ${start}`);
      const events = all[node];
      const firstBroadcast = events.findIndex((e) => e.kind === 'import' && e.origin !== 'NetworkInitialSync');
      assert.ok(firstBroadcast > 0, 'caught up within the horizon');
      const sync = events.slice(0, firstBroadcast).filter((e): e is Import => e.kind === 'import');
      assert.deepEqual(sync.map((e) => e.height), sync.map((_, i) => start + 1 + i), 'every block in turn');
      assert.ok(sync.every((e) => e.origin === 'NetworkInitialSync' && e.hash === model.block(e.height).hash));
      const tip = model.tipAt(sync[sync.length - 1].at);
      assert.ok(sync[sync.length - 1].height >= tip - 1, 'synced up to the tip');
    }
  });

  test('a validator node authors some blocks (origin Own) only while following; full-node networks author none', () => {
    const own = all.flat().filter((e): e is Import => e.kind === 'import' && e.origin === 'Own');
    assert.ok(own.length > 20);
    const authors = new Set(own.map((e) => model.block(e.height).authorNode));
    assert.ok([...authors].every((node) => node !== null && node < 4));
    const full = new NetworkModel({ ...BASE, nodesAuthor: false });
    assert.equal(full.eventsUntil(0, HORIZON_MS).filter((e) => e.kind === 'import' && e.origin === 'Own').length, 0);
  });

  test('inconsistent settings are refused with the name of the setting', () => {
    assert.throws(() => new NetworkModel({ ...BASE, finalityLag: 0 }), /finalityLag/);
    assert.throws(() => new NetworkModel({ ...BASE, downtimeMs: [2000, 9000] }), /downtimeMs/);
    assert.throws(() => new NetworkModel({ ...BASE, blockTimeMs: 10 }), /syncBlocksPerSecond/);
    assert.throws(() => new NetworkModel({ ...BASE, propagationMs: [300, 50] }), /propagationMs/);
    assert.throws(() => new NetworkModel({ ...BASE, forkRate: 2 }), /forkRate/);
    // The programmatic API and the command line say it in their own terms, before anything connects.
    assert.match(networkOptionsProblem({ churn: 0.5, churnPeriodS: 10, downtimeS: [9, 12] })!, /--downtime \/ downtimeS/);
    assert.match(networkOptionsProblem({ blockTimeS: 0.01 })!, /--block-time \/ blockTimeS/);
    assert.match(networkOptionsProblem({ finalityLag: 0 })!, /finalityLag/);
    assert.equal(networkOptionsProblem({ rate: 5, finalityLag: 0 }), null, 'rate mode has no network');
    assert.equal(networkOptionsProblem({}), null);
  });

  test('runSimulation refuses network settings that cannot work, and a ground truth outside network mode', async () => {
    const url = 'ws://127.0.0.1:9/';
    await assert.rejects(runSimulation({ url, churn: 0.5, churnPeriodS: 10, downtimeS: [9, 12] }), /--downtime/);
    await assert.rejects(runSimulation({ url, rate: 5, truth: true }), /network mode/);
  });
});

describe('peer graph and network states', () => {
  test('the peer graph is symmetric, never names the node itself, and keeps at most 26 peers', () => {
    for (const nodes of [1, 2, 7, 30, 200]) {
      const graph = new PeerGraph(nodes, 'graph');
      for (let node = 0; node < nodes; node++) {
        const peers = graph.neighbours(node);
        assert.ok(!peers.includes(node));
        assert.ok(peers.length === Math.min(nodes - 1, peers.length) && peers.length <= 26);
        if (nodes <= 26) assert.equal(peers.length, nodes - 1);
        for (const peer of peers) assert.ok(graph.neighbours(peer).includes(node), `${nodes} nodes: ${node} ↔ ${peer}`);
      }
    }
  });

  test('network states name the simulated peers in both peerset shapes, keys sorted, padded to their size', () => {
    const peers = Array.from({ length: 6 }, (_, i) => ({ index: i + 1, peerId: m.peerIdFor(`p${i}`), name: `sim-${i}`, connected: i % 3 !== 0 }));
    for (const kb of [2, 22, 140]) {
      const padding = buildPadding(kb * 1000);
      for (const shape of ['sets', 'nodes'] as const) {
        const text = networkStateFrame({ id: 3, ts: m.formatTs(1_624_410_117_123_456_789n), node: 0, peerId: m.peerIdFor('me'), peers, shape, seed: 's', padding });
        const state = JSON.parse(text).payload.state;
        assert.equal(JSON.stringify(JSON.parse(text)), text, 'compact');
        assert.equal(state.peerId, m.peerIdFor('me'));
        const peerset = shape === 'sets' ? state.peerset.sets[0].nodes : state.peerset.nodes;
        assert.deepEqual(Object.keys(peerset), [...Object.keys(peerset)].sort(), 'peerset keys sorted');
        assert.deepEqual(Object.keys(state.connectedPeers).sort(), peers.filter((p) => p.connected).map((p) => p.peerId).sort());
        assert.deepEqual(Object.keys(state.notConnectedPeers).sort(), peers.filter((p) => !p.connected).map((p) => p.peerId).sort());
        // What the server's reputation routes make of it: every simulated peer, connected as reported.
        const expanded = expandPeerset(JSON.stringify(state.peerset), new Set(peers.map((p) => p.peerId)));
        assert.deepEqual(
          expanded.remote_peer.map((peer, i) => [peer, expanded.connected[i]]).sort(),
          peers.map((p) => [p.peerId, p.connected]).sort(),
        );
        if (kb > 2) assert.ok(Math.abs(text.length - kb * 1000) < 100, `${kb} KB ${shape}: ${text.length} bytes`);
      }
    }
  });
});
