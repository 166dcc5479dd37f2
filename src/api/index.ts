// Registers the JSON query routes (nodes, logs, reputation, stats, benchmarks, host systems, analytics) in one
// encapsulated plugin that shares: schema validation (validation.ts), the error format (errors.ts),
// the serializer (json.ts), the statement timeout on every query, and the `requests` counter.
import type { FastifyInstance } from 'fastify';
import type { Database } from '../storage/database.js';
import type { Metrics } from '../metrics/catalogue.js';
import type { Settings } from '../config/settings.js';
import { createQueryRunner, type QueryRunner } from '../storage/query-runner.js';
import { registerDocs } from './docs.js';
import { validatorCompiler } from './validation.js';
import { createErrorHandler } from './errors.js';
import { jsonBodyParser, toJson } from './json.js';
import { limitAnswerMemory } from './answer-budget.js';
import { registerNodeRoutes } from './nodes.js';
import { registerReputationRoutes } from './reputation.js';
import { registerStatsRoutes } from './stats.js';
import { registerBenchmarkRoutes } from './benchmarks.js';
import { registerHostSystemRoutes } from './host-systems.js';
import { registerExportRoutes } from './export.js';
import { registerAnalyticsRoutes } from './analytics.js';

export interface ApiDeps {
  db: Database;
  metrics: Metrics;
  settings: Settings;
}

export interface ApiContext extends ApiDeps {
  /** Runs read/write queries in one transaction under STATEMENT_TIMEOUT_MS. */
  run: QueryRunner;
}

export async function registerApiRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  registerDocs(app);
  const context: ApiContext = { ...deps, run: createQueryRunner(deps.db, deps.settings.statementTimeoutMs) };
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
    registerReputationRoutes(api, context);
    registerStatsRoutes(api, context);
    registerBenchmarkRoutes(api, context);
    registerHostSystemRoutes(api, context);
    registerAnalyticsRoutes(api, context);
    registerExportRoutes(api, context);
  });
}
