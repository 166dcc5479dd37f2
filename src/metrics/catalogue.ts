// The catalogue of every metric the server exposes: names, help texts, labels. Modules receive the
// Metrics object and never create metrics themselves, so every name lives here.
// Values that belong to the host or the database pool are read when scraped (cheap reads, no snapshot).
import os from 'node:os';
import client from 'prom-client';
import { DROP_REASONS } from '../domain/drops.js';
import { IDENTITY_COLUMNS } from '../domain/identity.js';
import type { Database } from '../storage/database.js';
import { readHostMemory, readHostNetwork, type HostMemory, type HostNetwork } from './host.js';
import { QUANTILES, type ChainSeriesRead } from './chains.js';

/** Connection counts of a database pool, as far as the backend knows them. */
export interface PoolStats {
  total: number;
  /** Unknown for the embedded database (one session inside the process). */
  idle?: number;
  waiting?: number;
}

/** Shares one read between the metrics of a scrape (several gauges ask for the same file). */
function memoize<T>(read: () => Promise<T>, ttlMs: number): () => Promise<T> {
  let value: Promise<T> | null = null;
  let at = 0;
  return () => {
    const now = Date.now();
    if (value === null || now - at > ttlMs) {
      at = now;
      value = read();
    }
    return value;
  };
}

export const FEED_REFUSALS = ['invalid', 'too_many_subscriptions', 'address_key_budget', 'cache_full'] as const;

