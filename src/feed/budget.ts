// The server-wide budget of /feed data not yet sent: the sum over viewers of what they hold unsent, kept
// up to date as it changes; past FEED_MAX_TOTAL_BUFFERED_BYTES the viewer holding the most is
// disconnected, until the total fits again. A count per viewer makes each change O(1); the largest is
// looked for only when the budget is passed.
import type { Metrics } from '../metrics/catalogue.js';

export interface BudgetHolder {
  /** Bytes this viewer holds unsent now. */
  readonly unsentBytes: number;
  /** Disconnects the viewer for the budget; it must call `forget` (directly or through its release). */
  evictForBudget(): void;
}

export class FeedBudget {
  private readonly holders = new Set<BudgetHolder>();
  private total = 0;
  private evicting = false;

  constructor(
    readonly maxTotalBytes: number,
    private readonly metrics: Metrics,
  ) {}

  get totalBytes(): number {
    return this.total;
  }

  join(holder: BudgetHolder): void {
    this.holders.add(holder);
  }

  /** The holder's unsent bytes changed by `delta` (its `unsentBytes` already says the new value). */
  change(delta: number): void {
    this.total += delta;
    this.metrics.feedUnsentBytes.set(this.total);
    if (delta > 0 && this.total > this.maxTotalBytes) this.evictLargest();
  }

  /** The holder is gone: its bytes leave the total. */
  forget(holder: BudgetHolder): void {
    if (!this.holders.delete(holder)) return;
    this.change(-holder.unsentBytes);
  }

  private evictLargest(): void {
    // Evicting changes the total (forget) from inside this loop: one pass at a time.
    if (this.evicting) return;
    this.evicting = true;
    try {
      while (this.total > this.maxTotalBytes) {
        let largest: BudgetHolder | null = null;
        for (const holder of this.holders) if (largest === null || holder.unsentBytes > largest.unsentBytes) largest = holder;
        if (largest === null || largest.unsentBytes === 0) return;
        this.metrics.feedTotalBudgetDisconnects.inc();
        largest.evictForBudget();
        // A holder that failed to forget itself would loop forever: make sure it is gone.
        this.forget(largest);
      }
    } finally {
      this.evicting = false;
    }
  }
}
