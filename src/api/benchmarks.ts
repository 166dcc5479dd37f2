// Benchmarks: GET/POST /benchmarks (README format and the reference code's {setup} format),
// GET /benchmarks/example, POST /benchmarks/events, GET /benchmarks/{id}/events, GET /benchmarks/{id}/targets.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ApiContext } from './index.js';
import {
  benchmarkExists,
  benchmarkPeerId,
  insertBenchmarkEvent,
  insertReadmeBenchmark,
  insertSetupBenchmark,
  listBenchmarkEvents,
  listBenchmarks,
  type BenchmarkRow,
} from '../storage/benchmarks.js';
import { targetsOfPeer } from '../storage/substrate-logs.js';
import { API_BODY_LIMIT, BODY_ERRORS, Id, MAX_LIMIT, Nullable, QUERY_ERRORS, Text, TimeInput, TimeOutput } from './schemas.js';
import { CursorParam, PagedArray, decodeCursor, encodeCursor, isDbTimestamp, isRowId, pageLimitDescription, setNextPage } from './pagination.js';
import { formatTimestamp, parseTime } from '../domain/time.js';
import { rawBodyOf, rawJson } from './json.js';
import { topLevelMembers } from '../ingest/json-text.js';
import { invalidParameter, notFound } from './errors.js';

/** The benchmarked node goes in benchmark_spec.substrate.peerId, where the benchmarks page looks for it. */
const README_EXAMPLE = {
  benchmark_spec: { substrate: { peerId: '12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp' } },
  chain_spec: { name: 'Development', etc: 'more chain spec stuff' },
  description: 'notes',
  host_system_id: 2,
  ts_end: '2019-10-28T14:05:27.618903',
  ts_start: '2019-10-28T14:00:00',
};

const SetupBody = Type.Object(
  { setup: Type.Unknown({ description: 'Any JSON; by convention `setup.substrate.peerId` is the benchmarked node' }) },
  { title: '{setup} (reference code format)' },
);

const ReadmeBody = Type.Object(
  {
    benchmark_spec: Type.Unknown({ description: 'Any JSON' }),
    chain_spec: Type.Unknown({ description: 'Any JSON' }),
    description: Text('Notes'),
    host_system_id: Id('id of an existing host system'),
    ts_start: TimeInput('Start of the benchmark', '2019-10-28T14:00:00'),
    ts_end: TimeInput('End of the benchmark', '2019-10-28T14:05:27.618903'),
  },
  { title: '{benchmark_spec, chain_spec, description, host_system_id, ts_start, ts_end} (README format)' },
);

const NewBenchmark = Type.Union([ReadmeBody, SetupBody], { examples: [README_EXAMPLE, { setup: { substrate: { peerId: '12D3KooW…' } } }] });

const Benchmark = Type.Object(
  {
    id: Type.Integer(),
    setup: Type.Unknown({ description: '`{}` for benchmarks created in the README format' }),
    created_at: TimeOutput('When the benchmark was created'),
    description: Nullable(Type.String()),
    host_system_id: Nullable(Type.Integer()),
    ts_start: Nullable(TimeOutput()),
    ts_end: Nullable(TimeOutput()),
    chain_spec: Type.Unknown(),
    benchmark_spec: Type.Unknown(),
  },
  { title: 'Benchmark', description: 'README-format fields are null for benchmarks created with {setup}' },
);

const NewEvent = Type.Object(
  {
    benchmark_id: Id('id of an existing benchmark'),
    name: Text('Event name'),
    phase: Text('e.g. `start` or `end`'),
    created_at: Type.Optional(TimeInput('When it happened; default: now', null)),
  },
  { title: 'NewBenchmarkEvent' },
);

const BenchmarkEvent = Type.Object(
  { id: Type.Integer(), benchmark_id: Type.Integer(), name: Type.String(), phase: Type.String(), created_at: TimeOutput() },
  { title: 'BenchmarkEvent' },
);

const BenchmarkParams = Type.Object({ benchmark_id: Id('Benchmark id') });

/** Rows per page of the benchmark lists by default: all of them on most deployments, as before pagination. */
export const BENCHMARK_LISTS_DEFAULT_LIMIT = MAX_LIMIT;
const PageQuery = (what: string) =>
  Type.Object({
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: BENCHMARK_LISTS_DEFAULT_LIMIT, description: pageLimitDescription(BENCHMARK_LISTS_DEFAULT_LIMIT, what) })),
    cursor: Type.Optional(CursorParam()),
  });
