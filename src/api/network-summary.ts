// GET /nodes/summary: the network view's rows, sorted, filtered and paged by the server, so that a page
// showing 30 of 10,000 nodes downloads 30 rows per refresh (docs/analytics.md#get-nodessummary). The
// summary of every node is computed at most once per SUMMARY_REFRESH_MS (longer when it is costly:
// SUMMARY_COST_FACTOR) whatever the number of viewers (concurrent requests share one query); sorting and
// slicing that snapshot is done in memory.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ApiContext } from './index.js';
import { nodeSummaries, SUMMARY_BLOCKS, type NodeSummaryRow } from '../storage/network-summary.js';
import { Nullable, QUERY_ERRORS, Text, TimeOutput } from './schemas.js';
import { formatTimestamp } from '../domain/time.js';
import { CONNECTED_WINDOW_S } from '../domain/liveness.js';

export const SUMMARY_REFRESH_MS = 5_000;
/**
 * A summary that took t to compute is kept for at least this many times t, so that its query never takes
 * more than a tenth of the server's time (10,000 nodes: about 1 s on PostgreSQL, kept 10 s).
 */
export const SUMMARY_COST_FACTOR = 10;
export const SUMMARY_MAX_LIMIT = 500;
export const SUMMARY_MAX_PINNED = 200;

export const SUMMARY_SORTS = [
  'name',
  'chain',
  'version',
  'peers',
  'txcount',
  'best_height',
  'finalized_height',
  'propagation_last_ms',
  'propagation_p90_ms',
  'block_time_ms',
  'uptime_pct',
  'last_seen',
] as const;
export type SummarySort = (typeof SUMMARY_SORTS)[number];

const SummaryQuery = Type.Object({
  sort: Type.Optional(Type.Union(SUMMARY_SORTS.map((s) => Type.Literal(s)), { default: 'name', description: 'Column to sort by (nulls last, ties by peer id)' })),
  order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc' })),
  q: Type.Optional(Text('Only nodes whose name or peer id contains this (case-insensitive)', { maxLength: 200 })),
  chain: Type.Optional(Text('Only nodes on this chain (exact name)', { minLength: 1, maxLength: 512 })),
  pinned: Type.Optional(Text(`Comma-separated peer ids listed first, whatever the sort (at most ${SUMMARY_MAX_PINNED})`, { maxLength: SUMMARY_MAX_PINNED * 130 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'Rows of the sorted list to skip' })),
  limit: Type.Optional(Type.Integer({ minimum: 0, maximum: SUMMARY_MAX_LIMIT, default: 100, description: `Rows to answer (default 100, at most ${SUMMARY_MAX_LIMIT})` })),
});

const Ms = (description: string) => Nullable(Type.Integer({ description: `${description}, in milliseconds` }));

const SummaryRow = Type.Object(
  {
    peer_id: Type.String(),
    name: Nullable(Type.String()),
    chain: Nullable(Type.String()),
    genesis_hash: Nullable(Type.String()),
    version: Nullable(Type.String()),
    authority: Nullable(Type.Boolean()),
    connected: Type.Boolean({ description: `A connection of this node is open on a server that refreshed it in the last ${CONNECTED_WINDOW_S} s` }),
    pinned: Type.Boolean({ description: 'Named in `pinned`' }),
    last_seen: Nullable(TimeOutput('Latest sign of life over all the node’s connections')),
    peers: Nullable(Type.Integer({ description: 'From its latest system.interval' })),
    txcount: Nullable(Type.Integer({ description: 'Transactions in its pool, from its latest system.interval' })),
    best_height: Nullable(Type.Integer({ description: 'Highest of its latest system.interval height and its latest block.import' })),
    finalized_height: Nullable(Type.Integer({ description: 'Its latest finalized height report' })),
    propagation_last_ms: Ms('Delay of its latest block import after the block’s first seen'),
    propagation_p90_ms: Ms(`90th percentile of those delays over its last ${SUMMARY_BLOCKS} imports (catch-up left out)`),
    block_time_ms: Ms(`Mean time between blocks over its last ${SUMMARY_BLOCKS} imports`),
    uptime_pct: Nullable(Type.Number({ description: 'Share of the last 24 hours its connections covered, 0–100' })),
  },
  { title: 'NodeSummary' },
);

