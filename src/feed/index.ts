// Registers the live feed websocket (/feed) and the static dashboards.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Database } from '../storage/database.js';
import type { Metrics } from '../metrics/catalogue.js';
import type { Settings } from '../config/settings.js';

export interface FeedDeps {
  db: Database;
  metrics: Metrics;
  settings: Settings;
  log: Logger;
}

export interface Feed {
  close(): Promise<void>;
  /** Answers a browser's plain GET on `/` (a websocket upgrade on `/` is ingestion). */
  overview?: (request: FastifyRequest, reply: FastifyReply) => unknown;
}

export async function registerFeed(_app: FastifyInstance, _deps: FeedDeps): Promise<Feed> {
  return { close: async () => {} };
}
