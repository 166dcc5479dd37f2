// Network-analytics routes: GET /chains, /chains/{chain}/blocks, /chains/{chain}/propagation,
// /chains/{chain}/finality and /nodes/{peer_id}/history (definitions in docs/analytics.md).
import type { FastifyInstance } from 'fastify';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { ApiContext } from './index.js';
import type { Queryable } from '../storage/database.js';
import { genesisHashesOf, peerKnown } from '../storage/analytics-read.js';
import { blockList, chainsOverview, finalityReport, nodeHistory, propagationReport, NODE_SORTS, type ChainSelection } from '../analytics/reports.js';
import { ErrorBody, Limit, Nullable, PeerId, QUERY_ERRORS, Text, TimeInput, TimeOutput } from './schemas.js';
import { formatEpochMs, formatTimestamp, parseTime } from '../domain/time.js';
import { ApiError, notFound } from './errors.js';
import { CONNECTED_WINDOW_S } from '../domain/liveness.js';

const HOUR_S = 3600;
const DAY_S = 24 * HOUR_S;
/** Longest windows: propagation reads every arrival of it; history and finality read per block. */
export const MAX_PROPAGATION_WINDOW_S = 6 * HOUR_S;
export const MAX_WINDOW_S = 7 * DAY_S;
export const MAX_BUCKETS = 10_000;
/** The literal that names the chain's group of nodes that never sent a genesis hash. */
export const NO_GENESIS = 'null';

const Ms = (description: string) => Nullable(Type.Integer({ description: `${description}, in milliseconds` }));
const PercentilesMs = (what: string) =>
  Type.Object(
    { p50: Ms(`Median of ${what}`), p90: Ms(`90th percentile of ${what}`), p99: Ms(`99th percentile of ${what}`), max: Ms(`Longest of ${what}`) },
    { description: `Nearest-rank percentiles (as PostgreSQL percentile_disc) of ${what}; null without any` },
  );

const ChainParams = Type.Object({ chain: Text('Chain name as the nodes announce it, e.g. `Development`', { minLength: 1, maxLength: 512 }) });
const GenesisHash = Type.Optional(
  Text(`Genesis hash of the chain: needed when several chains have this name; \`${NO_GENESIS}\` names the nodes that never sent one`, { minLength: 1, maxLength: 512 }),
);
const Window = (defaultText: string, maxS: number) => ({
  start_time: Type.Optional(TimeInput(`Start of the window (inclusive); default: ${defaultText} before end_time`, null)),
  end_time: Type.Optional(TimeInput(`End of the window (exclusive); default: now. At most ${maxS / HOUR_S} hours after start_time`, null)),
});

export const CHAIN_CONFLICT = {
  409: Type.Object(
    { ...ErrorBody.properties, genesis_hashes: Type.Array(Nullable(Type.String()), { description: 'The genesis hashes of this name (null: nodes that sent none)' }) },
    { title: 'AmbiguousChain', description: 'Several chains have this name and genesis_hash names none of them' },
  ),
  404: { ...ErrorBody, description: 'No node announced this chain (or this genesis hash)' },
};

const ChainOverview = Type.Object(
  {
    chain: Type.String(),
    genesis_hash: Nullable(Type.String({ description: 'null: the nodes of this name that never sent a genesis hash' })),
    nodes_connected: Type.Integer({ description: `Nodes (peer ids) with a connection open now (refreshed within ${CONNECTED_WINDOW_S} s)` }),
    nodes_seen: Type.Integer({ description: 'Nodes with a connection still stored (the retention window)' }),
    best_height: Nullable(Type.Integer({ description: 'Highest block height any node imported' })),
    best_hash: Nullable(Type.String({ description: 'The hash first seen at best_height' })),
    best_seen_at: Nullable(TimeOutput('First seen of that block (server receipt time, naive UTC)')),
    finalized_height: Nullable(Type.Integer({ description: 'Highest finalized height any node reported' })),
    avg_block_time_ms: Ms('Mean block time over the last 50 blocks'),
    propagation_p90_ms: Ms('90th percentile of the propagation delays of the last 50 blocks'),
  },
  { title: 'ChainOverview' },
);

const BlocksQuery = Type.Object({
  genesis_hash: GenesisHash,
  start_height: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Lowest height (inclusive)' })),
  end_height: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Highest height (inclusive)' })),
  start_time: Type.Optional(TimeInput('Only blocks first seen at or after this', null)),
  end_time: Type.Optional(TimeInput('Only blocks first seen before this', null)),
  limit: Type.Optional(Limit(100, 'heights')),
});

