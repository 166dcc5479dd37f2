// Builds and starts one server instance from its settings: database, migrations, writer, purge,
// HTTP/websocket routes. Returns a handle whose `close()` shuts down without losing buffered messages.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import type { Logger } from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Settings } from './config/settings.js';
import type { Database } from './storage/database.js';
import { openDatabases, type Databases } from './storage/open.js';
import { migrate } from './storage/migrate.js';
import { attachDatabase, createMetrics, type Metrics } from './metrics/catalogue.js';
import { BatchWriter } from './ingest/writer.js';
import { createDropRecorder } from './ingest/drops.js';
import { IngestEndpoints } from './ingest/routes.js';
import { Purger } from './purge/purger.js';
import { registerOpsRoutes } from './api/ops.js';
import { registerApiRoutes } from './api/index.js';
import { registerFeed } from './feed/index.js';
import { registerMetricsRoute } from './metrics/route.js';
import { requireApiToken } from './access/api-token.js';
import { AnalyticsIngest } from './analytics/ingest.js';
import { BlockSummarizer } from './analytics/summarizer.js';

export interface RunningServer {
  app: FastifyInstance;
  port: number;
  /** The database of queries (and, embedded, of everything). */
  db: Database;
  /** The database of ingestion: writer, handshakes, purge (the same as `db` when embedded). */
  ingestDb: Database;
  writer: BatchWriter;
  metrics: Metrics;
  /** The block summary job of network analytics; null with ANALYTICS=false. */
  summarizer: BlockSummarizer | null;
  ingest: IngestEndpoints;
  purger: Purger;
  /** Stops accepting, closes node sockets, writes everything buffered; resolves with rows lost. */
  close(): Promise<number>;
}

const STARTUP_RETRY_MAX_MS = 10_000;

/** Migrates, retrying while the database is unreachable (a server may start before its database). */
async function migrateWhenReachable(db: Database, log: Logger): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await migrate(db);
      if (result.applied.length > 0) log.info({ applied: result.applied }, 'migrations applied');
      return;
    } catch (error) {
      const code = (error as { cause?: { code?: string } }).cause?.code;
      const unreachable = code === undefined || code === 'ECONNREFUSED' || code.startsWith('08') || code === '57P03' || code === 'ETIMEDOUT' || code === 'ENOTFOUND';
      if (!unreachable || db.kind === 'embedded') throw error;
      const delay = Math.min(STARTUP_RETRY_MAX_MS, 500 * 2 ** attempt);
      log.warn({ err: (error as Error).message, retryInMs: delay }, 'database unreachable at start-up; retrying');
      await sleep(delay);
    }
  }
}

/** `options.db`: use this (embedded, in-memory) database for everything instead of opening one. */
export async function startServer(settings: Settings, log: Logger, options: { db?: Database } = {}): Promise<RunningServer> {
  const databases: Databases = options.db ? { queries: options.db, ingest: options.db, close: () => options.db!.close() } : await openDatabases(settings);
  const { queries: db, ingest: ingestDb } = databases;
  log.info({ database: db.kind }, 'database opened');
  await migrateWhenReachable(ingestDb, log);

  const metrics = createMetrics();
  attachDatabase(metrics, db, 'queries');
  if (ingestDb !== db) attachDatabase(metrics, ingestDb, 'ingest');
  const recordDrop = createDropRecorder(metrics, log);
  const writer = new BatchWriter(
    ingestDb,
    {
      batchSize: settings.dbBatchSize,
      saveLatencyMs: settings.dbSaveLatencyMs,
      maxWriters: Math.max(1, Math.min(settings.dbWriters, ingestDb.maxWriters)),
      bufferMaxRows: settings.bufferMaxRows,
      bufferMaxBytes: settings.bufferMaxBytes,
    },
    metrics,
    log,
    recordDrop,
    settings.analytics ? new AnalyticsIngest(metrics, log) : null,
  );
  // Network analytics: figures of settled blocks (docs/analytics.md).
  const summarizer = settings.analytics ? new BlockSummarizer(ingestDb, { settleS: settings.analyticsSettleS, intervalS: settings.analyticsSummaryIntervalS }, metrics, log) : null;
  summarizer?.start();
  const purger = new Purger(ingestDb, settings, metrics, log);
  await purger.start();

  const httpLog = log.child({ component: 'http' }, { level: ['trace', 'debug'].includes(settings.logLevel) ? settings.logLevel : 'warn' });
  const app = Fastify({
    loggerInstance: httpLog as unknown as FastifyBaseLogger,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
    bodyLimit: 1024 * 1024,
    // Incomplete requests and handshakes (slowloris) are closed after HANDSHAKE_TIMEOUT_S; upgraded
    // websockets are not subject to it.
    http: { headersTimeout: settings.handshakeTimeoutS * 1000, connectionsCheckingInterval: Math.min(1000, settings.handshakeTimeoutS * 500) },
    requestTimeout: Math.max(settings.handshakeTimeoutS * 1000, 60_000),
  });
  if (settings.apiToken !== null) requireApiToken(app, { token: settings.apiToken, metricsPublic: settings.metricsPublic });
  const ingest = new IngestEndpoints({ settings, db: ingestDb, writer, metrics, log, recordDrop });
  await app.register(websocket, {
    options: { maxPayload: settings.wsMaxPayload, perMessageDeflate: false, skipUTF8Validation: true },
    // Errors on established sockets (oversized frame: ws closes with 1009; resets) are the peer's doing.
    errorHandler: (error, socket, request) => {
      request.log.debug({ err: error.message, code: (error as { code?: string }).code }, 'websocket error');
      socket.terminate();
    },
    // Sockets are closed by shutdown() below, after which the writer drains.
    preClose: async () => {
      await ingest.closeAll();
    },
  });
  const feed = await registerFeed(app, { db, metrics, settings, log });
  ingest.register(app, { httpRoot: feed.overview });
  registerOpsRoutes(app, { db, metrics });
  registerMetricsRoute(app, metrics);
  await registerApiRoutes(app, { db, metrics, settings });

  await app.listen({ port: settings.port, host: settings.host, backlog: settings.maxPendingConnections });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : settings.port;
  log.info({ port, database: db.kind }, 'tetcore-analytics listening');

  let closing: Promise<number> | null = null;
  const close = () =>
    (closing ??= (async () => {
      await ingest.closeAll();
      const closed = app.close();
      const lost = await writer.drain(settings.shutdownTimeoutS * 1000);
      await closed;
      await feed.close();
      await purger.stop();
      await summarizer?.stop();
      await databases.close();
      log.info({ stored: writer.stored, lost }, 'shut down');
      return lost;
    })());

  return { app, port, db, ingestDb, writer, metrics, summarizer, ingest, purger, close };
}
