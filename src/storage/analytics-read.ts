// All SQL that reads the analytics tables (migration 007) for the query API: chains, the block of each
// height, block figures (stored once summarized, else computed from the arrivals), finality, and a node's
// connections and propagation. Instants that JavaScript computes with come back as epoch milliseconds.
import type { Queryable } from './database.js';
import { blockFiguresSql } from './analytics-write.js';

const NOW_UTC = `(now() AT TIME ZONE 'utc')`;
const MS = (column: string) => `(extract(epoch FROM ${column}) * 1000)::float8`;

// ---------------------------------------------------------------------------------------------------
// Chains

export interface GenesisRow {
  genesis_hash: string | null;
  /** chains.id; null while no fact of that chain was stored. */
  chain_id: number | null;
}

/** The genesis hashes a chain name is known with (from its nodes' connections and from stored facts). */
export async function genesisHashesOf(db: Queryable, chain: string): Promise<GenesisRow[]> {
  const result = await db.query<GenesisRow>(
    `SELECT g.genesis_hash, c.id AS chain_id
       FROM (SELECT genesis_hash FROM peer_connections WHERE chain = $1 UNION SELECT genesis_hash FROM chains WHERE chain = $1) g
       LEFT JOIN chains c ON c.chain = $1 AND c.genesis_hash IS NOT DISTINCT FROM g.genesis_hash
      ORDER BY g.genesis_hash NULLS LAST`,
    [chain],
  );
  return result.rows;
}

export interface ChainRow {
  chain: string;
  genesis_hash: string | null;
  chain_id: number | null;
  nodes_connected: number;
  nodes_seen: number;
}

/**
 * Every chain (name and genesis hash) of a stored connection or fact, with the nodes (peer ids) connected
 * now (open connection refreshed within `connectedWindowS`) and seen at all (connections still stored).
 */
export async function listChains(db: Queryable, connectedWindowS: number): Promise<ChainRow[]> {
  const result = await db.query<ChainRow>(
    `WITH known AS (
       SELECT chain, genesis_hash FROM peer_connections WHERE chain IS NOT NULL
       UNION SELECT chain, genesis_hash FROM chains
     ), counts AS (
       SELECT chain, genesis_hash,
              count(DISTINCT peer_id) FILTER (WHERE disconnected_at IS NULL AND last_seen > ${NOW_UTC} - make_interval(secs => $1))::int4 AS nodes_connected,
              count(DISTINCT peer_id)::int4 AS nodes_seen
         FROM peer_connections WHERE chain IS NOT NULL GROUP BY chain, genesis_hash
     )
     SELECT k.chain, k.genesis_hash, c.id AS chain_id, COALESCE(n.nodes_connected, 0) AS nodes_connected, COALESCE(n.nodes_seen, 0) AS nodes_seen
       FROM known k
       LEFT JOIN chains c ON c.chain = k.chain AND c.genesis_hash IS NOT DISTINCT FROM k.genesis_hash
       LEFT JOIN counts n ON n.chain = k.chain AND n.genesis_hash IS NOT DISTINCT FROM k.genesis_hash
      ORDER BY k.chain, k.genesis_hash NULLS LAST`,
    [connectedWindowS],
  );
  return result.rows;
}

/** The highest finalized height reported on a chain. */
export async function finalizedHeightOf(db: Queryable, chainId: number): Promise<number | null> {
  const result = await db.query<{ height: number }>(`SELECT height FROM finalized_heights WHERE chain_id = $1 ORDER BY height DESC LIMIT 1`, [chainId]);
  return result.rows[0]?.height ?? null;
}

// ---------------------------------------------------------------------------------------------------
// Blocks and their figures

export interface BlockFigures {
  nodes_reported: number | null;
  propagation_arrivals: number | null;
  propagation_p50_ms: number | null;
  propagation_p90_ms: number | null;
  propagation_p99_ms: number | null;
  propagation_max_ms: number | null;
  /** Comma-separated, only when asked for. */
  arrival_connection_ids?: string;
  arrival_delays_ms?: string;
}

export interface BlockRow extends BlockFigures {
  height: number;
  hash: string;
  first_seen_at: string;
  first_seen_ms: number;
  first_seen_peer_id: string;
  /** Name of the first seen's connection (null once purged). */
  first_seen_name: string | null;
  summarized: boolean;
}

