// The answers of the network-analytics routes, composed from the storage reads and the order statistics:
// chains, blocks, propagation, finality, a node's history. Definitions in docs/analytics.md. Durations are
// whole milliseconds; instants are returned as the database's naive UTC text (the routes format them).
import type { Queryable } from '../storage/database.js';
import {
  blocksAtHeights,
  blocksFirstSeenIn,
  canonicalAtHeights,
  canonicalBlocks,
  chainConnectionsIn,
  connectionsByIds,
  finalizedFrom,
  finalizedHeightOf,
  headHistory,
  listChains,
  liveFigures,
  nodeArrivals,
  nodeFinalityReports,
  sessionsOf,
  type BlockFilter,
  type BlockRow,
  type ChainRow,
  type FinalizedRow,
} from '../storage/analytics-read.js';
import { histogramBin, histogramOf, HISTOGRAM_BINS, mean, parseIntList, percentile, percentilesOf, percentilesOfIntegers, round1, type HistogramBin, type Percentiles } from './stats.js';

/** A chain as a request named it: its name, genesis hash and (once facts were stored) its id. */
export interface ChainSelection {
  chain: string;
  genesisHash: string | null;
  chainId: number | null;
}

/** Epoch ms of a naive UTC text `YYYY-MM-DD HH:MM:SS[.ffffff]`, with its sub-millisecond digits. */
export function utcMs(text: string): number {
  const dot = text.indexOf('.', 19);
  const whole = Date.parse(`${(dot === -1 ? text : text.slice(0, dot)).replace(' ', 'T')}Z`);
  return dot === -1 ? whole : whole + Number(`0.${text.slice(dot + 1)}`) * 1000;
}

const blockKey = (height: number, hash: string) => `${height}|${hash}`;

/** Fills in the figures of the blocks not summarized yet, computed from their arrivals. */
async function withLiveFigures(db: Queryable, chainId: number, rows: BlockRow[], withArrays: boolean): Promise<BlockRow[]> {
  const pending = rows.filter((r) => !r.summarized);
  if (pending.length === 0) return rows;
  const live = new Map((await liveFigures(db, chainId, pending, withArrays)).map((f) => [blockKey(f.height, f.hash), f]));
  return rows.map((r) => (r.summarized ? r : { ...r, ...live.get(blockKey(r.height, r.hash)) }));
}

/** The instant all blocks up to `height` were final: the first report of any height >= it. */
function finalizedAtOf(finalized: FinalizedRow[], height: number): FinalizedRow | null {
  let lo = 0;
  let hi = finalized.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (finalized[mid].height < height) lo = mid + 1;
    else hi = mid;
  }
  return finalized[lo] ?? null;
}

// ---------------------------------------------------------------------------------------------------
// GET /chains

/** Blocks over which /chains computes its block time and propagation. */
export const RECENT_BLOCKS = 50;

export interface ChainOverview {
  chain: string;
  genesis_hash: string | null;
  nodes_connected: number;
  nodes_seen: number;
  best_height: number | null;
  best_hash: string | null;
  best_seen_at: string | null;
  finalized_height: number | null;
  avg_block_time_ms: number | null;
  propagation_p90_ms: number | null;
}

export async function chainsOverview(db: Queryable, connectedWindowS: number): Promise<ChainOverview[]> {
  const out: ChainOverview[] = [];
  for (const c of await listChains(db, connectedWindowS)) {
    out.push((await chainFigures(db, c, false)).overview);
  }
  return out;
}

/** A chain's overview, with the percentiles of its last RECENT_BLOCKS blocks (the /metrics series). */
export interface ChainFigures {
  overview: ChainOverview;
  /** Of the propagation delays of the last RECENT_BLOCKS blocks (propagation_p90_ms is p90). */
  propagation_ms: Percentiles;
  /** Of the times to finality of those of the last RECENT_BLOCKS blocks that are finalized (as /chains/{chain}/blocks gives them); only `withFinality`. */
  time_to_finality_ms: Percentiles | null;
}