const BenchmarksQuery = PageQuery('benchmarks');
const EventsQuery = PageQuery('events');
const TargetsQuery = PageQuery('targets');
type PageParams = { limit?: number; cursor?: string };

const benchmarksCursor = (v: unknown[]) => (v.length === 3 && v[0] === 'b' && isDbTimestamp(v[1]) && isRowId(v[2]) ? { createdAt: v[1], id: v[2] } : null);
const eventsCursor = (v: unknown[]) =>
  v.length === 4 && v[0] === 'e' && typeof v[1] === 'string' && isDbTimestamp(v[2]) && isRowId(v[3]) ? { name: v[1], createdAt: v[2], id: v[3] } : null;
const targetsCursor = (v: unknown[]) => (v.length === 2 && v[0] === 't' && typeof v[1] === 'string' ? v[1] : null);
const PAGED = 'Paged: at most `limit` rows and API_MAX_RESPONSE_BYTES of JSON; `X-Next-Cursor` / `Link: rel="next"` lead to the rest.';
const NOT_FOUND = { 404: { ...QUERY_ERRORS[400], description: 'No benchmark has this id' } };

function formatBenchmark(row: BenchmarkRow) {
  return {
    id: row.id,
    setup: rawJson(row.setup),
    created_at: formatTimestamp(row.created_at),
    description: row.description,
    host_system_id: row.host_system_id,
    ts_start: formatTimestamp(row.ts_start),
    ts_end: formatTimestamp(row.ts_end),
    chain_spec: rawJson(row.chain_spec),
    benchmark_spec: rawJson(row.benchmark_spec),
  };
}

const isForeignKeyViolation = (error: unknown) => (error as { code?: string })?.code === '23503';