const SCALAR_FIGURES = `nodes_reported, propagation_arrivals, propagation_p50_ms, propagation_p90_ms, propagation_p99_ms, propagation_max_ms`;
const ARRAY_FIGURES = `array_to_string(arrival_connection_ids, ',') AS arrival_connection_ids, array_to_string(arrival_delays_ms, ',') AS arrival_delays_ms`;

function blockColumns(alias: string, withArrays: boolean): string {
  const figures = SCALAR_FIGURES.split(', ').map((c) => `${alias}.${c}`).join(', ');
  const arrays = withArrays ? `, array_to_string(${alias}.arrival_connection_ids, ',') AS arrival_connection_ids, array_to_string(${alias}.arrival_delays_ms, ',') AS arrival_delays_ms` : '';
  return `${alias}.height, ${alias}.hash, ${alias}.first_seen_at, ${MS(`${alias}.first_seen_at`)} AS first_seen_ms, ${alias}.first_seen_peer_id,
          (SELECT pc.name FROM peer_connections pc WHERE pc.id = ${alias}.first_seen_connection_id) AS first_seen_name,
          ${alias}.summarized_at IS NOT NULL AS summarized, ${figures}${arrays}`;
}

export interface BlockFilter {
  /** Inclusive. */
  minHeight?: number;
  maxHeight?: number;
  /** First seen in [start, end), naive UTC text. */
  start?: string;
  end?: string;
}

/**
 * The block of each height (the hash first seen at it; ties by hash), newest height first, at most `limit`:
 * read along blocks_height_first_seen_idx, so a page costs about `limit` index entries. With a time filter,
 * only the heights of the blocks first seen in it are read (the block of a height first seen in [start, end)
 * lies between the lowest and highest of them).
 */
export async function canonicalBlocks(db: Queryable, chainId: number, filter: BlockFilter, limit: number, withArrays = false): Promise<BlockRow[]> {
  const inWindow = `FROM blocks w WHERE w.chain_id = $1 AND ($4::timestamp IS NULL OR w.first_seen_at >= $4) AND ($5::timestamp IS NULL OR w.first_seen_at < $5)`;
  const bounded = filter.start !== undefined || filter.end !== undefined;
  const result = await db.query<BlockRow>(
    `SELECT ${blockColumns('b', withArrays)} FROM (
       SELECT DISTINCT ON (height) * FROM blocks
        WHERE chain_id = $1 AND ($2::int8 IS NULL OR height >= $2) AND ($3::int8 IS NULL OR height <= $3)
          ${bounded ? `AND height >= (SELECT min(w.height) ${inWindow}) AND height <= (SELECT max(w.height) ${inWindow})` : ''}
        ORDER BY height DESC, first_seen_at, hash
     ) b
     WHERE ($4::timestamp IS NULL OR b.first_seen_at >= $4) AND ($5::timestamp IS NULL OR b.first_seen_at < $5)
     ORDER BY b.height DESC
     LIMIT $6`,
    [chainId, filter.minHeight ?? null, filter.maxHeight ?? null, filter.start ?? null, filter.end ?? null, limit],
  );
  return result.rows;
}

/** The block of each of the given heights (as canonicalBlocks). */
export async function canonicalAtHeights(db: Queryable, chainId: number, heights: number[]): Promise<BlockRow[]> {
  if (heights.length === 0) return [];
  const result = await db.query<BlockRow>(
    `SELECT ${blockColumns('b', false)} FROM (
       SELECT DISTINCT ON (height) * FROM blocks WHERE chain_id = $1 AND height = ANY($2::int8[]) ORDER BY height DESC, first_seen_at, hash
     ) b ORDER BY b.height DESC`,
    [chainId, heights],
  );
  return result.rows;
}

/** Every block (hash) at the given heights. */
export async function blocksAtHeights(db: Queryable, chainId: number, heights: number[]): Promise<BlockRow[]> {
  if (heights.length === 0) return [];
  const result = await db.query<BlockRow>(
    `SELECT ${blockColumns('b', false)} FROM blocks b WHERE b.chain_id = $1 AND b.height = ANY($2::int8[]) ORDER BY b.height DESC, b.first_seen_at, b.hash`,
    [chainId, heights],
  );
  return result.rows;
}

