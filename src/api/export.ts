// Bulk export: GET /export/logs and GET /export/blocks stream every row a filter selects, as NDJSON or CSV
// (RFC 4180), without a row limit (docs/export.md). Rows are read a page at a time (storage/export.ts) only
// when the client has taken the previous page: the response stream asks for the next page when its buffer
// drains, so a slow client slows the reads and a client that stops reading holds one page and the socket's
// buffers. A client that goes away ends the stream: no further page is read (PostgreSQL's cursor is closed).
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ApiContext } from './index.js';
import { PeerId, QUERY_ERRORS, Text, TimeInput } from './schemas.js';
import { formatTimestamp, parseTime } from '../domain/time.js';
import { ApiError } from './errors.js';
import { resolveChain, CHAIN_CONFLICT } from './analytics.js';
import { declareLogsCursor, exportBlocksPage, exportConnections, exportLogsPage, fetchFromCursor, type BlockExportFilter, type CursorLogRow, type LogCursor, type LogExportFilter } from '../storage/export.js';
import type { Database } from '../storage/database.js';

/** Rows per page: one statement each; the most a stalled client makes the server hold (plus socket buffers). */
export const EXPORT_PAGE_ROWS = 5000;
/** Rows per FETCH of PostgreSQL's cursor: smaller, as a FETCH costs no search (less garbage per step). */
export const EXPORT_FETCH_ROWS = 2000;
/** Connections whose messages one page may span. */
const CONNECTIONS_PER_STEP = 500;
/** Bytes the response stream buffers before it stops pulling pages. */
const STREAM_HIGH_WATER_BYTES = 256 * 1024;

const Format = Type.Optional(Type.Union([Type.Literal('ndjson'), Type.Literal('csv')], { default: 'ndjson', description: '`ndjson` (default: one JSON object per line) or `csv` (RFC 4180, with a header line)' }));

const LogsQuery = Type.Object({
  peer_id: Type.Optional(PeerId('Only the messages of this node')),
  chain: Type.Optional(Text('Only the messages of connections that announced this chain', { minLength: 1, maxLength: 512 })),
  msg: Type.Optional(Text('Only messages of this type, e.g. `block.import`', { minLength: 1, maxLength: 256 })),
  start_time: Type.Optional(TimeInput('Only messages created at or after this')),
  end_time: Type.Optional(TimeInput('Only messages created before this')),
  format: Format,
});

const BlocksQuery = Type.Object({
  chain: Text('Chain name as the nodes announce it', { minLength: 1, maxLength: 512 }),
  genesis_hash: Type.Optional(Text('Genesis hash: needed when several chains have this name; `null` names the nodes that never sent one', { minLength: 1, maxLength: 512 })),
  start_height: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Lowest height (inclusive)' })),
  end_height: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Highest height (inclusive)' })),
  start_time: Type.Optional(TimeInput('Only blocks first seen at or after this')),
  end_time: Type.Optional(TimeInput('Only blocks first seen before this')),
  format: Format,
});

const STREAM_RESPONSE = {
  200: {
    description: 'The rows, streamed: `application/x-ndjson` (one JSON object per line) or `text/csv` (RFC 4180, header line first, CRLF line ends)',
    type: 'string',
  },
};

export const LOG_COLUMNS = ['peer_id', 'created_at', 'msg', 'logs'] as const;
export const BLOCK_COLUMNS = [
  'chain', 'genesis_hash', 'height', 'hash', 'first_seen_at', 'first_seen_peer_id', 'nodes_reported', 'propagation_arrivals',
  'propagation_p50_ms', 'propagation_p90_ms', 'propagation_p99_ms', 'propagation_max_ms',
] as const;

/** A CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF; null is the empty field. */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const csvLine = (values: Array<string | number | null>) => `${values.map(csvField).join(',')}\r\n`;

function timeParam(value: string | undefined): string | null {
  return value === undefined ? null : (parseTime(value));
}

function checkWindow(start: string | null, end: string | null): void {
  if (start !== null && end !== null && start >= end) {
    throw new ApiError('INVALID_PARAMETER', 'start_time must be before end_time', { parameter: 'start_time', in: 'querystring', expected: 'a time before end_time' });
  }
}

function streamOf(pages: AsyncGenerator<string>): Readable {
  return Readable.from(pages, { objectMode: false, highWaterMark: STREAM_HIGH_WATER_BYTES });
}

