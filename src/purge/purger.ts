// Background retention: keeps time partitions prepared ahead of incoming messages and, every
// PURGE_INTERVAL_S, detaches and drops the partitions whose messages are all older than LOG_EXPIRY_H.
// A step that must wait for other transactions gives up after a short lock timeout and is retried after a
// pause until they let go; each such wait is counted in /metrics and logged once per step. The statements
// are in storage/partitions.ts, the design in docs/retention.md.
import type { Logger } from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database, Transaction } from '../storage/database.js';
import type { Metrics } from '../metrics/catalogue.js';
import type { Settings } from '../config/settings.js';
import {
  HOUR_MS,
  attachPartition,
  coveredUntil,
  detachPartition,
  dropDetached,
  expiredPartitions,
  gapBelow,
  hasRows,
  isLockTimeout,
  leftoverDetached,
  listPartitions,
  partitionName,
  plannedRanges,
  releasePurgeLock,
  setPurgeSession,
  detachState,
  tryPurgeLock,
} from '../storage/partitions.js';
import { utcText } from '../domain/time.js';
import { deleteOrphanConnections } from '../storage/peer-connections.js';
import { purgeBatchMarkers } from '../storage/ingest-batches.js';
import { purgeAnalyticsBefore } from '../storage/analytics-write.js';

/** Partitions are checked at least this often, whatever PURGE_INTERVAL_S is. */
const MAX_MAINTENANCE_PERIOD_S = 600;
/** Batch markers are needed while a retry may still come: a day is far beyond any retry. */
const BATCH_MARKER_AGE_MS = 24 * HOUR_MS;

export interface RetentionTimings {
  /** How long one detach or drop attempt of the purge waits for locks. Its waits never stop writers, only the attaching of partitions (SHARE UPDATE EXCLUSIVE on the parent). */
  purgeLockTimeoutMs: number;
  /** How long one attach attempt waits for locks (longer than a purge attempt, so it gets in between two). */
  attachLockTimeoutMs: number;
  /** Pause after a first attempt that timed out; doubles up to maxPauseMs. */
  firstPauseMs: number;
  maxPauseMs: number;
}

export const DEFAULT_TIMINGS: RetentionTimings = { purgeLockTimeoutMs: 1_000, attachLockTimeoutMs: 5_000, firstPauseMs: 100, maxPauseMs: 1_000 };

export interface PurgeReport {
  /** False when another instance (or run) holds the purge lock. */
  ran: boolean;
  /** The partition boundary the purge cut at (naive UTC): no expiring message dated before it is left. Null when nothing was due. */
  cutoff: string | null;
  partitionsDropped: string[];
  connectionsDeleted: number;
  /** Attempts that gave up after their lock timeout and were retried. */
  lockWaits: number;
}

export type RetentionStep = 'attach' | 'detach' | 'drop';

/** Thrown out of a purge or maintenance run when the purger is stopped while it waits. */
class RetentionStopped extends Error {}

type RetentionSettings = Pick<Settings, 'purgeIntervalS' | 'logExpiryH' | 'partitionIntervalH' | 'partitionsAhead'> & {
  /** Messages dated further ahead than this are refused by the parser: the partitions must reach at least that far. */
  maxFutureSkewS?: number;
};

export interface PurgerOptions {
  /** The time partitions and purges are computed from (tests run at fixed instants). */
  clock?: () => number;
  timings?: Partial<RetentionTimings>;
}

export class Purger {
  private purgeTimer: NodeJS.Timeout | null = null;
  private maintenanceTimer: NodeJS.Timeout | null = null;
  private purgeRun: Promise<PurgeReport | null> | null = null;
  private maintenanceRun: Promise<string[]> | null = null;
  private readonly stopping = new AbortController();
  private readonly clock: () => number;
  private readonly timings: RetentionTimings;

  constructor(
    private readonly db: Database,
    private readonly settings: RetentionSettings,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    options: PurgerOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.timings = { ...DEFAULT_TIMINGS, ...options.timings };
  }