export function registerBenchmarkRoutes(app: FastifyInstance, { run, write, settings }: ApiContext): void {
  const maxBytes = settings.apiMaxResponseBytes;
  const pageOf = (q: PageParams) => ({ limit: q.limit ?? BENCHMARK_LISTS_DEFAULT_LIMIT, maxBytes });

  app.get<{ Querystring: PageParams }>(
    '/benchmarks',
    {
      schema: { tags: ['benchmarks'], summary: 'List benchmarks, newest first', description: PAGED, querystring: BenchmarksQuery, response: { 200: PagedArray(Benchmark), ...QUERY_ERRORS } },
    },
    async (request, reply) => {
      const after = decodeCursor(request.query.cursor, benchmarksCursor);
      const page = await run((db) => listBenchmarks(db, { ...pageOf(request.query), after }));
      const last = page.rows.at(-1);
      setNextPage(request, reply, page.more && last ? encodeCursor(['b', last.created_at, last.id]) : null);
      return page.rows.map(formatBenchmark);
    },
  );

  app.post<{ Body: Static<typeof NewBenchmark> }>(
    '/benchmarks',
    {
      bodyLimit: API_BODY_LIMIT,
      schema: {
        tags: ['benchmarks'],
        summary: 'Create a benchmark; returns it with its new id',
        description: 'Accepts the README format or the reference code’s `{"setup": …}` (a body with a `setup` key is taken as the latter).',
        body: NewBenchmark,
        response: { 200: Benchmark, ...QUERY_ERRORS, ...BODY_ERRORS },
      },
    },
    async (request) => {
      const body = request.body as Record<string, unknown>;
      // The JSON documents are stored as sent (JSON.stringify of the parsed body would round big integers).
      const raw = topLevelMembers(rawBodyOf(request) ?? JSON.stringify(body), ['setup', 'benchmark_spec', 'chain_spec']);
      if ('setup' in body) {
        return formatBenchmark(await write((db) => insertSetupBenchmark(db, raw.get('setup') ?? 'null')));
      }
      const b = body as Static<typeof ReadmeBody>;
      try {
        const row = await write((db) =>
          insertReadmeBenchmark(db, {
            benchmarkSpecJson: raw.get('benchmark_spec') ?? 'null',
            chainSpecJson: raw.get('chain_spec') ?? 'null',
            description: b.description,
            hostSystemId: b.host_system_id,
            tsStart: parseTime(b.ts_start) as string,
            tsEnd: parseTime(b.ts_end) as string,
          }),
        );
        return formatBenchmark(row);
      } catch (error) {
        if (isForeignKeyViolation(error)) throw invalidParameter('host_system_id', 'body', 'the id of an existing host system (see GET /host_systems)', b.host_system_id);
        throw error;
      }
    },
  );

  app.get(
    '/benchmarks/example',
    { schema: { tags: ['benchmarks'], summary: 'An example body for POST /benchmarks (README format)', response: { 200: Type.Unknown() } } },
    async () => README_EXAMPLE,
  );

  app.post<{ Body: Static<typeof NewEvent> }>(
    '/benchmarks/events',
    {
      bodyLimit: API_BODY_LIMIT,
      schema: {
        tags: ['benchmarks'],
        summary: 'Record an event of a benchmark; returns it with its new id',
        body: NewEvent,
        response: { 200: BenchmarkEvent, ...QUERY_ERRORS, ...BODY_ERRORS },
      },
    },
    async (request) => {
      const e = request.body;
      try {
        const row = await write((db) =>
          insertBenchmarkEvent(db, { benchmarkId: e.benchmark_id, name: e.name, phase: e.phase, createdAt: e.created_at === undefined ? undefined : (parseTime(e.created_at) as string) }),
        );
        return { ...row, created_at: formatTimestamp(row.created_at) };
      } catch (error) {
        if (isForeignKeyViolation(error)) throw invalidParameter('benchmark_id', 'body', 'the id of an existing benchmark (see GET /benchmarks)', e.benchmark_id);
        throw error;
      }
    },
  );

  app.get<{ Params: Static<typeof BenchmarkParams>; Querystring: PageParams }>(
    '/benchmarks/:benchmark_id/events',
    {
      schema: {
        tags: ['benchmarks'],
        summary: 'Events of a benchmark, by name',
        description: PAGED,
        params: BenchmarkParams,
        querystring: EventsQuery,
        response: { 200: PagedArray(BenchmarkEvent), ...QUERY_ERRORS, ...NOT_FOUND },
      },
    },
    async (request, reply) => {
      const id = request.params.benchmark_id;
      const after = decodeCursor(request.query.cursor, eventsCursor);
      const page = await run(async (db) => ((await benchmarkExists(db, id)) ? listBenchmarkEvents(db, id, { ...pageOf(request.query), after }) : null));
      if (page === null) throw notFound(`benchmark ${id}`, 'benchmark_id', 'params');
      const last = page.rows.at(-1);
      setNextPage(request, reply, page.more && last ? encodeCursor(['e', last.name, last.created_at, last.id]) : null);
      return page.rows.map((r) => ({ ...r, created_at: formatTimestamp(r.created_at) }));
    },
  );

  app.get<{ Params: Static<typeof BenchmarkParams>; Querystring: PageParams }>(
    '/benchmarks/:benchmark_id/targets',
    {
      schema: {
        tags: ['benchmarks'],
        summary: 'Distinct `target` values in the messages of the benchmarked node',
        description: `The node is \`setup.substrate.peerId\` (or \`benchmark_spec.substrate.peerId\`); \`[]\` when the benchmark names none. Ascending. ${PAGED}`,
        params: BenchmarkParams,
        querystring: TargetsQuery,
        response: { 200: PagedArray(Type.Object({ target: Type.String() })), ...QUERY_ERRORS, ...NOT_FOUND },
      },
    },
    async (request, reply) => {
      const id = request.params.benchmark_id;
      const after = decodeCursor(request.query.cursor, targetsCursor);
      const page = await run(async (db) => {
        const peerId = await benchmarkPeerId(db, id);
        if (peerId === undefined) return null;
        return peerId === null ? { rows: [], more: false } : targetsOfPeer(db, peerId, { ...pageOf(request.query), after });
      });
      if (page === null) throw notFound(`benchmark ${id}`, 'benchmark_id', 'params');
      const last = page.rows.at(-1);
      setNextPage(request, reply, page.more && last ? encodeCursor(['t', last.target]) : null);
      return page.rows.map(({ target }) => ({ target }));
    },
  );
}