const BlockEntry = Type.Object(
  {
    height: Type.Integer(),
    hash: Type.String({ description: 'The hash first seen at this height' }),
    first_seen_at: TimeOutput('Earliest arrival of the block over all nodes (server receipt time, naive UTC)'),
    first_seen_by: Type.Object({ peer_id: Type.String(), name: Nullable(Type.String()) }, { description: 'The node of that arrival' }),
    nodes_reported: Type.Integer({ description: 'Nodes that imported this hash (any origin)' }),
    propagation_ms: PercentilesMs('the delays between the first seen and each node’s arrival (catch-up imports left out)'),
    block_time_ms: Ms('First seen of this block minus that of the block at height − 1; null when that one is unknown'),
    finalized_at: Nullable(TimeOutput('First report of a finalized height ≥ this one, by any node (naive UTC)')),
    time_to_finality_ms: Ms('finalized_at minus first_seen_at'),
    forks: Type.Array(Type.Object({ hash: Type.String(), nodes_reported: Type.Integer() }), { description: 'The other hashes seen at this height' }),
  },
  { title: 'Block' },
);

const PropagationQuery = Type.Object({
  genesis_hash: GenesisHash,
  ...Window('one hour', MAX_PROPAGATION_WINDOW_S),
  sort: Type.Optional(Type.Union(NODE_SORTS.map((s) => Type.Literal(s)), { default: 'peer_id', description: 'Order of `nodes` (default peer_id); nulls last' })),
  order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc', description: 'asc (default) or desc' })),
});

const Propagation = Type.Object(
  {
    chain: Type.String(),
    genesis_hash: Nullable(Type.String()),
    start_time: TimeOutput(),
    end_time: TimeOutput(),
    blocks: Type.Integer({ description: 'Blocks (every hash) first seen in the window' }),
    arrivals: Type.Integer({ description: 'Propagation arrivals of those blocks: each node’s first, catch-up left out' }),
    percentiles_ms: PercentilesMs('the propagation delays of those arrivals'),
    histogram: Type.Array(
      Type.Object({
        upper_ms: Nullable(Type.Integer({ description: 'Exclusive upper bound; the bin starts at the previous one’s (0 for the first); null: 10,000 ms and slower' })),
        count: Type.Integer(),
        cumulative_pct: Type.Number({ description: 'Share of the arrivals in this bin and faster ones, 0–100' }),
      }),
      { description: '40 bins of 250 ms up to 10 s, then one for slower arrivals (ethstats)' },
    ),
    nodes: Type.Array(
      Type.Object({
        peer_id: Type.String(),
        name: Nullable(Type.String()),
        blocks_seen: Type.Integer({ description: 'Blocks of the window the node imported (not catch-up)' }),
        blocks_missed: Type.Integer({ description: 'blocks minus blocks_seen' }),
        mean_ms: Nullable(Type.Number({ description: 'Mean delay, in milliseconds (one decimal)' })),
        p50_ms: Ms('Median delay'),
        p90_ms: Ms('90th percentile of the delays'),
      }),
      { description: 'Nodes with a connection to the chain in the window, or an arrival of its blocks' },
    ),
  },
  { title: 'Propagation' },
);

const FinalityQuery = Type.Object({
  genesis_hash: GenesisHash,
  ...Window('one hour', MAX_WINDOW_S),
  bucket_s: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_WINDOW_S, default: 60, description: `Length of a lag bucket in seconds (default 60; at most ${MAX_BUCKETS} buckets)` })),
});

const Finality = Type.Object(
  {
    chain: Type.String(),
    genesis_hash: Nullable(Type.String()),
    start_time: TimeOutput(),
    end_time: TimeOutput(),
    blocks: Type.Integer({ description: 'Blocks (the first-seen hash of each height) first seen in the window' }),
    finalized_blocks: Type.Integer({ description: 'Of which finalized' }),
    percentiles_ms: PercentilesMs('their times to finality'),
    lag: Type.Array(
      Type.Object({
        start: TimeOutput(),
        end: TimeOutput(),
        best_height: Nullable(Type.Integer({ description: 'Highest block first seen by the end of the bucket' })),
        finalized_height: Nullable(Type.Integer({ description: 'Highest finalized height reported by the end of the bucket' })),
        lag: Nullable(Type.Integer({ description: 'best_height − finalized_height at the end of the bucket' })),
        max_lag: Nullable(Type.Integer({ description: 'Highest lag at any instant of the bucket' })),
      }),
    ),
  },
  { title: 'Finality' },
);

