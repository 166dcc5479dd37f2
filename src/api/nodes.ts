// GET /nodes, GET /nodes/log_stats, GET /nodes/logs.
import type { FastifyInstance } from 'fastify';
import { CONNECTED_WINDOW_S } from '../domain/liveness.js';
import { Type, type Static } from '@sinclair/typebox';
import type { ApiContext } from './index.js';
import { listNodes } from '../storage/peer-connections.js';
import { logStats, recentLogs } from '../storage/substrate-logs.js';
import { MAX_LIMIT, Nullable, PeerId, QUERY_ERRORS, Text, TimeInput, TimeOutput } from './schemas.js';
import { CursorParam, PagedArray, decodeCursor, encodeCursor, isDbTimestamp, isRowId, pageLimitDescription, setNextPage } from './pagination.js';
import { formatTimestamp, parseTime } from '../domain/time.js';
import { rawJson } from './json.js';
import { ApiError } from './errors.js';


/** Nodes per page by default: all of them on most deployments, as before pagination. */
export const NODES_DEFAULT_LIMIT = MAX_LIMIT;
export const LOGS_DEFAULT_LIMIT = 100;

const NodesQuery = Type.Object({
  chain: Type.Optional(Text('Only connections on this chain (exact name, e.g. `Local Testnet`)', { minLength: 1, maxLength: 512 })),
  audit: Type.Optional(Type.Boolean({ description: '`true`: only connections to `/audit`; `false`: only connections to `/`' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: NODES_DEFAULT_LIMIT, description: pageLimitDescription(NODES_DEFAULT_LIMIT, 'nodes') })),
  cursor: Type.Optional(CursorParam()),
  at: Type.Optional(TimeInput('Only the nodes connected at this instant, each as its latest connection open then', null)),
});

const NodeRow = Type.Object(
  {
    id: Type.Integer({ description: 'peer_connections.id of the latest connection' }),
    ip_addr: Type.String({ description: 'Remote address `ip:port`' }),
    peer_id: Nullable(Type.String()),
    created_at: TimeOutput('When the latest connection was opened (naive UTC)'),
    audit: Type.Boolean(),
    name: Nullable(Type.String()),
    chain: Nullable(Type.String()),
    version: Nullable(Type.String()),
    authority: Nullable(Type.Boolean()),
    startup_time: Nullable(Type.Integer({ description: 'ms since the epoch' })),
    implementation: Nullable(Type.String()),
    connected: Type.Boolean({ description: `A connection of this node is open on a server that refreshed it in the last ${CONNECTED_WINDOW_S} s` }),
    last_seen: Nullable(TimeOutput('Latest sign of life over all the node’s connections (naive UTC)')),
  },
  { title: 'Node' },
);

const PeerQuery = Type.Object({ peer_id: PeerId('Peer id of the node (required)') });

const LogStat = Type.Object({ qty: Type.Integer(), log_type: Nullable(Type.String({ description: '`msg` of the messages (null for messages without one)' })) });

const LogsQuery = Type.Object({
  peer_id: PeerId('Peer id of the node (required)'),
  msg: Type.Optional(Text('Only this message type, e.g. `block.import`', { minLength: 1, maxLength: 512 })),
  target: Type.Optional(Text('Only messages with this `target`, e.g. `pallet_babe` (with or without `msg`)', { minLength: 1, maxLength: 512 })),
  start_time: Type.Optional(TimeInput('Only messages newer than this (exclusive); default: no lower bound', null)),
  end_time: Type.Optional(TimeInput('Only messages older than this (exclusive); default: now', null)),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: LOGS_DEFAULT_LIMIT, description: pageLimitDescription(LOGS_DEFAULT_LIMIT, 'messages') })),
  cursor: Type.Optional(CursorParam()),
});

const LogRow = Type.Object(
  {
    ip_addr: Type.String(),
    peer_id: Type.String(),
    msg: Nullable(Type.String()),
    created_at: TimeOutput('The message’s `ts`, in UTC'),
    logs: Type.Unknown({ description: 'The stored message (V2 envelopes unwrapped)' }),
  },
  { title: 'LogMessage' },
);

/** A /nodes cursor: after a named node (`p`, peer id) or, past all of them, after a nameless connection (`a`, id). */
const nodesCursor = (v: unknown[]) =>
  v.length === 2 && v[0] === 'p' && typeof v[1] === 'string' ? { peerId: v[1] } : v.length === 2 && v[0] === 'a' && isRowId(v[1]) ? { anonymousId: v[1] } : null;
