// Routes for operators and orchestrators: /health (process up), /ready (database reachable and
// migrated), /stats/version.
import type { FastifyInstance } from 'fastify';
import type { Database } from '../storage/database.js';
import type { Metrics } from '../metrics/catalogue.js';
import { MIGRATION_TABLE, latestMigrationVersion } from '../storage/migrate.js';
import { PACKAGE } from '../package-info.js';

const READY_TIMEOUT_MS = 2_000;

export function registerOpsRoutes(app: FastifyInstance, deps: { db: Database; metrics: Metrics }): void {
  const { db, metrics } = deps;

  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (_request, reply) => {
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
  });

  app.get('/stats/version', async () => {
    metrics.requests.inc();
    return { name: PACKAGE.name, version: PACKAGE.version };
  });
}
