// Database statistics for operators: size of every relation, row estimates, and for each partition of
// substrate_logs the oldest and newest created_at, so retention can be seen working.
import { quoteIdentifier, type Queryable } from './database.js';

export interface RelationStatRow {
  relation: string;
  size: string;
  bytes: number;
  kind: string;
  rows_estimate: number | null;
  oldest_created_at: string | null;
  newest_created_at: string | null;
}

const KINDS = `CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'i' THEN 'index' WHEN 'I' THEN 'partitioned index'
  WHEN 'S' THEN 'sequence' WHEN 't' THEN 'toast table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' ELSE 'other' END`;

/** Size on disk: a table with its TOAST data (the long JSON values), which is not listed on its own; indexes apart. */
const SIZE = `CASE WHEN c.relkind IN ('r', 'm', 't') THEN pg_table_size(c.oid) ELSE pg_relation_size(c.oid) END`;

/** The schemas our migrations create relations in: the current schema, and reference_compat (migration 004). */
const OUR_SCHEMAS = `n.nspname IN (current_schema(), 'reference_compat')`;

/**
 * The relations of our schemas (tables, partitions, indexes, sequences, views), largest first, at most
 * 1000; other schemas of a shared PostgreSQL and the internal pg_toast ones are left out
 * (docs/decisions.md#statsdb-lists-our-relations). `rows_estimate` is the planner's estimate (summed over partitions for
 * a partitioned table; null before the first ANALYZE).
 */
export async function relationStats(db: Queryable): Promise<RelationStatRow[]> {
  const relations = await db.query<RelationStatRow & { oid: number }>(
    `SELECT n.nspname || '.' || c.relname AS relation,
            pg_size_pretty(${SIZE}) AS size,
            ${SIZE} AS bytes,
            ${KINDS} AS kind,
            CASE WHEN c.relkind = 'p' THEN (SELECT sum(l.reltuples)::int8 FROM pg_partition_tree(c.oid) t JOIN pg_class l ON l.oid = t.relid WHERE t.isleaf AND l.reltuples >= 0)
                 WHEN c.relkind IN ('r', 't', 'm') AND c.reltuples >= 0 THEN c.reltuples::int8 END AS rows_estimate,
            NULL::timestamp AS oldest_created_at, NULL::timestamp AS newest_created_at
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${OUR_SCHEMAS}
      ORDER BY ${SIZE} DESC, 1
      LIMIT 1000`,
  );
  const spans = await partitionSpans(db);
  const overall = { oldest: null as string | null, newest: null as string | null };
  for (const span of spans.values()) {
    if (span.oldest !== null && (overall.oldest === null || span.oldest < overall.oldest)) overall.oldest = span.oldest;
    if (span.newest !== null && (overall.newest === null || span.newest > overall.newest)) overall.newest = span.newest;
  }
  spans.set('public.substrate_logs', overall);
  for (const row of relations.rows) {
    const span = spans.get(row.relation);
    if (span) {
      row.oldest_created_at = span.oldest;
      row.newest_created_at = span.newest;
    }
  }
  return relations.rows;
}

/**
 * Refreshes the row estimates of our tables (ANALYZE samples at most 30,000 rows of each). Needed on the
 * embedded database: PGlite runs a single backend with no autovacuum and no statistics collector, so
 * nothing else ever sets pg_class.reltuples there and every estimate would stay null.
 */
export async function refreshRowEstimates(db: Queryable): Promise<void> {
  const tables = await db.query<{ name: string }>(
    `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${OUR_SCHEMAS} AND c.relkind IN ('r', 'm')
      ORDER BY 1`,
  );
  if (tables.rows.length > 0) await db.query(`ANALYZE ${tables.rows.map((t) => t.name).join(', ')}`);
}

/**
 * Oldest and newest created_at of each leaf partition of substrate_logs. Read per connection from
 * substrate_logs_peer_created_idx (two index probes per connection and partition) instead of scanning.
 * Partition names come from the catalog, never from a request.
 */
async function partitionSpans(db: Queryable): Promise<Map<string, { oldest: string | null; newest: string | null }>> {
  const leaves = await db.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_partition_tree('substrate_logs'::regclass) t JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE t.isleaf ORDER BY c.relname`,
  );
  const spans = new Map<string, { oldest: string | null; newest: string | null }>();
  for (const leaf of leaves.rows) {
    const table = `${quoteIdentifier(leaf.schema)}.${quoteIdentifier(leaf.name)}`;
    const span = await db.query<{ oldest: string | null; newest: string | null }>(
      `SELECT min(first.created_at) AS oldest, max(last.created_at) AS newest
         FROM peer_connections pc
        CROSS JOIN LATERAL (SELECT created_at FROM ${table} s WHERE s.peer_connection_id = pc.id ORDER BY created_at LIMIT 1) first
        CROSS JOIN LATERAL (SELECT created_at FROM ${table} s WHERE s.peer_connection_id = pc.id ORDER BY created_at DESC LIMIT 1) last`,
    );
    spans.set(`${leaf.schema}.${leaf.name}`, span.rows[0]);
  }
  return spans;
}
