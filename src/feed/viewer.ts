// One /feed websocket: reads the client's subscribe/unsubscribe frames, keeps its subscriptions (each a
// listener of the shared cache, with optional aggregation), and sends their data at the pace the socket
// takes it. Memory per viewer is bounded: a plain subscription reads its backlog straight from the cache
// through a cursor (history is never copied per viewer), frames hold at most FEED_MAX_FRAME_BYTES, and
// the next frame is written only once less than one frame is still unsent. Unsent data (frames not yet
// taken by the OS, plus aggregates and late rows queued) counts against FEED_MAX_BUFFERED_BYTES for the
// viewer — the frame being sent included — and against the server-wide FeedBudget.
import type { WebSocket, RawData } from 'ws';
import { CLOSE_CODES, closeWithGrace } from '../errors.js';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/catalogue.js';
import { type FeedCache, type CacheListener, type CacheView, type Delivery, type Position, firstAfter, isAfter } from './cache.js';
import type { FeedBudget, BudgetHolder } from './budget.js';
import type { AddressKeyBudget } from './key-budget.js';
import { Aggregator } from './aggregate.js';
import { type FeedKey, type Aggregation, parseRequest, encodeData, encodeError, keyId, tooManySubscriptions, tooManyKeysForAddress, CACHE_FULL } from './protocol.js';

/** The text of a websocket message (a Buffer here; fragments or an ArrayBuffer under other binaryTypes). */
function rawDataText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString();
  return Buffer.isBuffer(data) ? data.toString() : Buffer.from(data).toString();
}


export interface ViewerOptions {
  maxSubscriptions: number;
  maxBufferedBytes: number;
  maxFrameBytes: number;
  /** Late rows older than this are not expected (FEED_LATE_WINDOW_S): how long aggregation buckets stay open to them. */
  lateWindowUs: number;
}

/** What a viewer shares with the others: the cache, the server-wide budgets, metrics and log. */
export interface ViewerContext {
  cache: FeedCache;
  budget: FeedBudget;
  keyBudget: AddressKeyBudget;
  metrics: Metrics;
  log: Logger;
}

interface Element {
  json: string;
  bytes: number;
}

interface Frame {
  text: string;
  bytes: number;
  /** Bytes of it that came from the subscription's queue (already counted as unsent). */
  queuedBytes: number;
}

const positionAfter = (a: Position, b: Position) => a.us > b.us || (a.us === b.us && a.id > b.id);

class Subscription implements CacheListener {
  private readonly aggregator: Aggregator | null;
  /** Plain subscriptions: every record at or before this was sent (or precedes start_time, or was gone before subscribing). */
  private cursor: Position;
  private view: CacheView | null = null;
  /** Elements sent ahead of the backlog: late rows older than the cursor, and aggregates. */
  private queue: Element[] = [];
  private queueHead = 0;
  queuedBytes = 0;
  private readonly envelopeBytes: number;

  constructor(
    private readonly viewer: FeedViewer,
    readonly key: FeedKey,
    private readonly startUs: number,
    aggregation: Aggregation | null,
    lateWindowUs: number,
  ) {
    this.aggregator = aggregation === null ? null : new Aggregator({ ...aggregation, msg: key.msg, retainUs: Math.max(lateWindowUs, aggregation.intervalS * 1_000_000) });
    this.cursor = { us: startUs, id: -Infinity };
    this.envelopeBytes = Buffer.byteLength(encodeData(key, []));
  }

  /** Starts from what the cache holds: messages it dropped before this subscription are not owed. */
  attach(view: CacheView): void {
    this.view = view;
    if (view.evictedUpTo !== null && positionAfter(view.evictedUpTo, this.cursor)) this.cursor = view.evictedUpTo;
    if (this.aggregator !== null) {
      const held = view.records.slice(firstAfter(view.records, this.cursor));
      if (held.length > 0) this.aggregate(held);
    } else if (this.hasWork()) this.viewer.ready(this);
  }

  deliver(delivery: Delivery): void {
    if (this.view === null) return;
    const wanted = delivery.records.filter((r) => r.createdAtUs >= this.startUs);
    if (wanted.length === 0) return;
    if (this.aggregator !== null) {
      this.aggregate(wanted);
      return;
    }
    // Newer than the cursor: read from the cache by the next frames. Older (a late row): owed now.
    let ahead = false;
    for (const record of wanted) {
      if (isAfter(record, this.cursor)) ahead = true;
      else this.enqueue({ json: record.json, bytes: record.bytes });
    }
    if (this.missedEvicted()) this.viewer.tooSlow('fell behind: the feed cache dropped messages not sent yet');
    else if (ahead || this.queuedBytes > 0) this.viewer.ready(this);
  }