/** The /chains entry of one chain (a row of listChains), and the percentiles behind it. */
export async function chainFigures(db: Queryable, c: ChainRow, withFinality: boolean): Promise<ChainFigures> {
  const entry: ChainOverview = {
    chain: c.chain,
    genesis_hash: c.genesis_hash,
    nodes_connected: c.nodes_connected,
    nodes_seen: c.nodes_seen,
    best_height: null,
    best_hash: null,
    best_seen_at: null,
    finalized_height: null,
    avg_block_time_ms: null,
    propagation_p90_ms: null,
  };
  const figures: ChainFigures = { overview: entry, propagation_ms: percentilesOf([]), time_to_finality_ms: withFinality ? percentilesOf([]) : null };
  if (c.chain_id === null) return figures;
  // The newest RECENT_BLOCKS heights, and one more for the block time of the oldest of them.
  const head = await canonicalBlocks(db, c.chain_id, {}, RECENT_BLOCKS + 1, true);
  entry.finalized_height = await finalizedHeightOf(db, c.chain_id);
  if (head.length === 0) return figures;
  entry.best_height = head[0].height;
  entry.best_hash = head[0].hash;
  entry.best_seen_at = head[0].first_seen_at;
  const times: number[] = [];
  for (let i = 0; i + 1 < head.length && i < RECENT_BLOCKS; i++) {
    if (head[i].height === head[i + 1].height + 1) times.push(head[i].first_seen_ms - head[i + 1].first_seen_ms);
  }
  entry.avg_block_time_ms = times.length === 0 ? null : Math.round(mean(times) as number);
  const recent = await withLiveFigures(db, c.chain_id, head.slice(0, RECENT_BLOCKS), true);
  const delays: number[] = [];
  for (const block of recent) parseIntList(block.arrival_delays_ms, delays);
  figures.propagation_ms = percentilesOf(Float64Array.from(delays).sort());
  entry.propagation_p90_ms = figures.propagation_ms.p90;
  if (withFinality) {
    // As blockList: the first report of a finalized height >= each block's, minus its first seen.
    const finalized = await finalizedFrom(db, c.chain_id, recent[recent.length - 1].height);
    const toFinality: number[] = [];
    for (const b of recent) {
      const final = finalizedAtOf(finalized, b.height);
      if (final !== null) toFinality.push(Math.round(final.finalized_ms - b.first_seen_ms));
    }
    figures.time_to_finality_ms = percentilesOf(Float64Array.from(toFinality).sort());
  }
  return figures;
}

// ---------------------------------------------------------------------------------------------------
// GET /chains/{chain}/blocks

export interface BlockEntry {
  height: number;
  hash: string;
  first_seen_at: string;
  first_seen_by: { peer_id: string; name: string | null };
  nodes_reported: number;
  propagation_ms: Percentiles;
  block_time_ms: number | null;
  finalized_at: string | null;
  time_to_finality_ms: number | null;
  forks: Array<{ hash: string; nodes_reported: number }>;
}

export async function blockList(db: Queryable, chainId: number, filter: BlockFilter, limit: number): Promise<BlockEntry[]> {
  const page = await canonicalBlocks(db, chainId, filter, limit);
  if (page.length === 0) return [];
  const heights = page.map((b) => b.height);
  const all = await withLiveFigures(db, chainId, await blocksAtHeights(db, chainId, heights), false);
  const byKey = new Map(all.map((b) => [blockKey(b.height, b.hash), b]));
  const forksOf = new Map<number, BlockRow[]>();
  for (const b of all) {
    const list = forksOf.get(b.height) ?? [];
    list.push(b);
    forksOf.set(b.height, list);
  }
  const inPage = new Set(heights);
  const previous = new Map(page.map((b) => [b.height, b]));
  for (const b of await canonicalAtHeights(db, chainId, [...new Set(heights.map((h) => h - 1).filter((h) => !inPage.has(h)))])) previous.set(b.height, b);
  const finalized = await finalizedFrom(db, chainId, Math.min(...heights));
  return page.map((canonical) => {
    const b = byKey.get(blockKey(canonical.height, canonical.hash)) ?? canonical;
    const parent = previous.get(b.height - 1);
    const final = finalizedAtOf(finalized, b.height);
    return {
      height: b.height,
      hash: b.hash,
      first_seen_at: b.first_seen_at,
      first_seen_by: { peer_id: b.first_seen_peer_id, name: b.first_seen_name },
      nodes_reported: b.nodes_reported ?? 0,
      propagation_ms: { p50: b.propagation_p50_ms, p90: b.propagation_p90_ms, p99: b.propagation_p99_ms, max: b.propagation_max_ms },
      block_time_ms: parent === undefined ? null : Math.round(b.first_seen_ms - parent.first_seen_ms),
      finalized_at: final?.finalized_at ?? null,
      time_to_finality_ms: final === null ? null : Math.round(final.finalized_ms - b.first_seen_ms),
      forks: (forksOf.get(b.height) ?? []).filter((f) => f.hash !== b.hash).map((f) => ({ hash: f.hash, nodes_reported: f.nodes_reported ?? 0 })),
    };
  });
}

