// All SQL of `ingest_batches`: the markers that make a batch write idempotent across retries.
import type { Queryable } from './database.js';

export async function recordBatch(tx: Queryable, batchId: string, rowCount: number): Promise<void> {
  await tx.query('INSERT INTO ingest_batches (batch_id, row_count) VALUES ($1, $2)', [batchId, rowCount]);
}

export async function batchCommitted(db: Queryable, batchId: string): Promise<boolean> {
  const result = await db.query('SELECT 1 FROM ingest_batches WHERE batch_id = $1', [batchId]);
  return result.rows.length > 0;
}

/** Markers are only needed while a retry may still come: a day is far beyond any retry. */
export async function purgeBatchMarkers(db: Queryable, olderThan: string): Promise<number> {
  return (await db.query('DELETE FROM ingest_batches WHERE created_at < $1', [olderThan])).rowCount;
}
