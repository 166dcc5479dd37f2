// Every setting of the server: its environment variable, default, documentation and parser.
// The table below is the single source of truth; the README's settings table is checked against it.
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import dotenv from 'dotenv';
import { AppError } from '../errors.js';
import type { TrustProxy } from '../access/client-address.js';
import { parseOrigin } from '../access/origin.js';
import { CONNECTED_WINDOW_S, MAX_LIVENESS_INTERVAL_S } from '../domain/liveness.js';

export interface Settings {
  port: number;
  host: string;
  databaseUrl: string | null;
  databaseReadUrl: string | null;
  role: 'all' | 'ingest' | 'query';
  dataDir: string;
  heartbeatIntervalS: number;
  clientTimeoutS: number;
  purgeIntervalS: number;
  logExpiryH: number;
  partitionIntervalH: number;
  partitionsAhead: number;
  maxPendingConnections: number;
  wsMaxPayload: number;
  numThreads: number;
  dbPoolSize: number;
  dbBatchSize: number;
  dbSaveLatencyMs: number;
  dbWriters: number;
  bufferMaxRows: number;
  bufferMaxBytes: number;
  spoolDir: string;
  spoolMaxBytes: number;
  spoolFsyncMs: number;
  maxNodesPerConnection: number;
  maxFutureSkewS: number;
  livenessIntervalS: number;
  statementTimeoutMs: number;
  handshakeTimeoutS: number;
  shutdownTimeoutS: number;
  cacheUpdateTimeoutS: number;
  cacheUpdateIntervalMs: number;
  cacheExpiryS: number;
  feedMaxKeys: number;
  feedMaxRowsPerKey: number;
  feedMaxCacheBytes: number;
  feedLateWindowS: number;
  feedMaxSubscriptions: number;
  feedMaxBufferedBytes: number;
  feedMaxFrameBytes: number;
  feedMaxTotalBufferedBytes: number;
  feedMaxKeysPerAddress: number;
  apiMaxResponseBytes: number;
  apiMaxTotalResponseBytes: number;
  queryConcurrency: number;
  queryQueueMax: number;
  queryQueueWaitMs: number;
  assetsPath: string;
  trustProxy: TrustProxy;
  allowedOrigins: string[];
  ingestAllow: string[];
  apiToken: string | null;
  metricsPublic: boolean;
  metricsMaxChains: number;
  metricsPerNode: boolean;
  metricsMaxNodes: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  logLevel: string;
  analytics: boolean;
  analyticsSettleS: number;
  analyticsSummaryIntervalS: number;
  logFormat: 'json' | 'pretty' | 'auto';
}

type Parser<T> = (raw: string) => T;
interface SettingSpec<K extends keyof Settings> {
  key: K;
  env: string;
  /** Shown in the README; `null` means "computed", see `describeDefault`. */
  defaultText: string;
  description: string;
  parse: Parser<Settings[K]>;
  /** The default when the variable is unset; may depend on settings parsed before it. */
  fallback: (s: Partial<Settings>) => Settings[K];
}

/** Thrown when a setting has an invalid value; start-up stops with its message. */
export class SettingError extends AppError {
  constructor(env: string, expected: string, raw: string) {
    super('CONFIG_INVALID', `${env}=${JSON.stringify(raw)} is invalid: expected ${expected}`);
  }
}

