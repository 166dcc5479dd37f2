// Registers the JSON query routes (nodes, logs, reputation, stats, benchmarks, host systems, analytics, /feed/rates) in one
// encapsulated plugin that shares: schema validation (validation.ts), the error format (errors.ts),
// the serializer (json.ts), the statement timeout on every query, and the `requests` counter.
import type { FastifyInstance } from 'fastify';
import type { Database } from '../storage/database.js';
import type { Metrics } from '../metrics/catalogue.js';
import type { Settings } from '../config/settings.js';
import { createQueryRunner, type QueryRunner } from '../storage/query-runner.js';
import type { Admission } from './admission.js';
import { registerDocs } from './docs.js';
import { validatorCompiler } from './validation.js';
import { createErrorHandler, databaseError } from './errors.js';
import { AppError } from '../errors.js';
import { jsonBodyParser, toJson } from './json.js';
import { limitAnswerMemory } from './answer-budget.js';
import { registerNodeRoutes } from './nodes.js';
import { registerReputationRoutes } from './reputation.js';
import { registerStatsRoutes } from './stats.js';
import { registerBenchmarkRoutes } from './benchmarks.js';
import { registerHostSystemRoutes } from './host-systems.js';
import { registerExportRoutes } from './export.js';
import { registerAnalyticsRoutes } from './analytics.js';
import { registerNetworkSummaryRoute } from './network-summary.js';
import { registerRatesRoute } from '../feed/rates.js';

export interface ApiDeps {
  /** The primary: the few writes of the API (POST routes). */
  db: Database;
  /** Where reads go: DATABASE_READ_URL (a replica) when set, else `db`. */
  reads?: Database;
  /** The query lane's admission control (src/api/admission.ts); every transaction of the API passes it. */
  admission?: Admission;
  metrics: Metrics;
  settings: Settings;
  /** Epoch ms: the end of /feed/rates' window and its refresh (tests use fixed instants). */
  clock?: () => number;
}

export interface ApiContext extends ApiDeps {
  /** Runs read queries in one transaction under STATEMENT_TIMEOUT_MS, on the read database. */
  run: QueryRunner;
  /** Runs queries that write (or must see what was just written) on the primary. */
  write: QueryRunner;
}

/** A replica that cannot be reached is named as such in the 503 (the primary, and ingestion, may be fine). */
function namingReplica(runner: QueryRunner, statementTimeoutMs: number): QueryRunner {
  return async (fn) => {
    try {
      return await runner(fn);
    } catch (error) {
      if (databaseError(error, statementTimeoutMs).code !== 'DB_UNAVAILABLE') throw error;
      throw new AppError('DB_UNAVAILABLE', 'the read database (DATABASE_READ_URL, a replica) is unavailable; try again later', { cause: error });
    }
  };
}

export async function registerApiRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  registerDocs(app);
  const admit = (runner: QueryRunner): QueryRunner => (deps.admission ? (fn) => deps.admission!.run(() => runner(fn)) : runner);
  const reads = deps.reads ?? deps.db;
  const context: ApiContext = {
    ...deps,
    run: admit(reads === deps.db ? createQueryRunner(reads, deps.settings.statementTimeoutMs) : namingReplica(createQueryRunner(reads, deps.settings.statementTimeoutMs), deps.settings.statementTimeoutMs)),
    write: admit(createQueryRunner(deps.db, deps.settings.statementTimeoutMs)),
  };
  await app.register(async (api) => {
    api.setValidatorCompiler(validatorCompiler);
    api.setSerializerCompiler(() => toJson);
    api.setReplySerializer(toJson);
    api.setErrorHandler(createErrorHandler(deps.settings.statementTimeoutMs));
    // Bodies are JSON only (application/json or any +json type); anything else is answered with 415.
    api.removeAllContentTypeParsers();
    api.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => jsonBodyParser(request, body as string, done));
    api.addContentTypeParser(/^application\/[\w.-]+\+json$/i, { parseAs: 'string' }, (request, body, done) => jsonBodyParser(request, body as string, done));
    api.addHook('onRequest', async () => {
      deps.metrics.requests.inc();
    });
    limitAnswerMemory(api, deps.settings.apiMaxTotalResponseBytes, deps.metrics);
    registerNodeRoutes(api, context);
    registerNetworkSummaryRoute(api, context);
    registerReputationRoutes(api, context);
    registerStatsRoutes(api, context);
    registerBenchmarkRoutes(api, context);
    registerHostSystemRoutes(api, context);
    registerAnalyticsRoutes(api, context);
    registerExportRoutes(api, context);
    // The dashboards' JSON route (its module lives with the feed): the API's timeout, errors and metrics.
    registerRatesRoute(api, context.run, deps.clock);
  });
}