const HistoryQuery = Type.Object(Window('24 hours', MAX_WINDOW_S));

const History = Type.Object(
  {
    peer_id: Type.String(),
    start_time: TimeOutput(),
    end_time: TimeOutput(),
    sessions: Type.Array(
      Type.Object({
        connected_at: TimeOutput(),
        disconnected_at: Nullable(TimeOutput('null while open')),
        last_seen: Nullable(TimeOutput('Last refresh by its server')),
        version: Nullable(Type.String()),
        name: Nullable(Type.String()),
        chain: Nullable(Type.String()),
        genesis_hash: Nullable(Type.String()),
        audit: Type.Boolean(),
        ip_addr: Type.String(),
      }),
      { description: 'Connections overlapping the window, oldest first' },
    ),
    uptime_pct: Type.Number({ description: 'Share of the window covered by the connections, 0–100 (an open connection lasts until now while its server refreshes it, else until its last_seen)' }),
    reconnects: Type.Integer({ description: 'Sessions in the window minus one (0 at least)' }),
    versions: Type.Array(Type.Object({ version: Nullable(Type.String()), first_seen: TimeOutput(), last_seen: TimeOutput() })),
    propagation: Type.Object({
      blocks_seen: Type.Integer({ description: 'Blocks the node imported in the window (first arrival, not catch-up)' }),
      mean_ms: Nullable(Type.Number({ description: 'Mean delay after the blocks’ first seen, ms (one decimal)' })),
      p90_ms: Ms('90th percentile of those delays'),
    }),
    finality: Type.Object(
      {
        blocks_finalized: Type.Integer({ description: 'Heights the node imported in the window (first arrival, not catch-up) and later reported finalized in it' }),
        mean_ms: Nullable(Type.Number({ description: 'Mean time to finality as the node saw it, ms (one decimal)' })),
        p50_ms: Ms('Median of those times'),
        p90_ms: Ms('90th percentile of those times'),
      },
      { description: 'Per-node time to finality: its own first report of a finalized height ≥ h minus its own arrival at h' },
    ),
  },
  { title: 'NodeHistory' },
);

/** The chain a request names; 404 when unknown, 409 when the name is ambiguous and genesis_hash is absent. */
export async function resolveChain(db: Queryable, chain: string, genesisParam: string | undefined): Promise<ChainSelection> {
  const known = await genesisHashesOf(db, chain);
  if (known.length === 0) throw notFound(`chain ${JSON.stringify(chain)}`, 'chain', 'params');
  if (genesisParam === undefined) {
    if (known.length > 1) {
      const hashes = known.map((k) => k.genesis_hash);
      throw new ApiError('AMBIGUOUS_CHAIN', `${known.length} chains are named ${JSON.stringify(chain)}: give genesis_hash (one of ${hashes.map((h) => h ?? NO_GENESIS).join(', ')})`, {
        parameter: 'genesis_hash',
        in: 'querystring',
        expected: `one of ${hashes.map((h) => h ?? NO_GENESIS).join(', ')}`,
        extra: { genesis_hashes: hashes },
      });
    }
    return { chain, genesisHash: known[0].genesis_hash, chainId: known[0].chain_id };
  }
  const wanted = genesisParam === NO_GENESIS ? null : genesisParam;
  const match = known.find((k) => k.genesis_hash === wanted);
  if (match === undefined) throw notFound(`chain ${JSON.stringify(chain)} with genesis hash ${genesisParam}`, 'genesis_hash', 'querystring');
  return { chain, genesisHash: wanted, chainId: match.chain_id };
}

/** [start, end) of a request: end defaults to now, start to `defaultS` before end; 400 when reversed or too long. */
function windowOf(query: { start_time?: string; end_time?: string }, defaultS: number, maxS: number): { start: string; end: string; startMs: number; endMs: number } {
  const endMs = query.end_time === undefined ? Date.now() : epochOf(parseTime(query.end_time) as string);
  const startMs = query.start_time === undefined ? endMs - defaultS * 1000 : epochOf(parseTime(query.start_time) as string);
  if (startMs >= endMs) {
    throw new ApiError('INVALID_PARAMETER', `start_time (${query.start_time ?? 'default'}) must be before end_time (${query.end_time ?? 'now'})`, {
      parameter: 'start_time',
      in: 'querystring',
      expected: 'a time before end_time',
    });
  }
  if (endMs - startMs > maxS * 1000) {
    throw new ApiError('INVALID_PARAMETER', `the window from start_time to end_time is longer than ${maxS / HOUR_S} hours`, {
      parameter: query.start_time === undefined ? 'end_time' : 'start_time',
      in: 'querystring',
      expected: `a window of at most ${maxS / HOUR_S} hours`,
    });
  }
  return { start: naiveUtc(startMs), end: naiveUtc(endMs), startMs, endMs };
}