function integer(env: string, min: number, max = Number.MAX_SAFE_INTEGER): Parser<number> {
  const expected = `an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`} (underscores allowed, e.g. 524_288)`;
  return (raw) => {
    const cleaned = raw.trim();
    if (!/^-?\d+(_\d+)*$/.test(cleaned)) throw new SettingError(env, expected, raw);
    const value = Number(cleaned.replaceAll('_', ''));
    if (!Number.isSafeInteger(value) || value < min || value > max) throw new SettingError(env, expected, raw);
    return value;
  };
}

function boolean(env: string): Parser<boolean> {
  return (raw) => {
    const v = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
    throw new SettingError(env, 'true or false', raw);
  };
}

function text(env: string, allowEmpty = false): Parser<string> {
  return (raw) => {
    if (!allowEmpty && raw.trim() === '') throw new SettingError(env, 'a non-empty value', raw);
    return raw.trim();
  };
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
/** Accepts pino levels and RUST_LOG-style filters such as `debug` or `tetcore_analytics=debug,actix=info`. */
function logLevel(env: string): Parser<string> {
  return (raw) => {
    const parts = raw.split(',').map((p) => p.trim()).filter(Boolean);
    let chosen: string | null = null;
    for (const part of parts) {
      const level = (part.includes('=') ? part.split('=')[1] : part).toLowerCase();
      const mapped = level === 'off' ? 'silent' : level;
      if (!LOG_LEVELS.includes(mapped)) throw new SettingError(env, `one of ${LOG_LEVELS.join(', ')}`, raw);
      if (chosen === null || LOG_LEVELS.indexOf(mapped) < LOG_LEVELS.indexOf(chosen)) chosen = mapped;
    }
    if (chosen === null) throw new SettingError(env, `one of ${LOG_LEVELS.join(', ')}`, raw);
    return chosen;
  };
}

function oneOf<T extends string>(env: string, values: readonly T[]): Parser<T> {
  return (raw) => {
    const value = raw.trim().toLowerCase();
    if (!(values as readonly string[]).includes(value)) throw new SettingError(env, `one of ${values.join(', ')}`, raw);
    return value as T;
  };
}

/** A comma-separated list of CIDR blocks or single addresses, IPv4 or IPv6; empty means "anyone". */
function cidrList(env: string): Parser<string[]> {
  return (raw) => {
    const entries = raw.split(',').map((e) => e.trim()).filter(Boolean);
    for (const entry of entries) {
      const [address, prefix, extra] = entry.split('/');
      const family = net.isIP(address);
      const bits = family === 4 ? 32 : 128;
      const validPrefix = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
      if (family === 0 || !validPrefix || extra !== undefined) throw new SettingError(env, 'a comma-separated list of CIDR blocks such as 10.0.0.0/8,2001:db8::/32', raw);
    }
    return entries;
  };
}

const MAX_PROXY_HOPS = 16;

/** false, true (= 1), a number of proxies, or the proxies' addresses and CIDR blocks. */
function trustProxy(env: string): Parser<TrustProxy> {
  const expected = `false, true, a number of proxies in front (1 to ${MAX_PROXY_HOPS}), or the proxies' addresses/CIDR blocks, comma-separated`;
  return (raw) => {
    const value = raw.trim().toLowerCase();
    if (['0', 'false', 'no', 'off', ''].includes(value)) return { kind: 'none' };
    if (['true', 'yes', 'on'].includes(value)) return { kind: 'hops', hops: 1 };
    if (/^\d+$/.test(value)) {
      const hops = Number(value);
      if (hops > MAX_PROXY_HOPS) throw new SettingError(env, expected, raw);
      return { kind: 'hops', hops };
    }
    try {
      return { kind: 'addresses', proxies: cidrList(env)(raw) };
    } catch {
      throw new SettingError(env, expected, raw);
    }
  };
}

/** A comma-separated list of web origins (`https://host[:port]`), held in canonical form. */
function originList(env: string): Parser<string[]> {
  return (raw) => {
    const origins: string[] = [];
    for (const entry of raw.split(',').map((e) => e.trim()).filter(Boolean)) {
      const origin = parseOrigin(entry);
      if (origin === null) throw new SettingError(env, 'a comma-separated list of origins such as https://dashboards.example.com,http://localhost:3000 (scheme, host and port; no path)', raw);
      origins.push(origin);
    }
    return origins;
  };
}

function optionalSecret(env: string): Parser<string | null> {
  return (raw) => {
    const value = raw.trim();
    if (value === '') return null;
    if (value.length < 16) throw new SettingError(env, 'at least 16 characters', '***');
    return value;
  };
}

function databaseUrl(env: string): Parser<string | null> {
  return (raw) => {
    const value = raw.trim();
    if (value === '') return null;
    try {
      const url = new URL(value);
      if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new Error('protocol');
    } catch {
      throw new SettingError(env, 'a postgres:// or postgresql:// URL', raw);
    }
    return value;
  };
}

const cpus = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);