/** A /nodes/logs cursor: the (created_at, id) of the last message of the page. */
const logsCursor = (v: unknown[]) => (v.length === 3 && v[0] === 'l' && isDbTimestamp(v[1]) && isRowId(v[2]) ? { createdAt: v[1], id: v[2] } : null);

export function registerNodeRoutes(app: FastifyInstance, { run, settings }: ApiContext): void {
  const maxBytes = settings.apiMaxResponseBytes;
  app.get<{ Querystring: Static<typeof NodesQuery> }>(
    '/nodes',
    {
      schema: {
        tags: ['nodes'],
        summary: 'Logged nodes: the latest connection of each peer id, with liveness',
        description:
          'One entry per peer id (its latest connection row), ordered by peer id; connections that never told a peer id follow, one entry each. ' +
          '`connected` and `last_seen` consider every connection of the node, on every server sharing the database. ' +
          'Paged: at most `limit` entries and API_MAX_RESPONSE_BYTES of JSON; `X-Next-Cursor` / `Link: rel="next"` lead to the rest. ' +
          'With `at`, only the nodes that had a connection open at that instant (opened at or before it, closed after it; an open connection lasts ' +
          'until now while its server refreshes it, else until its last_seen), each as its latest connection open then.',
        querystring: NodesQuery,
        response: { 200: PagedArray(NodeRow), ...QUERY_ERRORS },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const after = decodeCursor(q.cursor, nodesCursor);
      const at = q.at === undefined ? undefined : (parseTime(q.at) as string);
      const page = await run((db) => listNodes(db, { chain: q.chain, audit: q.audit, connectedWindowS: CONNECTED_WINDOW_S, at }, { limit: q.limit ?? NODES_DEFAULT_LIMIT, maxBytes, after }));
      const last = page.rows.at(-1);
      setNextPage(request, reply, page.more && last ? encodeCursor(last.peer_id === null ? ['a', last.id] : ['p', last.peer_id]) : null);
      return page.rows.map((r) => ({ ...r, created_at: formatTimestamp(r.created_at), last_seen: formatTimestamp(r.last_seen) }));
    },
  );

  app.get<{ Querystring: Static<typeof PeerQuery> }>(
    '/nodes/log_stats',
    {
      schema: {
        tags: ['nodes'],
        summary: 'Number of stored messages of each type for a node',
        description: 'Over every connection of the peer (audit or not, any age), ordered by message type.',
        querystring: PeerQuery,
        response: { 200: Type.Array(LogStat), ...QUERY_ERRORS },
      },
    },
    async (request) => run((db) => logStats(db, request.query.peer_id)),
  );

  app.get<{ Querystring: Static<typeof LogsQuery> }>(
    '/nodes/logs',
    {
      schema: {
        tags: ['nodes'],
        summary: 'Recent messages of a node, newest first',
        description:
          'Messages of every connection of the peer with `start_time < created_at < end_time`, newest first, at most `limit`. ' +
          'A page also stops before API_MAX_RESPONSE_BYTES of JSON (one message always goes); when more messages match, ' +
          '`X-Next-Cursor` (pass it as `cursor`, other parameters unchanged) and `Link: rel="next"` lead to the next page.',
        querystring: LogsQuery,
        response: { 200: PagedArray(LogRow), ...QUERY_ERRORS },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const start = q.start_time === undefined ? undefined : (parseTime(q.start_time) as string);
      const end = q.end_time === undefined ? undefined : (parseTime(q.end_time) as string);
      if (start !== undefined && end !== undefined && start >= end) {
        throw new ApiError('INVALID_PARAMETER', `start_time (${q.start_time}) must be before end_time (${q.end_time})`, {
          parameter: 'start_time',
          in: 'querystring',
          expected: 'a time before end_time',
        });
      }
      const after = decodeCursor(q.cursor, logsCursor);
      const page = await run((db) => recentLogs(db, { peerId: q.peer_id, msg: q.msg, target: q.target, start, end, after, limit: q.limit ?? LOGS_DEFAULT_LIMIT, maxBytes }));
      const last = page.rows.at(-1);
      setNextPage(request, reply, page.more && last ? encodeCursor(['l', last.created_at, Number(last.id)]) : null);
      return page.rows.map((r) => ({ ip_addr: r.ip_addr, peer_id: r.peer_id, msg: r.msg, created_at: formatTimestamp(r.created_at), logs: rawJson(r.logs) }));
    },
  );
}