// ---------------------------------------------------------------------------------------------------
// GET /chains/{chain}/propagation

export const NODE_SORTS = ['peer_id', 'name', 'blocks_seen', 'blocks_missed', 'mean_ms', 'p50_ms', 'p90_ms'] as const;
export type NodeSort = (typeof NODE_SORTS)[number];

export interface NodePropagation {
  peer_id: string;
  name: string | null;
  blocks_seen: number;
  blocks_missed: number;
  mean_ms: number | null;
  p50_ms: number | null;
  p90_ms: number | null;
}

export interface PropagationReport {
  blocks: number;
  arrivals: number;
  percentiles_ms: Percentiles;
  histogram: HistogramBin[];
  nodes: NodePropagation[];
}

export async function propagationReport(
  db: Queryable,
  selection: ChainSelection & { chainId: number },
  start: string,
  end: string,
  sort: NodeSort,
  descending: boolean,
): Promise<PropagationReport> {
  const blocks = await withLiveFigures(db, selection.chainId, await blocksFirstSeenIn(db, selection.chainId, start, end, true), true);
  // All arrivals of the window as two parallel lists (600,000 for an hour of 1,000 nodes). They are then
  // grouped by node in one Int32Array sorted a segment at a time, and the chain's percentiles are counted,
  // not sorted: per-connection arrays and one big sort took 80–100 of this route's 200 ms (bench/README.md).
  const ids: number[] = [];
  const delays: number[] = [];
  for (const block of blocks) {
    parseIntList(block.arrival_connection_ids, ids);
    parseIntList(block.arrival_delays_ms, delays);
    ids.length = delays.length = Math.min(ids.length, delays.length);
  }
  const arrivals = ids.length;
  const counts = new Array<number>(HISTOGRAM_BINS + 1).fill(0);
  const connectionIndex = new Map<number, number>();
  const arrivalConnection = new Int32Array(arrivals);
  for (let i = 0; i < arrivals; i++) {
    counts[histogramBin(delays[i])]++;
    let index = connectionIndex.get(ids[i]);
    if (index === undefined) connectionIndex.set(ids[i], (index = connectionIndex.size));
    arrivalConnection[i] = index;
  }
  // Nodes: those with a connection to the chain in the window, and those that reported its blocks.
  const nodes = new Map<string, { name: string | null; group: number }>();
  const addNode = (peerId: string, name: string | null) => {
    let node = nodes.get(peerId);
    if (node === undefined) nodes.set(peerId, (node = { name, group: nodes.size }));
    return node.group;
  };
  for (const c of await chainConnectionsIn(db, selection.chain, selection.genesisHash, start, end)) {
    if (c.peer_id !== null) addNode(c.peer_id, c.name);
  }
  const groupOfConnection = new Int32Array(connectionIndex.size).fill(-1);
  for (const c of await connectionsByIds(db, [...connectionIndex.keys()])) {
    if (c.peer_id !== null) groupOfConnection[connectionIndex.get(c.id)!] = addNode(c.peer_id, c.name);
  }
  // Counting sort by node: group g's delays are byGroup[offsets[g], offsets[g + 1]).
  const offsets = new Int32Array(nodes.size + 1);
  for (let i = 0; i < arrivals; i++) {
    const group = groupOfConnection[arrivalConnection[i]];
    if (group >= 0) offsets[group + 1]++;
  }
  for (let g = 0; g < nodes.size; g++) offsets[g + 1] += offsets[g];
  const byGroup = new Int32Array(offsets[nodes.size]);
  const fill = offsets.slice(0, nodes.size);
  for (let i = 0; i < arrivals; i++) {
    const group = groupOfConnection[arrivalConnection[i]];
    if (group >= 0) byGroup[fill[group]++] = delays[i];
  }
  const entries: NodePropagation[] = [...nodes].map(([peerId, node]) => {
    const sorted = byGroup.subarray(offsets[node.group], offsets[node.group + 1]).sort();
    return {
      peer_id: peerId,
      name: node.name,
      blocks_seen: sorted.length,
      blocks_missed: Math.max(0, blocks.length - sorted.length),
      mean_ms: round1(mean(sorted)),
      p50_ms: percentile(sorted, 0.5),
      p90_ms: percentile(sorted, 0.9),
    };
  });
  entries.sort(nodeComparator(sort, descending));
  return { blocks: blocks.length, arrivals, percentiles_ms: percentilesOfIntegers(delays), histogram: histogramOf(counts), nodes: entries };
}

