// Network analytics over real websockets and HTTP, on PostgreSQL and the embedded database: several nodes
// (with clocks off by seconds) send hand-crafted block imports and finality reports at known instants;
// every route's answer is checked against what the send times imply (delays within ±50 ms, widened by the
// longest stall of this process's event loop during the scenario: a starved machine delays the receipt,
// not the arithmetic), the derived figures against each other (percentiles, histogram, forks), and the
// stored figures of settled blocks against the live computation. On PostgreSQL the same scenario also runs
// with the nodes spread over two servers sharing the database.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { connectNode, type TestNode } from '../helpers/fixtures.js';
import { api, count, query, settled, TIME_RE } from '../helpers/api-support.js';
import { purgeAnalyticsBefore, summarizeSettledBlocks } from '../../src/storage/analytics-write.js';
import { rebuildAnalytics, type RebuildProgress } from '../../src/analytics/rebuild.js';
import type { Queryable } from '../../src/storage/database.js';
import { percentile } from '../../src/analytics/stats.js';

const CHAIN = 'Development';
const G1 = '0x' + '11'.repeat(32);
const G2 = '0x' + '22'.repeat(32);
const peer = (tag: string) => `12D3KooWAnalytics${tag.padEnd(35, tag)}`;
const hash = (tag: string) => '0x' + tag.repeat(64).slice(0, 64);
const H1 = hash('a1');
const H2 = hash('b2');
const H2_FORK = hash('f2');
const H3 = hash('c3');
const [A, B, C, D, E, F] = ['A', 'B', 'C', 'D', 'E', 'F'].map(peer);
const TOLERANCE_MS = 50;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The nodes' clocks are off by seconds (as real nodes' can be): figures must use the server's receipt time. */
const SKEW_MS: Record<string, number> = { A: 0, B: 5000, C: -3000, D: 1500, E: -800, F: 0, L: 2500 };
const ts = (skewMs: number) => new Date(Date.now() + skewMs).toISOString().replace('Z', '+00:00');
const v2 = (payload: Record<string, unknown>, skewMs: number) => JSON.stringify({ id: 1, ts: ts(skewMs), payload });
const v1 = (payload: Record<string, unknown>, skewMs: number) => JSON.stringify({ ...payload, ts: ts(skewMs) });

interface Node {
  peerId: string;
  socket: TestNode;
  v1: boolean;
  skewMs: number;
}

async function open(url: string, peerId: string, identity: { chain: string; genesis?: string; version?: string; v1?: boolean }): Promise<Node> {
  const socket = await connectNode(url);
  const node = { peerId, socket, v1: identity.v1 ?? false, skewMs: SKEW_MS[peerId.slice(17, 18)] ?? 0 };
  const payload: Record<string, unknown> = { msg: 'system.connected', chain: identity.chain, name: `node-${peerId.slice(17, 18)}`, network_id: peerId, version: identity.version ?? '2.1.2', authority: false, implementation: 'Tetcore Node', startup_time: '1624410117123' };
  if (identity.genesis !== undefined) payload.genesis_hash = identity.genesis;
  await socket.send(node.v1 ? v1(payload, node.skewMs) : v2(payload, node.skewMs));
  return node;
}

/** Sends one message; resolves with the instant it was handed to the socket. */
async function send(node: Node, payload: Record<string, unknown>): Promise<number> {
  const at = Date.now();
  await node.socket.send(node.v1 ? v1(payload, node.skewMs) : v2(payload, node.skewMs));
  return at;
}
const importBlock = (node: Node, height: number | string, best: string, origin = 'NetworkBroadcast') => send(node, { msg: 'block.import', best, height, origin });

interface Times {
  /** hash → peer → when that node sent its import. */
  imports: Map<string, Map<string, number>>;
  /** Finality reports: height and send time. */
  finalized: Array<{ height: number; at: number }>;
  windowStart: number;
  windowEnd: number;
  /** The longest the event loop (nodes and servers) stalled during the scenario, beyond its 10 ms sampling. */
  stallMs: number;
  /**
   * Node E (another chain named Development): its sessions, each opened between fromBefore and fromAfter
   * (handshake and system.connected) and closed between toBefore and toAfter (stored as disconnected).
   */
  eSessions: Array<{ fromBefore: number; fromAfter: number; toBefore: number | null; toAfter: number | null }>;
  /** An instant when only A, B, C, D were connected (E between its sessions). */
  gapAt: number;
  /** An instant before any node connected. */
  beforeAll: number;
}

