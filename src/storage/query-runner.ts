// Runs the read queries of the query API under a statement timeout: one transaction per request, with
// `statement_timeout` set locally (it ends with the transaction, so pooled sessions are not affected).
// The embedded database accepts the setting but, being single-threaded, cannot interrupt a statement.
// JIT compilation is switched off too: these queries are short, and JIT would add hundreds of
// milliseconds whenever an estimate crosses jit_above_cost. Lists are read a page at a time through a
// cursor (readPage), bounded in rows and in bytes, so no answer holds more than API_MAX_RESPONSE_BYTES.
import type { Database, Queryable } from './database.js';

export type QueryRunner = <T>(fn: (db: Queryable) => Promise<T>) => Promise<T>;

export function createQueryRunner(db: Database, statementTimeoutMs: number): QueryRunner {
  const timeout = String(Math.max(1, Math.floor(statementTimeoutMs)));
  return (fn) =>
    db.transaction(async (tx) => {
      await tx.query(`SELECT set_config('statement_timeout', $1, true), set_config('jit', 'off', true)`, [timeout]);
      return fn(tx);
    });
}

/**
 * Runs `fn` with the planner steered to ordered index scans (no sort, no bitmap scan) for the statements
 * it issues, inside the caller's transaction; restores the settings afterwards. For "newest N rows"
 * queries whose filters the planner cannot estimate (a JSON field, one node among thousands): with a
 * small row estimate it reads every candidate and sorts, where an ordered scan stops after N rows.
 */
export async function withOrderedScans<T>(db: Queryable, fn: () => Promise<T>): Promise<T> {
  await db.query(
    `SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true), set_config('enable_memoize', 'off', true), set_config('jit', 'off', true)`,
  );
  // Not in a finally: when fn fails the transaction is aborted, and restoring would fail and hide fn's error
  // (the settings end with the transaction anyway).
  const result = await fn();
  await db.query(`SELECT set_config('enable_sort', 'on', true), set_config('enable_bitmapscan', 'on', true), set_config('enable_memoize', 'on', true)`);
  return result;
}

/** One page of a list: its rows, and whether more rows follow them. */
export interface Page<T> {
  rows: T[];
  more: boolean;
}

export interface PageOptions {
  /** Rows wanted at most; the statement must produce at most `limit + 1` rows (the extra one tells `more`). */
  limit: number;
  /** Stop adding rows once their text reaches this many characters (one row is always returned). */
  maxBytes: number;
}

/** The size a row takes in a JSON answer, roughly: its text values, plus a little for each field. */
export function rowTextSize(row: object): number {
  let size = 2;
  for (const [key, value] of Object.entries(row)) {
    size += key.length + 4 + (typeof value === 'string' ? value.length + 2 : 24);
  }
  return size;
}

let cursorSequence = 0;
const FIRST_FETCH = 16;
const MAX_FETCH = 1000;

/**
 * Runs `sql` through a cursor inside the caller's transaction and fetches its rows a few at a time, until
 * `limit` rows or `maxBytes` of row text: the database converts (and this process holds) only the rows
 * returned, plus one. Fetch sizes follow the row sizes seen, so one fetch stays near the byte budget.
 */
export async function readPage<T extends object>(db: Queryable, sql: string, params: unknown[], options: PageOptions): Promise<Page<T>> {
  const cursor = `page_${++cursorSequence % 1_000_000}`;
  await db.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR ${sql}`, params);
  const rows: T[] = [];
  let bytes = 0;
  let more = false;
  let fetchSize = FIRST_FETCH;
  try {
    for (;;) {
      const wanted = Math.min(fetchSize, options.limit + 1 - rows.length);
      const batch = (await db.query<T>(`FETCH ${wanted} FROM ${cursor}`)).rows;
      for (const row of batch) {
        const size = rowTextSize(row);
        if (rows.length === options.limit || (rows.length > 0 && bytes + size > options.maxBytes)) {
          more = true;
          break;
        }
        rows.push(row);
        bytes += size;
      }
      if (more || batch.length < wanted) break;
      const average = bytes / Math.max(1, rows.length);
      fetchSize = Math.max(1, Math.min(MAX_FETCH, Math.floor((options.maxBytes - bytes) / Math.max(1, average)) + 1));
    }
  } finally {
    await db.query(`CLOSE ${cursor}`).catch(() => {});
  }
  return { rows, more };
}
