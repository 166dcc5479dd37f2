// GET /feed/rates: messages per node over the last minute (a JSON route for scripts; the network view reads /nodes/summary). Computed for
// connected nodes only, through the (peer_connection_id, created_at) index, at most once per
// RATES_REFRESH_MS whatever the number of viewers (concurrent requests share one query).
import type { FastifyInstance } from 'fastify';
import type { Queryable } from '../storage/database.js';
import { messageCountsOfConnectedNodes } from '../storage/substrate-logs.js';
import { CONNECTED_WINDOW_S } from '../domain/liveness.js';

export const RATES_WINDOW_S = 60;
export const RATES_REFRESH_MS = 5_000;

export interface NodeRates {
  /** Messages stored over the window, all types. */
  total: number;
  per_minute: number;
  by_msg: Record<string, number>;
}

export interface RatesReport {
  window_s: number;
  /** peer_id → its rates; nodes without messages in the window are absent. */
  nodes: Record<string, NodeRates>;
}

export async function selectRates(db: Queryable, windowS: number): Promise<RatesReport> {
  const rows = await messageCountsOfConnectedNodes(db, (Date.now() - windowS * 1000) * 1000, CONNECTED_WINDOW_S);
  const nodes: Record<string, NodeRates> = {};
  for (const row of rows) {
    const node = (nodes[row.peer_id] ??= { total: 0, per_minute: 0, by_msg: {} });
    node.total += row.n;
    node.by_msg[row.msg ?? '(none)'] = (node.by_msg[row.msg ?? '(none)'] ?? 0) + row.n;
  }
  for (const node of Object.values(nodes)) node.per_minute = Math.round((node.total * 600) / windowS) / 10;
  return { window_s: windowS, nodes };
}

export function registerRatesRoute(app: FastifyInstance, db: Queryable): void {
  let cached: { at: number; report: Promise<RatesReport> } | null = null;
  app.get('/feed/rates', async () => {
    const now = Date.now();
    if (cached === null || now - cached.at >= RATES_REFRESH_MS) {
      const report = selectRates(db, RATES_WINDOW_S);
      cached = { at: now, report };
      report.catch(() => {
        if (cached?.report === report) cached = null; // do not keep a failure
      });
    }
    return cached.report;
  });
}