const Summary = Type.Object(
  {
    generated_at: TimeOutput('When the summary was computed (it is shared for up to 5 s)'),
    total: Type.Integer({ description: 'Nodes known (all chains)' }),
    connected: Type.Integer({ description: 'Of which connected' }),
    matched: Type.Integer({ description: 'Nodes matching `q` and `chain`, plus the pinned ones: the length of the sorted list' }),
    offset: Type.Integer(),
    rows: Type.Array(SummaryRow, { description: 'Pinned nodes first, then connected ones, then the others, each group sorted' }),
  },
  { title: 'NodesSummary' },
);

interface Snapshot {
  at: number;
  generatedAt: string;
  rows: NodeSummaryRow[];
}

/** Orders rows by `sort`/`order`, nulls last whatever the order, ties by peer id. */
export function compareBy(sort: SummarySort, desc: boolean): (a: NodeSummaryRow, b: NodeSummaryRow) => number {
  return (a, b) => {
    const x = a[sort];
    const y = b[sort];
    if (x === null || y === null) {
      if (x !== y) return x === null ? 1 : -1;
    } else if (x !== y) {
      const c = typeof x === 'string' && typeof y === 'string' ? x.localeCompare(y) : Number(x) - Number(y);
      if (c !== 0) return desc ? -c : c;
    }
    return a.peer_id < b.peer_id ? -1 : a.peer_id > b.peer_id ? 1 : 0;
  };
}

export function registerNetworkSummaryRoute(app: FastifyInstance, { run }: ApiContext): void {
  let cached: { at: number; validMs: number; snapshot: Promise<Snapshot> } | null = null;
  const snapshot = (): Promise<Snapshot> => {
    const now = Date.now();
    if (cached === null || now - cached.at >= cached.validMs) {
      const promise: Promise<Snapshot> = run((db) => nodeSummaries(db, CONNECTED_WINDOW_S)).then((rows) => {
        if (cached?.snapshot === promise) cached.validMs = Math.max(SUMMARY_REFRESH_MS, SUMMARY_COST_FACTOR * (Date.now() - now));
        return { at: now, generatedAt: new Date(now).toISOString().slice(0, 23), rows };
      });
      cached = { at: now, validMs: SUMMARY_REFRESH_MS, snapshot: promise };
      promise.catch(() => {
        if (cached?.snapshot === promise) cached = null; // a failure is not kept
      });
    }
    return cached.snapshot;
  };

  app.get<{ Querystring: Static<typeof SummaryQuery> }>(
    '/nodes/summary',
    {
      schema: {
        tags: ['nodes'],
        summary: 'One row per node for the network view: liveness, heights, peers, propagation, uptime; sorted and paged',
        description:
          `Computed for every node at most every ${SUMMARY_REFRESH_MS / 1000} s and shared by all requests. The list is: the pinned nodes, then the ` +
          'connected ones, then the others, each group sorted by `sort` (nulls last, ties by peer id); `offset`/`limit` take a slice of it.',
        querystring: SummaryQuery,
        response: { 200: Summary, ...QUERY_ERRORS },
      },
    },
    async (request) => {
      const q = request.query;
      const { generatedAt, rows } = await snapshot();
      const pinned = new Set((q.pinned ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '').slice(0, SUMMARY_MAX_PINNED));
      const needle = q.q?.toLowerCase() ?? '';
      const matches = (r: NodeSummaryRow) =>
        pinned.has(r.peer_id) || ((q.chain === undefined || r.chain === q.chain) && (needle === '' || (r.name ?? '').toLowerCase().includes(needle) || r.peer_id.toLowerCase().includes(needle)));
      const group = (r: NodeSummaryRow) => (pinned.has(r.peer_id) ? 0 : r.connected ? 1 : 2);
      const byColumn = compareBy(q.sort ?? 'name', q.order === 'desc');
      const list = rows.filter(matches).sort((a, b) => group(a) - group(b) || byColumn(a, b));
      const offset = q.offset ?? 0;
      return {
        generated_at: generatedAt,
        total: rows.length,
        connected: rows.reduce((n, r) => n + (r.connected ? 1 : 0), 0),
        matched: list.length,
        offset,
        rows: list.slice(offset, offset + (q.limit ?? 100)).map((r) => ({ ...r, pinned: pinned.has(r.peer_id), last_seen: formatTimestamp(r.last_seen) })),
      };
    },
  );
}
