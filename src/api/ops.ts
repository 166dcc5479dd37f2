// Routes for operators and orchestrators: /health (process up), /ready (database reachable and
// migrated), /stats/version. Registers the OpenAPI documentation first, so that these routes and the
// query routes registered after them are all documented.
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Database } from '../storage/database.js';
import type { Metrics } from '../metrics/catalogue.js';
import { MIGRATION_TABLE, latestMigrationVersion } from '../storage/migrate.js';
import { PACKAGE } from '../package-info.js';
import { registerDocs } from './docs.js';

const READY_TIMEOUT_MS = 2_000;

const Status = Type.Object({ status: Type.String() }, { additionalProperties: true });

export function registerOpsRoutes(app: FastifyInstance, deps: { db: Database; metrics: Metrics }): void {
  const { db, metrics } = deps;
  registerDocs(app);

  void app.register(async (ops) => {
    ops.get('/health', { schema: { tags: ['operations'], summary: 'The process is up', response: { 200: Status } } }, async () => ({ status: 'ok' }));

    ops.get(
      '/ready',
      {
        schema: {
          tags: ['operations'],
          summary: 'The database is reachable and every migration is applied',
          response: {
            200: Type.Object({ status: Type.Literal('ready'), database: Type.String(), migration: Type.Integer() }),
            503: Type.Object({ status: Type.Literal('not ready'), reason: Type.String() }),
          },
        },
      },
      async (_request, reply) => {
        const expected = await latestMigrationVersion();
        try {
          const result = await Promise.race([
            db.query<{ version: number }>(`SELECT max(version)::int AS version FROM ${MIGRATION_TABLE}`),
            new Promise<never>((_, reject) => setTimeout(() => reject(new Error('database did not answer in time')), READY_TIMEOUT_MS).unref()),
          ]);
          const version = result.rows[0]?.version ?? 0;
          if (version < expected) return reply.code(503).send({ status: 'not ready', reason: `migrations at ${version}, expected ${expected}` });
          return { status: 'ready', database: db.kind, migration: version };
        } catch (error) {
          return reply.code(503).send({ status: 'not ready', reason: `database unavailable: ${(error as Error).message}` });
        }
      },
    );

    ops.get(
      '/stats/version',
      {
        schema: {
          tags: ['operations'],
          summary: 'Name, version and description of the server',
          response: { 200: Type.Object({ name: Type.String(), version: Type.String(), description: Type.String() }) },
        },
      },
      async () => {
        metrics.requests.inc();
        return { name: PACKAGE.name, version: PACKAGE.version, description: PACKAGE.description };
      },
    );
  });
}
