// The per-chain (and, with METRICS_PER_NODE, per-node) series of /metrics: read from the database, not
// from this process's connections, so every server of a cluster reports the same values (those of
// GET /chains); one read at most every CACHE_MS, shared by all the series of a scrape and by concurrent
// scrapes. Definitions and the cardinality bound: docs/analytics.md#prometheus-series.
import type { Logger } from 'pino';
import type { Database } from '../storage/database.js';
import { createQueryRunner, type QueryRunner } from '../storage/query-runner.js';
import { listChains, nodeHeads, type ChainRow } from '../storage/analytics-read.js';
import { chainFigures } from '../analytics/reports.js';
import type { Percentiles } from '../analytics/stats.js';
import type { Settings } from '../config/settings.js';
import { CONNECTED_WINDOW_S } from '../domain/liveness.js';
import type { Metrics } from './catalogue.js';

/** The `quantile` label values of the percentile series. */
export const QUANTILES = ['0.5', '0.9', '0.99'] as const;
type Quantile = (typeof QUANTILES)[number];

/** A read is reused for this long: the series are at most this old. */
export const CACHE_MS = 5_000;
/** A read that takes longer is given up (the scrape answers without the series, tetcore_database_up 0). */
export const READ_TIMEOUT_MS = 4_000;

export interface ChainSeries {
  labels: { chain: string; genesis_hash: string };
  nodesConnected: number;
  bestHeight: number | null;
  finalizedHeight: number | null;
  blockTimeS: number | null;
  propagationS: Record<Quantile, number | null>;
  timeToFinalityS: Record<Quantile, number | null>;
}

export interface NodeSeries {
  labels: { chain: string; genesis_hash: string; peer_id: string; name: string };
  bestHeight: number | null;
  finalizedHeight: number | null;
  peers: number | null;
  lastPropagationS: number | null;
}

export interface ChainSeriesRead {
  /** False when the database failed or did not answer within READ_TIMEOUT_MS (then every list is empty). */
  ok: boolean;
  chains: ChainSeries[];
  chainsNotExported: number;
  perNode: boolean;
  nodes: NodeSeries[];
  nodesNotExported: number;
}

export interface ChainSeriesOptions {
  maxChains: number;
  perNode: boolean;
  maxNodes: number;
  /** A node is connected while a connection of it is open and refreshed within this (the rule of /nodes). */
  connectedWindowS: number;
  cacheMs?: number;
  timeoutMs?: number;
}

const seconds = (ms: number | null) => (ms === null ? null : ms / 1000);
const quantilesS = (p: Percentiles | null): Record<Quantile, number | null> => ({ '0.5': seconds(p?.p50 ?? null), '0.9': seconds(p?.p90 ?? null), '0.99': seconds(p?.p99 ?? null) });
/** Prometheus has no null label: a chain whose nodes sent no genesis hash is genesis_hash="" (label absent). */
const label = (value: string | null) => value ?? '';

/** Chains with the most connected nodes first (then the most seen; ties by name and genesis hash). */
export function byNodes(a: ChainRow, b: ChainRow): number {
  if (a.nodes_connected !== b.nodes_connected) return b.nodes_connected - a.nodes_connected;
  if (a.nodes_seen !== b.nodes_seen) return b.nodes_seen - a.nodes_seen;
  if (a.chain !== b.chain) return a.chain < b.chain ? -1 : 1;
  return label(a.genesis_hash) < label(b.genesis_hash) ? -1 : label(a.genesis_hash) > label(b.genesis_hash) ? 1 : 0;
}

/** One read of the series from the database. */
export async function readChainSeries(run: QueryRunner, options: ChainSeriesOptions): Promise<ChainSeriesRead> {
  return run(async (db) => {
    const all = (await listChains(db, options.connectedWindowS)).sort(byNodes);
    const exported = all.slice(0, options.maxChains);
    const chains: ChainSeries[] = [];
    for (const c of exported) {
      const { overview, propagation_ms, time_to_finality_ms } = await chainFigures(db, c, true);
      chains.push({
        labels: { chain: c.chain, genesis_hash: label(c.genesis_hash) },
        nodesConnected: overview.nodes_connected,
        bestHeight: overview.best_height,
        finalizedHeight: overview.finalized_height,
        blockTimeS: seconds(overview.avg_block_time_ms),
        propagationS: quantilesS(propagation_ms),
        timeToFinalityS: quantilesS(time_to_finality_ms),
      });
    }
    const read: ChainSeriesRead = { ok: true, chains, chainsNotExported: all.length - exported.length, perNode: options.perNode, nodes: [], nodesNotExported: 0 };
    if (options.perNode) {
      const rows = await nodeHeads(db, exported, options.connectedWindowS, options.maxNodes);
      read.nodesNotExported = rows.length === 0 ? 0 : rows[0].total - rows.length;
      read.nodes = rows.map((n) => ({
        labels: { chain: n.chain, genesis_hash: label(n.genesis_hash), peer_id: n.peer_id, name: label(n.name) },
        bestHeight: n.best_height,
        finalizedHeight: n.finalized_height,
        peers: n.peers,
        lastPropagationS: seconds(n.last_propagation_ms),
      }));
    }
    return read;
  });
}

const FAILED: ChainSeriesRead = { ok: false, chains: [], chainsNotExported: 0, perNode: false, nodes: [], nodesNotExported: 0 };

/**
 * The cached reader the catalogue's series call at each scrape. At most one read runs at a time: a scrape
 * arriving while one is running (or hung) waits for it, up to the timeout, rather than starting another.
 * A failed read is cached too, so a database that is down is asked once per CACHE_MS, not per series.
 */
export function createChainSeriesReader(db: Database, options: ChainSeriesOptions, log: Logger): () => Promise<ChainSeriesRead> {
  const cacheMs = options.cacheMs ?? CACHE_MS;
  const timeoutMs = options.timeoutMs ?? READ_TIMEOUT_MS;
  const run = createQueryRunner(db, timeoutMs);
  let cached: { at: number; value: Promise<ChainSeriesRead> } | null = null;
  let running: Promise<ChainSeriesRead> | null = null;
  let failing = false;
  return () => {
    const now = Date.now();
    if (cached !== null && now - cached.at <= cacheMs) return cached.value;
    if (running === null) {
      running = readChainSeries(run, options).finally(() => {
        running = null;
      });
    }
    const attempt = running;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the database did not answer within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
    });
    const value = Promise.race([attempt, timeout])
      .then((read) => {
        if (failing) log.info('per-chain metrics: the database answers again');
        failing = false;
        return read;
      })
      .catch((error: unknown) => {
        if (!failing) log.warn({ err: error }, 'per-chain metrics: reading the database failed; /metrics answers without them (tetcore_database_up 0)');
        failing = true;
        return FAILED;
      })
      .finally(() => clearTimeout(timer));
    cached = { at: now, value };
    return value;
  };
}

/** Lets the catalogue's per-chain series read `db` (the queries database) when scraped. */
export function attachChainSeries(metrics: Metrics, db: Database, settings: Pick<Settings, 'metricsMaxChains' | 'metricsPerNode' | 'metricsMaxNodes'>, log: Logger): void {
  metrics.sources.chainSeries = createChainSeriesReader(
    db,
    { maxChains: settings.metricsMaxChains, perNode: settings.metricsPerNode, maxNodes: settings.metricsMaxNodes, connectedWindowS: CONNECTED_WINDOW_S },
    log,
  );
}