  private aggregate(records: Parameters<Aggregator['add']>[0]): void {
    const elements = (this.aggregator as Aggregator).add(records);
    for (const element of elements) {
      const json = JSON.stringify(element);
      this.enqueue({ json, bytes: Buffer.byteLength(json) });
    }
    if (elements.length > 0) this.viewer.ready(this);
  }

  private enqueue(element: Element): void {
    this.queue.push(element);
    this.queuedBytes += element.bytes;
    this.viewer.queued(element.bytes);
  }

  /** The cache dropped a message after the cursor: this viewer can no longer be sent everything in order. */
  missedEvicted(): boolean {
    const evicted = this.view?.evictedUpTo;
    return this.aggregator === null && evicted !== undefined && evicted !== null && positionAfter(evicted, this.cursor);
  }

  hasWork(): boolean {
    if (this.queueHead < this.queue.length) return true;
    if (this.aggregator !== null || this.view === null) return false;
    return firstAfter(this.view.records, this.cursor) < this.view.records.length;
  }

  /** The next frame of at most `maxBytes` (one element always goes, however large): queued elements first, then the backlog. */
  takeFrame(maxBytes: number): Frame | null {
    const elements: string[] = [];
    let bytes = this.envelopeBytes;
    let queuedBytes = 0;
    const fits = (size: number) => elements.length === 0 || bytes + 1 + size <= maxBytes;
    const add = (json: string, size: number) => {
      bytes += size + (elements.length > 0 ? 1 : 0);
      elements.push(json);
    };
    while (this.queueHead < this.queue.length && fits(this.queue[this.queueHead].bytes)) {
      const element = this.queue[this.queueHead++];
      add(element.json, element.bytes);
      queuedBytes += element.bytes;
    }
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    }
    this.queuedBytes -= queuedBytes;
    if (this.aggregator === null && this.view !== null && this.queueHead === this.queue.length) {
      const records = this.view.records;
      for (let i = firstAfter(records, this.cursor); i < records.length && fits(records[i].bytes); i++) {
        add(records[i].json, records[i].bytes);
        this.cursor = { us: records[i].createdAtUs, id: records[i].id };
      }
    }
    if (elements.length === 0) return null;
    return { text: encodeData(this.key, elements), bytes, queuedBytes };
  }

  /** Drops what is queued; returns its size. */
  discard(): number {
    const bytes = this.queuedBytes;
    this.queue = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
    return bytes;
  }
}

export class FeedViewer implements BudgetHolder {
  private readonly subscriptions = new Map<string, Subscription>();
  /** Subscriptions with something to send, served round-robin. */
  private readonly readySubscriptions = new Set<Subscription>();
  /** Frames handed to the socket that it has not written to the OS yet. */
  private inFlightBytes = 0;
  /** Elements queued by the subscriptions. */
  private queuedBytes = 0;
  private pumping = false;
  lastFrameAt = Date.now();
  private closed = false;

  constructor(
    readonly socket: WebSocket,
    /** The client's address, for its share of the cache keys. */
    readonly address: string,
    private readonly context: ViewerContext,
    private readonly options: ViewerOptions,
  ) {
    context.budget.join(this);
    socket.on('message', (data: RawData, isBinary: boolean) => {
      this.lastFrameAt = Date.now();
      if (!isBinary) this.handleText(rawDataText(data));
    });
    socket.on('ping', () => (this.lastFrameAt = Date.now()));
    socket.on('pong', () => (this.lastFrameAt = Date.now()));
    socket.on('error', (error: Error) => context.log.debug({ err: error.message }, 'feed socket error'));
  }

  get subscriptionCount(): number {
    return this.subscriptions.size;
  }

  get unsentBytes(): number {
    return this.inFlightBytes + this.queuedBytes;
  }

  handleText(text: string): void {
    const { metrics, cache, keyBudget } = this.context;
    const request = parseRequest(text);
    switch (request.kind) {
      case 'ignore':
        return;
      case 'error':
        metrics.feedSubscriptionsRefused.inc({ reason: 'invalid' });
        this.sendError(request.error);
        return;
      case 'unsubscribe':
        this.unsubscribe(request.key);
        return;
      case 'subscribe': {
        const id = keyId(request.key);
        // Subscribing again to a key replaces its subscription (new start_time and aggregation).
        this.unsubscribe(request.key);
        if (this.subscriptions.size >= this.options.maxSubscriptions) {
          metrics.feedSubscriptionsRefused.inc({ reason: 'too_many_subscriptions' });
          this.sendError(tooManySubscriptions(this.options.maxSubscriptions));
          return;
        }
        if (!keyBudget.acquire(this.address, id)) {
          metrics.feedSubscriptionsRefused.inc({ reason: 'address_key_budget' });
          this.sendError(tooManyKeysForAddress(keyBudget.maxKeysPerAddress));
          return;
        }
        const subscription = new Subscription(this, request.key, request.startUs, request.aggregation, this.options.lateWindowUs);
        const view = cache.subscribe(request.key, subscription);
        if (view === null) {
          keyBudget.release(this.address, id);
          metrics.feedSubscriptionsRefused.inc({ reason: 'cache_full' });
          this.sendError(CACHE_FULL);
          return;
        }
        this.subscriptions.set(id, subscription);
        metrics.feedSubscriptions.inc();
        subscription.attach(view);
        return;
      }
    }
  }

