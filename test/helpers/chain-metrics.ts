// Shared by the tests of the per-chain /metrics series (test/integration/metrics-chains.test.ts and
// test/integration/prometheus-scrape.test.ts): a scenario of three chains streamed over websockets, the
// exposition parser, and the series the analytics routes imply (what /metrics must say).
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestServer } from './server.js';
import { waitFor } from './server.js';
import { connectNode, type TestNode } from './fixtures.js';
import { percentile } from '../../src/analytics/stats.js';

export const G_ALPHA = '0x' + 'a1'.repeat(32);
export const G_GAMMA = '0x' + 'c3'.repeat(32);
export const ALPHA = 'Metrics Alpha';
export const BETA = 'Metrics Beta';
export const GAMMA = 'Metrics Gamma';
export const peer = (tag: string) => `12D3KooWMetrics${tag.repeat(38)}`;
const blockHash = (height: number, tag = 'b') => '0x' + `${tag}${height}`.padEnd(64, '0');

const ts = () => new Date().toISOString().replace('Z', '+00:00');
const frame = (payload: Record<string, unknown>) => JSON.stringify({ id: 1, ts: ts(), payload });

export interface ScenarioNode {
  tag: string;
  peerId: string;
  socket: TestNode;
}

export interface Scenario {
  /** Still connected: A, B, C (Alpha), D (Beta). E (Gamma) has disconnected. */
  nodes: ScenarioNode[];
  /** Instant (ms) just before the last block of Alpha was sent. */
  lastBlockAt: number;
  /** Messages sent, to wait for. */
  sent: number;
}

async function open(url: string, tag: string, chain: string, genesis: string | null): Promise<ScenarioNode> {
  const socket = await connectNode(url);
  const identity: Record<string, unknown> = { msg: 'system.connected', chain, name: `metrics-${tag}`, network_id: peer(tag), version: '2.1.2', authority: tag === 'A', implementation: 'Tetcore Node' };
  if (genesis !== null) identity.genesis_hash = genesis;
  await socket.send(frame(identity));
  return { tag, peerId: peer(tag), socket };
}

/**
 * Alpha (genesis G_ALPHA): A, B, C import heights 100–104 in that order, tens of ms apart (C's catch-up
 * import of 99 comes first and is left out of propagation); A reports 101 then 103 finalized, B 102 (in a
 * system.interval). Beta (no genesis hash): D imports 7 and 8. Gamma: E imports 1 and disconnects.
 * `urls[i]` is where the i-th node (A, B, C, D, E) connects (several servers may share a database).
 */
export async function streamScenario(urls: string[]): Promise<Scenario> {
  const at = (i: number) => urls[i % urls.length];
  const [a, b, c, d, e] = await Promise.all([
    open(at(0), 'A', ALPHA, G_ALPHA),
    open(at(1), 'B', ALPHA, G_ALPHA),
    open(at(2), 'C', ALPHA, G_ALPHA),
    open(at(3), 'D', BETA, null),
    open(at(4), 'E', GAMMA, G_GAMMA),
  ]);
  let sent = 5;
  const send = async (node: ScenarioNode, payload: Record<string, unknown>) => {
    sent++;
    await node.socket.send(frame(payload));
  };
  // Identities first: nothing is derived from a node before its system.connected is stored.
  await sleep(300);
  await send(a, { msg: 'system.interval', peers: 5, txcount: 1 });
  await send(b, { msg: 'system.interval', peers: '7', txcount: 0 });
  await send(c, { msg: 'system.interval', bandwidth_download: 10, bandwidth_upload: 5 });
  await send(c, { msg: 'block.import', height: 99, best: blockHash(99), origin: 'NetworkInitialSync' });
  await send(e, { msg: 'block.import', height: 1, best: blockHash(1, 'e'), origin: 'Own' });
  await send(d, { msg: 'block.import', height: 7, best: blockHash(7, 'd'), origin: 'Own' });
  let lastBlockAt = 0;
  for (let height = 100; height <= 104; height++) {
    await sleep(120);
    if (height === 104) lastBlockAt = Date.now() - 5;
    await send(a, { msg: 'block.import', height, best: blockHash(height), origin: 'Own' });
    await sleep(25 + (height % 3) * 10);
    await send(b, { msg: 'block.import', height: String(height), best: blockHash(height), origin: 'NetworkBroadcast' });
    await sleep(20);
    await send(c, { msg: 'block.import', height, best: blockHash(height), origin: 'NetworkBroadcast' });
    if (height === 102) await send(a, { msg: 'notify.finalized', height: '101', best: blockHash(101) });
    if (height === 103) await send(b, { msg: 'system.interval', peers: '7', finalized_height: 102, finalized_hash: blockHash(102) });
  }
  await sleep(50);
  await send(a, { msg: 'notify.finalized', height: '103', best: blockHash(103) });
  await send(d, { msg: 'block.import', height: 8, best: blockHash(8, 'd'), origin: 'Own' });
  await e.socket.close();
  return { nodes: [a, b, c, d], lastBlockAt, sent };
}