/** Every block (hash) first seen in [start, end). */
export async function blocksFirstSeenIn(db: Queryable, chainId: number, start: string, end: string, withArrays: boolean): Promise<BlockRow[]> {
  const result = await db.query<BlockRow>(
    `SELECT ${blockColumns('b', withArrays)} FROM blocks b WHERE b.chain_id = $1 AND b.first_seen_at >= $2 AND b.first_seen_at < $3 ORDER BY b.first_seen_at, b.height, b.hash`,
    [chainId, start, end],
  );
  return result.rows;
}

export interface LiveFiguresRow extends BlockFigures {
  height: number;
  hash: string;
}

/** Figures of blocks not summarized yet, computed from their arrivals (blockFiguresSql). */
export async function liveFigures(db: Queryable, chainId: number, blocks: Array<{ height: number; hash: string }>, withArrays: boolean): Promise<LiveFiguresRow[]> {
  if (blocks.length === 0) return [];
  const result = await db.query<LiveFiguresRow>(
    `SELECT height, hash, ${SCALAR_FIGURES}${withArrays ? `, ${ARRAY_FIGURES}` : ''} FROM (${blockFiguresSql(
      `SELECT b.chain_id, b.height, b.hash FROM blocks b JOIN unnest($2::int8[], $3::text[]) k(height, hash)
          ON b.chain_id = $1 AND b.height = k.height AND b.hash = k.hash`,
    )}) f`,
    [chainId, blocks.map((b) => b.height), blocks.map((b) => b.hash)],
  );
  return result.rows;
}

// ---------------------------------------------------------------------------------------------------
// Finality and the chain's head over time

export interface FinalizedRow {
  height: number;
  /** Earliest first report of a height >= this one: when every block up to this height was final. */
  finalized_at: string;
  finalized_ms: number;
}

/** Finalized heights from `minHeight` up, each with the instant all heights up to it were finalized. */
export async function finalizedFrom(db: Queryable, chainId: number, minHeight: number): Promise<FinalizedRow[]> {
  const result = await db.query<FinalizedRow>(
    `SELECT height, finalized_at, ${MS('finalized_at')} AS finalized_ms FROM (
       SELECT height, min(first_reported_at) OVER (ORDER BY height DESC ROWS UNBOUNDED PRECEDING) AS finalized_at
         FROM finalized_heights WHERE chain_id = $1 AND height >= $2
     ) f ORDER BY height`,
    [chainId, minHeight],
  );
  return result.rows;
}

export interface HeightAt {
  height: number;
  at_ms: number;
}

/**
 * The chain's best height (the highest block first seen) and finalized height (the highest reported) just
 * before `start`, and every rise of either in [start, end), in time order.
 */
export async function headHistory(db: Queryable, chainId: number, start: string, end: string): Promise<{ bestBefore: number | null; finalizedBefore: number | null; best: HeightAt[]; finalized: HeightAt[] }> {
  const before = await db.query<{ best: number | null; finalized: number | null }>(
    `SELECT (SELECT height FROM blocks WHERE chain_id = $1 AND first_seen_at < $2 ORDER BY height DESC LIMIT 1) AS best,
            (SELECT height FROM finalized_heights WHERE chain_id = $1 AND first_reported_at < $2 ORDER BY height DESC LIMIT 1) AS finalized`,
    [chainId, start],
  );
  const { best: bestBefore, finalized: finalizedBefore } = before.rows[0];
  const best = await db.query<HeightAt>(
    `SELECT height, ${MS('first_seen_at')} AS at_ms FROM blocks
      WHERE chain_id = $1 AND height > $4 AND first_seen_at >= $2 AND first_seen_at < $3 ORDER BY first_seen_at`,
    [chainId, start, end, bestBefore ?? -1],
  );
  const finalized = await db.query<HeightAt>(
    `SELECT height, ${MS('first_reported_at')} AS at_ms FROM finalized_heights
      WHERE chain_id = $1 AND height > $4 AND first_reported_at >= $2 AND first_reported_at < $3 ORDER BY first_reported_at`,
    [chainId, start, end, finalizedBefore ?? -1],
  );
  return { bestBefore, finalizedBefore, best: best.rows, finalized: finalized.rows };
}

// ---------------------------------------------------------------------------------------------------
// Nodes

export interface ConnectionIdentityRow {
  id: number;
  peer_id: string | null;
  name: string | null;
}