/** Orders by `sort` (nulls last either way), then by peer id. */
function nodeComparator(sort: NodeSort, descending: boolean): (a: NodePropagation, b: NodePropagation) => number {
  const direction = descending ? -1 : 1;
  return (a, b) => {
    const x = a[sort];
    const y = b[sort];
    if (x !== y) {
      if (x === null) return 1;
      if (y === null) return -1;
      return (x < y ? -1 : 1) * direction;
    }
    return a.peer_id < b.peer_id ? -1 : a.peer_id > b.peer_id ? 1 : 0;
  };
}

// ---------------------------------------------------------------------------------------------------
// GET /chains/{chain}/finality

export interface LagBucket {
  start: number;
  end: number;
  /** At the end of the bucket. */
  best_height: number | null;
  finalized_height: number | null;
  lag: number | null;
  /** Highest lag at any instant of the bucket. */
  max_lag: number | null;
}

export interface FinalityReport {
  blocks: number;
  finalized_blocks: number;
  percentiles_ms: Percentiles;
  buckets: LagBucket[];
}

/** Upper bound on canonical blocks a finality window reads. */
export const MAX_FINALITY_BLOCKS = 200_000;

export async function finalityReport(db: Queryable, chainId: number, start: string, end: string, bucketMs: number): Promise<FinalityReport> {
  const blocks = await canonicalBlocks(db, chainId, { start, end }, MAX_FINALITY_BLOCKS);
  const times: number[] = [];
  if (blocks.length > 0) {
    const finalized = await finalizedFrom(db, chainId, blocks[blocks.length - 1].height);
    for (const b of blocks) {
      const final = finalizedAtOf(finalized, b.height);
      if (final !== null) times.push(Math.round(final.finalized_ms - b.first_seen_ms));
    }
  }
  const history = await headHistory(db, chainId, start, end);
  const startMs = utcMs(start);
  const endMs = utcMs(end);
  // Walk the rises of the best and finalized heights in time order, closing a bucket at each boundary.
  const events = [...history.best.map((e) => ({ ...e, best: true })), ...history.finalized.map((e) => ({ ...e, best: false }))].sort((a, b) => a.at_ms - b.at_ms);
  let best = history.bestBefore;
  let final = history.finalizedBefore;
  const lagNow = () => (best === null || final === null ? null : best - final);
  const buckets: LagBucket[] = [];
  let e = 0;
  for (let from = startMs; from < endMs; from += bucketMs) {
    const to = Math.min(endMs, from + bucketMs);
    let maxLag = lagNow();
    for (; e < events.length && events[e].at_ms < to; e++) {
      if (events[e].best) best = Math.max(best ?? -1, events[e].height);
      else final = Math.max(final ?? -1, events[e].height);
      const lag = lagNow();
      if (lag !== null && (maxLag === null || lag > maxLag)) maxLag = lag;
    }
    buckets.push({ start: from, end: to, best_height: best, finalized_height: final, lag: lagNow(), max_lag: maxLag });
  }
  return { blocks: blocks.length, finalized_blocks: times.length, percentiles_ms: percentilesOf(Float64Array.from(times).sort()), buckets };
}

// ---------------------------------------------------------------------------------------------------
// GET /nodes/{peer_id}/history

export interface NodeHistory {
  sessions: Array<{ connected_at: string; disconnected_at: string | null; last_seen: string | null; version: string | null; name: string | null; chain: string | null; genesis_hash: string | null; audit: boolean; ip_addr: string }>;
  uptime_pct: number;
  reconnects: number;
  versions: Array<{ version: string | null; first_seen_ms: number; last_seen_ms: number }>;
  propagation: { blocks_seen: number; mean_ms: number | null; p90_ms: number | null };
  finality: { blocks_finalized: number; mean_ms: number | null; p50_ms: number | null; p90_ms: number | null };
}

/**
 * Per-node time to finality (docs/analytics.md, Definitions): for each of the node's arrivals (its first,
 * not catch-up, of each height), its own first report of a finalized height ≥ that height minus the
 * arrival, in whole ms. Arrivals no report of the window covers are left out. Returns the times, sorted.
 */
