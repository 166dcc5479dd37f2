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
import { isConnectionError } from './storage/connection-errors.js';
import { attachDatabase, createMetrics, type Metrics } from './metrics/catalogue.js';
import { BatchWriter } from './ingest/writer.js';
import { Spool } from './spool/spool.js';
import { registerIngestStats } from './api/ingest-stats.js';
import { createDropRecorder, createIdentityRejectionRecorder } from './ingest/drops.js';
import { IngestEndpoints } from './ingest/routes.js';
import { Purger } from './purge/purger.js';
import { registerOpsRoutes } from './api/ops.js';
import { registerApiRoutes } from './api/index.js';
import { registerFeed } from './feed/index.js';
import { registerMetricsRoute } from './metrics/route.js';
import { attachChainSeries } from './metrics/chains.js';
import { requireApiToken } from './access/api-token.js';
import { AnalyticsIngest } from './analytics/ingest.js';
import { BlockSummarizer } from './analytics/summarizer.js';
import { MetricsSummary } from './metrics/summary.js';
import { Admission } from './api/admission.js';
import { answerQueriesElsewhere, refuseIngestion, servesIngestion, servesQueries } from './roles.js';
import { describeDatabase, listenError, listenUrl, reservePort, type PortReservation } from './startup.js';

export interface RunningServer {
  app: FastifyInstance;
  port: number;
  /** The primary's query pool: API writes, readiness (and, embedded, everything). */
  db: Database;
  /** Where reads of the API, feed and dashboards go: DATABASE_READ_URL when set, else `db`. */
  reads: Database;
  /** The query lane's admission control (src/api/admission.ts): wrap long-running query handlers with it. */
  admission: Admission;
  /** The database of ingestion: writer, handshakes (the same as `db` when embedded). */
  ingestDb: Database;
  /** Partition maintenance and purge (the same as `db` when embedded). */
  retentionDb: Database;
  writer: BatchWriter;
  /** The disk spool in front of the writer; null with SPOOL_DIR empty. */
  spool: Spool | null;
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
      // Only a database that cannot be reached is waited for: a migration that failed (a changed checksum,
      // an SQL error) fails again on every try, so start-up stops with its message.
      if (!isConnectionError(error) || db.kind === 'embedded') throw error;
      const delay = Math.min(STARTUP_RETRY_MAX_MS, 500 * 2 ** attempt);
      log.warn({ err: (error as Error).message, retryInMs: delay }, 'database unreachable at start-up; retrying');
      await sleep(delay);
    }
  }
}

export interface StartOptions {
  /** Use this (embedded, in-memory) database for everything instead of opening one. */
  db?: Database;
  /** The clock of partition maintenance, purge and /feed/rates (tests run them at fixed instants). */
  clock?: () => number;
}

/**
 * Start-up order: the port is taken first (a port in use is reported before the data is touched), then
 * the database is opened (the embedded one locks DATA_DIR) and migrated, then the parts start and the
 * HTTP server takes the port over. A failure releases what was taken and throws (see startup.ts).
 */
export async function startServer(settings: Settings, log: Logger, options: StartOptions = {}): Promise<RunningServer> {
  const reservation = await reservePort(settings.host, settings.port);
  let databases: Databases | null = null;
  try {
    databases = options.db ? { queries: options.db, reads: options.db, ingest: options.db, retention: options.db, close: () => options.db!.close() } : await openDatabases(settings);
    return await startParts(settings, log, databases, reservation, options.db ? `${options.db.kind} (given by the caller)` : describeDatabase(settings), options);
  } catch (error) {
    await reservation.release();
    // Only what this call opened is closed (a database passed in belongs to the caller).
    if (databases !== null && !options.db) await databases.close().catch(() => {});
    throw error;
  }
}

