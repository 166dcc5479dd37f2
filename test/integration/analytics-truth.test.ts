// The simulator's network (blocks, forks, finality, churn and catch-up) against real servers on both
// databases, every analytics route compared with the run's ground truth (docs/simulator.md): delays and
// time to finality within ±50 ms of what the send times imply (widened by the longest stall of this
// process's event loop, which delays the receipt, not the arithmetic), fork node counts exact, uptime
// within one percentage point, `/nodes?at=` exactly the nodes connected then. Percentiles and the
// histogram are recomputed from the stored arrivals and must match exactly. On PostgreSQL the nodes are
// spread over two servers sharing the database (alternate connections through a splitter), and both
// must answer the same. Last, analytics:rebuild must give back the facts derived at ingestion.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { BACKENDS, type TestBackend } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { api, count, query, settled } from '../helpers/api-support.js';
import { runSimulation, type GroundTruth, type TruthNode } from '../../src/simulator/index.js';
import { percentile } from '../../src/analytics/stats.js';
import { rebuildAnalytics } from '../../src/analytics/rebuild.js';
import type { Queryable } from '../../src/storage/database.js';

const CHAIN = 'Truth Testnet';
const CATCH_UP = new Set(['NetworkInitialSync', 'File', 'Genesis']);
const BASE_TOLERANCE_MS = 50;
const ENV = { ANALYTICS_SETTLE_S: '1', ANALYTICS_SUMMARY_INTERVAL_S: '1', LIVENESS_INTERVAL_S: '5' };

const ms = (naive: string) => Date.parse(`${naive}Z`);
const iso = (epochMs: number) => new Date(epochMs).toISOString();
const key = (height: number, hash: string) => `${height}/${hash}`;
/** Nearest-rank percentile of unsorted values. */
const pct = (values: number[], p: number) => percentile([...values].sort((a, b) => a - b), p);

