// Reads and writes of benchmarks and benchmark_events.
import type { Queryable } from './database.js';
import { readPage, type Page, type PageOptions } from './query-runner.js';

export interface BenchmarkRow {
  id: number;
  /** JSON text. */
  setup: string;
  created_at: string;
  description: string | null;
  host_system_id: number | null;
  ts_start: string | null;
  ts_end: string | null;
  /** JSON text. */
  chain_spec: string | null;
  benchmark_spec: string | null;
}

const BENCHMARK_COLUMNS = `id, setup::text AS setup, created_at, description, host_system_id, ts_start, ts_end, chain_spec::text AS chain_spec, benchmark_spec::text AS benchmark_spec`;

/** Newest first, one page: after `after` (the last benchmark of the previous page) when given. */
export async function listBenchmarks(db: Queryable, page: PageOptions & { after?: { createdAt: string; id: number } }): Promise<Page<BenchmarkRow>> {
  return readPage<BenchmarkRow>(
    db,
    `SELECT ${BENCHMARK_COLUMNS} FROM benchmarks
      WHERE $1::timestamp IS NULL OR (created_at, id) < ($1::timestamp, $2::int)
      ORDER BY created_at DESC, id DESC
      LIMIT $3`,
    [page.after?.createdAt ?? null, page.after?.id ?? null, page.limit + 1],
    page,
  );
}

/** The reference code's format: one `setup` document (JSON text). */
export async function insertSetupBenchmark(db: Queryable, setupJson: string): Promise<BenchmarkRow> {
  return (await db.query<BenchmarkRow>(`INSERT INTO benchmarks (setup) VALUES ($1::jsonb) RETURNING ${BENCHMARK_COLUMNS}`, [setupJson])).rows[0];
}

export interface ReadmeBenchmark {
  benchmarkSpecJson: string;
  chainSpecJson: string;
  description: string;
  hostSystemId: number;
  /** Naive UTC text. */
  tsStart: string;
  tsEnd: string;
}

/** The README's format. Throws a foreign-key violation (23503) when the host system does not exist. */
export async function insertReadmeBenchmark(db: Queryable, b: ReadmeBenchmark): Promise<BenchmarkRow> {
  return (
    await db.query<BenchmarkRow>(
      `INSERT INTO benchmarks (setup, benchmark_spec, chain_spec, description, host_system_id, ts_start, ts_end)
       VALUES ('{}'::jsonb, $1::jsonb, $2::jsonb, $3, $4, $5::timestamp, $6::timestamp) RETURNING ${BENCHMARK_COLUMNS}`,
      [b.benchmarkSpecJson, b.chainSpecJson, b.description, b.hostSystemId, b.tsStart, b.tsEnd],
    )
  ).rows[0];
}

export async function benchmarkExists(db: Queryable, id: number): Promise<boolean> {
  return (await db.query(`SELECT 1 FROM benchmarks WHERE id = $1`, [id])).rows.length > 0;
}

/**
 * The peer id of the benchmarked node: `setup.substrate.peerId` (the reference's convention), or the same
 * path inside a README-format `benchmark_spec`. Undefined when the benchmark does not exist.
 */
export async function benchmarkPeerId(db: Queryable, id: number): Promise<string | null | undefined> {
  const result = await db.query<{ peer_id: string | null }>(
    `SELECT COALESCE(setup #>> '{substrate,peerId}', benchmark_spec #>> '{substrate,peerId}') AS peer_id FROM benchmarks WHERE id = $1`,
    [id],
  );
  return result.rows.length === 0 ? undefined : result.rows[0].peer_id;
}

export interface BenchmarkEventRow {
  id: number;
  benchmark_id: number;
  name: string;
  phase: string;
  created_at: string;
}

export interface NewBenchmarkEvent {
  benchmarkId: number;
  name: string;
  phase: string;
  /** Naive UTC text; undefined means now. */
  createdAt?: string;
}

/** Throws a foreign-key violation (23503) when the benchmark does not exist. */
export async function insertBenchmarkEvent(db: Queryable, e: NewBenchmarkEvent): Promise<BenchmarkEventRow> {
  return (
    await db.query<BenchmarkEventRow>(
      `INSERT INTO benchmark_events (benchmark_id, name, phase, created_at)
       VALUES ($1, $2, $3, COALESCE($4::timestamp, now() AT TIME ZONE 'utc'))
       RETURNING id, benchmark_id, name, phase, created_at`,
      [e.benchmarkId, e.name, e.phase, e.createdAt ?? null],
    )
  ).rows[0];
}

/** By name, then time; one page, after `after` (the last event of the previous page) when given. */
export async function listBenchmarkEvents(db: Queryable, benchmarkId: number, page: PageOptions & { after?: { name: string; createdAt: string; id: number } }): Promise<Page<BenchmarkEventRow>> {
  return readPage<BenchmarkEventRow>(
    db,
    `SELECT id, benchmark_id, name, phase, created_at FROM benchmark_events
      WHERE benchmark_id = $1 AND ($2::text IS NULL OR (name, created_at, id) > ($2::text, $3::timestamp, $4::int))
      ORDER BY name, created_at, id
      LIMIT $5`,
    [benchmarkId, page.after?.name ?? null, page.after?.createdAt ?? null, page.after?.id ?? null, page.limit + 1],
    page,
  );
}