export async function connectionsByIds(db: Queryable, ids: number[]): Promise<ConnectionIdentityRow[]> {
  if (ids.length === 0) return [];
  const result = await db.query<ConnectionIdentityRow>(`SELECT id, peer_id, name FROM peer_connections WHERE id = ANY($1::int4[])`, [ids]);
  return result.rows;
}

/** Connections of a chain's nodes open at some time in [start, end), latest first. */
export async function chainConnectionsIn(db: Queryable, chain: string, genesisHash: string | null, start: string, end: string): Promise<ConnectionIdentityRow[]> {
  const result = await db.query<ConnectionIdentityRow>(
    `SELECT id, peer_id, name FROM peer_connections
      WHERE chain = $1 AND genesis_hash IS NOT DISTINCT FROM $2 AND peer_id IS NOT NULL
        AND created_at < $4 AND COALESCE(disconnected_at, last_seen, created_at) >= $3
      ORDER BY created_at DESC, id DESC`,
    [chain, genesisHash, start, end],
  );
  return result.rows;
}

export interface SessionRow {
  id: number;
  connected_at: string;
  disconnected_at: string | null;
  last_seen: string | null;
  /** End of the connection: disconnected_at; for an open one, now while its server refreshes it, else last_seen. */
  end_ms: number;
  start_ms: number;
  open: boolean;
  version: string | null;
  name: string | null;
  chain: string | null;
  genesis_hash: string | null;
  audit: boolean;
  ip_addr: string;
}

/**
 * The connections of a node that overlap [start, end), oldest first. An open connection whose server still
 * refreshes it (within `liveWindowS`) lasts until now; one whose server stopped, until its last_seen.
 */
export async function sessionsOf(db: Queryable, peerId: string, start: string, end: string, liveWindowS: number): Promise<SessionRow[]> {
  const result = await db.query<SessionRow>(
    `SELECT id, connected_at, disconnected_at, last_seen, ${MS('connected_at')} AS start_ms, ${MS('ended_at')} AS end_ms, open,
            version, name, chain, genesis_hash, audit, ip_addr
       FROM (
         SELECT id, created_at AS connected_at, disconnected_at, last_seen, disconnected_at IS NULL AS open,
                version, name, chain, genesis_hash, audit, ip_addr,
                CASE WHEN disconnected_at IS NOT NULL THEN disconnected_at
                     WHEN last_seen > ${NOW_UTC} - make_interval(secs => $4) THEN ${NOW_UTC}
                     ELSE COALESCE(last_seen, created_at) END AS ended_at
           FROM peer_connections WHERE peer_id = $1 AND created_at < $3
       ) s
      WHERE ended_at >= $2
      ORDER BY connected_at, id`,
    [peerId, start, end, liveWindowS],
  );
  return result.rows;
}

export async function peerKnown(db: Queryable, peerId: string): Promise<boolean> {
  return (await db.query(`SELECT 1 FROM peer_connections WHERE peer_id = $1 LIMIT 1`, [peerId])).rows.length > 0;
}

export interface NodeArrivalRow {
  chain_id: number;
  height: number;
  /** Arrival minus the block's first seen, whole ms. */
  delay_ms: number;
  received_ms: number;
}

/**
 * One node's first arrival of each block received in [start, end) (over all its connections), catch-up
 * left out, with its delay after the block's first seen in whole ms. Read along the covering index of
 * migration 008 (the arrival's block is in the index: no visit of the table's rows).
 */
export async function nodeArrivals(db: Queryable, peerId: string, start: string, end: string): Promise<NodeArrivalRow[]> {
  const result = await db.query<NodeArrivalRow>(
    `SELECT chain_id, height::float8 AS height, delay_ms, received_ms FROM (
       SELECT DISTINCT ON (a.chain_id, a.height, a.hash) a.chain_id, a.height, a.catch_up, ${MS('a.received_at')} AS received_ms,
              round(extract(epoch FROM a.received_at - b.first_seen_at) * 1000)::int4 AS delay_ms
         FROM peer_connections pc
         JOIN block_arrivals a ON a.peer_connection_id = pc.id AND a.received_at >= $2 AND a.received_at < $3
         JOIN blocks b ON b.chain_id = a.chain_id AND b.height = a.height AND b.hash = a.hash
        WHERE pc.peer_id = $1
        ORDER BY a.chain_id, a.height, a.hash, a.received_at
     ) firsts
     WHERE NOT catch_up`,
    [peerId, start, end],
  );
  return result.rows;
}