/**
 * The scenario. `urls[i]` is the server of node i (A, B, C, D, E, F); C connects to /audit.
 *   height 1  H1: A (Own) first, B +150, C +400, D catch-up (NetworkInitialSync) +600, A again (ignored)
 *   height 2  H2: B first, A +100, C +320; D imports the fork H2' at +150
 *   height 3  H3: C first, D +50, A +330, B +620 (C and A send heights as decimal strings)
 * (Delays kept away from the histogram's 250 ms edges.)
 *   finality: B interval finalized 1; 3 s after H3, A notify.finalized "3"; then C notify.finalized "2"
 *   E (Development, genesis G2) connects, leaves, comes back with another version; F (Solo, no genesis hash)
 */
async function scenario(urls: string[], db: TestServer, ingestPath = (i: number) => (i === 2 ? '/audit' : '/')): Promise<{ times: Times; nodes: Node[] }> {
  const times: Times = { imports: new Map(), finalized: [], windowStart: 0, windowEnd: 0, stallMs: 0, eSessions: [], gapAt: 0, beforeAll: Date.now() - 1 };
  const stalls = monitorEventLoopDelay({ resolution: 10 });
  stalls.enable();
  const mark = (h: string, who: Node, at: number) => {
    const m = times.imports.get(h) ?? new Map<string, number>();
    if (!m.has(who.peerId)) m.set(who.peerId, at);
    times.imports.set(h, m);
  };
  await sleep(20);
  times.windowStart = Date.now();
  const url = (i: number) => `${urls[i].replace(/\/$/, '')}${ingestPath(i)}`;
  const a = await open(url(0), A, { chain: CHAIN, genesis: G1 });
  const b = await open(url(1), B, { chain: CHAIN, genesis: G1, v1: true });
  const c = await open(url(2), C, { chain: CHAIN, genesis: G1 });
  const d = await open(url(3), D, { chain: CHAIN, genesis: G1 });
  const e1Before = Date.now();
  const e1 = await open(url(4), E, { chain: CHAIN, genesis: G2, version: '1.0.0' });
  times.eSessions.push({ fromBefore: e1Before, fromAfter: Date.now(), toBefore: null, toAfter: null });
  const f = await open(url(5), F, { chain: 'Solo' });
  await sleep(300);

  mark(H1, a, await importBlock(a, 1, H1, 'Own'));
  await sleep(150);
  mark(H1, b, await importBlock(b, 1, H1));
  await sleep(250);
  mark(H1, c, await importBlock(c, 1, H1));
  await sleep(200);
  await importBlock(d, 1, H1, 'NetworkInitialSync');
  await sleep(100);
  await importBlock(a, 1, H1); // a repeat: not a new arrival
  times.finalized.push({ height: 1, at: await send(b, { msg: 'system.interval', best: H1, height: 1, finalized_hash: H1, finalized_height: 1, txcount: 0 }) });
  await sleep(300);

  mark(H2, b, await importBlock(b, 2, H2));
  await sleep(100);
  mark(H2, a, await importBlock(a, 2, H2));
  await sleep(50);
  mark(H2_FORK, d, await importBlock(d, 2, H2_FORK));
  await sleep(170);
  mark(H2, c, await importBlock(c, 2, H2));
  times.eSessions[0].toBefore = Date.now();
  await e1.socket.close();
  await waitFor(async () => (await count(db, `SELECT count(*) AS n FROM peer_connections WHERE peer_id = $1 AND disconnected_at IS NOT NULL`, [E])) === 1, 'E’s first session closed');
  times.eSessions[0].toAfter = Date.now();
  await sleep(400);

  mark(H3, c, await importBlock(c, '3', H3));
  await sleep(50);
  mark(H3, d, await importBlock(d, 3, H3));
  times.gapAt = Date.now();
  await sleep(280);
  mark(H3, a, await importBlock(a, '3', H3));
  await sleep(290);
  mark(H3, b, await importBlock(b, 3, H3));
  const e2Before = Date.now();
  const e2 = await open(url(4), E, { chain: CHAIN, genesis: G2, version: '1.1.0' });
  times.eSessions.push({ fromBefore: e2Before, fromAfter: Date.now(), toBefore: null, toAfter: null });
  // Long enough for a whole 1 s lag bucket between block 3 and its finality, even with a stalled event loop.
  await sleep(3000);
  times.finalized.push({ height: 3, at: await send(a, { msg: 'notify.finalized', best: H3, height: '3' }) });
  await sleep(200);
  await send(c, { msg: 'notify.finalized', best: H2, height: '2' }); // lower than what A reported: changes nothing
  await sleep(100);
  times.windowEnd = Date.now();
  stalls.disable();
  times.stallMs = Math.max(0, stalls.max / 1e6 - 10);
  return { times, nodes: [a, b, c, d, e2, f] };
}

