// Accounting of messages that were received but will not be stored: a counter per reason, and a
// debug log line per reason at most every DROP_LOG_INTERVAL_MS (with how many were suppressed).
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/catalogue.js';
import type { DropReason } from './frame.js';

const DROP_LOG_INTERVAL_MS = 10_000;

export function createDropRecorder(metrics: Metrics, log: Logger, level: 'debug' | 'warn' = 'debug') {
  const lastLogged = new Map<DropReason, number>();
  const suppressed = new Map<DropReason, number>();
  return function recordDrop(reason: DropReason, count = 1, detail?: unknown): void {
    metrics.messagesDropped.inc({ reason }, count);
    const now = Date.now();
    if (now - (lastLogged.get(reason) ?? 0) < DROP_LOG_INTERVAL_MS) {
      suppressed.set(reason, (suppressed.get(reason) ?? 0) + count);
      return;
    }
    lastLogged.set(reason, now);
    const alsoDropped = suppressed.get(reason) ?? 0;
    suppressed.delete(reason);
    // Losses the server caused (database rejection, shutdown) are always worth a warning.
    const severe = reason === 'rejected_by_database' || reason === 'shutdown_timeout';
    log[severe ? 'warn' : level]({ reason, count, alsoDroppedSinceLastLog: alsoDropped, detail }, 'message dropped');
  };
}

export type DropRecorder = ReturnType<typeof createDropRecorder>;