export interface NodeReportRow {
  chain_id: number;
  height: number;
  received_ms: number;
}

/** One node's finality reports (rises of a connection's finalized height) received in [start, end), over all its connections. */
export async function nodeFinalityReports(db: Queryable, peerId: string, start: string, end: string): Promise<NodeReportRow[]> {
  const result = await db.query<NodeReportRow>(
    `SELECT r.chain_id, r.height::float8 AS height, ${MS('r.received_at')} AS received_ms
       FROM peer_connections pc
       JOIN finality_reports r ON r.peer_connection_id = pc.id AND r.received_at >= $2 AND r.received_at < $3
      WHERE pc.peer_id = $1`,
    [peerId, start, end],
  );
  return result.rows;
}

export interface NodeHeadRow {
  peer_id: string;
  name: string | null;
  chain: string;
  genesis_hash: string | null;
  /** Height of the node's latest import (its best block as it last reported it). */
  best_height: number | null;
  /** Its highest finalized height reported (the latest rise: reports only ever rise per connection). */
  finalized_height: number | null;
  /** `peers` of its latest system.interval that carried a count (a number or a decimal string). */
  peers: number | null;
  /** Delay of its latest import that is not catch-up after that block's first seen, in whole ms. */
  last_propagation_ms: number | null;
  /** Nodes that matched, before `limit` (the same on every row). */
  total: number;
}

/**
 * The nodes connected now (as listChains counts them: an open connection refreshed within
 * `connectedWindowS`) of the given chains, each as its latest such connection, ordered by peer id, at
 * most `limit`: each figure reads one index entry or a few (the latest rows of that connection).
 */
export async function nodeHeads(db: Queryable, chains: Array<{ chain: string; genesis_hash: string | null }>, connectedWindowS: number, limit: number): Promise<NodeHeadRow[]> {
  if (chains.length === 0 || limit <= 0) return [];
  const result = await db.query<NodeHeadRow>(
    `WITH live AS (
       SELECT DISTINCT ON (pc.peer_id) pc.id, pc.peer_id, pc.name, pc.chain, pc.genesis_hash
         FROM peer_connections pc
         JOIN unnest($1::text[], $2::text[]) k(chain, genesis_hash) ON pc.chain = k.chain AND pc.genesis_hash IS NOT DISTINCT FROM k.genesis_hash
        WHERE pc.peer_id IS NOT NULL AND pc.disconnected_at IS NULL AND pc.last_seen > ${NOW_UTC} - make_interval(secs => $3)
        ORDER BY pc.peer_id, pc.created_at DESC, pc.id DESC
     ), page AS (
       SELECT live.*, count(*) OVER ()::int4 AS total FROM live ORDER BY peer_id LIMIT $4
     )
     SELECT p.peer_id, p.name, p.chain, p.genesis_hash, p.total,
            (SELECT a.height FROM block_arrivals a WHERE a.peer_connection_id = p.id ORDER BY a.received_at DESC, a.height DESC LIMIT 1) AS best_height,
            (SELECT f.height FROM finality_reports f WHERE f.peer_connection_id = p.id ORDER BY f.received_at DESC, f.height DESC LIMIT 1) AS finalized_height,
            (SELECT CASE WHEN s.logs->>'peers' ~ '^[0-9]{1,9}$' THEN (s.logs->>'peers')::int4 END FROM substrate_logs s
              WHERE s.peer_connection_id = p.id AND s.msg = 'system.interval' AND s.logs ? 'peers' ORDER BY s.created_at DESC LIMIT 1) AS peers,
            (SELECT round(extract(epoch FROM a.received_at - b.first_seen_at) * 1000)::int4
               FROM block_arrivals a JOIN blocks b ON b.chain_id = a.chain_id AND b.height = a.height AND b.hash = a.hash
              WHERE a.peer_connection_id = p.id AND NOT a.catch_up ORDER BY a.received_at DESC LIMIT 1) AS last_propagation_ms
       FROM page p ORDER BY p.peer_id`,
    [chains.map((c) => c.chain), chains.map((c) => c.genesis_hash), connectedWindowS, limit],
  );
  return result.rows;
}