function spec<K extends keyof Settings>(s: SettingSpec<K>): SettingSpec<K> {
  return s;
}

export const SETTINGS = [
  spec({ key: 'port', env: 'PORT', defaultText: '8080', description: 'TCP port of the HTTP and websocket server', parse: integer('PORT', 0, 65535), fallback: () => 8080 }),
  spec({ key: 'host', env: 'HOST', defaultText: '0.0.0.0', description: 'Address to listen on', parse: text('HOST'), fallback: () => '0.0.0.0' }),
  spec({ key: 'databaseUrl', env: 'DATABASE_URL', defaultText: '(unset: embedded database)', description: 'PostgreSQL URL; when unset an embedded PostgreSQL (PGlite) stores its data in `DATA_DIR`', parse: databaseUrl('DATABASE_URL'), fallback: () => null }),
  spec({ key: 'databaseReadUrl', env: 'DATABASE_READ_URL', defaultText: '(unset: reads go to `DATABASE_URL`)', description: 'PostgreSQL URL of a streaming replica of `DATABASE_URL`: every read of the query API, `/feed` and the dashboards goes to it; writes, migrations, partitions and the purge stay on `DATABASE_URL` (docs/scaling.md). Needs `DATABASE_URL`', parse: databaseUrl('DATABASE_READ_URL'), fallback: () => null }),
  spec({ key: 'role', env: 'ROLE', defaultText: 'all', description: '`all`: everything in one server; `ingest`: node websockets (`/`, `/audit`), the writer, partitions and the purge; `query`: the query API, `/feed` and the dashboards. Both also answer `/metrics`, `/health`, `/ready`; run any number of each against one database (docs/scaling.md)', parse: oneOf('ROLE', ['all', 'ingest', 'query'] as const), fallback: () => 'all' as const }),
  spec({ key: 'dataDir', env: 'DATA_DIR', defaultText: './data', description: 'Data folder: the embedded database (unused by it with `DATABASE_URL`) and, by default, the disk spool (`SPOOL_DIR`); one server at a time uses it (lock file `tetcore-analytics.lock`)', parse: text('DATA_DIR'), fallback: () => './data' }),
  spec({ key: 'heartbeatIntervalS', env: 'HEARTBEAT_INTERVAL', defaultText: '5', description: 'Seconds between pings to nodes and between liveness checks', parse: integer('HEARTBEAT_INTERVAL', 1), fallback: () => 5 }),
  spec({ key: 'clientTimeoutS', env: 'CLIENT_TIMEOUT_S', defaultText: '10', description: 'A node connection from which nothing at all (data, ping or pong) arrived for this many seconds is closed', parse: integer('CLIENT_TIMEOUT_S', 1), fallback: () => 10 }),
  spec({ key: 'purgeIntervalS', env: 'PURGE_INTERVAL_S', defaultText: '600', description: 'Seconds between purges of expired data', parse: integer('PURGE_INTERVAL_S', 1), fallback: () => 600 }),
  spec({ key: 'logExpiryH', env: 'LOG_EXPIRY_H', defaultText: '280320', description: 'Hours after which messages received on `/` are purged (messages from `/audit` never are)', parse: integer('LOG_EXPIRY_H', 1), fallback: () => 280320 }),
  spec({ key: 'partitionIntervalH', env: 'PARTITION_INTERVAL_H', defaultText: '1 if `LOG_EXPIRY_H` ≤ 72, else 24', description: 'Hours covered by one time partition of expiring messages', parse: integer('PARTITION_INTERVAL_H', 1, 24 * 31), fallback: (s) => ((s.logExpiryH ?? 0) <= 72 ? 1 : 24) }),
  spec({ key: 'partitionsAhead', env: 'PARTITIONS_AHEAD', defaultText: '3', description: 'Partitions created ahead of the current time', parse: integer('PARTITIONS_AHEAD', 1, 1000), fallback: () => 3 }),
  spec({ key: 'maxPendingConnections', env: 'MAX_PENDING_CONNECTIONS', defaultText: '8192', description: 'TCP listen backlog', parse: integer('MAX_PENDING_CONNECTIONS', 1), fallback: () => 8192 }),
  spec({ key: 'wsMaxPayload', env: 'WS_MAX_PAYLOAD', defaultText: '524_288', description: 'Largest websocket message accepted, in bytes; a larger one closes the connection with code 1009', parse: integer('WS_MAX_PAYLOAD', 1024), fallback: () => 524_288 }),
  spec({ key: 'numThreads', env: 'NUM_THREADS', defaultText: 'CPUs × 3', description: 'Size of the database worker budget; the default of `DB_POOL_SIZE`', parse: integer('NUM_THREADS', 1), fallback: () => cpus * 3 }),
  spec({ key: 'dbPoolSize', env: 'DB_POOL_SIZE', defaultText: '`NUM_THREADS`', description: 'Maximum PostgreSQL connections (the embedded database always has one)', parse: integer('DB_POOL_SIZE', 2), fallback: (s) => Math.max(2, s.numThreads ?? cpus * 3) }),
  spec({ key: 'dbBatchSize', env: 'DB_BATCH_SIZE', defaultText: '1024', description: 'A batch is written as soon as it holds this many messages (or 4 MiB of them); above ~10,000 messages/s, 4096 keeps the writer ahead (bench/README.md)', parse: integer('DB_BATCH_SIZE', 1, 1_000_000), fallback: () => 1024 }),
  spec({ key: 'dbSaveLatencyMs', env: 'DB_SAVE_LATENCY_MS', defaultText: '100', description: 'A message waits at most this long before its batch is written', parse: integer('DB_SAVE_LATENCY_MS', 1), fallback: () => 100 }),
  spec({ key: 'dbWriters', env: 'DB_WRITERS', defaultText: '2', description: 'Batches written concurrently (the embedded database always uses 1)', parse: integer('DB_WRITERS', 1, 64), fallback: () => 2 }),
  spec({ key: 'bufferMaxRows', env: 'BUFFER_MAX_ROWS', defaultText: '100_000', description: 'Messages held in memory before ingestion sockets stop being read (backpressure)', parse: integer('BUFFER_MAX_ROWS', 1), fallback: () => 100_000 }),
  spec({ key: 'bufferMaxBytes', env: 'BUFFER_MAX_BYTES', defaultText: '67_108_864', description: 'Bytes of messages held in memory before ingestion sockets stop being read (backpressure)', parse: integer('BUFFER_MAX_BYTES', 1024), fallback: () => 64 * 1024 * 1024 }),
  spec({ key: 'spoolDir', env: 'SPOOL_DIR', defaultText: '`DATA_DIR`/spool (./data/spool)', description: 'Folder of the disk spool: every accepted message is appended here before it is written to the database, so a crash or a database outage loses nothing (docs/spool.md); empty disables it. One server at a time uses it (lock file `tetcore-analytics.lock`)', parse: text('SPOOL_DIR', true), fallback: (s) => path.join(s.dataDir ?? './data', 'spool') }),
  spec({ key: 'spoolMaxBytes', env: 'SPOOL_MAX_BYTES', defaultText: '1_073_741_824', description: 'Bytes of disk spool (a database outage\'s backlog) before ingestion sockets stop being read (backpressure)', parse: integer('SPOOL_MAX_BYTES', 65_536), fallback: () => 1024 * 1024 * 1024 }),
  spec({ key: 'spoolFsyncMs', env: 'SPOOL_FSYNC_MS', defaultText: '100', description: 'Group commit of the spool: appends are flushed to disk (fdatasync) this often, the most an operating-system crash can lose; 0 flushes every append (slow). A process crash loses nothing either way', parse: integer('SPOOL_FSYNC_MS', 0, 60_000), fallback: () => 100 }),
  spec({ key: 'maxNodesPerConnection', env: 'MAX_NODES_PER_CONNECTION', defaultText: '20', description: 'Distinct envelope ids (nodes) accepted on one websocket; messages of further ids are dropped and counted', parse: integer('MAX_NODES_PER_CONNECTION', 1, 10_000), fallback: () => 20 }),
  spec({ key: 'maxFutureSkewS', env: 'MAX_FUTURE_SKEW_S', defaultText: '600', description: 'A message whose `ts` is more than this many seconds ahead of the server\'s clock is dropped and counted (`ts_in_future`): it would top every "newest first" answer and escape the purge', parse: integer('MAX_FUTURE_SKEW_S', 1, 315_360_000), fallback: () => 600 }),
  spec({ key: 'livenessIntervalS', env: 'LIVENESS_INTERVAL_S', defaultText: '15', description: `Seconds between updates of \`peer_connections.last_seen\` for open connections (at most ${MAX_LIVENESS_INTERVAL_S}: \`/nodes\` counts a connection as connected while refreshed within ${CONNECTED_WINDOW_S} s)`, parse: integer('LIVENESS_INTERVAL_S', 1, MAX_LIVENESS_INTERVAL_S), fallback: () => 15 }),
  spec({ key: 'statementTimeoutMs', env: 'STATEMENT_TIMEOUT_MS', defaultText: '30_000', description: 'Statement timeout of query routes', parse: integer('STATEMENT_TIMEOUT_MS', 1), fallback: () => 30_000 }),
  spec({ key: 'apiMaxResponseBytes', env: 'API_MAX_RESPONSE_BYTES', defaultText: '8_388_608', description: 'Largest JSON answer of a list route (`/nodes`, `/nodes/logs`, `/benchmarks`, benchmark events and targets), in bytes: rows stop being added once it is reached (at least one row is always sent) and the answer carries `X-Next-Cursor` and a `Link: rel="next"` to the rest', parse: integer('API_MAX_RESPONSE_BYTES', 65_536), fallback: () => 8 * 1024 * 1024 }),
  spec({ key: 'apiMaxTotalResponseBytes', env: 'API_MAX_TOTAL_RESPONSE_BYTES', defaultText: '268_435_456', description: 'JSON answers of the query routes held in memory at once (serialized, not yet taken by the OS: slow readers); an answer that would pass it gets 503 `TOO_BUSY` with `Retry-After: 1` (one answer alone always goes)', parse: integer('API_MAX_TOTAL_RESPONSE_BYTES', 65_536), fallback: () => 256 * 1024 * 1024 }),
  spec({ key: 'queryConcurrency', env: 'QUERY_CONCURRENCY', defaultText: 'half of `DB_POOL_SIZE`', description: 'Queries of the query API and feed cache refreshes running at once; further ones wait in a queue (src/api/admission.ts)', parse: integer('QUERY_CONCURRENCY', 1, 10_000), fallback: (s) => Math.max(1, Math.floor((s.dbPoolSize ?? 2) / 2)) }),
  spec({ key: 'queryQueueMax', env: 'QUERY_QUEUE_MAX', defaultText: '256', description: 'Queries waiting for one of `QUERY_CONCURRENCY` at once; a query past it is answered 503 `QUERY_OVERLOADED` with `Retry-After` at once', parse: integer('QUERY_QUEUE_MAX', 0, 1_000_000), fallback: () => 256 }),
  spec({ key: 'queryQueueWaitMs', env: 'QUERY_QUEUE_WAIT_MS', defaultText: '2000', description: 'Longest wait of a query in the queue; past it it is answered 503 `QUERY_OVERLOADED` with `Retry-After`', parse: integer('QUERY_QUEUE_WAIT_MS', 1, 600_000), fallback: () => 2000 }),
  spec({ key: 'handshakeTimeoutS', env: 'HANDSHAKE_TIMEOUT_S', defaultText: '10', description: 'A connection that has not sent complete HTTP headers (a handshake that never finishes) after this many seconds is closed', parse: integer('HANDSHAKE_TIMEOUT_S', 1, 3600), fallback: () => 10 }),
  spec({ key: 'shutdownTimeoutS', env: 'SHUTDOWN_TIMEOUT_S', defaultText: '30', description: 'On SIGTERM/SIGINT, how long to keep trying to write buffered messages before giving up (and logging what was lost)', parse: integer('SHUTDOWN_TIMEOUT_S', 1), fallback: () => 30 }),
  spec({ key: 'cacheUpdateTimeoutS', env: 'CACHE_UPDATE_TIMEOUT_S', defaultText: '15', description: 'A feed cache refresh running longer than this logs a warning; at 4× it is abandoned', parse: integer('CACHE_UPDATE_TIMEOUT_S', 1), fallback: () => 15 }),
  spec({ key: 'cacheUpdateIntervalMs', env: 'CACHE_UPDATE_INTERVAL_MS', defaultText: '1000', description: 'Milliseconds between feed cache refreshes from the database', parse: integer('CACHE_UPDATE_INTERVAL_MS', 10), fallback: () => 1000 }),
  spec({ key: 'cacheExpiryS', env: 'CACHE_EXPIRY_S', defaultText: '3600', description: 'History window (seconds) kept in the feed cache', parse: integer('CACHE_EXPIRY_S', 1), fallback: () => 3600 }),
  spec({ key: 'feedMaxKeys', env: 'FEED_MAX_KEYS', defaultText: '1000', description: 'Feed cache entries (node, message type) held at once; a subscription needing one more is refused when all are in use', parse: integer('FEED_MAX_KEYS', 1), fallback: () => 1000 }),
  spec({ key: 'feedMaxRowsPerKey', env: 'FEED_MAX_ROWS_PER_KEY', defaultText: '10_000', description: 'Messages kept per feed cache entry (the newest are kept)', parse: integer('FEED_MAX_ROWS_PER_KEY', 1), fallback: () => 10_000 }),
  spec({ key: 'feedMaxCacheBytes', env: 'FEED_MAX_CACHE_BYTES', defaultText: '268_435_456', description: 'Bytes of JSON held by the whole feed cache; past it the oldest messages of the largest entries go', parse: integer('FEED_MAX_CACHE_BYTES', 65_536), fallback: () => 256 * 1024 * 1024 }),
  spec({ key: 'feedLateWindowS', env: 'FEED_LATE_WINDOW_S', defaultText: '30', description: 'Each feed refresh re-reads this many seconds before its newest message, so rows stored late (batching, several servers) are still delivered', parse: integer('FEED_LATE_WINDOW_S', 0, 3600), fallback: () => 30 }),
  spec({ key: 'feedMaxSubscriptions', env: 'FEED_MAX_SUBSCRIPTIONS', defaultText: '500', description: 'Subscriptions one `/feed` socket may hold', parse: integer('FEED_MAX_SUBSCRIPTIONS', 1), fallback: () => 500 }),
  spec({ key: 'feedMaxBufferedBytes', env: 'FEED_MAX_BUFFERED_BYTES', defaultText: '67_108_864', description: 'Unsent data one `/feed` viewer may have (frames its socket has not handed to the OS, plus aggregates and late rows queued for it); a frame that would pass it is not sent and the viewer is disconnected (close code 4008), as is a viewer so far behind that the cache dropped messages it was not sent yet. At least 2 × `FEED_MAX_FRAME_BYTES`', parse: integer('FEED_MAX_BUFFERED_BYTES', 2048), fallback: () => 64 * 1024 * 1024 }),
  spec({ key: 'feedMaxFrameBytes', env: 'FEED_MAX_FRAME_BYTES', defaultText: '1_048_576', description: 'Largest `/feed` data frame, in bytes: history and large deliveries are split into frames of at most this (a single larger message goes alone), and a viewer is sent the next frame only once its socket has taken the previous ones', parse: integer('FEED_MAX_FRAME_BYTES', 1024), fallback: () => 1024 * 1024 }),
  spec({ key: 'feedMaxTotalBufferedBytes', env: 'FEED_MAX_TOTAL_BUFFERED_BYTES', defaultText: '268_435_456', description: 'Unsent data of all `/feed` viewers together; past it the viewer with the most is disconnected (close code 4008, counted in `tetcore_feed_total_budget_disconnects_total`)', parse: integer('FEED_MAX_TOTAL_BUFFERED_BYTES', 2048), fallback: () => 256 * 1024 * 1024 }),
  spec({ key: 'feedMaxKeysPerAddress', env: 'FEED_MAX_KEYS_PER_ADDRESS', defaultText: '250', description: 'Feed cache entries (node, message type) the `/feed` sockets of one client address may hold together; a subscription needing one more is refused (one socket holds at most `FEED_MAX_SUBSCRIPTIONS`)', parse: integer('FEED_MAX_KEYS_PER_ADDRESS', 1), fallback: () => 250 }),
  spec({ key: 'assetsPath', env: 'ASSETS_PATH', defaultText: './static', description: 'Folder of the static dashboards', parse: text('ASSETS_PATH'), fallback: () => './static' }),
  spec({ key: 'trustProxy', env: 'TRUST_PROXY', defaultText: 'false', description: "Who may state the client address in `X-Forwarded-For` (read from the right: each proxy appends the address it received from). `false`: nobody, the socket peer is the client; `true` or `1`: the socket peer is a proxy, the client is the rightmost entry; a number: that many proxies in front; addresses/CIDR blocks, comma-separated: peers in this list are proxies, the client is the first address from the right outside it (a peer outside it is the client itself). An entry to read that is not an IP address refuses the handshake (HTTP 400 `BAD_FORWARDED_FOR`)", parse: trustProxy('TRUST_PROXY'), fallback: () => ({ kind: 'none' }) }),
  spec({ key: 'allowedOrigins', env: 'ALLOWED_ORIGINS', defaultText: '(unset: same origin only)', description: 'Web origins (`https://host[:port]`, comma-separated) whose pages may open websockets here besides this server\'s own: `/feed` accepts its own origin and these; `/` and `/audit` accept these only (nodes send no `Origin`). Others get HTTP 403 `ORIGIN_FORBIDDEN`', parse: originList('ALLOWED_ORIGINS'), fallback: () => [] }),
  spec({ key: 'ingestAllow', env: 'INGEST_ALLOW', defaultText: '(unset: any address)', description: 'CIDR blocks allowed to connect to `/` and `/audit`, comma-separated; others get HTTP 403 before anything is written', parse: cidrList('INGEST_ALLOW'), fallback: () => [] }),
  spec({ key: 'apiToken', env: 'API_TOKEN', defaultText: '(unset: no authentication)', description: 'When set (16+ characters), query and write routes require `Authorization: Bearer <token>` (or `?access_token=` for browsers and `/feed`)', parse: optionalSecret('API_TOKEN'), fallback: () => null }),
  spec({ key: 'metricsPublic', env: 'METRICS_PUBLIC', defaultText: 'true', description: 'With `API_TOKEN` set, leave `/metrics`, `/health` and `/ready` open (false: they need the token too)', parse: boolean('METRICS_PUBLIC'), fallback: () => true }),
  spec({ key: 'metricsMaxChains', env: 'METRICS_MAX_CHAINS', defaultText: '20', description: 'Chains with `tetcore_chain_*` series on `/metrics` (computed from the database, the same on every server): the ones with the most connected nodes; the others are counted in `tetcore_chains_not_exported`. 0: none', parse: integer('METRICS_MAX_CHAINS', 0, 10_000), fallback: () => 20 }),
  spec({ key: 'metricsPerNode', env: 'METRICS_PER_NODE', defaultText: 'false', description: 'Also expose `tetcore_node_*` series on `/metrics` (best and finalized height, peers, last block propagation of each connected node of the exported chains), at most `METRICS_MAX_NODES`', parse: boolean('METRICS_PER_NODE'), fallback: () => false }),
  spec({ key: 'metricsMaxNodes', env: 'METRICS_MAX_NODES', defaultText: '1000', description: 'With `METRICS_PER_NODE=true`, nodes with `tetcore_node_*` series (by peer id); the others are counted in `tetcore_nodes_not_exported`', parse: integer('METRICS_MAX_NODES', 1, 100_000), fallback: () => 1000 }),
  spec({ key: 'maxConnections', env: 'MAX_CONNECTIONS', defaultText: '100_000', description: 'Ingestion connections open at once; further handshakes get HTTP 503', parse: integer('MAX_CONNECTIONS', 1), fallback: () => 100_000 }),
  spec({ key: 'maxConnectionsPerIp', env: 'MAX_CONNECTIONS_PER_IP', defaultText: '0 (unlimited)', description: 'Ingestion connections open at once from one address; further handshakes get HTTP 429', parse: integer('MAX_CONNECTIONS_PER_IP', 0), fallback: () => 0 }),
  spec({ key: 'analytics', env: 'ANALYTICS', defaultText: 'true', description: 'Derive network analytics (block arrivals, finality: docs/analytics.md) from messages as they are stored, and summarize settled blocks; false stores messages only (the analytics routes then answer from what the tables hold)', parse: boolean('ANALYTICS'), fallback: () => true }),
  spec({ key: 'analyticsSettleS', env: 'ANALYTICS_SETTLE_S', defaultText: '60', description: 'Seconds after its first seen when a block’s propagation figures are computed once and stored (until then, and after a late arrival, they are computed on each query)', parse: integer('ANALYTICS_SETTLE_S', 1, 86_400), fallback: () => 60 }),
  spec({ key: 'analyticsSummaryIntervalS', env: 'ANALYTICS_SUMMARY_INTERVAL_S', defaultText: '10', description: 'Seconds between runs of the job that stores the figures of settled blocks (one server at a time)', parse: integer('ANALYTICS_SUMMARY_INTERVAL_S', 1, 3600), fallback: () => 10 }),
  spec({ key: 'logLevel', env: 'LOG_LEVEL', defaultText: 'info', description: 'trace, debug, info, warn, error or silent; `RUST_LOG` is accepted as an alias', parse: logLevel('LOG_LEVEL'), fallback: () => 'info' }),
  spec({ key: 'logFormat', env: 'LOG_FORMAT', defaultText: 'auto', description: '`json` (one JSON object per line), `pretty` (readable lines) or `auto`: pretty when stdout is a terminal, else json', parse: oneOf('LOG_FORMAT', ['json', 'pretty', 'auto'] as const), fallback: () => 'auto' as const }),
] as const;

