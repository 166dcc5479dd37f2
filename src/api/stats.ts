// GET /stats/db: relation sizes (the reference's {relation, size}) plus raw bytes, kind, row estimates and,
// for substrate_logs and each of its partitions, the oldest and newest created_at.
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ApiContext } from './index.js';
import { refreshRowEstimates, relationStats } from '../storage/db-stats.js';
import { Nullable, QUERY_ERRORS, TimeOutput } from './schemas.js';
import { formatTimestamp } from '../domain/time.js';

const RelationStat = Type.Object(
  {
    relation: Type.String({ description: '`schema.name`' }),
    size: Type.String({ description: 'Size on disk, pretty-printed (`8192 bytes`, `16 kB`, `123 MB`); a table includes its TOAST data, not its indexes' }),
    bytes: Type.Integer({ description: 'Size on disk in bytes; a table includes its TOAST data, not its indexes' }),
    kind: Type.String({ description: 'table, partitioned table, index, partitioned index, sequence, toast table, view, …' }),
    rows_estimate: Nullable(Type.Integer({ description: 'Planner estimate of the rows (tables; summed over partitions); null before the first ANALYZE' })),
    oldest_created_at: Nullable(TimeOutput('substrate_logs and its partitions: the oldest created_at stored')),
    newest_created_at: Nullable(TimeOutput('substrate_logs and its partitions: the newest created_at stored')),
  },
  { title: 'RelationStat' },
);

/** The embedded database refreshes its row estimates on request, at most this often (see refreshRowEstimates). */
const EMBEDDED_ESTIMATES_MAX_AGE_MS = 60_000;

export function registerStatsRoutes(app: FastifyInstance, { run, db }: ApiContext): void {
  let estimatesRefreshedAt = -Infinity;
  app.get(
    '/stats/db',
    {
      schema: {
        tags: ['operations'],
        summary: 'Sizes of tables and indexes, row estimates, and the time span of each message partition',
        description: 'The relations of our schemas (tables, partitions, indexes, sequences, views), largest first, at most 1000.',
        response: { 200: Type.Array(RelationStat), ...QUERY_ERRORS },
      },
    },
    async () => {
      const rows = await run(async (tx) => {
        if (db.kind === 'embedded' && Date.now() - estimatesRefreshedAt >= EMBEDDED_ESTIMATES_MAX_AGE_MS) {
          await refreshRowEstimates(tx);
          estimatesRefreshedAt = Date.now();
        }
        return relationStats(tx);
      });
      return rows.map((r) => ({ ...r, oldest_created_at: formatTimestamp(r.oldest_created_at), newest_created_at: formatTimestamp(r.newest_created_at) }));
    },
  );
}
