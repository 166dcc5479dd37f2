// The feed cache: one entry per (peer_id, msg) shared by every viewer of it, filled from the database
// by polling (so rows written by other servers appear too). Each CACHE_UPDATE_INTERVAL_MS an entry
// with listeners is refreshed by ONE query, whatever the number of listeners; refreshes run
// concurrently (bounded), never blocking subscriptions (docs/decisions.md#feed-cache).
//
// Delivery is exactly-once per listener: each refresh hands the listeners the rows that are new to the
// entry. Late rows (stored after newer ones: batching, several writers or servers) are found because
// each refresh re-reads FEED_LATE_WINDOW_S before the newest row and skips the ids it holds.
// Memory is bounded: CACHE_EXPIRY_S of history, FEED_MAX_ROWS_PER_KEY rows per entry, FEED_MAX_KEYS
// entries and FEED_MAX_CACHE_BYTES in all. Entries stay while they have listeners, however long their
// node is silent, and are evicted IDLE_GRACE_MS after the last listener left.
import type { Logger } from 'pino';
import type { Queryable } from '../storage/database.js';
import type { Metrics } from '../metrics/catalogue.js';
import { type FeedKey, keyId } from './protocol.js';
import { selectFeedRows, type FeedRow } from './queries.js';
import { parseDbTimestamp, formatTimestamp } from './time.js';

export interface CachedRecord {
  id: number;
  createdAtUs: number;
  /** The element sent to viewers: the stored fields plus `created_at`, as JSON. */
  json: string;
  /** UTF-8 length of `json`: what it costs in a frame. */
  bytes: number;
  /** Parsed on first use (aggregation) and kept. */
  fields(): Record<string, unknown>;
}

/** A place in an entry's order (created_at, id). */
export interface Position {
  us: number;
  id: number;
}

/** Whether `record` comes after `position` in (created_at, id) order. */
export const isAfter = (record: CachedRecord, position: Position) => record.createdAtUs > position.us || (record.createdAtUs === position.us && record.id > position.id);