export function nodeTimesToFinality(arrivals: Array<{ chain_id: number; height: number; received_ms: number }>, reports: Array<{ chain_id: number; height: number; received_ms: number }>): Float64Array {
  // Per chain: report heights ascending with the earliest receipt of that height or any higher one.
  const byChain = new Map<number, Array<{ height: number; at: number }>>();
  for (const r of reports) {
    let list = byChain.get(r.chain_id);
    if (list === undefined) byChain.set(r.chain_id, (list = []));
    list.push({ height: r.height, at: r.received_ms });
  }
  for (const list of byChain.values()) {
    list.sort((a, b) => a.height - b.height || a.at - b.at);
    for (let i = list.length - 2; i >= 0; i--) list[i].at = Math.min(list[i].at, list[i + 1].at);
  }
  // The node's arrival of a height: its earliest (a fork block and the canonical one share the height).
  const firstAt = new Map<string, { chain_id: number; height: number; at: number }>();
  for (const a of arrivals) {
    const key = `${a.chain_id}/${a.height}`;
    const known = firstAt.get(key);
    if (known === undefined || a.received_ms < known.at) firstAt.set(key, { chain_id: a.chain_id, height: a.height, at: a.received_ms });
  }
  const times: number[] = [];
  for (const a of firstAt.values()) {
    const list = byChain.get(a.chain_id);
    if (list === undefined) continue;
    // The lowest report height ≥ the arrival's (binary search).
    let low = 0;
    let high = list.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (list[mid].height < a.height) low = mid + 1;
      else high = mid;
    }
    if (low < list.length) times.push(Math.round(list[low].at - a.at));
  }
  return Float64Array.from(times).sort();
}

/** Share of [startMs, endMs) covered by the union of the intervals, in percent (two decimals). */
export function coveredPct(intervals: Array<[number, number]>, startMs: number, endMs: number): number {
  const clipped = intervals
    .map(([a, b]) => [Math.max(a, startMs), Math.min(b, endMs)] as [number, number])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let covered = 0;
  let reach = -Infinity;
  for (const [a, b] of clipped) {
    if (b <= reach) continue;
    covered += b - Math.max(a, reach);
    reach = b;
  }
  return endMs > startMs ? Math.round((covered / (endMs - startMs)) * 10_000) / 100 : 0;
}

export async function nodeHistory(db: Queryable, peerId: string, start: string, end: string, liveWindowS: number): Promise<NodeHistory> {
  const sessions = await sessionsOf(db, peerId, start, end, liveWindowS);
  const versions = new Map<string | null, { version: string | null; first_seen_ms: number; last_seen_ms: number }>();
  for (const s of sessions) {
    const v = versions.get(s.version);
    if (v === undefined) versions.set(s.version, { version: s.version, first_seen_ms: s.start_ms, last_seen_ms: s.end_ms });
    else {
      v.first_seen_ms = Math.min(v.first_seen_ms, s.start_ms);
      v.last_seen_ms = Math.max(v.last_seen_ms, s.end_ms);
    }
  }
  const arrivals = await nodeArrivals(db, peerId, start, end);
  const delays = Float64Array.from(arrivals, (a) => a.delay_ms).sort();
  const finality = nodeTimesToFinality(arrivals, await nodeFinalityReports(db, peerId, start, end));
  return {
    sessions: sessions.map((s) => ({
      connected_at: s.connected_at,
      disconnected_at: s.disconnected_at,
      last_seen: s.last_seen,
      version: s.version,
      name: s.name,
      chain: s.chain,
      genesis_hash: s.genesis_hash,
      audit: s.audit,
      ip_addr: s.ip_addr,
    })),
    uptime_pct: coveredPct(sessions.map((s) => [s.start_ms, s.end_ms]), utcMs(start), utcMs(end)),
    reconnects: Math.max(0, sessions.length - 1),
    versions: [...versions.values()].sort((a, b) => a.first_seen_ms - b.first_seen_ms),
    propagation: { blocks_seen: delays.length, mean_ms: round1(mean(delays)), p90_ms: percentile(delays, 0.9) },
    finality: { blocks_finalized: finality.length, mean_ms: round1(mean(finality)), p50_ms: percentile(finality, 0.5), p90_ms: percentile(finality, 0.9) },
  };
}
