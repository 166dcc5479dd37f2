// The feed cache without a server or a database (src/feed/cache.ts): refreshes read from a table held in
// memory with the contract of the feed's query (rows of the key at or after a time, except the ids held,
// newest first, at most `limit`), and the clock is injected. What the cache must guarantee: one query per
// entry whatever the number of listeners, exactly-once delivery in (created_at, id) order including late
// rows, the caps and the expiry, and the eviction of idle entries (docs/decisions.md#feed-cache).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as settle } from 'node:timers/promises';
import { pino } from 'pino';
import { FeedCache, IDLE_GRACE_MS, type CacheListener, type CacheOptions, type CachedRecord, type FeedRowSource } from '../../src/feed/cache.js';
import type { FeedKey } from '../../src/feed/protocol.js';
import type { FeedRow } from '../../src/storage/substrate-logs.js';
import { toDbTimestamp } from '../../src/domain/time.js';
import { createMetrics } from '../../src/metrics/catalogue.js';

const T0 = Date.UTC(2024, 2, 10, 5, 0, 0);
const KEY: FeedKey = { peerId: '12D3KooWCacheTest', msg: 'block.import' };

interface StoredRow {
  id: number;
  key: FeedKey;
  createdAtMs: number;
  height: number;
}

/** The stored messages, and the feed's query over them. */
class Table {
  readonly rows: StoredRow[] = [];
  queries = 0;
  failing = false;
  private nextId = 1;

  insert(createdAtMs: number, height: number, key = KEY): number {
    const id = this.nextId++;
    this.rows.push({ id, key, createdAtMs, height });
    return id;
  }

  readonly source: FeedRowSource = async (key, sinceUs, exceptIds, limit) => {
    this.queries++;
    if (this.failing) throw new Error('the database is unavailable');
    const except = new Set(exceptIds);
    return this.rows
      .filter((r) => r.key.peerId === key.peerId && r.key.msg === key.msg && r.createdAtMs * 1000 >= sinceUs && !except.has(r.id))
      .sort((a, b) => b.createdAtMs - a.createdAtMs || b.id - a.id)
      .slice(0, limit)
      .map((r): FeedRow => ({ id: String(r.id), created_at: toDbTimestamp(r.createdAtMs * 1000), data: JSON.stringify({ height: r.height }) }));
  };
}

class Listener implements CacheListener {
  readonly received: CachedRecord[] = [];
  deliver(delivery: { records: readonly CachedRecord[] }): void {
    this.received.push(...delivery.records);
  }
  get heights(): number[] {
    return this.received.map((r) => r.fields().height as number);
  }
}

function setup(options: Partial<CacheOptions> = {}) {
  const clock = { now: T0 };
  const table = new Table();
  const metrics = createMetrics();
  const cache = new FeedCache(
    table.source,
    { updateIntervalMs: 1000, expiryS: 3600, updateTimeoutS: 10, maxKeys: 10, maxRowsPerKey: 100, maxBytes: 1_000_000, lateWindowS: 30, concurrency: 4, now: () => clock.now, ...options },
    metrics,
    pino({ level: 'silent' }),
  );
  /** Moves the clock and runs one refresh round to its end. */
  const tick = async (ms = 1000) => {
    clock.now += ms;
    cache.tick();
    await settle();
  };
  return { clock, table, metrics, cache, tick };
}