// Expected figures, from the send times.
function delaysOf(times: Times, h: string): Map<string, number> {
  const m = times.imports.get(h) as Map<string, number>;
  const first = Math.min(...m.values());
  return new Map([...m].map(([p, at]) => [p, at - first]));
}
const firstOf = (times: Times, h: string) => Math.min(...(times.imports.get(h) as Map<string, number>).values());
/** ±50 ms, plus the longest stall measured during the scenario being checked (set by the tests). */
let tolerance = TOLERANCE_MS;
const near = (actual: number | null, expected: number, what: string) => {
  assert.ok(actual !== null && Math.abs(actual - expected) <= tolerance, `${what}: ${actual} ms, expected ${expected} ± ${tolerance.toFixed(0)}`);
};
const toleranceFor = (times: Times) => (tolerance = TOLERANCE_MS + times.stallMs);
/** Nearest rank of the expected delays, matched to the answer's value within the tolerance. */
function nearRank(actual: number | null, expected: number[], p: number, what: string) {
  near(actual, percentile(Float64Array.from(expected).sort(), p) as number, what);
}
const ms = (time: string) => Date.parse(`${time}Z`);

function checkAnswers(times: Times, answers: Answers): void {
  toleranceFor(times);
  // GET /chains
  const chains = answers.chains;
  assert.deepEqual(
    chains.map((c: { chain: string; genesis_hash: string | null }) => [c.chain, c.genesis_hash]),
    [[CHAIN, G1], [CHAIN, G2], ['Solo', null]],
  );
  const dev = chains[0];
  assert.equal(dev.nodes_seen, 4);
  assert.equal(dev.nodes_connected, 4);
  assert.equal(dev.best_height, 3);
  assert.equal(dev.best_hash, H3);
  assert.match(dev.best_seen_at, TIME_RE);
  near(ms(dev.best_seen_at), firstOf(times, H3), 'best_seen_at');
  assert.equal(dev.finalized_height, 3);
  near(dev.avg_block_time_ms, (firstOf(times, H3) - firstOf(times, H1)) / 2, 'avg_block_time_ms');
  const recent = [H1, H2, H3].flatMap((h) => [...delaysOf(times, h).values()]);
  nearRank(dev.propagation_p90_ms, recent, 0.9, 'propagation_p90_ms');
  assert.deepEqual(chains[1], { chain: CHAIN, genesis_hash: G2, nodes_connected: 1, nodes_seen: 1, best_height: null, best_hash: null, best_seen_at: null, finalized_height: null, avg_block_time_ms: null, propagation_p90_ms: null });
  assert.equal(chains[2].nodes_seen, 1);

  // GET /chains/Development/blocks?genesis_hash=G1
  const blocks = answers.blocks;
  assert.deepEqual(blocks.map((b: { height: number; hash: string }) => [b.height, b.hash]), [[3, H3], [2, H2], [1, H1]]);
  const [b3, b2, b1] = blocks;
  assert.deepEqual(b1.first_seen_by, { peer_id: A, name: 'node-A' });
  assert.deepEqual(b2.first_seen_by, { peer_id: B, name: 'node-B' });
  assert.deepEqual(b3.first_seen_by, { peer_id: C, name: 'node-C' });
  assert.equal(b1.nodes_reported, 4, 'A, B, C, and D (catch-up)');
  assert.equal(b2.nodes_reported, 3);
  assert.equal(b3.nodes_reported, 4);
  assert.deepEqual(b2.forks, [{ hash: H2_FORK, nodes_reported: 1 }]);
  assert.deepEqual(b1.forks, []);
  assert.deepEqual(b3.forks, []);
  for (const [entry, h] of [[b1, H1], [b2, H2], [b3, H3]] as const) {
    const delays = [...delaysOf(times, h).values()];
    near(ms(entry.first_seen_at), firstOf(times, h), `first_seen_at of ${h}`);
    nearRank(entry.propagation_ms.p50, delays, 0.5, `p50 of ${h}`);
    nearRank(entry.propagation_ms.p90, delays, 0.9, `p90 of ${h}`);
    nearRank(entry.propagation_ms.p99, delays, 0.99, `p99 of ${h}`);
    near(entry.propagation_ms.max, Math.max(...delays), `max of ${h}`);
  }
  assert.equal(b1.block_time_ms, null, 'height 0 is unknown');
  near(b2.block_time_ms, firstOf(times, H2) - firstOf(times, H1), 'block time of 2');
  near(b3.block_time_ms, firstOf(times, H3) - firstOf(times, H2), 'block time of 3');
  const [fin1, fin3] = times.finalized;
  near(ms(b1.finalized_at), fin1.at, 'finalized_at of 1');
  near(ms(b2.finalized_at), fin3.at, 'finalized_at of 2: the first report of a height ≥ 2');
  near(ms(b3.finalized_at), fin3.at, 'finalized_at of 3');
  near(b1.time_to_finality_ms, fin1.at - firstOf(times, H1), 'time to finality of 1');
  near(b2.time_to_finality_ms, fin3.at - firstOf(times, H2), 'time to finality of 2');
  near(b3.time_to_finality_ms, fin3.at - firstOf(times, H3), 'time to finality of 3');

  // GET /chains/Development/propagation (the whole scenario)
  const p = answers.propagation;
  assert.equal(p.chain, CHAIN);
  assert.equal(p.genesis_hash, G1);
  assert.equal(p.blocks, 4, 'H1, H2, the fork H2′, H3');
  assert.equal(p.arrivals, 3 + 3 + 1 + 4);
  const all = [H1, H2, H2_FORK, H3].flatMap((h) => [...delaysOf(times, h).values()]);
  nearRank(p.percentiles_ms.p50, all, 0.5, 'propagation p50');
  nearRank(p.percentiles_ms.p90, all, 0.9, 'propagation p90');
  near(p.percentiles_ms.max, Math.max(...all), 'propagation max');
  assert.equal(p.histogram.length, 41);
  assert.equal(p.histogram.reduce((n: number, bin: { count: number }) => n + bin.count, 0), p.arrivals, 'every arrival in one bin');
  assert.equal(p.histogram[40].upper_ms, null);
  assert.equal(p.histogram[40].cumulative_pct, 100);
  assert.deepEqual(p.histogram.slice(0, 3).map((bin: { upper_ms: number }) => bin.upper_ms), [250, 500, 750]);
  // Each bin holds the delays certainly in it, and at most those that may be (within the tolerance of an edge).
  const bin = (d: number) => Math.min(40, Math.max(0, Math.floor(d / 250)));
  let cumulative = 0;
  p.histogram.forEach((entry: { count: number; cumulative_pct: number }, k: number) => {
    const certain = all.filter((d) => bin(d - tolerance) === k && bin(d + tolerance) === k).length;
    const possible = all.filter((d) => bin(d - tolerance) <= k && bin(d + tolerance) >= k).length;
    assert.ok(entry.count >= certain && entry.count <= possible, `bin ${k}: ${entry.count}, expected ${certain}..${possible}`);
    cumulative += entry.count;
    assert.equal(entry.cumulative_pct, Math.round((cumulative / p.arrivals) * 10_000) / 100);
  });
  const byPeer = new Map(p.nodes.map((n: { peer_id: string }) => [n.peer_id, n]));
  assert.deepEqual(p.nodes.map((n: { peer_id: string }) => n.peer_id), [A, B, C, D], 'sorted by peer id');
  for (const [who, seen] of [[A, 3], [B, 3], [C, 3], [D, 2]] as const) {
    const n = byPeer.get(who) as { blocks_seen: number; blocks_missed: number; mean_ms: number; p50_ms: number; p90_ms: number; name: string };
    assert.equal(n.blocks_seen, seen, `${who} blocks_seen`);
    assert.equal(n.blocks_missed, 4 - seen, `${who} blocks_missed`);
    const mine = [H1, H2, H2_FORK, H3].map((h) => delaysOf(times, h).get(who)).filter((d): d is number => d !== undefined);
    near(n.mean_ms, mine.reduce((s, d) => s + d, 0) / mine.length, `${who} mean`);
    nearRank(n.p50_ms, mine, 0.5, `${who} p50`);
    nearRank(n.p90_ms, mine, 0.9, `${who} p90`);
    assert.equal(n.name, `node-${who.slice(17, 18)}`);
  }
  assert.deepEqual(answers.propagationByP90.nodes.map((n: { peer_id: string }) => n.peer_id), [...p.nodes].sort((x: { p90_ms: number; peer_id: string }, y: { p90_ms: number; peer_id: string }) => y.p90_ms - x.p90_ms || (x.peer_id < y.peer_id ? -1 : 1)).map((n: { peer_id: string }) => n.peer_id));

  // GET /chains/Development/finality (1 s buckets)
  const f = answers.finality;
  assert.equal(f.blocks, 3);
  assert.equal(f.finalized_blocks, 3);
  const ttf = [fin1.at - firstOf(times, H1), fin3.at - firstOf(times, H2), fin3.at - firstOf(times, H3)];
  nearRank(f.percentiles_ms.p50, ttf, 0.5, 'finality p50');
  near(f.percentiles_ms.max, Math.max(...ttf), 'finality max');
  const last = f.lag[f.lag.length - 1];
  assert.deepEqual([last.best_height, last.finalized_height, last.lag], [3, 3, 0]);
  // A bucket wholly between the first seen of H3 and A's report of 3: best 3, finalized 1.
  const between = f.lag.find((bucket: { start: string; end: string }) => ms(bucket.start) > firstOf(times, H3) + tolerance && ms(bucket.end) < fin3.at - tolerance);
  assert.ok(between, 'a bucket between block 3 and its finality');
  assert.deepEqual([between.best_height, between.finalized_height, between.lag, between.max_lag], [3, 1, 2, 2]);
  assert.ok(f.lag.every((bucket: { max_lag: number; lag: number | null }) => bucket.lag === null || bucket.max_lag >= bucket.lag));
}

