// The catalogue of every metric the server exposes: names, help texts, labels. Modules receive the
// Metrics object and never create metrics themselves, so every name lives here.
import client from 'prom-client';
import { DROP_REASONS } from '../ingest/frame.js';

export function createMetrics() {
  const registry = new client.Registry();
  const counter = (name: string, help: string, labelNames: string[] = []) => new client.Counter({ name, help, labelNames, registers: [registry] });
  const gauge = (name: string, help: string, labelNames: string[] = []) => new client.Gauge({ name, help, labelNames, registers: [registry] });
  const histogram = (name: string, help: string, buckets: number[]) => new client.Histogram({ name, help, buckets, registers: [registry] });

  const metrics = {
    registry,
    // Names of the reference, kept so existing scrapes keep working.
    messagesReceived: counter('substrate_message_count', 'Messages parsed as JSON on the ingestion sockets'),
    nodesConnected: counter('nodes_connected_count', 'Ingestion connections accepted since start'),
    nodesDropped: counter('nodes_dropped_count', 'Ingestion connections closed since start'),
    currentConnections: gauge('current_substrate_connections', 'Ingestion connections open now'),
    bytesReceived: counter('substrate_bytes_received', 'Bytes of websocket messages received from nodes'),
    requests: counter('requests', 'HTTP requests to the query routes (not /metrics, /feed or ingestion)'),
    // Additions.
    connectionsOpen: gauge('tetcore_ingest_connections', 'Ingestion connections open now, by endpoint', ['endpoint']),
    handshakesRefused: counter('tetcore_ingest_handshakes_refused_total', 'Ingestion handshakes refused, by reason', ['reason']),
    messagesStored: counter('tetcore_messages_stored_total', 'Messages written to substrate_logs'),
    messagesDropped: counter('tetcore_messages_dropped_total', 'Messages received but not stored, by reason', ['reason']),
    bufferRows: gauge('tetcore_buffer_rows', 'Messages waiting in memory to be written'),
    bufferBytes: gauge('tetcore_buffer_bytes', 'Bytes of messages waiting in memory to be written'),
    ingestPaused: gauge('tetcore_ingest_paused', '1 while ingestion sockets are not read because the database is behind'),
    batchRows: histogram('tetcore_write_batch_rows', 'Messages per batch written', [1, 8, 32, 128, 512, 1024, 4096, 16384]),
    batchSeconds: histogram('tetcore_write_batch_seconds', 'Time to write one batch', [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10]),
    writeFailures: counter('tetcore_write_failures_total', 'Batch writes that failed and were retried, by kind', ['kind']),
    purgeRuns: counter('tetcore_purge_runs_total', 'Purge runs, by outcome', ['outcome']),
    purgePartitionsDropped: counter('tetcore_purge_partitions_dropped_total', 'Expired partitions dropped by the purge'),
    purgeRowsDeleted: counter('tetcore_purge_rows_deleted_total', 'Rows deleted by the purge outside whole partitions', ['table']),
  };
  for (const reason of DROP_REASONS) metrics.messagesDropped.inc({ reason }, 0);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
