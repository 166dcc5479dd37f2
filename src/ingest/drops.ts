// Accounting of what nodes sent that will not be stored: dropped messages (a counter per reason) and
// ignored identity fields (a counter per field), each with a log line per kind at most every
// LOG_INTERVAL_MS (saying how many were suppressed in between), so a hostile node cannot flood the log.
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/catalogue.js';
import type { DropReason } from '../domain/drops.js';
import type { IdentityColumn } from '../domain/identity.js';

const LOG_INTERVAL_MS = 10_000;

/** Lets through one call per key every LOG_INTERVAL_MS; returns how many were held back since, or null. */
function createLogLimiter<K>() {
  const lastLogged = new Map<K, number>();
  const suppressed = new Map<K, number>();
  return function admit(key: K, count: number): number | null {
    const now = Date.now();
    if (now - (lastLogged.get(key) ?? 0) < LOG_INTERVAL_MS) {
      suppressed.set(key, (suppressed.get(key) ?? 0) + count);
      return null;
    }
    lastLogged.set(key, now);
    const held = suppressed.get(key) ?? 0;
    suppressed.delete(key);
    return held;
  };
}

/** Losses the server caused (database rejection, shutdown) are always worth a warning. */
const SEVERE: ReadonlySet<DropReason> = new Set(['rejected_by_database', 'connection_rejected_by_database', 'shutdown_timeout']);

export function createDropRecorder(metrics: Metrics, log: Logger, level: 'debug' | 'warn' = 'debug') {
  const admit = createLogLimiter<DropReason>();
  return function recordDrop(reason: DropReason, count = 1, detail?: unknown): void {
    metrics.messagesDropped.inc({ reason }, count);
    const alsoDropped = admit(reason, count);
    if (alsoDropped === null) return;
    log[SEVERE.has(reason) ? 'warn' : level]({ reason, count, alsoDroppedSinceLastLog: alsoDropped, detail }, 'message dropped');
  };
}

export type DropRecorder = ReturnType<typeof createDropRecorder>;

/** Identity fields longer than IDENTITY_LIMITS: the message is stored, the field is not. */
export function createIdentityRejectionRecorder(metrics: Metrics, log: Logger) {
  const admit = createLogLimiter<IdentityColumn>();
  return function recordIdentityRejected(fields: readonly IdentityColumn[], detail?: unknown): void {
    for (const field of fields) {
      metrics.identityFieldsRejected.inc({ field });
      const alsoRejected = admit(field, 1);
      if (alsoRejected !== null) log.info({ field, alsoRejectedSinceLastLog: alsoRejected, detail }, 'identity field too long: ignored (the message is stored)');
    }
  };
}

export type IdentityRejectionRecorder = ReturnType<typeof createIdentityRejectionRecorder>;