interface Answers {
  chains: any;
  blocks: any;
  propagation: any;
  propagationByP90: any;
  finality: any;
}

async function answersOf(server: TestServer, times: Times): Promise<Answers> {
  const window = { genesis_hash: G1, start_time: new Date(times.windowStart - 1000).toISOString(), end_time: new Date(times.windowEnd + 1000).toISOString() };
  const get = async (path: string) => {
    const r = await api(server, path);
    assert.equal(r.status, 200, `${path}: ${r.text}`);
    return r.body;
  };
  return {
    chains: await get('/chains'),
    blocks: await get(`/chains/${CHAIN}/blocks?${query({ genesis_hash: G1 })}`),
    propagation: await get(`/chains/${CHAIN}/propagation?${query(window)}`),
    propagationByP90: await get(`/chains/${CHAIN}/propagation?${query({ ...window, sort: 'p90_ms', order: 'desc' })}`),
    finality: await get(`/chains/${CHAIN}/finality?${query({ ...window, bucket_s: 1 })}`),
  };
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

/** Everything sent is stored (facts included) on every server. */
async function allStored(servers: TestServer[]): Promise<void> {
  for (const s of servers) await settled(s);
  await waitFor(async () => (await count(servers[0], 'SELECT count(*) AS n FROM block_arrivals')) === 13, 'every block.import of the scenario');
}

for (const backend of BACKENDS) {
  describe(`network analytics (${backend.name})`, () => {
    let server: TestServer;
    let times: Times;
    let nodes: Node[];
    let live: Answers;
    before(async () => {
      // Settled only when the test says so: the first answers are computed from the arrivals.
      // Summaries only when a test runs them: the server's job never runs during the test.
      server = await startTestServer(backend, { ANALYTICS_SETTLE_S: '86400', ANALYTICS_SUMMARY_INTERVAL_S: '3600', LIVENESS_INTERVAL_S: '20' });
      ({ times, nodes } = await scenario(new Array(6).fill(server.url('/')), server));
      await allStored([server]);
      live = await answersOf(server, times);
    });
    after(async () => {
      for (const n of nodes ?? []) await n.socket.close();
      await server?.dispose();
    });

    it('answers every route as the send times imply (blocks not summarized yet)', () => {
      checkAnswers(times, live);
    });

    it('gives the same answers once the blocks are summarized, and re-summarizes a block that gets a late arrival', async () => {
      const run = await summarizeSettledBlocks(server.ingestDb, 0, 1000);
      assert.deepEqual(run, { invalidated: 0, summarized: 4 });
      assert.equal(await count(server, 'SELECT count(*) AS n FROM blocks WHERE summarized_at IS NULL'), 0);
      const stored = await answersOf(server, times);
      assert.deepEqual({ ...stored, chains: stored.chains.map((c: object) => ({ ...c, nodes_connected: 0 })) }, { ...live, chains: live.chains.map((c: object) => ({ ...c, nodes_connected: 0 })) });
      // A late arrival of H1 from F's chain-mate: a new node on Development/G1.
      const late = await open(server.url('/'), peer('L'), { chain: CHAIN, genesis: G1 });
      await importBlock(late, 1, H1);
      await settled(server);
      await waitFor(async () => (await count(server, 'SELECT count(*) AS n FROM block_arrivals')) === 14, 'the late arrival');
      assert.deepEqual(await summarizeSettledBlocks(server.ingestDb, 0, 1000), { invalidated: 1, summarized: 1 });
      const blocks = (await api(server, `/chains/${CHAIN}/blocks?${query({ genesis_hash: G1, start_height: 1, end_height: 1 })}`)).body;
      assert.equal(blocks[0].nodes_reported, 5);
      await late.socket.close();
    });

    it('answers /nodes/{peer_id}/history: sessions, uptime, reconnects, versions, propagation', async () => {
      toleranceFor(times);
      const [s1, s2] = times.eSessions as Array<{ fromBefore: number; fromAfter: number; toBefore: number; toAfter: number }>;
      const start = s1.fromBefore - 5000;
      const end = Date.now() - 500;
      const r = await api(server, `/nodes/${E}/history?${query({ start_time: new Date(start).toISOString(), end_time: new Date(end).toISOString() })}`);
      assert.equal(r.status, 200, r.text);
      const h = r.body;
      assert.equal(h.peer_id, E);
      assert.equal(h.sessions.length, 2);
      assert.deepEqual(h.sessions.map((s: { version: string; chain: string; genesis_hash: string }) => [s.version, s.chain, s.genesis_hash]), [['1.0.0', CHAIN, G2], ['1.1.0', CHAIN, G2]]);
      assert.match(h.sessions[0].disconnected_at, TIME_RE);
      assert.equal(h.sessions[1].disconnected_at, null);
      assert.equal(h.reconnects, 1);
      // The sessions' bounds are known to lie between what the test saw before and after each step.
      const least = ((s1.toBefore - s1.fromAfter + (end - s2.fromAfter)) / (end - start)) * 100;
      const most = ((s1.toAfter - s1.fromBefore + (end - s2.fromBefore)) / (end - start)) * 100;
      assert.ok(h.uptime_pct >= least - 1 && h.uptime_pct <= most + 1, `uptime ${h.uptime_pct} %, expected ${least.toFixed(2)}..${most.toFixed(2)} ± 1`);
      assert.deepEqual(h.versions.map((v: { version: string }) => v.version), ['1.0.0', '1.1.0']);
      const within = (t: string, from: number, to: number, what: string) => assert.ok(ms(t) >= from - 1 && ms(t) <= to + 1, `${what}: ${t} not in [${new Date(from).toISOString()}, ${new Date(to).toISOString()}]`);
      within(h.versions[0].first_seen, s1.fromBefore, s1.fromAfter, 'first seen of 1.0.0');
      within(h.versions[0].last_seen, s1.toBefore, s1.toAfter, 'last seen of 1.0.0');
      assert.deepEqual(h.propagation, { blocks_seen: 0, mean_ms: null, p90_ms: null });

      const a = (await api(server, `/nodes/${A}/history?${query({ start_time: new Date(times.windowStart - 1000).toISOString() })}`)).body;
      assert.equal(a.reconnects, 0);
      assert.equal(a.propagation.blocks_seen, 3);
      const mine = [H1, H2, H3].map((x) => delaysOf(times, x).get(A) as number);
      near(a.propagation.mean_ms, mine.reduce((s, d) => s + d, 0) / 3, 'mean of A');
      nearRank(a.propagation.p90_ms, mine, 0.9, 'p90 of A');
      assert.ok(a.uptime_pct > 0 && a.uptime_pct <= 100);
      assert.equal((await api(server, `/nodes/${peer('Z')}/history`)).status, 404);
    });

    it('answers /nodes?at= with exactly the nodes connected at that instant', async () => {
      const at = async (t: number) => (await api(server, `/nodes?${query({ at: new Date(t).toISOString() })}`)).body.map((n: { peer_id: string }) => n.peer_id);
      assert.deepEqual(await at(times.gapAt), [A, B, C, D, F].sort(), 'E was between its sessions');
      assert.deepEqual(await at((times.eSessions[0].toBefore as number) - 1), [A, B, C, D, E, F].sort());
      assert.deepEqual(await at(times.beforeAll), []);
      const all = await api(server, `/nodes?${query({ at: new Date(times.windowEnd).toISOString() })}`);
      assert.deepEqual(all.body.map((n: { peer_id: string }) => n.peer_id), [A, B, C, D, E, F].sort(), 'open connections last until now');
      const e = all.body.find((n: { peer_id: string }) => n.peer_id === E);
      assert.equal(e.version, '1.1.0', 'the connection open then');
      assert.deepEqual(Object.keys(e), ['id', 'ip_addr', 'peer_id', 'created_at', 'audit', 'name', 'chain', 'version', 'authority', 'startup_time', 'implementation', 'connected', 'last_seen']);
      const bad = await api(server, '/nodes?at=yesterday');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.parameter, 'at');
    });

    it('answers 409 listing the genesis hashes when a chain name is ambiguous, 404 for an unknown chain', async () => {
      for (const path of ['blocks', 'propagation', 'finality']) {
        const r = await api(server, `/chains/${CHAIN}/${path}`);
        assert.equal(r.status, 409, path);
        assert.equal(r.body.code, 'AMBIGUOUS_CHAIN');
        assert.equal(r.body.parameter, 'genesis_hash');
        assert.deepEqual(r.body.genesis_hashes, [G1, G2]);
      }
      assert.equal((await api(server, `/chains/Nowhere/blocks`)).status, 404);
      const unknownGenesis = await api(server, `/chains/${CHAIN}/blocks?genesis_hash=0x99`);
      assert.equal(unknownGenesis.status, 404);
      assert.equal(unknownGenesis.body.parameter, 'genesis_hash');
      // A single chain of that name needs no genesis hash; `null` names the group without one.
      assert.deepEqual((await api(server, `/chains/Solo/blocks`)).body, []);
      assert.equal((await api(server, `/chains/Solo/blocks?genesis_hash=null`)).status, 200);
      assert.equal((await api(server, `/chains/${CHAIN}/blocks?genesis_hash=${G2}`)).status, 200);
    });

    it('answers 400 naming the parameter for bad input', async () => {
      const cases: Array<[string, string]> = [
        [`/chains/${CHAIN}/blocks?genesis_hash=${G1}&limit=0`, 'limit'],
        [`/chains/${CHAIN}/blocks?genesis_hash=${G1}&limit=10001`, 'limit'],
        [`/chains/${CHAIN}/blocks?genesis_hash=${G1}&start_height=-1`, 'start_height'],
        [`/chains/${CHAIN}/blocks?genesis_hash=${G1}&start_height=5&end_height=4`, 'start_height'],
        [`/chains/${CHAIN}/blocks?genesis_hash=${G1}&start_time=soon`, 'start_time'],
        [`/chains/${CHAIN}/blocks?genesis_hash=${G1}&start_time=2024-01-02T00:00:00&end_time=2024-01-01T00:00:00`, 'start_time'],
        [`/chains/${CHAIN}/propagation?genesis_hash=${G1}&sort=fastest`, 'sort'],
        [`/chains/${CHAIN}/propagation?genesis_hash=${G1}&order=up`, 'order'],
        [`/chains/${CHAIN}/propagation?genesis_hash=${G1}&start_time=2024-01-01T00:00:00&end_time=2024-01-01T07:00:00`, 'start_time'],
        [`/chains/${CHAIN}/finality?genesis_hash=${G1}&bucket_s=0`, 'bucket_s'],
        [`/chains/${CHAIN}/finality?genesis_hash=${G1}&start_time=2024-01-01T00:00:00&end_time=2024-01-07T00:00:00&bucket_s=1`, 'bucket_s'],
        [`/chains/${CHAIN}/finality?genesis_hash=&bucket_s=5`, 'genesis_hash'],
        [`/nodes/${A}/history?end_time=2024-13-01T00:00:00`, 'end_time'],
        [`/nodes/${A}/history?start_time=2024-01-01T00:00:00&end_time=2024-02-01T00:00:00`, 'start_time'],
      ];
      for (const [path, parameter] of cases) {
        const r = await api(server, path);
        assert.equal(r.status, 400, `${path}: ${r.text}`);
        assert.equal(r.body.parameter, parameter, path);
        assert.equal(r.body.code, 'INVALID_PARAMETER', path);
      }
    });

    it('rebuilds the tables from the stored messages: the same facts, timed by the node, idempotent; --since keeps what is older', async () => {
      const derived = await factsOf(server.db);
      assert.equal(derived.arrivals.length, 14);
      assert.equal(derived.reports.length, 3, 'B: 1, A: 3, C: 2 (each a rise of its connection)');
      const progress: RebuildProgress[] = [];
      // Up to a minute ahead: node clocks run up to 5 s ahead, and their newest messages are "in the future".
      const until = new Date(Date.now() + 60_000).toISOString().replace('T', ' ').replace('Z', '');
      const first = await rebuildAnalytics(server.ingestDb, { until, onProgress: (p) => progress.push(p) });
      assert.deepEqual(await factsOf(server.db), derived);
      assert.equal(first.arrivals, 14);
      assert.equal(first.reports, 3);
      assert.equal(first.arrivalsDeleted, 14);
      assert.equal(first.blocks, 4);
      assert.equal(first.messages, await count(server, 'SELECT count(*) AS n FROM substrate_logs'));
      assert.deepEqual([...new Set(progress.map((p) => p.phase))], ['deleting', 'deriving', 'recomputing blocks', 'summarizing', 'done']);
      assert.ok(progress.every((p, i) => i === 0 || p.fraction >= progress[i - 1].fraction));
      assert.equal(progress[progress.length - 1].fraction, 1);
      // Rebuilt rows carry the node's (skewed) clock: B's clock is 5 s ahead, so its arrivals look 5 s late.
      assert.equal(await count(server, `SELECT count(*) AS n FROM block_arrivals WHERE NOT rebuilt OR received_at <> node_ts`), 0);
      const b1 = (await api(server, `/chains/${CHAIN}/blocks?${query({ genesis_hash: G1, start_height: 1, end_height: 1 })}`)).body[0];
      const cSentH1 = (times.imports.get(H1) as Map<string, number>).get(C) as number;
      near(ms(b1.first_seen_at), cSentH1 + SKEW_MS.C, 'C’s clock is 3 s behind: by its own ts, it saw H1 first');
      assert.equal(b1.first_seen_by.peer_id, C);
      const snapshot = async () => (await server.db.query(`SELECT * FROM blocks ORDER BY chain_id, height, hash`)).rows.map((r) => ({ ...r, summarized_at: null }));
      const afterFirst = await snapshot();
      await rebuildAnalytics(server.ingestDb, { until });
      assert.deepEqual(await snapshot(), afterFirst, 'idempotent');
      // By default up to now: the facts of messages stamped later (by a clock ahead) stay as they are.
      await rebuildAnalytics(server.ingestDb);
      assert.deepEqual(await factsOf(server.db), derived);
      // Part of the range: what is older keeps its facts (and the rows derived at ingestion stay as they are).
      const middle = new Date(firstOf(times, H2) + SKEW_MS.A).toISOString().replace('T', ' ').replace('Z', '');
      const partial = await rebuildAnalytics(server.ingestDb, { since: middle });
      assert.ok(partial.arrivals > 0 && partial.arrivals < 14, `${partial.arrivals} arrivals since ${middle}`);
      assert.deepEqual(await factsOf(server.db), derived);
    });

    it('purges the analytics rows of expiring nodes before a cutoff, and keeps the audit node’s (C, on /audit)', async () => {
      const cutoff = new Date(Date.now() + 3_600_000).toISOString().replace('T', ' ').replace('Z', '');
      const expiring = await count(server, `SELECT count(*) AS n FROM block_arrivals WHERE peer_id <> $1`, [C]);
      const purged = await purgeAnalyticsBefore(server.ingestDb, cutoff);
      assert.deepEqual(purged, { arrivals: expiring, finalityReports: 2, blocks: 1, finalizedHeights: 2 });
      const left = await factsOf(server.db);
      assert.deepEqual([...new Set(left.arrivals.map((a) => a.peer_id))], [C]);
      assert.deepEqual(left.blocks.map((b) => b.hash).sort(), [H1, H2, H3].sort(), 'blocks C reported are kept; the fork H2′ goes');
      assert.deepEqual(left.heights.map((h) => h.height), [2]);
      const blocks = (await api(server, `/chains/${CHAIN}/blocks?${query({ genesis_hash: G1 })}`)).body;
      assert.deepEqual(blocks.map((b: { height: number }) => b.height), [3, 2, 1]);
      assert.deepEqual(blocks[1].forks, []);
      assert.deepEqual(await purgeAnalyticsBefore(server.ingestDb, cutoff), { arrivals: 0, finalityReports: 0, blocks: 0, finalizedHeights: 0 });
    });

    it('documents the routes in the OpenAPI document', async () => {
      const doc = (await api(server, '/docs/json')).body;
      for (const path of ['/chains', '/chains/{chain}/blocks', '/chains/{chain}/propagation', '/chains/{chain}/finality', '/nodes/{peer_id}/history']) {
        assert.ok(doc.paths[path]?.get, path);
      }
      assert.ok(doc.paths['/chains/{chain}/blocks'].get.responses['409']);
      assert.ok(doc.paths['/nodes'].get.parameters.some((p: { name: string }) => p.name === 'at'));
    });
  });
}

