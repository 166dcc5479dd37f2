// Admission control of the query lane: at most QUERY_CONCURRENCY queries (API transactions, feed cache
// refreshes, exports) run at once; further ones wait in a FIFO queue of at most QUERY_QUEUE_MAX for at
// most QUERY_QUEUE_WAIT_MS, and past either limit they fail with AppError QUERY_OVERLOADED (503,
// Retry-After), so a flood of queries is refused at the door instead of piling up on the database and
// the event loop that ingestion shares (docs/scaling.md#queries-in-their-own-lane).
// Ingestion never passes through here: it has its own pool (src/storage/open.ts). In a ROLE=all server,
// while the writer's buffer is filling up, queries are admitted one at a time (ingestionBehind).
//
// Wrapping a handler:
//   await admission.run(() => query(...))                 // short work: the slot is held while fn runs
//   const slot = await admission.acquire();               // long work (a streamed export): hold the slot
//   try { await streamRows(...) } finally { slot.release() }   // until the last byte, release once
// acquire() and run() throw QUERY_OVERLOADED before anything started; the API's error handler turns it
// into the 503 with Retry-After (src/api/errors.ts). `priority: true` (the feed's refreshes, which serve
// every viewer of an entry at once and are few) is served before ordinary waiters.
import type { Metrics } from '../metrics/catalogue.js';
import { AppError } from '../errors.js';

export interface AdmissionOptions {
  concurrency: number;
  queueMax: number;
  queueWaitMs: number;
  /**
   * True while ingestion in this process is behind (ROLE=all: the writer's buffer filling up): queries
   * are then admitted one at a time, so that a query flood gives the event loop and the database back
   * to the nodes first. Checked at each admission.
   */
  ingestionBehind?: () => boolean;
}

export interface AdmissionSlot {
  /** Gives the slot back; later calls do nothing. */
  release(): void;
}

export interface AcquireOptions {
  /** Served before ordinary waiters (still counted, still bounded by the queue). */
  priority?: boolean;
}

interface Waiter {
  grant(): void;
  timer: NodeJS.Timeout;
}

/** Seconds a refused client is asked to wait: about one queue wait, at least 1. */
function retryAfterSeconds(queueWaitMs: number): number {
  return Math.max(1, Math.ceil(queueWaitMs / 1000));
}

export class QueryOverloadedError extends AppError {
  readonly retryAfterS: number;
  constructor(message: string, retryAfterS: number) {
    super('QUERY_OVERLOADED', message);
    this.retryAfterS = retryAfterS;
  }
}

export class Admission {
  private inFlight = 0;
  private readonly queue: Waiter[] = [];
  private readonly urgent: Waiter[] = [];

  constructor(
    readonly options: AdmissionOptions,
    private readonly metrics: Metrics,
  ) {}

  get running(): number {
    return this.inFlight;
  }

  get waiting(): number {
    return this.queue.length + this.urgent.length;
  }

  /** Runs `fn` once admitted, holding a slot until it settles. */
  async run<T>(fn: () => Promise<T>, options: AcquireOptions = {}): Promise<T> {
    const slot = await this.acquire(options);
    try {
      return await fn();
    } finally {
      slot.release();
    }
  }

  /** A slot, at once or after queueing; throws QueryOverloadedError when the queue is full or the wait too long. */
  acquire(options: AcquireOptions = {}): Promise<AdmissionSlot> {
    if (this.inFlight < this.limit() && this.waiting === 0) return Promise.resolve(this.take());
    const retryAfterS = retryAfterSeconds(this.options.queueWaitMs);
    if (this.waiting >= this.options.queueMax) {
      this.metrics.queriesRejected.inc({ reason: 'queue_full' });
      return Promise.reject(new QueryOverloadedError(`${this.inFlight} queries are running and ${this.waiting} waiting, the most this server takes (QUERY_CONCURRENCY=${this.options.concurrency}, QUERY_QUEUE_MAX=${this.options.queueMax}); try again after ${retryAfterS} s`, retryAfterS));
    }
    return new Promise<AdmissionSlot>((resolve, reject) => {
      const line = options.priority ? this.urgent : this.queue;
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer);
          resolve(this.take());
        },
        timer: setTimeout(() => {
          const index = line.indexOf(waiter);
          if (index >= 0) line.splice(index, 1);
          this.updateGauges();
          this.metrics.queriesRejected.inc({ reason: 'wait_timeout' });
          reject(new QueryOverloadedError(`the query waited ${this.options.queueWaitMs} ms for one of QUERY_CONCURRENCY=${this.options.concurrency} query slots (QUERY_QUEUE_WAIT_MS); try again after ${retryAfterS} s`, retryAfterS));
        }, this.options.queueWaitMs),
      };
      line.push(waiter);
      // Slots may have opened without a release (ingestion caught up): hand them out now.
      this.next();
    });
  }

  /** QUERY_CONCURRENCY, or 1 while ingestion is behind. */
  private limit(): number {
    return this.options.ingestionBehind?.() ? 1 : this.options.concurrency;
  }

  private take(): AdmissionSlot {
    this.inFlight += 1;
    this.updateGauges();
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.inFlight -= 1;
        this.next();
      },
    };
  }

  /** Hands freed slots to the waiters, priority first. */
  private next(): void {
    while (this.inFlight < this.limit()) {
      const waiter = this.urgent.shift() ?? this.queue.shift();
      if (waiter === undefined) break;
      waiter.grant();
    }
    this.updateGauges();
  }

  private updateGauges(): void {
    this.metrics.queriesInFlight.set(this.inFlight);
    this.metrics.queriesQueued.set(this.waiting);
  }
}