/**
 * PostgreSQL: the export in one transaction holding a cursor, FETCHed a page at a time when the stream
 * wants more (each FETCH under the statement timeout). A client that goes away wakes the loop, which
 * rolls back: the cursor closes and nothing is left running. While the client is slow, the session is
 * idle in its transaction, between statements.
 */
function cursorStream(db: Database, statementTimeoutMs: number, declare: { sql: string; params: unknown[] }, header: string | null, render: (rows: CursorLogRow[]) => string): Readable {
  let wake: (() => void) | null = null;
  let gone = false;
  const stream = new Readable({
    highWaterMark: STREAM_HIGH_WATER_BYTES,
    read() {
      const resume = wake;
      wake = null;
      resume?.();
    },
    destroy(error, callback) {
      gone = true;
      const resume = wake;
      wake = null;
      resume?.();
      callback(error);
    },
  });
  const clientGone = new Error('the client went away');
  void db
    .transaction(async (tx) => {
      await tx.query(`SELECT set_config('statement_timeout', $1, true), set_config('jit', 'off', true)`, [String(Math.max(1, Math.floor(statementTimeoutMs)))]);
      await tx.query(declare.sql, declare.params);
      if (header !== null && !stream.push(header)) await new Promise<void>((resolve) => (wake = resolve));
      for (;;) {
        if (gone) throw clientGone;
        const rows = await fetchFromCursor<CursorLogRow>(tx, EXPORT_FETCH_ROWS);
        if (gone) throw clientGone;
        if (rows.length === 0) return;
        if (!stream.push(render(rows))) await new Promise<void>((resolve) => (wake = resolve));
      }
    })
    .then(
      () => { if (!gone) stream.push(null); },
      (error: unknown) => { if (!gone) stream.destroy(error as Error); },
    );
  return stream;
}