describe('network analytics over two servers sharing one PostgreSQL', () => {
  const backend = BACKENDS.find((b) => b.name === 'postgres')!;
  let first: TestServer;
  let second: TestServer;
  let nodes: Node[];
  after(async () => {
    for (const n of nodes ?? []) await n.socket.close();
    await second?.close();
    await first?.dispose();
  });

  it('gives the same answers from both servers, as the send times imply', async () => {
    first = await startTestServer(backend, { ANALYTICS_SETTLE_S: '86400', LIVENESS_INTERVAL_S: '20' });
    const shared = { name: 'postgres' as const, create: async () => ({ db: { close: async () => {} } as never, url: first.settings.databaseUrl, drop: async () => {} }) };
    second = await startTestServer(shared, { ANALYTICS_SETTLE_S: '86400', LIVENESS_INTERVAL_S: '20' });
    // A and C on the first server, B and D on the second; E and F split too.
    const urls = [first, second, first, second, first, second].map((s) => s.url('/'));
    let times: Times;
    ({ times, nodes } = await scenario(urls, first));
    await allStored([first, second]);
    const fromFirst = await answersOf(first, times);
    const fromSecond = await answersOf(second, times);
    checkAnswers(times, fromFirst);
    assert.deepEqual(fromSecond, fromFirst);
    assert.equal((await api(first, `/nodes?${query({ at: new Date(times.gapAt).toISOString() })}`)).body.length, 5);
  });
});
