// Registers the live feed websocket (/feed) and the static dashboards; owns the shared feed cache.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Database, Queryable } from '../storage/database.js';
import type { Admission } from '../api/admission.js';
import type { Metrics } from '../metrics/catalogue.js';
import type { Settings } from '../config/settings.js';
import { FeedCache } from './cache.js';
import { selectFeedRows } from '../storage/substrate-logs.js';
import { FeedRoute } from './route.js';
import { FeedBudget } from './budget.js';
import { AddressKeyBudget } from './key-budget.js';
import { registerDashboards } from './dashboards.js';
import { OriginPolicy } from '../access/origin.js';
import { ClientAddressResolver } from '../access/client-address.js';

export interface FeedDeps {
  /** The read database (DATABASE_READ_URL when set). */
  db: Database;
  /** The query lane's admission control: cache refreshes pass it first in line (/feed/rates is an API route, src/api/index.ts). */
  admission?: Admission;
  metrics: Metrics;
  settings: Settings;
  log: Logger;
}

export interface Feed {
  close(): Promise<void>;
  /** Answers a browser's plain GET on `/` (a websocket upgrade on `/` is ingestion). */
  overview?: (request: FastifyRequest, reply: FastifyReply) => unknown;
  cache?: FeedCache;
}

/** Refresh queries at once: the embedded database runs one query at a time anyway; the query pool also serves the API. */
function refreshConcurrency(db: Database, settings: Settings): number {
  return db.kind === 'embedded' ? 1 : Math.max(1, Math.min(8, Math.floor(settings.dbPoolSize / 4)));
}

export async function registerFeed(app: FastifyInstance, deps: FeedDeps): Promise<Feed> {
  const { db, metrics, settings, log, admission } = deps;
  const admitted = (priority: boolean): Queryable =>
    admission ? { query: (sql, params) => admission.run(() => db.query(sql, params), { priority }) } : db;
  const feedLog = log.child({ component: 'feed' });
  const cache = new FeedCache(
    (key, sinceUs, exceptIds, limit) => selectFeedRows(admitted(true), key.peerId, key.msg, sinceUs, exceptIds, limit),
    {
      updateIntervalMs: settings.cacheUpdateIntervalMs,
      expiryS: settings.cacheExpiryS,
      updateTimeoutS: settings.cacheUpdateTimeoutS,
      maxKeys: settings.feedMaxKeys,
      maxRowsPerKey: settings.feedMaxRowsPerKey,
      maxBytes: settings.feedMaxCacheBytes,
      lateWindowS: settings.feedLateWindowS,
      concurrency: refreshConcurrency(db, settings),
    },
    metrics,
    feedLog,
  );
  const route = new FeedRoute(
    cache,
    {
      maxSubscriptions: settings.feedMaxSubscriptions,
      maxBufferedBytes: settings.feedMaxBufferedBytes,
      maxFrameBytes: settings.feedMaxFrameBytes,
      lateWindowUs: settings.feedLateWindowS * 1_000_000,
    },
    metrics,
    feedLog,
    new OriginPolicy(settings.allowedOrigins),
    { budget: new FeedBudget(settings.feedMaxTotalBufferedBytes, metrics), keyBudget: new AddressKeyBudget(settings.feedMaxKeysPerAddress), addresses: new ClientAddressResolver(settings.trustProxy) },
  );
  route.register(app);
  // Viewers' sockets would keep the HTTP server from closing: close them when the server starts closing.
  app.addHook('preClose', (done) => {
    route.closeAll();
    done();
  });
  const overview = await registerDashboards(app, settings.assetsPath);
  cache.start();
  return {
    overview,
    cache,
    async close() {
      route.closeAll();
      await cache.close();
    },
  };
}