export function registerExportRoutes(app: FastifyInstance, { run, db, reads, admission, settings }: ApiContext): void {
  // Exports read where the other queries read (DATABASE_READ_URL when set), and count in the query lane.
  const source = reads ?? db;
  app.get<{ Querystring: Static<typeof LogsQuery> }>(
    '/export/logs',
    {
      schema: {
        tags: ['export'],
        summary: 'Every stored message a filter selects, streamed as NDJSON or CSV',
        description:
          'No row limit: the messages of the matching connections in (connection, created_at, id) order, read a page at a time as the client reads. ' +
          'NDJSON lines are `{"peer_id", "created_at", "msg", "logs"}` (logs: the message as stored); CSV columns are the same, logs as JSON text.',
        querystring: LogsQuery,
        response: { ...STREAM_RESPONSE, ...QUERY_ERRORS },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const filter: LogExportFilter = { peerId: q.peer_id ?? null, chain: q.chain ?? null, msg: q.msg ?? null, start: timeParam(q.start_time), end: timeParam(q.end_time) };
      checkWindow(filter.start, filter.end);
      const csv = q.format === 'csv';
      const type = csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8';
      const disposition = `attachment; filename="logs.${csv ? 'csv' : 'ndjson'}"`;
      if (source.kind === 'postgres') {
        const render = (rows: CursorLogRow[]) => {
          let chunk = '';
          for (const row of rows) {
            const createdAt = formatTimestamp(row.created_at);
            chunk += csv
              ? `${csvField(row.peer_id)},${createdAt},${csvField(row.msg)},${csvField(row.logs)}\r\n`
              : `{"peer_id":${JSON.stringify(row.peer_id)},"created_at":"${createdAt}","msg":${JSON.stringify(row.msg)},"logs":${row.logs}}\n`;
          }
          return chunk;
        };
        // The cursor's transaction holds a query slot until the stream closes (ended, failed or the client
        // gone); a full lane answers 503 QUERY_OVERLOADED before anything is sent. The keyset pages below
        // take a slot per page through `run`.
        const slot = admission ? await admission.acquire() : null;
        const stream = cursorStream(source, settings.statementTimeoutMs, declareLogsCursor(filter), csv ? csvLine([...LOG_COLUMNS]) : null, render);
        stream.once('close', () => slot?.release());
        return reply.type(type).header('content-disposition', disposition).send(stream);
      }
      async function* pages(): AsyncGenerator<string> {
        if (csv) yield csvLine([...LOG_COLUMNS]);
        let afterConnection = 0;
        for (;;) {
          const connections = await run((db) => exportConnections(db, filter, afterConnection, CONNECTIONS_PER_STEP));
          if (connections.length === 0) return;
          afterConnection = connections[connections.length - 1].id;
          // Each connection's peer id as JSON (and CSV) once, not once per row.
          const peerJson = new Map(connections.map((c) => [c.id, JSON.stringify(c.peer_id)]));
          const peerCsv = new Map(connections.map((c) => [c.id, csvField(c.peer_id)]));
          const ids = connections.map((c) => c.id);
          let cursor: LogCursor = { connectionId: 0, createdAt: '-infinity', id: 0 };
          for (;;) {
            const rows = await run((db) => exportLogsPage(db, ids, filter, cursor, EXPORT_PAGE_ROWS));
            if (rows.length === 0) break;
            let chunk = '';
            for (const row of rows) {
              const createdAt = formatTimestamp(row.created_at);
              chunk += csv
                ? `${peerCsv.get(row.peer_connection_id) ?? ''},${createdAt},${csvField(row.msg)},${csvField(row.logs)}\r\n`
                : `{"peer_id":${peerJson.get(row.peer_connection_id) ?? 'null'},"created_at":"${createdAt}","msg":${JSON.stringify(row.msg)},"logs":${row.logs}}\n`;
            }
            const last = rows[rows.length - 1];
            cursor = { connectionId: last.peer_connection_id, createdAt: last.created_at, id: last.id };
            yield chunk;
            if (rows.length < EXPORT_PAGE_ROWS) break;
          }
        }
      }
      return reply.type(type).header('content-disposition', disposition).send(streamOf(pages()));
    },
  );

  app.get<{ Querystring: Static<typeof BlocksQuery> }>(
    '/export/blocks',
    {
      schema: {
        tags: ['export'],
        summary: 'Every block of a chain (forks included), streamed as NDJSON or CSV',
        description:
          'No row limit: the blocks (every hash seen) in (height, hash) order with their first seen and, once summarized, propagation figures (null before; docs/analytics.md). ' +
          `Columns: ${BLOCK_COLUMNS.join(', ')}.`,
        querystring: BlocksQuery,
        response: { ...STREAM_RESPONSE, ...QUERY_ERRORS, ...CHAIN_CONFLICT },
      },
    },
    async (request, reply) => {
      const q = request.query;
      if (q.start_height !== undefined && q.end_height !== undefined && q.start_height > q.end_height) {
        throw new ApiError('INVALID_PARAMETER', `start_height (${q.start_height}) must not be above end_height (${q.end_height})`, { parameter: 'start_height', in: 'querystring', expected: 'a height up to end_height' });
      }
      const start = timeParam(q.start_time);
      const end = timeParam(q.end_time);
      checkWindow(start, end);
      const selection = await run((db) => resolveChain(db, q.chain, q.genesis_hash));
      const csv = q.format === 'csv';
      const filter: BlockExportFilter | null = selection.chainId === null ? null : { chainId: selection.chainId, minHeight: q.start_height ?? null, maxHeight: q.end_height ?? null, start, end };
      async function* pages(): AsyncGenerator<string> {
        if (csv) yield csvLine([...BLOCK_COLUMNS]);
        if (filter === null) return;
        let after: { height: number | string; hash: string } | null = null;
        for (;;) {
          const rows = await run((db) => exportBlocksPage(db, filter, after, EXPORT_PAGE_ROWS));
          if (rows.length === 0) return;
          let chunk = '';
          for (const row of rows) {
            const values = [
              selection.chain, selection.genesisHash, row.height, row.hash, formatTimestamp(row.first_seen_at), row.first_seen_peer_id, row.nodes_reported,
              row.propagation_arrivals, row.propagation_p50_ms, row.propagation_p90_ms, row.propagation_p99_ms, row.propagation_max_ms,
            ] as const;
            if (csv) chunk += csvLine([...values]);
            else chunk += `${JSON.stringify(Object.fromEntries(BLOCK_COLUMNS.map((column, i) => [column, values[i]])))}\n`;
          }
          const last = rows[rows.length - 1];
          after = { height: last.height, hash: last.hash };
          yield chunk;
          if (rows.length < EXPORT_PAGE_ROWS) return;
        }
      }
      return reply
        .type(csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="blocks.${csv ? 'csv' : 'ndjson'}"`)
        .send(streamOf(pages()));
    },
  );
}