export function createMetrics() {
  const registry = new client.Registry();
  const counter = (name: string, help: string, labelNames: string[] = [], collect?: client.CollectFunction<client.Counter>) =>
    new client.Counter({ name, help, labelNames, registers: [registry], ...(collect ? { collect } : {}) });
  const gauge = (name: string, help: string, labelNames: string[] = [], collect?: client.CollectFunction<client.Gauge>) =>
    new client.Gauge({ name, help, labelNames, registers: [registry], ...(collect ? { collect } : {}) });
  const histogram = (name: string, help: string, buckets: number[]) => new client.Histogram({ name, help, buckets, registers: [registry] });

  const memory = memoize<HostMemory>(readHostMemory, 500);
  const network = memoize<HostNetwork | null>(readHostNetwork, 500);
  const sources: { pools: Map<string, () => PoolStats>; chainSeries: (() => Promise<ChainSeriesRead>) | null; spoolOldestAgeS: (() => number) | null } = {
    pools: new Map(),
    chainSeries: null,
    spoolOldestAgeS: null,
  };
  // Per-chain and per-node series: one read of the database shared by all of them (chains.ts caches it).
  // Each scrape sets exactly the series of that read: a chain that left the top METRICS_MAX_CHAINS goes.
  const fromDatabase = (name: string, help: string, labelNames: string[], fill: (gauge: client.Gauge, read: ChainSeriesRead) => void) =>
    gauge(name, help, labelNames, async function () {
      if (sources.chainSeries === null) return;
      const read = await sources.chainSeries();
      this.reset();
      fill(this, read);
    });
  const perChain = (name: string, help: string, value: (c: ChainSeriesRead['chains'][number]) => number | null) =>
    fromDatabase(name, help, ['chain', 'genesis_hash'], (g, read) => {
      for (const c of read.chains) {
        const v = value(c);
        if (v !== null) g.set(c.labels, v);
      }
    });
  const perChainQuantiles = (name: string, help: string, value: (c: ChainSeriesRead['chains'][number]) => Record<(typeof QUANTILES)[number], number | null>) =>
    fromDatabase(name, help, ['chain', 'genesis_hash', 'quantile'], (g, read) => {
      for (const c of read.chains) {
        const values = value(c);
        for (const q of QUANTILES) if (values[q] !== null) g.set({ ...c.labels, quantile: q }, values[q]);
      }
    });
  const perNode = (name: string, help: string, value: (n: ChainSeriesRead['nodes'][number]) => number | null) =>
    fromDatabase(name, help, ['chain', 'genesis_hash', 'peer_id', 'name'], (g, read) => {
      for (const n of read.nodes) {
        const v = value(n);
        if (v !== null) g.set(n.labels, v);
      }
    });
  // Host byte totals are counters: each scrape adds what the kernel counted since the previous one.
  const lastNetwork = { received: 0, sent: 0 };
  const networkCounter = (name: string, help: string, field: keyof HostNetwork) =>
    counter(name, help, [], async function () {
      const now = await network();
      if (now === null) return;
      const delta = now[field] - lastNetwork[field];
      lastNetwork[field] = now[field];
      if (delta > 0) this.inc(delta); // a negative delta is a counter reset of an interface: skip it
    });
  const memoryGauge = (name: string, help: string, field: keyof HostMemory) =>
    gauge(name, help, [], async function () {
      this.set((await memory())[field]);
    });
  const loadGauge = (name: string, help: string, index: 0 | 1 | 2) =>
    gauge(name, help, [], function () {
      this.set(os.loadavg()[index]);
    });

  const metrics = {
    registry,
    // Names of the reference, kept so existing scrapes keep working.
    messagesReceived: counter('substrate_message_count', 'Messages parsed as JSON on the ingestion sockets'),
    nodesConnected: counter('nodes_connected_count', 'Ingestion connections accepted since start'),
    nodesDropped: counter('nodes_dropped_count', 'Ingestion connections closed since start'),
    currentConnections: gauge('current_substrate_connections', 'Ingestion connections open now'),
    bytesReceived: counter('substrate_bytes_received', 'Bytes of websocket messages received from nodes'),
    requests: counter('requests', 'HTTP requests to the query routes (not /metrics, /feed or ingestion)'),
    apiAnswerBytes: gauge('tetcore_api_answer_bytes', 'Bytes of JSON answers of the query routes serialized and not yet taken by the OS'),
    apiAnswersRefused: counter('tetcore_api_answers_refused_total', 'Query answers replaced by 503 TOO_BUSY because API_MAX_TOTAL_RESPONSE_BYTES of answers were not yet sent'),
    queriesInFlight: gauge('tetcore_query_admission_in_flight', 'Queries of the query API and feed refreshes running now (at most QUERY_CONCURRENCY)'),
    queriesQueued: gauge('tetcore_query_admission_queued', 'Queries waiting for admission now (at most QUERY_QUEUE_MAX)'),
    queriesRejected: counter('tetcore_query_admission_rejected_total', 'Queries answered 503 QUERY_OVERLOADED, by reason (queue_full, wait_timeout)', ['reason']),
    feedsConnected: counter('feeds_connected', '/feed websockets opened since start'),
    feedsDisconnected: counter('feeds_disconnected', '/feed websockets closed since start'),
    currentFeedConnections: gauge('current_feed_connections', '/feed websockets open now'),
    hostBytesReceived: networkCounter('bytes_received', 'Bytes received by the host, all network interfaces', 'received'),
    hostBytesSent: networkCounter('bytes_sent', 'Bytes sent by the host, all network interfaces', 'sent'),
    loadAvgOne: loadGauge('load_avg_one', 'Host load average over 1 minute', 0),
    loadAvgFive: loadGauge('load_avg_five', 'Host load average over 5 minutes', 1),
    loadAvgFifteen: loadGauge('load_avg_fifteen', 'Host load average over 15 minutes', 2),
    totalMem: memoryGauge('total_mem', 'Host memory, KiB', 'totalMem'),
    usedMem: memoryGauge('used_mem', 'Host memory in use (total minus available), KiB', 'usedMem'),
    totalSwap: memoryGauge('total_swap', 'Host swap, KiB', 'totalSwap'),
    usedSwap: memoryGauge('used_swap', 'Host swap in use, KiB', 'usedSwap'),
    // Additions.
    connectionsOpen: gauge('tetcore_ingest_connections', 'Ingestion connections open now, by endpoint', ['endpoint']),
    handshakesRefused: counter('tetcore_ingest_handshakes_refused_total', 'Ingestion handshakes refused, by reason', ['reason']),
    messagesStored: counter('tetcore_messages_stored_total', 'Messages written to substrate_logs'),
    messagesDropped: counter('tetcore_messages_dropped_total', 'Messages received but not stored, by reason', ['reason']),
    identityFieldsRejected: counter('tetcore_identity_fields_rejected_total', 'Identity fields (peer_connections columns) ignored for being longer than a real node sends; their messages are stored', ['field']),
    connectionWritesRejected: counter('tetcore_connection_writes_rejected_total', 'peer_connections writes the database refused for their data, given up, by kind (row: none could be created, the node\'s messages are dropped; identity: its identity or liveness was not written, its messages are still stored)', ['kind']),
    bufferRows: gauge('tetcore_buffer_rows', 'Messages waiting in memory to be written'),
    bufferBytes: gauge('tetcore_buffer_bytes', 'Bytes of messages waiting in memory to be written'),
    ingestPaused: gauge('tetcore_ingest_paused', '1 while ingestion sockets are not read because the database is behind'),
    batchRows: histogram('tetcore_write_batch_rows', 'Messages per batch written', [1, 8, 32, 128, 512, 1024, 4096, 16384]),
    batchSeconds: histogram('tetcore_write_batch_seconds', 'Time to write one batch', [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10]),
    writeFailures: counter('tetcore_write_failures_total', 'Batch writes that failed and were retried, by kind', ['kind']),
    purgeRuns: counter('tetcore_purge_runs_total', 'Purge runs, by outcome (ok, skipped: another run holds the purge lock, failed, stopped: by shutdown)', ['outcome']),
    purgePartitionsDropped: counter('tetcore_purge_partitions_dropped_total', 'Expired partitions detached and dropped by the purge'),
    purgeRowsDeleted: counter('tetcore_purge_rows_deleted_total', 'Rows deleted by the purge outside whole partitions (closed connections left without messages)', ['table']),
    partitionLockWaits: counter('tetcore_partition_lock_waits_total', 'Partition changes (attach, detach, drop) that gave up after their lock timeout because other transactions held substrate_logs, and were retried; writers never wait for them', ['step']),
    partitionLockWaiting: gauge('tetcore_partition_lock_waiting', '1 while a partition change (attach, detach, drop) is being retried because other transactions hold substrate_logs', ['step']),
    partitionMaintenance: counter('tetcore_partition_maintenance_total', 'Runs of the partition maintenance (attaching partitions ahead), by outcome (ok, failed, stopped)', ['outcome']),
    partitionsAheadSeconds: gauge('tetcore_partitions_ahead_seconds', 'How far ahead of now the prepared time partitions reach; an expiring message dated later finds no partition and is refused'),
    dbPoolConnections: gauge('tetcore_db_pool_connections', 'Database connections of this server, by pool and state (total, idle, in_use, waiting = queries queued for a connection)', ['pool', 'state'], function () {
      for (const [pool, read] of sources.pools) {
        const stats = read();
        this.set({ pool, state: 'total' }, stats.total);
        if (stats.idle === undefined || stats.waiting === undefined) continue;
        this.set({ pool, state: 'idle' }, stats.idle);
        this.set({ pool, state: 'in_use' }, stats.total - stats.idle);
        this.set({ pool, state: 'waiting' }, stats.waiting);
      }
    }),
    // The live feed.
    feedHandshakesRefused: counter('tetcore_feed_handshakes_refused_total', '/feed websocket handshakes refused, by reason (ORIGIN_FORBIDDEN: a web page of a foreign origin)', ['reason']),
    feedSubscriptions: gauge('tetcore_feed_subscriptions', 'Subscriptions held by /feed viewers now'),
    feedSubscriptionsRefused: counter('tetcore_feed_subscriptions_refused_total', 'Feed subscribe requests answered with an error, by reason', ['reason']),
    feedCacheKeys: gauge('tetcore_feed_cache_keys', 'Feed cache entries (node, message type) held'),
    feedCacheRows: gauge('tetcore_feed_cache_rows', 'Messages held by the feed cache'),
    feedCacheBytes: gauge('tetcore_feed_cache_bytes', 'Bytes of JSON held by the feed cache'),
    feedRefreshSeconds: histogram('tetcore_feed_refresh_seconds', 'Time of one feed cache refresh query', [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30]),
    feedRefreshFailures: counter('tetcore_feed_refresh_failures_total', 'Feed cache refreshes that failed or were abandoned, by kind', ['kind']),
    feedFramesSent: counter('tetcore_feed_frames_sent_total', 'Frames sent to /feed viewers'),
    feedBytesSent: counter('tetcore_feed_bytes_sent_total', 'Bytes of frames sent to /feed viewers'),
    feedSlowViewersDisconnected: counter('tetcore_feed_slow_viewers_disconnected_total', '/feed viewers disconnected because their unsent data would pass FEED_MAX_BUFFERED_BYTES, or the cache dropped messages they were not sent yet'),
    feedTotalBudgetDisconnects: counter('tetcore_feed_total_budget_disconnects_total', '/feed viewers disconnected because all viewers\' unsent data passed FEED_MAX_TOTAL_BUFFERED_BYTES (the one with the most each time)'),
    feedUnsentBytes: gauge('tetcore_feed_unsent_bytes', 'Bytes of /feed data not yet handed to the OS or queued, all viewers together'),
    // Network analytics.
    analyticsFacts: counter('tetcore_analytics_facts_total', 'Facts derived from stored messages and written with them, by kind (arrival, finality)', ['kind']),
    analyticsSummaryRuns: counter('tetcore_analytics_summary_runs_total', 'Runs of the block summary job, by outcome (ok, skipped: another server holds the lock, failed)', ['outcome']),
    analyticsBlocksSummarized: counter('tetcore_analytics_blocks_summarized_total', 'Blocks whose figures the summary job stored'),
    // Per chain, from the database (docs/analytics.md#prometheus-series): the same values as GET /chains.
    databaseUp: fromDatabase('tetcore_database_up', '1 when the database answered the latest read of the per-chain series (at most 5 s old), 0 when it failed or did not answer in time', [], (g, read) => {
      g.set(read.ok ? 1 : 0);
    }),
    chainNodesConnected: perChain('tetcore_chain_nodes_connected', 'Nodes (peer ids) of the chain with a connection open now, on any server (GET /chains nodes_connected)', (c) => c.nodesConnected),
    chainBestHeight: perChain('tetcore_chain_best_height', 'Highest block height any node of the chain imported (GET /chains best_height)', (c) => c.bestHeight),
    chainFinalizedHeight: perChain('tetcore_chain_finalized_height', 'Highest finalized height any node of the chain reported (GET /chains finalized_height)', (c) => c.finalizedHeight),
    chainBlockTime: perChain('tetcore_chain_block_time_seconds', 'Mean block time over the last 50 blocks (GET /chains avg_block_time_ms)', (c) => c.blockTimeS),
    chainPropagation: perChainQuantiles('tetcore_chain_block_propagation_seconds', 'Nearest-rank quantiles of the propagation delays of the last 50 blocks (catch-up imports left out; 0.9 is GET /chains propagation_p90_ms)', (c) => c.propagationS),
    chainTimeToFinality: perChainQuantiles('tetcore_chain_time_to_finality_seconds', 'Nearest-rank quantiles of the times to finality of the finalized ones of the last 50 blocks (time_to_finality_ms of GET /chains/{chain}/blocks)', (c) => c.timeToFinalityS),
    chainsNotExported: fromDatabase('tetcore_chains_not_exported', 'Chains left out of the tetcore_chain_* series by METRICS_MAX_CHAINS (those with the fewest connected nodes)', [], (g, read) => {
      if (read.ok) g.set(read.chainsNotExported);
    }),
    nodeBestHeight: perNode('tetcore_node_best_height', 'Height of the latest block the node imported (METRICS_PER_NODE)', (n) => n.bestHeight),
    nodeFinalizedHeight: perNode('tetcore_node_finalized_height', 'Highest finalized height the node reported (METRICS_PER_NODE)', (n) => n.finalizedHeight),
    nodePeers: perNode('tetcore_node_peers', 'Peers of the node in its latest system.interval (METRICS_PER_NODE)', (n) => n.peers),
    nodeLastPropagation: perNode('tetcore_node_block_propagation_seconds', 'Delay of the node\'s latest (not catch-up) import after that block\'s first seen (METRICS_PER_NODE)', (n) => n.lastPropagationS),
    nodesNotExported: fromDatabase('tetcore_nodes_not_exported', 'Connected nodes of the exported chains left out of the tetcore_node_* series by METRICS_MAX_NODES (METRICS_PER_NODE)', [], (g, read) => {
      if (read.ok && read.perNode) g.set(read.nodesNotExported);
    }),
    // The disk spool (docs/spool.md#metrics).
    spoolBytes: gauge('tetcore_spool_bytes', 'Bytes of the disk spool\'s segment files (SPOOL_MAX_BYTES caps it)'),
    spoolSegments: gauge('tetcore_spool_segments', 'Segment files of the disk spool'),
    spoolOldestUnwrittenSeconds: gauge('tetcore_spool_oldest_unwritten_seconds', 'Age of the oldest spooled message not yet written to the database (0: none), to about a second', [], function () {
      this.set(sources.spoolOldestAgeS?.() ?? 0);
    }),
    spoolAppended: counter('tetcore_spool_appended_total', 'Messages appended to the disk spool'),
    spoolAppendedBytes: counter('tetcore_spool_appended_bytes_total', 'Bytes appended to the disk spool (messages, node and batch records)'),
    spoolReplayed: counter('tetcore_spool_replayed_total', 'Messages read back from the disk spool for the writer (backlog after an outage or a restart)'),
    spoolCorruptRecords: counter('tetcore_spool_corrupt_records_total', 'Stretches of the disk spool skipped for a bad length or checksum; their messages count as dropped (spool_corrupt)'),
    spoolBackpressure: counter('tetcore_spool_backpressure_total', 'Times the spool reached SPOOL_MAX_BYTES and ingestion sockets stopped being read'),
    spoolDiskErrors: counter('tetcore_spool_disk_errors_total', 'Failed appends to the disk spool, by error code (ENOSPC: disk full); messages then wait in memory', ['code']),
    spoolDiskFailed: gauge('tetcore_spool_disk_failed', '1 while appends to the disk spool fail and messages wait in memory (with its backpressure)'),
    /** Where scrape-time values come from; set by attachDatabase and attachSpool. */
    sources,
  };
  for (const reason of DROP_REASONS) metrics.messagesDropped.inc({ reason }, 0);
  metrics.spoolDiskErrors.inc({ code: 'ENOSPC' }, 0);
  for (const field of IDENTITY_COLUMNS) metrics.identityFieldsRejected.inc({ field }, 0);
  for (const kind of ['row', 'identity']) metrics.connectionWritesRejected.inc({ kind }, 0);
  for (const reason of FEED_REFUSALS) metrics.feedSubscriptionsRefused.inc({ reason }, 0);
  for (const reason of ['queue_full', 'wait_timeout']) metrics.queriesRejected.inc({ reason }, 0);
  for (const kind of ['error', 'abandoned']) metrics.feedRefreshFailures.inc({ kind }, 0);
  metrics.feedHandshakesRefused.inc({ reason: 'ORIGIN_FORBIDDEN' }, 0);
  for (const kind of ['arrival', 'finality']) metrics.analyticsFacts.inc({ kind }, 0);
  for (const outcome of ['ok', 'skipped', 'failed']) metrics.analyticsSummaryRuns.inc({ outcome }, 0);
  for (const step of ['attach', 'detach', 'drop']) {
    metrics.partitionLockWaits.inc({ step }, 0);
    metrics.partitionLockWaiting.set({ step }, 0);
  }
  client.collectDefaultMetrics({ register: registry });
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Lets `tetcore_db_pool_connections{pool=name}` read the pool of `db` when scraped (the queries pool is
 * attached by the feed; `ingest` names the writer's pool). The embedded database is one session.
 */
export function attachDatabase(metrics: Metrics, db: Database, name = 'queries'): void {
  const pool = (db as { pool?: { totalCount: number; idleCount: number; waitingCount: number } }).pool;
  if (db.kind === 'postgres' && pool) {
    metrics.sources.pools.set(name, () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }));
  } else {
    metrics.sources.pools.set(name, () => ({ total: 1 }));
  }
}

/** Lets `tetcore_spool_oldest_unwritten_seconds` read the spool's backlog when scraped. */
export function attachSpool(metrics: Metrics, oldestAgeS: () => number): void {
  metrics.sources.spoolOldestAgeS = oldestAgeS;
}
