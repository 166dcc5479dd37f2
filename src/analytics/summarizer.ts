// Background job of network analytics: every ANALYTICS_SUMMARY_INTERVAL_S, stores the figures of blocks
// first seen more than ANALYTICS_SETTLE_S ago (and re-stores those that received a late arrival), so that
// queries read one row per block instead of its thousand arrivals. One server at a time: each step is a
// transaction holding the analytics advisory lock.
import type { Logger } from 'pino';
import type { Database } from '../storage/database.js';
import type { Metrics } from '../metrics/catalogue.js';
import { summarizeSettledBlocks } from '../storage/analytics-write.js';

/** Blocks summarized per transaction; a run continues with further transactions while blocks are left. */
export const SUMMARY_STEP_BLOCKS = 200;
/** A run stops after this long even if blocks are left (the next run continues), so it never holds the lock for long. */
const MAX_RUN_MS = 30_000;

export class BlockSummarizer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly db: Database,
    private readonly options: { settleS: number; intervalS: number },
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.run());
    }, this.options.intervalS * 1000);
    this.timer.unref();
  }

  /** One run; never throws. Resolves with the blocks summarized, or null when skipped or failed. */
  async run(): Promise<number | null> {
    if (this.stopped) return null;
    const started = Date.now();
    try {
      let total: number | null = 0;
      for (;;) {
        const step = await summarizeSettledBlocks(this.db, this.options.settleS, SUMMARY_STEP_BLOCKS);
        if (step === null) {
          // Another server holds the lock: it does the work.
          if (total === 0) total = null;
          break;
        }
        total += step.summarized;
        if (step.summarized < SUMMARY_STEP_BLOCKS || this.stopped || Date.now() - started > MAX_RUN_MS) break;
      }
      if (total === null) {
        this.metrics.analyticsSummaryRuns.inc({ outcome: 'skipped' });
        return null;
      }
      this.metrics.analyticsSummaryRuns.inc({ outcome: 'ok' });
      this.metrics.analyticsBlocksSummarized.inc(total);
      if (total > 0) this.log.debug({ blocks: total, ms: Date.now() - started }, 'summarized settled blocks');
      return total;
    } catch (err) {
      this.metrics.analyticsSummaryRuns.inc({ outcome: 'failed' });
      this.log.warn({ err }, 'block summary job failed; it runs again next interval');
      return null;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running.catch(() => {});
  }
}
