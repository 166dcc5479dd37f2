// Background retention: prepares time partitions ahead of incoming data and, every PURGE_INTERVAL_S,
// removes expiring messages older than LOG_EXPIRY_H (see storage/partitions.ts for how).
import type { Logger } from 'pino';
import type { Database } from '../storage/database.js';
import type { Metrics } from '../metrics/catalogue.js';
import type { Settings } from '../config/settings.js';
import { ensurePartitions, purgeExpired, type PurgeResult } from '../storage/partitions.js';

/** Partitions are checked at least this often, whatever PURGE_INTERVAL_S is. */
const MAX_MAINTENANCE_PERIOD_S = 600;

export class Purger {
  private purgeTimer: NodeJS.Timeout | null = null;
  private maintenanceTimer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly settings: Pick<Settings, 'purgeIntervalS' | 'logExpiryH' | 'partitionIntervalH' | 'partitionsAhead'>,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** Prepares partitions now (before ingestion starts), then schedules maintenance and purges. */
  async start(): Promise<void> {
    await this.preparePartitions();
    const maintenanceS = Math.min(this.settings.purgeIntervalS, MAX_MAINTENANCE_PERIOD_S);
    this.maintenanceTimer = setInterval(() => void this.serialise(() => this.preparePartitions().catch((err) => this.log.warn({ err }, 'partition maintenance failed'))), maintenanceS * 1000);
    this.purgeTimer = setInterval(() => void this.serialise(() => this.purge()), this.settings.purgeIntervalS * 1000);
    this.maintenanceTimer.unref();
    this.purgeTimer.unref();
  }

  async preparePartitions(nowMs = Date.now()): Promise<string[]> {
    const created = await ensurePartitions(this.db, nowMs, this.settings.partitionIntervalH, this.settings.partitionsAhead);
    if (created.length > 0) this.log.info({ created }, 'created time partitions');
    return created;
  }

  /** One purge run; never throws (a failure is logged and counted, and the next run tries again). */
  async purge(nowMs = Date.now()): Promise<PurgeResult | null> {
    const started = Date.now();
    try {
      const result = await purgeExpired(this.db, nowMs - this.settings.logExpiryH * 3_600_000);
      if (!result.ran) {
        this.metrics.purgeRuns.inc({ outcome: 'skipped' });
        this.log.debug('purge skipped: another instance holds the purge lock');
        return result;
      }
      this.metrics.purgeRuns.inc({ outcome: 'ok' });
      this.metrics.purgePartitionsDropped.inc(result.partitionsDropped.length);
      this.metrics.purgeRowsDeleted.inc({ table: 'substrate_logs' }, result.boundaryRowsDeleted + result.defaultRowsDeleted);
      this.metrics.purgeRowsDeleted.inc({ table: 'peer_connections' }, result.connectionsDeleted);
      this.log.info({ ...result, ms: Date.now() - started }, 'purged expired data');
      return result;
    } catch (err) {
      this.metrics.purgeRuns.inc({ outcome: 'failed' });
      this.log.warn({ err }, 'purge failed; it runs again next interval');
      return null;
    }
  }

  private serialise(task: () => Promise<unknown>): Promise<unknown> {
    this.running = this.running.then(task, task);
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    if (this.maintenanceTimer) clearInterval(this.maintenanceTimer);
    await this.running.catch(() => {});
  }
}
