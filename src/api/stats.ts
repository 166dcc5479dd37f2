// GET /stats/db: relation sizes (the reference's {relation, size}) plus raw bytes, kind, row estimates and,
// for substrate_logs and each of its partitions, the oldest and newest created_at.
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ApiContext } from './index.js';
import { relationStats } from '../storage/db-stats.js';
import { Nullable, QUERY_ERRORS, TimeOutput } from './schemas.js';
import { formatTimestamp } from './time.js';

const RelationStat = Type.Object(
  {
    relation: Type.String({ description: '`schema.name`' }),
    size: Type.String({ description: 'Size of the main fork, pretty-printed (`8192 bytes`, `16 kB`, `123 MB`)' }),
    bytes: Type.Integer({ description: 'Size of the main fork in bytes' }),
    kind: Type.String({ description: 'table, partitioned table, index, partitioned index, sequence, toast table, view, …' }),
    rows_estimate: Nullable(Type.Integer({ description: 'Planner estimate of the rows (tables; summed over partitions); null before the first ANALYZE' })),
    oldest_created_at: Nullable(TimeOutput('substrate_logs and its partitions: the oldest created_at stored')),
    newest_created_at: Nullable(TimeOutput('substrate_logs and its partitions: the newest created_at stored')),
  },
  { title: 'RelationStat' },
);

export function registerStatsRoutes(app: FastifyInstance, { run }: ApiContext): void {
  app.get(
    '/stats/db',
    {
      schema: {
        tags: ['operations'],
        summary: 'Sizes of tables and indexes, row estimates, and the time span of each message partition',
        description: 'Every relation outside pg_catalog and information_schema, largest first, at most 1000.',
        response: { 200: Type.Array(RelationStat), ...QUERY_ERRORS },
      },
    },
    async () => {
      const rows = await run((db) => relationStats(db));
      return rows.map((r) => ({ ...r, oldest_created_at: formatTimestamp(r.oldest_created_at), newest_created_at: formatTimestamp(r.newest_created_at) }));
    },
  );
}