function epochOf(naive: string): number {
  const dot = naive.indexOf('.');
  return Date.parse(`${(dot === -1 ? naive : naive.slice(0, dot)).replace(' ', 'T')}Z`) + (dot === -1 ? 0 : Number(`0.${naive.slice(dot + 1)}`) * 1000);
}

/** Naive UTC text with microseconds of an epoch-ms instant (fractional ms kept). */
function naiveUtc(ms: number): string {
  const whole = Math.floor(ms / 1000) * 1000;
  const micros = Math.round((ms - whole) * 1000);
  return `${new Date(whole).toISOString().slice(0, 19).replace('T', ' ')}.${String(micros).padStart(6, '0')}`;
}

const chainHeader = (s: ChainSelection) => ({ chain: s.chain, genesis_hash: s.genesisHash });

function route<S extends TSchema>(summary: string, description: string, querystring: S | null, response: TSchema, extra: Record<string, unknown> = {}) {
  return {
    schema: {
      tags: ['analytics'],
      summary,
      description,
      ...(querystring === null ? {} : { querystring }),
      ...extra,
      response: { 200: response, ...QUERY_ERRORS, ...CHAIN_CONFLICT },
    },
  };
}

export function registerAnalyticsRoutes(app: FastifyInstance, { run }: ApiContext): void {
  app.get(
    '/chains',
    route(
      'Chains: their nodes, head, finality, block time and propagation',
      'One entry per chain (name and genesis hash), ordered by name then genesis hash (null last). Block time and propagation cover the last 50 blocks (the hash first seen at each of the 50 highest heights).',
      null,
      Type.Array(ChainOverview),
    ),
    async () => {
      const chains = await run((db) => chainsOverview(db, CONNECTED_WINDOW_S));
      return chains.map((c) => ({ ...c, best_seen_at: formatTimestamp(c.best_seen_at) }));
    },
  );

  app.get<{ Params: Static<typeof ChainParams>; Querystring: Static<typeof BlocksQuery> }>(
    '/chains/:chain/blocks',
    route(
      'Blocks of a chain, one per height, newest first',
      'The hash first seen at each height (others are its forks), with its first seen, propagation delays, block time and finality. ' +
        'Heights in [start_height, end_height], first seen in [start_time, end_time), at most `limit`.',
      BlocksQuery,
      Type.Array(BlockEntry),
      { params: ChainParams },
    ),
    async (request) => {
      const q = request.query;
      if (q.start_height !== undefined && q.end_height !== undefined && q.start_height > q.end_height) {
        throw new ApiError('INVALID_PARAMETER', `start_height (${q.start_height}) must not be above end_height (${q.end_height})`, { parameter: 'start_height', in: 'querystring', expected: 'a height up to end_height' });
      }
      const start = q.start_time === undefined ? undefined : (parseTime(q.start_time) as string);
      const end = q.end_time === undefined ? undefined : (parseTime(q.end_time) as string);
      if (start !== undefined && end !== undefined && epochOf(start) >= epochOf(end)) {
        throw new ApiError('INVALID_PARAMETER', `start_time (${q.start_time}) must be before end_time (${q.end_time})`, { parameter: 'start_time', in: 'querystring', expected: 'a time before end_time' });
      }
      return run(async (db) => {
        const selection = await resolveChain(db, request.params.chain, q.genesis_hash);
        if (selection.chainId === null) return [];
        const blocks = await blockList(db, selection.chainId, { minHeight: q.start_height, maxHeight: q.end_height, start, end }, q.limit ?? 100);
        return blocks.map((b) => ({ ...b, first_seen_at: formatTimestamp(b.first_seen_at), finalized_at: formatTimestamp(b.finalized_at) }));
      });
    },
  );

  app.get<{ Params: Static<typeof ChainParams>; Querystring: Static<typeof PropagationQuery> }>(
    '/chains/:chain/propagation',
    route(
      'Block propagation over a window: percentiles, histogram, per node',
      'Over the blocks (every hash) first seen in [start_time, end_time) (default: the last hour; at most 6 hours): each node’s first arrival of each, ' +
        'catch-up imports (NetworkInitialSync, File, Genesis) left out, and its delay after the block’s first seen.',
      PropagationQuery,
      Propagation,
      { params: ChainParams },
    ),
    async (request) => {
      const q = request.query;
      const window = windowOf(q, HOUR_S, MAX_PROPAGATION_WINDOW_S);
      return run(async (db) => {
        const selection = await resolveChain(db, request.params.chain, q.genesis_hash);
        const header = { ...chainHeader(selection), start_time: formatEpochMs(window.startMs), end_time: formatEpochMs(window.endMs) };
        // A chain without stored facts (chainId null) has no blocks: -1 matches none.
        const report = await propagationReport(db, { ...selection, chainId: selection.chainId ?? -1 }, window.start, window.end, (q.sort ?? 'peer_id'), q.order === 'desc');
        return { ...header, ...report };
      });
    },
  );

  app.get<{ Params: Static<typeof ChainParams>; Querystring: Static<typeof FinalityQuery> }>(
    '/chains/:chain/finality',
    route(
      'Time to finality and finality lag over a window',
      'Percentiles of the time to finality of the blocks first seen in [start_time, end_time) (default: the last hour; at most 7 days), and the lag ' +
        '(best height − finalized height) in buckets of `bucket_s` seconds.',
      FinalityQuery,
      Finality,
      { params: ChainParams },
    ),
    async (request) => {
      const q = request.query;
      const window = windowOf(q, HOUR_S, MAX_WINDOW_S);
      const bucketS = q.bucket_s ?? 60;
      if ((window.endMs - window.startMs) / (bucketS * 1000) > MAX_BUCKETS) {
        throw new ApiError('INVALID_PARAMETER', `bucket_s=${bucketS} makes more than ${MAX_BUCKETS} buckets in this window`, {
          parameter: 'bucket_s',
          in: 'querystring',
          expected: `at least ${Math.ceil((window.endMs - window.startMs) / 1000 / MAX_BUCKETS)} for this window`,
        });
      }
      return run(async (db) => {
        const selection = await resolveChain(db, request.params.chain, q.genesis_hash);
        const header = { ...chainHeader(selection), start_time: formatEpochMs(window.startMs), end_time: formatEpochMs(window.endMs) };
        const report = await finalityReport(db, selection.chainId ?? -1, window.start, window.end, bucketS * 1000);
        return {
          ...header,
          blocks: report.blocks,
          finalized_blocks: report.finalized_blocks,
          percentiles_ms: report.percentiles_ms,
          lag: report.buckets.map((b) => ({ ...b, start: formatEpochMs(b.start), end: formatEpochMs(b.end) })),
        };
      });
    },
  );

  app.get<{ Params: { peer_id: string }; Querystring: Static<typeof HistoryQuery> }>(
    '/nodes/:peer_id/history',
    {
      schema: {
        tags: ['analytics'],
        summary: 'A node’s sessions, uptime, versions and block propagation over a window',
        description: 'Over [start_time, end_time) (default: the last 24 hours; at most 7 days), on every server sharing the database.',
        params: Type.Object({ peer_id: PeerId('Peer id of the node') }),
        querystring: HistoryQuery,
        response: { 200: History, ...QUERY_ERRORS, 404: { ...ErrorBody, description: 'No connection of this peer id is stored' } },
      },
    },
    async (request) => {
      const window = windowOf(request.query, DAY_S, MAX_WINDOW_S);
      const peerId = request.params.peer_id;
      return run(async (db) => {
        if (!(await peerKnown(db, peerId))) throw notFound(`node ${JSON.stringify(peerId)}`, 'peer_id', 'params');
        const history = await nodeHistory(db, peerId, window.start, window.end, CONNECTED_WINDOW_S);
        return {
          peer_id: peerId,
          start_time: formatEpochMs(window.startMs),
          end_time: formatEpochMs(window.endMs),
          ...history,
          sessions: history.sessions.map((s) => ({ ...s, connected_at: formatTimestamp(s.connected_at), disconnected_at: formatTimestamp(s.disconnected_at), last_seen: formatTimestamp(s.last_seen) })),
          versions: history.versions.map((v) => ({ version: v.version, first_seen: formatEpochMs(v.first_seen_ms), last_seen: formatEpochMs(v.last_seen_ms) })),
        };
      });
    },
  );
}