/** Index of the first of `records` (sorted) after `position`. */
export function firstAfter(records: readonly CachedRecord[], position: Position): number {
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (isAfter(records[mid], position)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Rows new to an entry, sorted by (created_at, id). */
export interface Delivery {
  readonly records: readonly CachedRecord[];
}

/**
 * What a subscriber sees of its entry: the records held now (sorted, replaced as rows come and go) and the
 * newest position evicted so far. A viewer reads its backlog from here as its socket takes it, so history
 * is never copied per viewer.
 */
export interface CacheView {
  readonly records: readonly CachedRecord[];
  readonly evictedUpTo: Position | null;
}

export interface CacheListener {
  deliver(delivery: Delivery): void;
}

export interface CacheOptions {
  updateIntervalMs: number;
  expiryS: number;
  updateTimeoutS: number;
  maxKeys: number;
  maxRowsPerKey: number;
  maxBytes: number;
  lateWindowS: number;
  /** Refresh queries running at once. */
  concurrency: number;
}

/** An entry without listeners is kept this long, so a page reload finds it warm. */
export const IDLE_GRACE_MS = 60_000;

interface Refresh {
  token: number;
  startedAt: number;
  warned: boolean;
}

class Entry implements CacheView {
  records: CachedRecord[] = [];
  /** Newest record evicted after listeners could see it (rows evicted by the merge that brought them never were). */
  evictedUpTo: Position | null = null;
  /** Ids of the rows being merged, while their merge runs. */
  arriving: ReadonlySet<number> | null = null;
  readonly ids = new Set<number>();
  bytes = 0;
  /** Rows at or before this (created_at, id) were evicted by a cap; a late one is not taken back. */
  floor: { us: number; id: number } | null = null;
  readonly listeners = new Set<CacheListener>();
  refresh: Refresh | null = null;
  lastRefreshStartedAt = 0;
  idleSince: number;
  failing = false;

  constructor(
    readonly key: FeedKey,
    now: number,
  ) {
    this.idleSince = now;
  }
}

function toRecord(row: FeedRow): CachedRecord {
  const createdAtUs = parseDbTimestamp(row.created_at);
  const createdAt = `"created_at":"${formatTimestamp(createdAtUs)}"`;
  const body = row.data.trim();
  const json = body === '{}' ? `{${createdAt}}` : `${body.slice(0, body.lastIndexOf('}'))}, ${createdAt}}`;
  let parsed: Record<string, unknown> | null = null;
  return {
    id: Number(row.id),
    createdAtUs,
    json,
    bytes: Buffer.byteLength(json),
    fields: () => (parsed ??= JSON.parse(json) as Record<string, unknown>),
  };
}

const byTimeThenId = (a: CachedRecord, b: CachedRecord) => a.createdAtUs - b.createdAtUs || a.id - b.id;

export class FeedCache {
  private readonly entries = new Map<string, Entry>();
  private timer: NodeJS.Timeout | null = null;
  private running = 0;
  private token = 0;
  private totalBytes = 0;
  private totalRows = 0;
  private closed = false;

  constructor(
    private readonly db: Queryable,
    private readonly options: CacheOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), this.options.updateIntervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.entries.clear();
    this.updateGauges();
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Adds a listener to the key's entry (created if needed) and returns the entry's view: the records held
   * now, for the listener's backlog; later records come through `listener.deliver` too. Returns null when
   * the cache holds FEED_MAX_KEYS entries that all have listeners.
   */
  subscribe(key: FeedKey, listener: CacheListener): CacheView | null {
    const id = keyId(key);
    let entry = this.entries.get(id);
    if (entry === undefined) {
      if (this.entries.size >= this.options.maxKeys && !this.evictIdleEntry()) return null;
      entry = new Entry(key, Date.now());
      this.entries.set(id, entry);
      this.updateGauges();
    }
    entry.listeners.add(listener);
    // A new (or idle, stale) entry is refreshed at once rather than at the next tick.
    if (entry.refresh === null && Date.now() - entry.lastRefreshStartedAt >= this.options.updateIntervalMs) this.startRefresh(entry);
    return entry;
  }

  unsubscribe(key: FeedKey, listener: CacheListener): void {
    const entry = this.entries.get(keyId(key));
    if (entry === undefined) return;
    entry.listeners.delete(listener);
    if (entry.listeners.size === 0) entry.idleSince = Date.now();
  }

  /** One refresh round: time-outs, expiry, eviction, then a query for each entry due (oldest first). */
  tick(): void {
    if (this.closed) return;
    const now = Date.now();
    const timeoutMs = this.options.updateTimeoutS * 1000;
    const windowStartUs = now * 1000 - this.options.expiryS * 1_000_000;
    for (const [id, entry] of this.entries) {
      if (entry.refresh !== null) {
        const running = now - entry.refresh.startedAt;
        if (running > 4 * timeoutMs) {
          this.log.warn({ peer_id: entry.key.peerId, msg: entry.key.msg, runningMs: running }, 'feed cache refresh abandoned');
          this.metrics.feedRefreshFailures.inc({ kind: 'abandoned' });
          entry.refresh = null; // its late answer will be discarded (token)
        } else if (running > timeoutMs && !entry.refresh.warned) {
          entry.refresh.warned = true;
          this.log.warn({ peer_id: entry.key.peerId, msg: entry.key.msg, runningMs: running }, 'feed cache refresh is slow');
        }
      }
      if (entry.listeners.size === 0 && now - entry.idleSince > IDLE_GRACE_MS) {
        this.drop(id, entry);
        continue;
      }
      this.expire(entry, windowStartUs);
    }
    const due = [...this.entries.values()].filter((e) => e.refresh === null && e.listeners.size > 0).sort((a, b) => a.lastRefreshStartedAt - b.lastRefreshStartedAt);
    for (const entry of due) {
      if (this.running >= this.options.concurrency) break;
      this.startRefresh(entry);
    }
    this.updateGauges();
  }

  private startRefresh(entry: Entry): void {
    if (this.running >= this.options.concurrency || this.closed) return;
    const now = Date.now();
    const refresh: Refresh = { token: ++this.token, startedAt: now, warned: false };
    entry.refresh = refresh;
    entry.lastRefreshStartedAt = now;
    let sinceUs = now * 1000 - this.options.expiryS * 1_000_000;
    const newest = entry.records.at(-1);
    if (newest) sinceUs = Math.max(sinceUs, newest.createdAtUs - this.options.lateWindowS * 1_000_000);
    if (entry.floor) sinceUs = Math.max(sinceUs, entry.floor.us);
    const held: number[] = [];
    for (let i = entry.records.length - 1; i >= 0 && entry.records[i].createdAtUs >= sinceUs; i--) held.push(entry.records[i].id);

    this.running += 1;
    const stopTimer = this.metrics.feedRefreshSeconds.startTimer();
    const finished = () => {
      stopTimer();
      this.running -= 1;
    };
    selectFeedRows(this.db, entry.key.peerId, entry.key.msg, sinceUs, held, this.options.maxRowsPerKey).then(
      (rows) => {
        finished();
        if (entry.refresh !== refresh || this.entries.get(keyId(entry.key)) !== entry) return; // abandoned or evicted
        entry.refresh = null;
        if (entry.failing) this.log.info({ peer_id: entry.key.peerId, msg: entry.key.msg }, 'feed cache refresh works again');
        entry.failing = false;
        this.merge(entry, rows);
      },
      (error: unknown) => {
        finished();
        this.metrics.feedRefreshFailures.inc({ kind: 'error' });
        if (entry.refresh === refresh) entry.refresh = null; // retried at the next tick
        if (!entry.failing && !this.closed) this.log.warn({ err: error, peer_id: entry.key.peerId, msg: entry.key.msg }, 'feed cache refresh failed; retrying');
        entry.failing = true;
      },
    );
  }

  /** Adds the rows new to the entry, applies the caps, and hands the survivors to the listeners. */
  private merge(entry: Entry, rows: readonly FeedRow[]): void {
    const fresh: CachedRecord[] = [];
    for (const row of rows) {
      const record = toRecord(row);
      if (entry.ids.has(record.id)) continue;
      if (entry.floor && (record.createdAtUs < entry.floor.us || (record.createdAtUs === entry.floor.us && record.id <= entry.floor.id))) continue;
      fresh.push(record);
    }
    if (fresh.length === 0) return;
    fresh.sort(byTimeThenId);
    const last = entry.records.at(-1);
    if (last === undefined || byTimeThenId(last, fresh[0]) < 0) entry.records.push(...fresh);
    else entry.records = [...entry.records, ...fresh].sort(byTimeThenId);
    for (const record of fresh) {
      entry.ids.add(record.id);
      entry.bytes += record.json.length;
      this.totalBytes += record.json.length;
    }
    this.totalRows += fresh.length;
    entry.arriving = new Set(fresh.map((r) => r.id));
    if (entry.records.length > this.options.maxRowsPerKey) this.evictOldest(entry, entry.records.length - this.options.maxRowsPerKey, true);
    if (this.totalBytes > this.options.maxBytes) this.enforceByteBudget();
    entry.arriving = null;
    const delivered = fresh.filter((r) => entry.ids.has(r.id));
    this.updateGauges();
    if (delivered.length === 0) return;
    const delivery: Delivery = { records: delivered };
    for (const listener of [...entry.listeners]) listener.deliver(delivery);
  }

  private expire(entry: Entry, windowStartUs: number): void {
    let n = 0;
    while (n < entry.records.length && entry.records[n].createdAtUs < windowStartUs) n++;
    if (n > 0) this.evictOldest(entry, n, false);
  }

  /** Removes the `n` oldest records; `capped`: they were pushed out by a cap, so remember the floor. */
  private evictOldest(entry: Entry, n: number, capped: boolean): void {
    const removed = entry.records.splice(0, n);
    for (const record of removed) {
      entry.ids.delete(record.id);
      entry.bytes -= record.json.length;
      this.totalBytes -= record.json.length;
    }
    this.totalRows -= removed.length;
    const last = removed.at(-1);
    for (let i = removed.length - 1; i >= 0; i--) {
      const seen = removed[i];
      if (entry.arriving?.has(seen.id)) continue;
      if (entry.evictedUpTo === null || isAfter(seen, entry.evictedUpTo)) entry.evictedUpTo = { us: seen.createdAtUs, id: seen.id };
      break;
    }
    if (capped && last && (entry.floor === null || last.createdAtUs > entry.floor.us || (last.createdAtUs === entry.floor.us && last.id > entry.floor.id))) {
      entry.floor = { us: last.createdAtUs, id: last.id };
    }
  }

  /** Over FEED_MAX_CACHE_BYTES: the largest entries lose their oldest tenth until the total fits. */
  private enforceByteBudget(): void {
    while (this.totalBytes > this.options.maxBytes) {
      let largest: Entry | null = null;
      for (const entry of this.entries.values()) if (largest === null || entry.bytes > largest.bytes) largest = entry;
      if (largest === null || largest.records.length === 0) return;
      let n = 0;
      let freed = 0;
      const target = Math.max(largest.bytes / 10, this.totalBytes - this.options.maxBytes);
      while (n < largest.records.length && freed < target) freed += largest.records[n++].json.length;
      this.evictOldest(largest, n, true);
    }
  }

  /** Makes room for a new key by dropping the entry idle longest; false if every entry has listeners. */
  private evictIdleEntry(): boolean {
    let candidate: [string, Entry] | null = null;
    for (const item of this.entries) {
      if (item[1].listeners.size > 0) continue;
      if (candidate === null || item[1].idleSince < candidate[1].idleSince) candidate = item;
    }
    if (candidate === null) return false;
    this.drop(candidate[0], candidate[1]);
    return true;
  }

  private drop(id: string, entry: Entry): void {
    this.entries.delete(id);
    this.totalBytes -= entry.bytes;
    this.totalRows -= entry.records.length;
  }

  private updateGauges(): void {
    this.metrics.feedCacheKeys.set(this.entries.size);
    this.metrics.feedCacheRows.set(this.totalRows);
    this.metrics.feedCacheBytes.set(this.totalBytes);
  }
}
