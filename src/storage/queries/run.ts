// Runs the read queries of the query API under a statement timeout: one transaction per request, with
// `statement_timeout` set locally (it ends with the transaction, so pooled sessions are not affected).
// The embedded database accepts the setting but, being single-threaded, cannot interrupt a statement.
import type { Database, Queryable } from '../database.js';

export type QueryRunner = <T>(fn: (db: Queryable) => Promise<T>) => Promise<T>;

export function createQueryRunner(db: Database, statementTimeoutMs: number): QueryRunner {
  const timeout = String(Math.max(1, Math.floor(statementTimeoutMs)));
  return (fn) =>
    db.transaction(async (tx) => {
      await tx.query(`SELECT set_config('statement_timeout', $1, true)`, [timeout]);
      return fn(tx);
    });
}
