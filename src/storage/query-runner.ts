// Runs the read queries of the query API under a statement timeout: one transaction per request, with
// `statement_timeout` set locally (it ends with the transaction, so pooled sessions are not affected).
// The embedded database accepts the setting but, being single-threaded, cannot interrupt a statement.
// JIT compilation is switched off too: these queries are short, and JIT would add hundreds of
// milliseconds whenever an estimate crosses jit_above_cost.
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
  try {
    return await fn();
  } finally {
    await db.query(`SELECT set_config('enable_sort', 'on', true), set_config('enable_bitmapscan', 'on', true), set_config('enable_memoize', 'on', true)`);
  }
}