/** Accepts connections and hands them to the given ports in turn (each node's sessions alternate between servers). */
async function startSplitter(ports: number[]): Promise<{ port: number; close(): Promise<void> }> {
  let next = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(ports[next++ % ports.length], '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.end());
    upstream.on('close', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

interface Arrival { peer: string; height: number; hash: string; origin: string; at: number }

/** What the ground truth implies, computed without the server. */
function expectations(truth: GroundTruth) {
  const arrivals: Arrival[] = [];
  for (const node of truth.nodes) {
    const seen = new Set<string>();
    for (const i of node.block_imports) {
      if (seen.has(key(i.height, i.hash))) continue;
      seen.add(key(i.height, i.hash));
      arrivals.push({ peer: node.peer_id, height: i.height, hash: i.hash, origin: i.origin, at: Date.parse(i.sent_at) });
    }
  }
  const firstSeen = new Map<string, number>();
  const reporters = new Map<string, Set<string>>();
  for (const a of arrivals) {
    const k = key(a.height, a.hash);
    firstSeen.set(k, Math.min(firstSeen.get(k) ?? Infinity, a.at));
    if (!reporters.has(k)) reporters.set(k, new Set());
    reporters.get(k)!.add(a.peer);
  }
  const delays = arrivals.filter((a) => !CATCH_UP.has(a.origin)).map((a) => ({ ...a, delay: a.at - firstSeen.get(key(a.height, a.hash))! }));
  const hashesAt = new Map<number, string[]>();
  for (const k of firstSeen.keys()) {
    const [height, hash] = k.split('/') as [string, string];
    hashesAt.set(Number(height), [...(hashesAt.get(Number(height)) ?? []), hash]);
  }
  const reports = truth.nodes.flatMap((node) => node.finalized.map((f) => ({ peer: node.peer_id, height: f.height, at: Date.parse(f.sent_at) })));
  /** First report of a finalized height ≥ h. */
  const finalizedAt = (height: number) => Math.min(...reports.filter((r) => r.height >= height).map((r) => r.at));
  return { arrivals, firstSeen, reporters, delays, hashesAt, reports, finalizedAt };
}

/** Nodes with an announced session open at `t` (the server has a connection row with their identity then). */
function connectedAt(truth: GroundTruth, t: number): string[] {
  return truth.nodes.filter((node) => node.sessions.some((s) => s.announced_at !== null && Date.parse(s.connected_at) <= t && (s.disconnected_at === null || Date.parse(s.disconnected_at) > t)))
    .map((node) => node.peer_id).sort();
}

/**
 * The node's uptime over [start, end] with each session opening at `opened`: the server stamps a session
 * when it accepts the handshake, which lies between the node's dial and its open event (a round trip, long
 * on a loaded machine), so the server's figure lies between the two.
 */
function uptimePct(node: TruthNode, start: number, end: number, opened: 'dialed_at' | 'connected_at'): number {
  let covered = 0;
  for (const s of node.sessions) {
    if (s.announced_at === null) continue;
    const from = Math.max(start, Date.parse(s[opened]));
    const to = Math.min(end, s.disconnected_at === null ? end : Date.parse(s.disconnected_at));
    if (to > from) covered += to - from;
  }
  return (100 * covered) / (end - start);
}

/** The facts, without the receipt time (a rebuild has only the node's ts). */
async function factsOf(db: Queryable) {
  const rows = async (sql: string) => (await db.query(sql)).rows;
  return {
    arrivals: await rows(`SELECT chain_id, height, hash, peer_id, peer_connection_id, node_ts, origin, catch_up, audit FROM block_arrivals ORDER BY peer_connection_id, node_ts, height, hash`),
    reports: await rows(`SELECT chain_id, height, hash, peer_id, peer_connection_id, node_ts, source, audit FROM finality_reports ORDER BY peer_connection_id, node_ts, height`),
    blocks: await rows(`SELECT chain_id, height, hash, audit FROM blocks ORDER BY chain_id, height, hash`),
    heights: await rows(`SELECT chain_id, height, audit FROM finalized_heights ORDER BY chain_id, height`),
  };
}

function near(actual: number | null | undefined, expected: number, tolerance: number, what: string): void {
  assert.ok(actual !== null && actual !== undefined && Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected} ± ${tolerance}`);
}

interface Percentiles { p50: number | null; p90: number | null; p99: number | null; max: number | null }
interface BlockAnswer {
  height: number; hash: string; first_seen_at: string; first_seen_by: { peer_id: string }; nodes_reported: number;
  propagation_ms: Percentiles; block_time_ms: number | null; finalized_at: string | null; time_to_finality_ms: number | null;
  forks: Array<{ hash: string; nodes_reported: number }>;
}
interface PropagationAnswer {
  blocks: number; arrivals: number; percentiles_ms: Percentiles;
  histogram: Array<{ upper_ms: number | null; count: number; cumulative_pct: number }>;
  nodes: Array<{ peer_id: string; blocks_seen: number; blocks_missed: number; mean_ms: number | null; p90_ms: number | null }>;
}
interface FinalityAnswer { finalized_blocks: number; percentiles_ms: Percentiles }
interface HistoryAnswer {
  sessions: Array<{ connected_at: string; disconnected_at: string }>; reconnects: number; uptime_pct: number;
  propagation: { blocks_seen: number; mean_ms: number | null; p90_ms: number | null };
  finality: { blocks_finalized: number; mean_ms: number | null; p50_ms: number | null; p90_ms: number | null };
}
interface Answers { blocks: BlockAnswer[]; propagation: PropagationAnswer; finality: FinalityAnswer; chains: unknown; histories: HistoryAnswer[] }

async function get<T>(server: TestServer, path: string): Promise<T> {
  const response = await api(server, path);
  assert.equal(response.status, 200, `${path}: ${response.text}`);
  return response.body as T;
}

for (const backend of BACKENDS) {
  describe(`analytics against the simulator's ground truth (${backend.name})`, () => {
    const servers: TestServer[] = [];
    let splitter: { port: number; close(): Promise<void> } | null = null;
    after(async () => {
      await splitter?.close();
      for (const s of servers.slice(1)) await s.close().catch(() => {});
      await servers[0]?.dispose();
    });

    it(`every route agrees with what the simulated nodes did${backend.name === 'postgres' ? ', from both of two servers' : ''}; a rebuild gives the same facts`, { timeout: 180_000 }, async () => {
      servers.push(await startTestServer(backend, ENV));
      if (backend.name === 'postgres') {
        const shared: TestBackend = { name: 'postgres', create: async () => ({ db: { close: async () => {} } as never, url: servers[0].settings.databaseUrl, drop: async () => {} }) };
        servers.push(await startTestServer(shared, ENV));
        splitter = await startSplitter(servers.map((s) => s.port));
      }
      const url = splitter ? `ws://127.0.0.1:${splitter.port}/` : servers[0].url('/');
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      // Real time (no time scale): 2 blocks a second, delays of 50–400 ms, forks, outages of 1–2 s every
      // 4 s period for a third of the nodes, each followed by a catch-up sync.
      const simulation = await runSimulation({
        url, chain: CHAIN, nodes: 8, role: 'validator', validators: 3, seed: 'truth-1',
        blockTimeS: 0.5, propagationMs: [50, 400], finalityLag: 2, finalityDelayMs: [100, 300], forkRate: 0.25,
        churn: 0.35, churnPeriodS: 4, downtimeS: [1, 2], syncing: 0, networkStateKb: 2, truth: true,
      });
      await new Promise((resolve) => setTimeout(resolve, 9000));
      await simulation.stop();
      loop.disable();
      const truth = simulation.truth()!;
      const tolerance = BASE_TOLERANCE_MS + Math.max(0, loop.max / 1e6 - 10);
      const db = servers[0].db;

      const sentImports = truth.nodes.reduce((n, node) => n + node.block_imports.length, 0);
      await waitFor(async () => (await count(servers[0], `SELECT count(*) AS n FROM block_arrivals`)) === sentImports, `${sentImports} arrivals stored`, 30_000);
      for (const s of servers) await settled(s);
      // Every session the server saw has ended (the simulator closed its sockets).
      await waitFor(async () => (await count(servers[0], `SELECT count(*) AS n FROM peer_connections WHERE disconnected_at IS NULL`)) === 0, 'connections closed');

      const x = expectations(truth);
      const allImports = truth.nodes.flatMap((node) => node.block_imports);
      assert.ok(allImports.some((i) => i.origin === 'NetworkInitialSync'), 'the run has catch-up imports');
      assert.ok([...x.hashesAt.values()].some((hashes) => hashes.length > 1), 'the run has forks');
      assert.ok(truth.nodes.some((node) => node.sessions.length > 1), 'the run has reconnections');
      const genesis = truth.genesis_hash;
      const chainPath = `/chains/${encodeURIComponent(CHAIN)}`;
      const runStart = Date.parse(truth.started_at) - 1000;
      const runEnd = Date.parse(truth.stopped_at!) + 1000;
      const window = { genesis_hash: genesis, start_time: iso(runStart), end_time: iso(runEnd) };

      // Each stored arrival is the truth's send within the tolerance (receipt = send + a loopback hop).
      const stored = (await db.query<{ peer_id: string; height: number; hash: string; origin: string | null; catch_up: boolean; received_ms: number }>(
        `SELECT DISTINCT ON (peer_id, height, hash) peer_id, height::float8 AS height, hash, origin, catch_up, (extract(epoch FROM received_at) * 1000)::float8 AS received_ms
           FROM block_arrivals ORDER BY peer_id, height, hash, received_at`)).rows;
      assert.equal(stored.length, x.arrivals.length, 'one first arrival per node and block');
      const storedBy = new Map(stored.map((a) => [`${a.peer_id}@${key(a.height, a.hash)}`, a]));
      for (const a of x.arrivals) {
        const s = storedBy.get(`${a.peer}@${key(a.height, a.hash)}`);
        assert.ok(s, `arrival ${a.peer} ${a.height}`);
        near(s.received_ms, a.at, tolerance, `received ${a.height} from ${a.peer}`);
        assert.equal(s.catch_up, CATCH_UP.has(a.origin));
      }
      // Stored delays (the same arithmetic as the routes, in JavaScript) for exact comparisons.
      const storedFirst = new Map<string, number>();
      for (const s of stored) storedFirst.set(key(s.height, s.hash), Math.min(storedFirst.get(key(s.height, s.hash)) ?? Infinity, s.received_ms));
      const storedDelays = stored.filter((s) => !s.catch_up).map((s) => ({ ...s, delay: Math.round(s.received_ms - storedFirst.get(key(s.height, s.hash))!) }));

      // ---- /chains/{chain}/blocks: one entry per height, forks and counts exact, times within the tolerance
      const answers: Answers[] = [];
      for (const server of servers) {
        const blocks = await get<BlockAnswer[]>(server, `${chainPath}/blocks?${query({ genesis_hash: genesis, limit: 10_000 })}`);
        const propagation = await get<PropagationAnswer>(server, `${chainPath}/propagation?${query(window)}`);
        const finality = await get<FinalityAnswer>(server, `${chainPath}/finality?${query({ ...window, bucket_s: 1 })}`);
        const chains = await get<unknown>(server, '/chains');
        const histories: HistoryAnswer[] = [];
        for (const node of truth.nodes) histories.push(await get<HistoryAnswer>(server, `/nodes/${node.peer_id}/history?${query({ start_time: iso(runStart), end_time: iso(runEnd) })}`));
        answers.push({ blocks, propagation, finality, chains, histories });
      }
      for (const other of answers.slice(1)) assert.deepEqual(other, answers[0], 'both servers give the same answers');
      const { blocks, propagation, finality, histories } = answers[0];

      assert.deepEqual(blocks.map((b) => b.height), [...x.hashesAt.keys()].sort((a, b) => b - a), 'a block per height imported');
      let compared = 0;
      for (const block of blocks) {
        const hashes = x.hashesAt.get(block.height)!;
        const ordered = [...hashes].sort((a, b) => x.firstSeen.get(key(block.height, a))! - x.firstSeen.get(key(block.height, b))!);
        const first = x.firstSeen.get(key(block.height, ordered[0]))!;
        // The hash first seen; two hashes seen within the tolerance of each other may come either way.
        if (ordered.length === 1 || x.firstSeen.get(key(block.height, ordered[1]))! - first > 2 * tolerance) assert.equal(block.hash, ordered[0], `hash of ${block.height}`);
        const k = key(block.height, block.hash);
        near(ms(block.first_seen_at), x.firstSeen.get(k)!, tolerance, `first seen of ${block.height}`);
        const firstBy = x.arrivals.find((a) => a.peer === block.first_seen_by.peer_id && key(a.height, a.hash) === k);
        assert.ok(firstBy && firstBy.at - x.firstSeen.get(k)! <= 2 * tolerance, `first_seen_by of ${block.height} sent it first (within the tolerance)`);
        assert.equal(block.nodes_reported, x.reporters.get(k)!.size, `nodes_reported of ${block.height}`);
        assert.deepEqual(
          [...block.forks].sort((a, b) => a.hash.localeCompare(b.hash)),
          hashes.filter((h) => h !== block.hash).sort().map((h) => ({ hash: h, nodes_reported: x.reporters.get(key(block.height, h))!.size })),
          `forks of ${block.height}`,
        );
        const truthDelays = x.delays.filter((d) => key(d.height, d.hash) === k).map((d) => d.delay);
        const mine = storedDelays.filter((d) => key(d.height, d.hash) === k).map((d) => d.delay);
        assert.deepEqual(block.propagation_ms, { p50: pct(mine, 0.5), p90: pct(mine, 0.9), p99: pct(mine, 0.99), max: pct(mine, 1) }, `propagation of ${block.height} from the stored arrivals`);
        if (truthDelays.length > 0) {
          near(block.propagation_ms.p50, pct(truthDelays, 0.5)!, tolerance, `p50 of ${block.height}`);
          near(block.propagation_ms.max, pct(truthDelays, 1)!, tolerance, `max of ${block.height}`);
        }
        const previous = blocks.find((b) => b.height === block.height - 1);
        if (previous) near(block.block_time_ms, x.firstSeen.get(k)! - x.firstSeen.get(key(previous.height, previous.hash))!, 2 * tolerance, `block time of ${block.height}`);
        // Time to finality of the blocks produced during the run (earlier ones were final before it).
        const finalAt = x.finalizedAt(block.height);
        if (block.height > truth.parameters.base_height && Number.isFinite(finalAt)) {
          assert.ok(block.finalized_at !== null, `finalized_at of ${block.height}`);
          near(ms(block.finalized_at), finalAt, tolerance, `finalized_at of ${block.height}`);
          near(block.time_to_finality_ms, finalAt - x.firstSeen.get(k)!, 2 * tolerance, `time to finality of ${block.height}`);
          compared++;
        }
      }
      assert.ok(compared > 5, `${compared} times to finality compared`);

      // ---- /propagation over the whole run: counts exact, percentiles and histogram from the same arrivals
      const allDelays = storedDelays.map((d) => d.delay);
      assert.equal(propagation.blocks, x.firstSeen.size);
      assert.equal(propagation.arrivals, x.delays.length);
      assert.deepEqual(propagation.percentiles_ms, { p50: pct(allDelays, 0.5), p90: pct(allDelays, 0.9), p99: pct(allDelays, 0.99), max: pct(allDelays, 1) });
      const truthAll = x.delays.map((d) => d.delay);
      for (const [p, name] of [[0.5, 'p50'], [0.9, 'p90'], [1, 'max']] as const) near(propagation.percentiles_ms[name], pct(truthAll, p)!, tolerance, `overall ${name}`);
      let cumulative = 0;
      propagation.histogram.forEach((bin: { upper_ms: number | null; count: number; cumulative_pct: number }, i: number) => {
        const low = i * 250;
        const n = allDelays.filter((d) => d >= low && (bin.upper_ms === null || d < bin.upper_ms)).length;
        cumulative += n;
        assert.equal(bin.count, n, `histogram bin ${low}`);
        assert.equal(bin.cumulative_pct, Math.round((10_000 * cumulative) / allDelays.length) / 100);
      });
      for (const node of truth.nodes) {
        const row = propagation.nodes.find((n: { peer_id: string }) => n.peer_id === node.peer_id);
        const mine = x.delays.filter((d) => d.peer === node.peer_id).map((d) => d.delay);
        assert.ok(row, `${node.name} in the nodes table`);
        assert.equal(row.blocks_seen, mine.length, `${node.name}: blocks_seen`);
        assert.equal(row.blocks_missed, x.firstSeen.size - mine.length, `${node.name}: blocks_missed`);
        near(row.mean_ms, mine.reduce((a, b) => a + b, 0) / mine.length, tolerance, `${node.name}: mean`);
        near(row.p90_ms, pct(mine, 0.9)!, tolerance, `${node.name}: p90`);
      }

      // ---- /finality: percentiles of time to finality over the blocks of the run
      const runHeights = blocks.filter((b) => b.time_to_finality_ms !== null);
      const ttf = runHeights.map((b) => b.time_to_finality_ms as number);
      assert.equal(finality.finalized_blocks, ttf.length);
      assert.deepEqual(finality.percentiles_ms, { p50: pct(ttf, 0.5), p90: pct(ttf, 0.9), p99: pct(ttf, 0.99), max: pct(ttf, 1) });

      // ---- /nodes/{peer_id}/history: sessions, uptime within 1 point, propagation
      let finalizedNodes = 0;
      truth.nodes.forEach((node, i) => {
        const history = histories[i];
        const announced = node.sessions.filter((s) => s.announced_at !== null);
        assert.equal(history.sessions.length, announced.length, `${node.name}: sessions`);
        assert.equal(history.reconnects, announced.length - 1);
        history.sessions.forEach((s: { connected_at: string; disconnected_at: string }, j: number) => {
          assert.ok(ms(s.connected_at) >= Date.parse(announced[j].dialed_at) - tolerance && ms(s.connected_at) <= Date.parse(announced[j].connected_at) + tolerance, `${node.name}: session ${j} opened`);
          // The server stores the end when its socket closes: after the close handshake (a round trip more, through the splitter too).
          near(ms(s.disconnected_at), Date.parse(announced[j].disconnected_at!), 2 * tolerance, `${node.name}: session ${j} closed`);
        });
        // Within 1 point of the span the handshakes leave open (CI once saw 67.2 against 66.12 from the open events alone).
        const uptimeLow = uptimePct(node, runStart, runEnd, 'connected_at');
        const uptimeHigh = uptimePct(node, runStart, runEnd, 'dialed_at');
        assert.ok(history.uptime_pct >= uptimeLow - 1 && history.uptime_pct <= uptimeHigh + 1, `${node.name}: uptime % ${history.uptime_pct}, expected ${uptimeLow}…${uptimeHigh} ± 1`);
        const mine = x.delays.filter((d) => d.peer === node.peer_id).map((d) => d.delay);
        assert.equal(history.propagation.blocks_seen, mine.length, `${node.name}: propagation blocks_seen`);
        near(history.propagation.mean_ms, mine.reduce((a, b) => a + b, 0) / mine.length, tolerance, `${node.name}: propagation mean`);
        near(history.propagation.p90_ms, pct(mine, 0.9)!, tolerance, `${node.name}: propagation p90`);
        // Per-node time to finality: its own first report of a finalized height ≥ h minus its own arrival at h.
        const ownFirst = new Map<number, number>();
        for (const d of x.delays) if (d.peer === node.peer_id) ownFirst.set(d.height, Math.min(ownFirst.get(d.height) ?? Infinity, d.at));
        const ownReports = x.reports.filter((r) => r.peer === node.peer_id);
        const times = [...ownFirst].map(([height, at]) => Math.min(...ownReports.filter((r) => r.height >= height).map((r) => r.at)) - at).filter(Number.isFinite);
        assert.equal(history.finality.blocks_finalized, times.length, `${node.name}: heights finalized`);
        if (times.length === 0) {
          assert.deepEqual(history.finality, { blocks_finalized: 0, mean_ms: null, p50_ms: null, p90_ms: null });
        } else {
          finalizedNodes++;
          near(history.finality.mean_ms, times.reduce((a, b) => a + b, 0) / times.length, tolerance, `${node.name}: time to finality mean`);
          near(history.finality.p50_ms, pct(times, 0.5)!, tolerance, `${node.name}: time to finality p50`);
          near(history.finality.p90_ms, pct(times, 0.9)!, tolerance, `${node.name}: time to finality p90`);
        }
      });

      assert.ok(finalizedNodes >= truth.nodes.length / 2, `${finalizedNodes} nodes' times to finality compared`);

      // ---- /nodes?at=: instants at least 200 ms from any session's edge
      const edges = truth.nodes.flatMap((node) => node.sessions.flatMap((s) => [s.dialed_at, s.connected_at, s.announced_at, s.disconnected_at])).filter((t): t is string => t !== null).map(Date.parse);
      let instants = 0;
      for (let t = Date.parse(truth.started_at) + 500; t < Date.parse(truth.stopped_at!) - 500; t += 250) {
        if (edges.some((e) => Math.abs(e - t) < 200 + tolerance)) continue;
        instants++;
        for (const server of servers) {
          const nodes = await get<Array<{ peer_id: string }>>(server, `/nodes?${query({ at: iso(t) })}`);
          assert.deepEqual(nodes.map((n) => n.peer_id).sort(), connectedAt(truth, t), `/nodes?at=${iso(t)}`);
        }
      }
      assert.ok(instants >= 3, `${instants} instants checked`);

      // ---- analytics:rebuild recomputes the same facts from the stored messages
      const derived = await factsOf(db);
      const until = new Date(Date.now() + 60_000).toISOString().replace('T', ' ').replace('Z', '');
      const rebuilt = await rebuildAnalytics(servers[0].ingestDb, { until });
      assert.equal(rebuilt.arrivals, sentImports);
      assert.deepEqual(await factsOf(db), derived);
      // Timed by the nodes' clocks (the simulator's, here the same as the servers'): the same answers within the tolerance.
      const again = await get<BlockAnswer[]>(servers[0], `${chainPath}/blocks?${query({ genesis_hash: genesis, limit: 10_000 })}`);
      assert.deepEqual(again.map((b) => [b.height, b.nodes_reported, b.forks.length]), blocks.map((b) => [b.height, b.nodes_reported, b.forks.length]));
      again.forEach((b, i) => near(ms(b.first_seen_at), ms(blocks[i].first_seen_at), tolerance, `rebuilt first seen of ${b.height}`));
    });
  });
}