  /** Prepares partitions now (before ingestion starts), then schedules maintenance and purges. */
  async start(): Promise<void> {
    await this.preparePartitions();
    const maintenanceS = Math.min(this.settings.purgeIntervalS, MAX_MAINTENANCE_PERIOD_S);
    // Maintenance and purge run side by side: a purge waiting for a long reader must not hold back the
    // partitions ahead (their attach gets in between two of the purge's attempts).
    this.maintenanceTimer = setInterval(() => {
      if (this.maintenanceRun === null) void this.preparePartitions().catch((err) => this.log.warn({ err }, 'partition maintenance failed; it runs again next interval'));
    }, maintenanceS * 1000);
    this.purgeTimer = setInterval(() => {
      if (this.purgeRun === null) void this.purge();
    }, this.settings.purgeIntervalS * 1000);
    this.maintenanceTimer.unref();
    this.purgeTimer.unref();
  }

  /** Attaches the partitions due at the clock's time (retrying lock timeouts); returns the names created. */
  async preparePartitions(): Promise<string[]> {
    const run = this.maintain();
    this.maintenanceRun = run;
    try {
      return await run;
    } finally {
      if (this.maintenanceRun === run) this.maintenanceRun = null;
    }
  }

  private async maintain(): Promise<string[]> {
    const nowMs = this.clock();
    const intervalMs = this.settings.partitionIntervalH * HOUR_MS;
    const aheadMs = Math.max(this.settings.partitionsAhead * intervalMs, (this.settings.maxFutureSkewS ?? 0) * 1000);
    try {
      const created: string[] = [];
      for (const range of plannedRanges(await listPartitions(this.db), nowMs, intervalMs, aheadMs)) {
        const name = await this.retrying('attach', partitionName(range), null, () => attachPartition(this.db, range, this.timings.attachLockTimeoutMs));
        if (name !== null) created.push(name);
      }
      const until = coveredUntil(await listPartitions(this.db));
      if (until !== null) this.metrics.partitionsAheadSeconds.set((until - nowMs) / 1000);
      this.metrics.partitionMaintenance.inc({ outcome: 'ok' });
      if (created.length > 0) this.log.info({ created }, 'attached time partitions');
      return created;
    } catch (error) {
      this.metrics.partitionMaintenance.inc({ outcome: error instanceof RetentionStopped ? 'stopped' : 'failed' });
      throw error;
    }
  }

  /**
   * One purge run; never throws (a failure is logged and counted, and the next run tries again). Returns
   * null when it failed or was stopped.
   */
  async purge(): Promise<PurgeReport | null> {
    if (this.purgeRun !== null) {
      // One run at a time in this process (the embedded database's advisory locks are its one session's).
      this.metrics.purgeRuns.inc({ outcome: 'skipped' });
      return { ran: false, cutoff: null, partitionsDropped: [], connectionsDeleted: 0, lockWaits: 0 };
    }
    const run = this.runPurge();
    this.purgeRun = run;
    try {
      return await run;
    } finally {
      this.purgeRun = null;
    }
  }

  private async runPurge(): Promise<PurgeReport | null> {
    const started = performance.now();
    const report: PurgeReport = { ran: false, cutoff: null, partitionsDropped: [], connectionsDeleted: 0, lockWaits: 0 };
    try {
      await this.db.session(async (session) => {
        if (!(await tryPurgeLock(session))) return;
        report.ran = true;
        try {
          await setPurgeSession(session, this.timings.purgeLockTimeoutMs, this.db.kind === 'postgres');
          await this.purgeOn(session, report);
        } finally {
          await setPurgeSession(session, null, this.db.kind === 'postgres');
          await releasePurgeLock(session);
        }
      });
      if (!report.ran) {
        this.metrics.purgeRuns.inc({ outcome: 'skipped' });
        this.log.debug('purge skipped: another instance holds the purge lock');
        return report;
      }
      this.metrics.purgeRuns.inc({ outcome: 'ok' });
      this.metrics.purgeRowsDeleted.inc({ table: 'peer_connections' }, report.connectionsDeleted);
      const ms = Math.round(performance.now() - started);
      if (report.partitionsDropped.length > 0 || report.connectionsDeleted > 0) this.log.info({ ...report, ms }, 'purged expired data');
      else this.log.debug({ ...report, ms }, 'purge: nothing expired');
      return report;
    } catch (err) {
      if (err instanceof RetentionStopped) {
        this.metrics.purgeRuns.inc({ outcome: 'stopped' });
        this.log.info({ ...report }, 'purge stopped by shutdown; the next run completes it');
      } else {
        this.metrics.purgeRuns.inc({ outcome: 'failed' });
        this.log.warn({ err, ...report }, 'purge failed; it runs again next interval');
      }
      return null;
    }
  }

