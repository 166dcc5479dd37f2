// Database-side helpers of the benchmarks: a fresh PostgreSQL database, counts, the raw COPY
// reference, and the check that the database holds exactly what the simulated nodes sent.
import pg from 'pg';
import { createPostgresDatabase } from '../../test/helpers/backends.js';
import type { Database } from '../../src/storage/database.js';
import { copyLogs, type LogRow } from '../../src/storage/substrate-logs.js';
import type { NodeSentRecord } from '../../src/simulator/index.js';

export { createPostgresDatabase };

export function databaseName(url: string): string {
  return new URL(url).pathname.slice(1);
}

/** A plain pg client (the benchmark's own connection: reader, counter). */
export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'tetcore-bench' });
  await client.connect();
  return client;
}

/** Rows stored so far, read from the id sequence (cheap at any table size; exact once writes settle). */
export async function storedBySequence(client: pg.Client): Promise<number> {
  const r = await client.query<{ v: string; called: boolean }>('SELECT last_value AS v, is_called AS called FROM substrate_logs_id_seq');
  return r.rows[0].called ? Number(r.rows[0].v) : 0;
}

export async function countRows(db: { query: Database['query'] } | pg.Client): Promise<number> {
  const r = await (db as pg.Client).query('SELECT count(*)::int AS n FROM substrate_logs');
  return Number((r.rows[0] as { n: number }).n);
}

/** jsonb's text output has a space after every `:` and `,`; drop whitespace outside strings. */
export function compactJson(text: string): string {
  let out = '';
  let start = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x20 || c === 0x0a) {
      out += text.slice(start, i);
      start = i + 1;
    }
  }
  return out + text.slice(start);
}

/** A sample of the rows the server stored (as the server would send them: compact JSON). */
export async function sampleStoredRows(db: Database, limit: number): Promise<LogRow[]> {
  const rows = await db.query<{ created_at: string; logs: string; peer_connection_id: number; audit: boolean }>(
    `SELECT created_at::text AS created_at, logs::text AS logs, peer_connection_id, audit FROM substrate_logs ORDER BY id DESC LIMIT $1`,
    [limit],
  );
  return rows.rows.map((row) => ({ createdAt: row.created_at, logs: compactJson(row.logs), peerConnectionId: row.peer_connection_id, audit: row.audit }));
}

export interface CopyReference {
  connections: number;
  batchRows: number;
  seconds: number;
  rows: number;
  rowsPerSecond: number;
  bytesPerSecond: number;
  databaseCpuCores: number;
}

/**
 * The limit: COPY of already-encoded rows into substrate_logs in batches of `batchRows`, on
 * `connections` concurrent sessions, for `seconds`. Same code path as the writer (copyLogs), minus
 * everything before it (sockets, JSON, buffering).
 */
export async function rawCopy(
  db: Database,
  rows: readonly LogRow[],
  options: { batchRows: number; connections: number; seconds: number; cpu?: () => { stop(): number } },
): Promise<CopyReference> {
  const batches: LogRow[][] = [];
  for (let i = 0; i < Math.max(rows.length, options.batchRows); i += options.batchRows) {
    batches.push(Array.from({ length: options.batchRows }, (_, k) => rows[(i + k) % rows.length]));
  }
  const bytesPerBatch = batches.map((b) => b.reduce((n, r) => n + r.logs.length, 0));
  let copied = 0;
  let bytes = 0;
  let next = 0;
  const cpu = options.cpu?.();
  const t0 = performance.now();
  const deadline = t0 + options.seconds * 1000;
  await Promise.all(
    Array.from({ length: options.connections }, async () => {
      while (performance.now() < deadline) {
        const index = next++ % batches.length;
        const n = await copyLogs(db, batches[index]); // (not `copied += await …`: that reads copied before the await)
        copied += n;
        bytes += bytesPerBatch[index];
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return {
    connections: options.connections,
    batchRows: options.batchRows,
    seconds: round(seconds, 1),
    rows: copied,
    rowsPerSecond: Math.round(copied / seconds),
    bytesPerSecond: Math.round(bytes / seconds),
    databaseCpuCores: cpu ? round(cpu.stop() / seconds, 2) : NaN,
  };
}

export interface SentCheck {
  nodes: number;
  sent: number;
  stored: number;
  /** Nodes whose stored counts (per msg) differ from what they sent. */
  mismatchedNodes: number;
  missing: number;
  extra: number;
  examples: Array<{ node: string; msg: string; sent: number; stored: number }>;
}

/**
 * Compares, node by node and msg by msg, what the simulator says it sent with what the database holds
 * (rows joined to the node's connection rows by peer id = the simulated node's network id).
 */
export async function checkStoredEqualsSent(db: { query: Database['query'] }, records: readonly NodeSentRecord[]): Promise<SentCheck> {
  const r = await db.query<{ peer_id: string | null; msg: string | null; n: number }>(
    `SELECT pc.peer_id, s.msg, count(*)::int AS n
       FROM substrate_logs s JOIN peer_connections pc ON pc.id = s.peer_connection_id
      GROUP BY 1, 2`,
  );
  const stored = new Map<string, Map<string, number>>();
  let storedTotal = 0;
  for (const row of r.rows) {
    const key = row.peer_id ?? '(none)';
    const perMsg = stored.get(key) ?? new Map<string, number>();
    perMsg.set(row.msg ?? '(none)', (perMsg.get(row.msg ?? '(none)') ?? 0) + Number(row.n));
    stored.set(key, perMsg);
    storedTotal += Number(row.n);
  }
  // Several simulated nodes may share a network id (V1 replay): compare per network id.
  const sent = new Map<string, Map<string, number>>();
  let sentTotal = 0;
  for (const record of records) {
    const perMsg = sent.get(record.networkId) ?? new Map<string, number>();
    for (const [msg, count] of Object.entries(record.sent)) perMsg.set(msg, (perMsg.get(msg) ?? 0) + count);
    sent.set(record.networkId, perMsg);
    sentTotal += record.total;
  }
  const check: SentCheck = { nodes: sent.size, sent: sentTotal, stored: storedTotal, mismatchedNodes: 0, missing: 0, extra: 0, examples: [] };
  for (const key of new Set([...sent.keys(), ...stored.keys()])) {
    const a = sent.get(key) ?? new Map<string, number>();
    const b = stored.get(key) ?? new Map<string, number>();
    let mismatch = false;
    for (const msg of new Set([...a.keys(), ...b.keys()])) {
      const s = a.get(msg) ?? 0;
      const t = b.get(msg) ?? 0;
      if (s === t) continue;
      mismatch = true;
      if (s > t) check.missing += s - t;
      else check.extra += t - s;
      if (check.examples.length < 5) check.examples.push({ node: key, msg, sent: s, stored: t });
    }
    if (mismatch) check.mismatchedNodes++;
  }
  return check;
}

export function round(value: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