/** Waits until every message is stored and E's connection is marked closed, on the database of `server`. */
export async function scenarioStored(server: TestServer, scenario: Scenario, others: TestServer[] = []): Promise<void> {
  const count = async (sql: string) => Number((await server.db.query<{ n: number }>(sql)).rows[0].n);
  await waitFor(async () => (await count(`SELECT count(*) AS n FROM substrate_logs`)) === scenario.sent, `${scenario.sent} messages stored`, 30_000);
  await waitFor(async () => (await count(`SELECT count(*) AS n FROM peer_connections WHERE disconnected_at IS NOT NULL`)) === 1, 'E disconnected', 30_000);
  await waitFor(async () => (await count(`SELECT count(*) AS n FROM blocks`)) === 9, 'the 9 blocks recorded (Alpha 99–104, Beta 7–8, Gamma 1)', 30_000);
  await analyticsSettled(server, others);
}

/**
 * Waits until the blocks' first seen and the finalized heights (recorded just after their batch commits)
 * agree with the arrivals and reports stored: every block of an arrival, at its earliest arrival, and
 * every height reported finalized.
 */
export async function analyticsSettled(server: TestServer, others: TestServer[] = []): Promise<void> {
  for (const s of [server, ...others]) await waitFor(() => s.writer.pendingRows === 0, 'the writer to be idle', 30_000);
  const behind = async () =>
    (
      await server.db.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM (SELECT a.chain_id, a.height, a.hash, min(a.received_at) AS first FROM block_arrivals a GROUP BY 1, 2, 3) a
                   LEFT JOIN blocks b ON b.chain_id = a.chain_id AND b.height = a.height AND b.hash = a.hash
                  WHERE b.first_seen_at IS DISTINCT FROM a.first)
              + (SELECT count(*) FROM (SELECT DISTINCT chain_id, height FROM finality_reports) f
                   LEFT JOIN finalized_heights h ON h.chain_id = f.chain_id AND h.height = f.height WHERE h.height IS NULL) AS n`,
      )
    ).rows[0].n;
  await waitFor(async () => Number(await behind()) === 0, 'blocks and finalized heights recorded', 30_000);
}

// ---------------------------------------------------------------------------------------------------
// Series

/**
 * `name{label="value",…}` with the labels sorted (job, instance and __name__ left out; an empty value left
 * out too, as Prometheus stores it: `genesis_hash=""` is no genesis_hash label).
 */
export function seriesKey(name: string, labels: Record<string, string>): string {
  const kept = Object.entries(labels).filter(([k, v]) => k !== 'job' && k !== 'instance' && k !== '__name__' && v !== '').sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  return `${name}{${kept.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
}

/** The samples of a text exposition, by seriesKey (prom-client writes label values JSON-escaped). */
export function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = JSON.parse(`"${l[2]}"`);
    samples.set(seriesKey(m[1], labels), Number(m[3]));
  }
  return samples;
}

