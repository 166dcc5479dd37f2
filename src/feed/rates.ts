// GET /feed/rates: messages per node over the last minute (a JSON route for scripts; the network view reads /nodes/summary). Computed for
// connected nodes only, through the (peer_connection_id, created_at) index, at most once per
// RATES_REFRESH_MS whatever the number of viewers (concurrent requests share one query).
// Registered inside the query API's plugin (src/api/index.ts), so it has the API's statement timeout,
// admission, error format and `requests` counter; the window and the refresh follow the given clock.
import type { FastifyInstance } from 'fastify';
import type { Queryable } from '../storage/database.js';
import type { QueryRunner } from '../storage/query-runner.js';
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

/** `nowMs`: the end of the window (epoch ms). */
export async function selectRates(db: Queryable, windowS: number, nowMs: number): Promise<RatesReport> {
  const rows = await messageCountsOfConnectedNodes(db, (nowMs - windowS * 1000) * 1000, CONNECTED_WINDOW_S);
  const nodes: Record<string, NodeRates> = {};
  for (const row of rows) {
    const node = (nodes[row.peer_id] ??= { total: 0, per_minute: 0, by_msg: {} });
    node.total += row.n;
    node.by_msg[row.msg ?? '(none)'] = (node.by_msg[row.msg ?? '(none)'] ?? 0) + row.n;
  }
  for (const node of Object.values(nodes)) node.per_minute = Math.round((node.total * 600) / windowS) / 10;
  return { window_s: windowS, nodes };
}

/** `run`: the API's query runner (statement timeout, admission); `clock`: epoch ms (tests use fixed instants). */
export function registerRatesRoute(api: FastifyInstance, run: QueryRunner, clock: () => number = Date.now): void {
  let cached: { at: number; report: Promise<RatesReport> } | null = null;
  const schema = { tags: ['nodes'], summary: `Messages per connected node over the last ${RATES_WINDOW_S} s, by type (refreshed at most every ${RATES_REFRESH_MS / 1000} s)` };
  api.get('/feed/rates', { schema }, async () => {
    const now = clock();
    if (cached === null || now - cached.at >= RATES_REFRESH_MS) {
      const report = run((db) => selectRates(db, RATES_WINDOW_S, now));
      cached = { at: now, report };
      report.catch(() => {
        if (cached?.report === report) cached = null; // do not keep a failure
      });
    }
    return cached.report;
  });
}
