// Chooses the database backend from the settings: DATABASE_URL, or the embedded database in DATA_DIR.
// With PostgreSQL, ingestion and queries get separate pools, so that a flood of slow queries can never
// take the connections the writer needs (the embedded database is one session shared by both).
import type { Settings } from '../config/settings.js';
import type { Database } from './database.js';
import { PostgresDatabase } from './postgres.js';
import { EmbeddedDatabase } from './embedded.js';
import { DataDirInUseError } from './data-dir-lock.js';
import { AppError } from '../errors.js';

export interface Databases {
  /** Writes of the query routes (POST), readiness: always the primary. */
  queries: Database;
  /** Every read of the query routes, the feed and the dashboards: DATABASE_READ_URL (a streaming replica) when set, else `queries`. */
  reads: Database;
  /** Writer, handshakes, liveness, migrations. */
  ingest: Database;
  /** Partition maintenance and purge: their own connections, so that a purge waiting for readers never holds one a writer needs. */
  retention: Database;
  close(): Promise<void>;
}

type DatabaseSettings = Pick<Settings, 'databaseUrl' | 'databaseReadUrl' | 'dataDir' | 'dbPoolSize' | 'dbWriters' | 'statementTimeoutMs'>;

/** Connections the ingestion pool holds beyond its writers: handshakes, liveness updates. */
const INGEST_SPARE_CONNECTIONS = 2;
/** The purge's session, an attach of its own and one of the maintenance. */
const RETENTION_CONNECTIONS = 3;
/** A query waits at most this long for a free connection before it is answered 503. */
const MAX_QUERY_QUEUE_WAIT_MS = 10_000;

export async function openDatabases(settings: DatabaseSettings): Promise<Databases> {
  if (!settings.databaseUrl) {
    const db = await openEmbedded(settings.dataDir);
    return { queries: db, reads: db, ingest: db, retention: db, close: () => db.close() };
  }
  const ingest = new PostgresDatabase({
    url: settings.databaseUrl,
    poolSize: settings.dbWriters + INGEST_SPARE_CONNECTIONS,
    maxWriters: settings.dbWriters,
    applicationName: 'tetcore-analytics ingest',
  });
  const retention = new PostgresDatabase({
    url: settings.databaseUrl,
    poolSize: RETENTION_CONNECTIONS,
    maxWriters: 0,
    applicationName: 'tetcore-analytics retention',
  });
  const queries = new PostgresDatabase({
    url: settings.databaseUrl,
    poolSize: settings.dbPoolSize,
    maxWriters: 0,
    applicationName: 'tetcore-analytics queries',
    acquireTimeoutMs: Math.min(settings.statementTimeoutMs, MAX_QUERY_QUEUE_WAIT_MS),
  });
  // Pools open connections on first use, so the pools a ROLE does not use cost nothing.
  const reads = settings.databaseReadUrl
    ? new PostgresDatabase({
        url: settings.databaseReadUrl,
        poolSize: settings.dbPoolSize,
        maxWriters: 0,
        applicationName: 'tetcore-analytics reads',
        acquireTimeoutMs: Math.min(settings.statementTimeoutMs, MAX_QUERY_QUEUE_WAIT_MS),
      })
    : queries;
  return {
    queries,
    reads,
    ingest,
    retention,
    async close() {
      await Promise.all([queries.close(), ingest.close(), retention.close(), reads === queries ? null : reads.close()]);
    },
  };
}

/** The embedded database in `dataDir`, or an AppError saying in one line what is wrong with the folder. */
async function openEmbedded(dataDir: string): Promise<EmbeddedDatabase> {
  try {
    return await EmbeddedDatabase.open(dataDir);
  } catch (error) {
    if (error instanceof DataDirInUseError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    // PGlite reports a damaged or foreign folder as a WASM abort ("Aborted()") or a bare ErrnoError.
    const reason = code ? `${code} ${(error as Error).message}` : String((error as Error)?.message || error);
    throw new AppError('EMBEDDED_OPEN_FAILED', `the embedded database in ${dataDir} (DATA_DIR) could not be opened: ${reason.split('\n')[0]}`, { cause: error });
  }
}