describe('FeedCache', () => {
  it('a new entry is filled at once; records carry created_at and are held in (created_at, id) order', async () => {
    const { table, cache } = setup();
    table.insert(T0 - 2000, 2);
    table.insert(T0 - 3000, 1);
    const listener = new Listener();
    const view = cache.subscribe(KEY, listener);
    await settle();
    assert.ok(view);
    assert.deepEqual(view.records.map((r) => r.fields().height), [1, 2]);
    assert.equal(view.records[0].json, '{"height":1, "created_at":"2024-03-10T04:59:57"}');
    assert.equal(view.records[0].bytes, Buffer.byteLength(view.records[0].json));
    assert.deepEqual(listener.heights, [1, 2]);
  });

  it('one query per refresh however many listeners, and each row delivered once to each', async () => {
    const { table, cache, tick } = setup();
    const listeners = Array.from({ length: 20 }, () => new Listener());
    for (const listener of listeners) cache.subscribe(KEY, listener);
    await settle();
    assert.equal(table.queries, 1);
    table.insert(T0 + 500, 1);
    await tick();
    table.insert(T0 + 1500, 2);
    await tick();
    await tick();
    assert.equal(table.queries, 4);
    for (const listener of listeners) assert.deepEqual(listener.heights, [1, 2]);
  });

  it('a late row (stored after newer ones, within FEED_LATE_WINDOW_S) is delivered once; one older than the window is not looked for', async () => {
    const { table, cache, clock, tick } = setup({ lateWindowS: 30 });
    const listener = new Listener();
    cache.subscribe(KEY, listener);
    await settle();
    table.insert(clock.now, 10);
    await tick();
    table.insert(clock.now - 20_000, 9); // late, inside the window before the newest row
    table.insert(clock.now - 60_000, 8); // late, outside it
    await tick();
    await tick();
    assert.deepEqual(listener.heights, [10, 9]);
  });

  it('keeps FEED_MAX_ROWS_PER_KEY newest rows, marks what it evicted, and never takes an evicted row back', async () => {
    const { table, cache, tick } = setup({ maxRowsPerKey: 3 });
    for (let h = 1; h <= 5; h++) table.insert(T0 - 10_000 + h * 1000, h);
    const listener = new Listener();
    const view = cache.subscribe(KEY, listener)!;
    await settle();
    assert.deepEqual(view.records.map((r) => r.fields().height), [3, 4, 5]);
    table.insert(T0 + 100, 6);
    await tick();
    assert.deepEqual(view.records.map((r) => r.fields().height), [4, 5, 6]);
    assert.equal(view.evictedUpTo?.id, 3, 'height 3 was seen by listeners before it went');
    await tick();
    assert.deepEqual(listener.heights, [3, 4, 5, 6]);
  });

  it('drops records older than CACHE_EXPIRY_S as the clock moves', async () => {
    const { table, cache, tick } = setup({ expiryS: 60 });
    table.insert(T0 - 50_000, 1);
    table.insert(T0 - 5_000, 2);
    const view = cache.subscribe(KEY, new Listener())!;
    await settle();
    assert.equal(view.records.length, 2);
    await tick(20_000);
    assert.deepEqual(view.records.map((r) => r.fields().height), [2]);
  });

  it('holds FEED_MAX_CACHE_BYTES by trimming the largest entry', async () => {
    const { table, cache, metrics } = setup({ maxBytes: 2_000 });
    for (let h = 0; h < 100; h++) table.insert(T0 - 100_000 + h, h);
    const view = cache.subscribe(KEY, new Listener())!;
    await settle();
    const bytes = view.records.reduce((n, r) => n + r.json.length, 0);
    assert.ok(bytes <= 2_000 && view.records.length > 0, `${bytes} bytes held`);
    assert.equal((await metrics.feedCacheBytes.get()).values[0].value, bytes);
    assert.equal(view.records.at(-1)?.fields().height, 99, 'the newest rows are the ones kept');
  });

  it('FEED_MAX_KEYS: refuses a new key while every entry has listeners, evicts an idle one otherwise', async () => {
    const { cache } = setup({ maxKeys: 2 });
    const a = new Listener();
    cache.subscribe({ peerId: 'a', msg: 'm' }, a);
    cache.subscribe({ peerId: 'b', msg: 'm' }, new Listener());
    assert.equal(cache.subscribe({ peerId: 'c', msg: 'm' }, new Listener()), null);
    cache.unsubscribe({ peerId: 'a', msg: 'm' }, a);
    assert.ok(cache.subscribe({ peerId: 'c', msg: 'm' }, new Listener()));
    assert.equal(cache.size, 2);
    await settle();
  });

  it('keeps an entry without listeners for IDLE_GRACE_MS (a page reload finds it warm), then drops it', async () => {
    const { cache, tick } = setup();
    const listener = new Listener();
    cache.subscribe(KEY, listener);
    await settle();
    cache.unsubscribe(KEY, listener);
    await tick(IDLE_GRACE_MS);
    assert.equal(cache.size, 1);
    await tick(1);
    assert.equal(cache.size, 0);
  });

  it('a failing refresh is counted and retried at the next tick, and nothing is lost meanwhile', async () => {
    const { table, cache, metrics, tick } = setup();
    const listener = new Listener();
    table.failing = true;
    table.insert(T0, 1);
    cache.subscribe(KEY, listener);
    await settle();
    assert.equal((await metrics.feedRefreshFailures.get()).values.find((v) => v.labels.kind === 'error')?.value, 1);
    table.failing = false;
    await tick();
    assert.deepEqual(listener.heights, [1]);
  });
});