  private async purgeOn(session: Transaction, report: PurgeReport): Promise<void> {
    // Tables a stopped purge detached but did not drop go with this run's.
    const detached = await leftoverDetached(session);
    const limitMs = this.clock() - this.settings.logExpiryH * HOUR_MS;
    const partitions = await listPartitions(session);
    const oldest = partitions[0];
    const beforeHasRows = oldest !== undefined && oldest.fromMs === -Infinity && !oldest.detachPending && oldest.toMs <= limitMs && (await hasRows(session, oldest));
    const expired = expiredPartitions(partitions, limitMs, beforeHasRows);
    if (expired !== null) {
      report.cutoff = utcText(expired.cutoffMs);
      // Oldest first: what is left always covers time from its oldest partition on, without a gap.
      for (const partition of expired.partitions) {
        let known: 'attached' | 'pending' | 'detached' | null = partition.detachPending ? 'pending' : 'attached';
        await this.retrying('detach', partition.name, report, async () => {
          // A timed-out attempt may have left the detach pending (FINALIZE completes it) or done.
          const state = known ?? (await detachState(session, partition.name));
          known = null;
          if (state !== 'detached') await detachPartition(session, partition.name, state === 'pending');
        });
        detached.push(partition.name);
      }
    }
    if (detached.length > 0) {
      await this.retrying('drop', detached.join(', '), report, () => dropDetached(session, detached));
      report.partitionsDropped.push(...detached);
      this.metrics.purgePartitionsDropped.inc(detached.length);
    }
    // Messages dated before the oldest partition left go to a new MINVALUE partition (until it is
    // attached, they find no partition and are refused: they are expired anyway).
    const gap = gapBelow(await listPartitions(session));
    if (gap !== null) await this.retrying('attach', partitionName(gap), report, () => attachPartition(this.db, gap, this.timings.attachLockTimeoutMs));
    if (expired !== null) {
      // The analytics rows of expired messages go with them, before the connections they name.
      await purgeAnalyticsBefore(session, utcText(expired.cutoffMs));
      report.connectionsDeleted = await deleteOrphanConnections(session, utcText(expired.cutoffMs));
    }
    await purgeBatchMarkers(session, utcText(this.clock() - BATCH_MARKER_AGE_MS));
  }

  /**
   * Runs `attempt` until it is not stopped by a lock timeout, pausing between attempts (doubling up to
   * maxPauseMs). The first timeout of the step is logged, and its end; every one is counted.
   */
  private async retrying<T>(step: RetentionStep, target: string, report: PurgeReport | null, attempt: () => Promise<T>): Promise<T> {
    const started = performance.now();
    let waits = 0;
    for (let pause = this.timings.firstPauseMs; ; pause = Math.min(pause * 2, this.timings.maxPauseMs)) {
      if (this.stopping.signal.aborted) throw new RetentionStopped('stopped');
      try {
        const result = await attempt();
        if (waits > 0) {
          this.metrics.partitionLockWaiting.set({ step }, 0);
          this.log.info({ step, partition: target, attempts: waits + 1, waitedMs: Math.round(performance.now() - started) }, `${step} of ${target} done after waiting for other transactions`);
        }
        return result;
      } catch (error) {
        if (!isLockTimeout(error)) {
          if (waits > 0) this.metrics.partitionLockWaiting.set({ step }, 0);
          throw error;
        }
        waits++;
        if (report !== null) report.lockWaits++;
        this.metrics.partitionLockWaits.inc({ step });
        if (waits === 1) {
          this.metrics.partitionLockWaiting.set({ step }, 1);
          this.log.warn(
            { step, partition: target, lockTimeoutMs: step === 'attach' ? this.timings.attachLockTimeoutMs : this.timings.purgeLockTimeoutMs },
            `${step} of ${target} waits for other transactions on substrate_logs to end; retrying until they do (writers are not held up; logged once)`,
          );
        }
        try {
          await sleep(pause, undefined, { signal: this.stopping.signal });
        } catch {
          this.metrics.partitionLockWaiting.set({ step }, 0);
          throw new RetentionStopped('stopped');
        }
      }
    }
  }

  async stop(): Promise<void> {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    if (this.maintenanceTimer) clearInterval(this.maintenanceTimer);
    this.stopping.abort();
    await Promise.all([this.purgeRun, this.maintenanceRun].map((run) => run?.catch(() => {}) ?? Promise.resolve()));
  }
}