async function startParts(settings: Settings, log: Logger, databases: Databases, reservation: PortReservation, database: string, options: StartOptions): Promise<RunningServer> {
  const { queries: db, reads, ingest: ingestDb, retention: retentionDb } = databases;
  // ROLE (docs/scaling.md#roles): an ingest server runs the writer, partitions and purge; a query server the API, feed and dashboards.
  const ingesting = servesIngestion(settings.role);
  const querying = servesQueries(settings.role);
  log.info({ database, role: settings.role, reads: reads === db ? 'primary' : 'replica (DATABASE_READ_URL)' }, 'database opened');
  await migrateWhenReachable(ingestDb, log);

  const metrics = createMetrics();
  attachDatabase(metrics, db, 'queries');
  if (ingestDb !== db) attachDatabase(metrics, ingestDb, 'ingest');
  if (retentionDb !== db) attachDatabase(metrics, retentionDb, 'retention');
  if (reads !== db) attachDatabase(metrics, reads, 'reads');
  attachChainSeries(metrics, reads, settings, log.child({ component: 'metrics' }));

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
  // ROLE=all: while the writer is behind (more waiting than its writers take in one round, or paused), queries go one at a time (docs/scaling.md#queries-in-their-own-lane).
  const ingestionBehind = ingesting ? () => writer.isPaused || writer.pendingRows > 2 * settings.dbBatchSize * settings.dbWriters : undefined;
  const admission = new Admission({ concurrency: settings.queryConcurrency, queueMax: settings.queryQueueMax, queueWaitMs: settings.queryQueueWaitMs, ingestionBehind }, metrics);
  // socket → parser → spool → writer → database (docs/spool.md); without a spool, straight to the writer.
  const spool = !ingesting || settings.spoolDir === '' ? null : await Spool.open({ dir: settings.spoolDir, maxBytes: settings.spoolMaxBytes, fsyncMs: settings.spoolFsyncMs }, writer, ingestDb, metrics, log.child({ component: 'spool' }), recordDrop);
  if (spool !== null) {
    writer.on('pause', () => spool.writerPaused(true));
    writer.on('resume', () => spool.writerPaused(false));
  }
  // Network analytics: figures of settled blocks (docs/analytics.md).
  const summarizer = settings.analytics && ingesting ? new BlockSummarizer(ingestDb, { settleS: settings.analyticsSettleS, intervalS: settings.analyticsSummaryIntervalS }, metrics, log) : null;
  summarizer?.start();
  const purger = new Purger(retentionDb, settings, metrics, log.child({ component: 'retention' }), { clock: options.clock });
  if (ingesting) await purger.start();
  spool?.start();

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
  const ingest = new IngestEndpoints({ settings, db: ingestDb, writer: spool ?? writer, metrics, log, recordDrop, recordIdentityRejected: createIdentityRejectionRecorder(metrics, log) });
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
  const feed = querying ? await registerFeed(app, { db: reads, admission, metrics, settings, log }) : null;
  if (ingesting) ingest.register(app, { httpRoot: feed?.overview });
  else refuseIngestion(app, metrics, feed?.overview);
  registerOpsRoutes(app, { db, metrics, log, spooling: () => spool !== null && !spool.isPaused });
  registerIngestStats(app, { metrics, writer, spool });
  registerMetricsRoute(app, metrics);
  if (querying) await registerApiRoutes(app, { db, reads, admission, metrics, settings, clock: options.clock });
  else answerQueriesElsewhere(app);

  const summary = new MetricsSummary(metrics, log, { maxRows: settings.bufferMaxRows, maxBytes: settings.bufferMaxBytes });
  let closing: Promise<number> | null = null;
  const close = () =>
    (closing ??= (async () => {
      summary.stop();
      await ingest.closeAll();
      const closed = app.close();
      spool?.stopReading();
      const lost = await writer.drain(settings.shutdownTimeoutS * 1000);
      spool?.close();
      await closed;
      await feed?.close();
      await purger.stop();
      await summarizer?.stop();
      await databases.close();
      log.info({ stored: writer.stored, lost }, 'shut down');
      return lost;
    })());

  // Everything is ready before the port changes hands, so the gap without a listener is as short as can be.
  await app.ready();
  await reservation.release();
  try {
    // PORT=0 (tests) means any free port: nothing to keep, so no other process can take it in between.
    await app.listen({ port: settings.port === 0 ? 0 : reservation.port, host: settings.host, backlog: settings.maxPendingConnections });
  } catch (error) {
    // Another process took the port in that gap: stop what started (nothing was received yet).
    await close().catch(() => 0);
    throw listenError(error as NodeJS.ErrnoException, settings.host, reservation.port);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : reservation.port;
  log.info({ url: listenUrl(settings.host, port), port, database }, 'tetcore-analytics listening');
  summary.start();

  return { app, port, db, reads, admission, ingestDb, retentionDb, writer, spool, metrics, summarizer, ingest, purger, close };
}
