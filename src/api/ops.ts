// Routes for operators and orchestrators: /health (process up), /ready (database reachable and
// migrated), /stats/version. Registers the OpenAPI documentation first, so that these routes and the
// query routes registered after them are all documented.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Type } from '@sinclair/typebox';
import type { Database } from '../storage/database.js';
import type { Metrics } from '../metrics/catalogue.js';
import { MIGRATION_TABLE, latestMigrationVersion } from '../storage/migrate.js';
import { PACKAGE } from '../package-info.js';
import { registerDocs } from './docs.js';

const READY_TIMEOUT_MS = 2_000;

const Status = Type.Object({ status: Type.String() }, { additionalProperties: true });

/**
 * Logs why the database is unavailable once per change of the reason, not at every probe (orchestrators
 * probe every few seconds), and once when it is back.
 */
class ReadinessLog {
  private problem: string | null = null;

  constructor(private readonly log: Logger) {}

  failing(detail: string): void {
    if (detail === this.problem) return;
    this.problem = detail;
    this.log.warn({ detail }, '/ready: database unavailable');
  }

  ready(): void {
    if (this.problem === null) return;
    this.problem = null;
    this.log.info('/ready: database available again');
  }
}

export function registerOpsRoutes(app: FastifyInstance, deps: { db: Database; metrics: Metrics; log: Logger; spooling?: () => boolean }): void {
  const { db, metrics } = deps;
  const readiness = new ReadinessLog(deps.log);
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
          readiness.ready();
          const version = result.rows[0]?.version ?? 0;
          if (version < expected) return reply.code(503).send({ status: 'not ready', reason: `migrations at ${version}, expected ${expected}` });
          return { status: 'ready', database: db.kind, migration: version };
        } catch (error) {
          // The database's own message names databases, users and hosts: for the log, not for anyone probing.
          readiness.failing(String((error as Error)?.message ?? error));
          // The disk spool takes every message while the database is away: the server is doing its job (docs/spool.md).
          if (deps.spooling?.() === true) return { status: 'ready', database: 'unavailable: spooling', migration: expected };
          return reply.code(503).send({ status: 'not ready', reason: 'database unavailable' });
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
