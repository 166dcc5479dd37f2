// Registers the JSON query routes (nodes, logs, reputation, stats, benchmarks, host systems).
import type { FastifyInstance } from 'fastify';
import type { Database } from '../storage/database.js';
import type { Metrics } from '../metrics/catalogue.js';
import type { Settings } from '../config/settings.js';

export interface ApiDeps {
  db: Database;
  metrics: Metrics;
  settings: Settings;
}

export async function registerApiRoutes(_app: FastifyInstance, _deps: ApiDeps): Promise<void> {
  // Routes are added here by the query API.
}