/** The samples whose name starts with one of the prefixes. */
export function only(samples: Map<string, number>, ...prefixes: string[]): Map<string, number> {
  return new Map([...samples].filter(([key]) => prefixes.some((p) => key.startsWith(p))));
}

export const CHAIN_SERIES = ['tetcore_chain_', 'tetcore_chains_not_exported'];

interface ChainsEntry {
  chain: string;
  genesis_hash: string | null;
  nodes_connected: number;
  nodes_seen: number;
  best_height: number | null;
  finalized_height: number | null;
  avg_block_time_ms: number | null;
  propagation_p90_ms: number | null;
}

async function get<T>(server: TestServer, path: string): Promise<T> {
  const response = await fetch(server.httpUrl(path));
  if (response.status !== 200) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/**
 * The tetcore_chain_* series (and tetcore_chains_not_exported) the analytics routes imply, for the
 * `maxChains` chains with the most connected nodes. p50 and p99 of propagation come from
 * /chains/{chain}/propagation over the last hour, which holds the same delays when the chain has at most
 * 50 blocks, all first seen in that hour, and no fork (the scenario's chains).
 */
export async function seriesFromRoutes(server: TestServer, maxChains: number, options: { forks?: boolean } = {}): Promise<Map<string, number>> {
  const chains = await get<ChainsEntry[]>(server, '/chains');
  const ordered = [...chains].sort((x, y) => y.nodes_connected - x.nodes_connected || y.nodes_seen - x.nodes_seen || (x.chain < y.chain ? -1 : x.chain > y.chain ? 1 : 0));
  const out = new Map<string, number>();
  out.set(seriesKey('tetcore_chains_not_exported', {}), Math.max(0, chains.length - maxChains));
  for (const c of ordered.slice(0, maxChains)) {
    const labels = { chain: c.chain, genesis_hash: c.genesis_hash ?? '' };
    const set = (name: string, value: number | null, extra: Record<string, string> = {}) => {
      if (value !== null) out.set(seriesKey(name, { ...labels, ...extra }), value);
    };
    set('tetcore_chain_nodes_connected', c.nodes_connected);
    set('tetcore_chain_best_height', c.best_height);
    set('tetcore_chain_finalized_height', c.finalized_height);
    set('tetcore_chain_block_time_seconds', c.avg_block_time_ms === null ? null : c.avg_block_time_ms / 1000);
    const genesis = `genesis_hash=${encodeURIComponent(c.genesis_hash ?? 'null')}`;
    const name = encodeURIComponent(c.chain);
    const propagation = await get<{ blocks: number; percentiles_ms: { p50: number | null; p99: number | null } }>(server, `/chains/${name}/propagation?${genesis}`);
    const blocks = await get<Array<{ time_to_finality_ms: number | null; forks: unknown[] }>>(server, `/chains/${name}/blocks?${genesis}&limit=50`);
    const ms = (v: number | null) => (v === null ? null : v / 1000);
    // With forks or more than 50 blocks the window holds other delays: only p90 (from /chains) is known then.
    const exact = !blocks.some((b) => b.forks.length > 0) && propagation.blocks <= 50;
    if (!exact && !options.forks) throw new Error(`${c.chain}: the scenario has forks or more than 50 blocks`);
    if (exact) set('tetcore_chain_block_propagation_seconds', ms(propagation.percentiles_ms.p50), { quantile: '0.5' });
    set('tetcore_chain_block_propagation_seconds', ms(c.propagation_p90_ms), { quantile: '0.9' });
    if (exact) set('tetcore_chain_block_propagation_seconds', ms(propagation.percentiles_ms.p99), { quantile: '0.99' });
    const toFinality = Float64Array.from(blocks.map((b) => b.time_to_finality_ms).filter((t): t is number => t !== null)).sort();
    for (const [q, p] of [['0.5', 0.5], ['0.9', 0.9], ['0.99', 0.99]] as const) set('tetcore_chain_time_to_finality_seconds', ms(percentile(toFinality, p)), { quantile: q });
  }
  return out;
}