export type Environment = Record<string, string | undefined>;

/** Loads `.env` (without overriding the process environment) and returns the merged variables. */
export function loadEnvironment(env: Environment = process.env, dotenvPath?: string): Environment {
  const fromFile: Record<string, string> = {};
  dotenv.config({ path: dotenvPath, processEnv: fromFile, quiet: true });
  return { ...fromFile, ...env };
}

/** Parses every setting; throws a SettingError naming the first invalid variable. */
export function parseSettings(env: Environment): Settings {
  const result: Partial<Settings> = {};
  for (const s of SETTINGS) {
    let raw = env[s.env];
    if (raw === undefined && s.env === 'LOG_LEVEL') raw = env.RUST_LOG;
    const value = raw === undefined ? s.fallback(result) : (s.parse as Parser<unknown>)(raw);
    (result as Record<string, unknown>)[s.key] = value;
  }
  const settings = result as Settings;
  if (settings.clientTimeoutS < settings.heartbeatIntervalS) {
    throw new SettingError('CLIENT_TIMEOUT_S', `a value ≥ HEARTBEAT_INTERVAL (${settings.heartbeatIntervalS})`, String(settings.clientTimeoutS));
  }
  // A viewer is sent a frame while less than one frame is unsent: it must be able to hold two.
  if (settings.feedMaxBufferedBytes < 2 * settings.feedMaxFrameBytes) {
    throw new SettingError('FEED_MAX_BUFFERED_BYTES', `a value ≥ 2 × FEED_MAX_FRAME_BYTES (${2 * settings.feedMaxFrameBytes})`, String(settings.feedMaxBufferedBytes));
  }
  if (settings.role !== 'all' && settings.databaseUrl === null) {
    throw new SettingError('ROLE', 'all without DATABASE_URL (servers of the ingest and query roles share one PostgreSQL; the embedded database belongs to one server)', settings.role);
  }
  if (settings.databaseReadUrl !== null && settings.databaseUrl === null) {
    throw new SettingError('DATABASE_READ_URL', 'DATABASE_URL to be set too (a replica of it; the embedded database has none)', maskUrl(settings.databaseReadUrl));
  }
  return settings;
}

/** The settings as they are logged at start-up: the password of DATABASE_URL masked. */
export function describeSettings(settings: Settings): Record<string, unknown> {
  return { ...settings, databaseUrl: settings.databaseUrl === null ? null : maskUrl(settings.databaseUrl), databaseReadUrl: settings.databaseReadUrl === null ? null : maskUrl(settings.databaseReadUrl), apiToken: settings.apiToken === null ? null : '***' };
}

export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '***';
  }
}