  private unsubscribe(key: FeedKey): void {
    const id = keyId(key);
    const subscription = this.subscriptions.get(id);
    if (subscription === undefined) return;
    this.subscriptions.delete(id);
    this.readySubscriptions.delete(subscription);
    this.queued(-subscription.discard());
    this.context.cache.unsubscribe(key, subscription);
    this.context.keyBudget.release(this.address, id);
    this.context.metrics.feedSubscriptions.dec();
  }

  /** A subscription queued (or, negative, dropped) elements. */
  queued(bytes: number): void {
    if (this.closed || bytes === 0) return;
    this.queuedBytes += bytes;
    this.context.budget.change(bytes);
    if (bytes > 0 && this.unsentBytes > this.options.maxBufferedBytes) this.tooSlow('too slow: unsent data over FEED_MAX_BUFFERED_BYTES');
  }

  /** A subscription has something to send. */
  ready(subscription: Subscription): void {
    if (this.closed) return;
    this.readySubscriptions.add(subscription);
    this.pump();
  }

  /** Writes frames while less than one frame is unsent in the socket; resumed as the socket takes them. */
  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      while (!this.closed && this.inFlightBytes < this.options.maxFrameBytes && this.readySubscriptions.size > 0) {
        const subscription = this.readySubscriptions.values().next().value as Subscription;
        this.readySubscriptions.delete(subscription);
        if (subscription.missedEvicted()) {
          this.tooSlow('fell behind: the feed cache dropped messages not sent yet');
          return;
        }
        const frame = subscription.takeFrame(this.options.maxFrameBytes);
        if (frame === null) continue;
        this.queuedBytes -= frame.queuedBytes;
        this.context.budget.change(-frame.queuedBytes);
        if (!this.transmit(frame.text, frame.bytes)) return;
        if (subscription.hasWork()) this.readySubscriptions.add(subscription); // to the back: round-robin
      }
    } finally {
      this.pumping = false;
    }
  }

  private sendError(error: string): void {
    const text = encodeError(error);
    this.transmit(text, Buffer.byteLength(text));
  }

  /** Sends one frame unless it would take the unsent data past FEED_MAX_BUFFERED_BYTES; false if the viewer is closed. */
  private transmit(text: string, bytes: number): boolean {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return false;
    if (this.unsentBytes + bytes > this.options.maxBufferedBytes) {
      this.tooSlow('too slow: unsent data over FEED_MAX_BUFFERED_BYTES');
      return false;
    }
    this.inFlightBytes += bytes;
    this.socket.send(text, () => {
      // Written to the OS (or failed: the socket is going away). After release the budget no longer counts it.
      if (this.closed) return;
      this.inFlightBytes -= bytes;
      this.context.budget.change(-bytes);
      this.pump();
    });
    this.context.metrics.feedFramesSent.inc();
    this.context.metrics.feedBytesSent.inc(bytes);
    this.context.budget.change(bytes);
    return !this.closed;
  }

  tooSlow(reason: string): void {
    if (this.closed) return;
    this.context.metrics.feedSlowViewersDisconnected.inc();
    this.context.log.info({ unsent: this.unsentBytes, reason }, 'feed viewer too slow: disconnecting');
    this.close(CLOSE_CODES.TOO_SLOW, reason);
  }

  evictForBudget(): void {
    if (this.closed) return;
    this.context.log.info({ unsent: this.unsentBytes, total: this.context.budget.totalBytes }, 'feed viewer holds the most unsent data over FEED_MAX_TOTAL_BUFFERED_BYTES: disconnecting');
    this.close(CLOSE_CODES.TOO_SLOW, 'too slow: server feed buffers full (FEED_MAX_TOTAL_BUFFERED_BYTES)');
  }

  /** Sends a close frame and drops the TCP connection shortly after (a slow peer may never answer). */
  close(close: { code: number }, reason: string): void {
    this.release();
    closeWithGrace(this.socket, close, reason);
  }

  /** Gives every subscription back to the cache and its bytes back to the budget; called once the socket is done. */
  release(): void {
    if (this.closed) return;
    this.context.budget.forget(this);
    this.closed = true;
    this.inFlightBytes = 0;
    this.queuedBytes = 0;
    this.readySubscriptions.clear();
    for (const [id, subscription] of this.subscriptions) {
      this.context.cache.unsubscribe(subscription.key, subscription);
      this.context.keyBudget.release(this.address, id);
      this.context.metrics.feedSubscriptions.dec();
    }
    this.subscriptions.clear();
  }
}
