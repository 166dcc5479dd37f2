// One /feed websocket: reads the client's subscribe/unsubscribe frames, keeps its subscriptions (each a
// listener of the shared cache, with optional aggregation), and sends deliveries. A viewer whose unsent
// data passes FEED_MAX_BUFFERED_BYTES is disconnected rather than buffered without bound.
import type { WebSocket, RawData } from 'ws';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/catalogue.js';
import type { FeedCache, CacheListener, CachedRecord, Delivery } from './cache.js';
import { Aggregator } from './aggregate.js';
import { type FeedKey, type Aggregation, parseRequest, encodeData, encodeError, keyId, tooManySubscriptions, CACHE_FULL } from './protocol.js';

export const FEED_CLOSE_CODES = { SHUTDOWN: 1001, TOO_SLOW: 4008, TIMEOUT: 4408 } as const;

export interface ViewerOptions {
  maxSubscriptions: number;
  maxBufferedBytes: number;
  /** Late rows older than this are not expected (FEED_LATE_WINDOW_S): how long aggregation buckets stay open to them. */
  lateWindowUs: number;
}

class Subscription implements CacheListener {
  private readonly aggregator: Aggregator | null;

  constructor(
    private readonly viewer: FeedViewer,
    readonly key: FeedKey,
    private readonly startUs: number,
    aggregation: Aggregation | null,
    lateWindowUs: number,
  ) {
    this.aggregator = aggregation === null ? null : new Aggregator({ ...aggregation, msg: key.msg, retainUs: Math.max(lateWindowUs, aggregation.intervalS * 1_000_000) });
  }

  deliver(delivery: Delivery): void {
    const { records } = delivery;
    if (records.length === 0) return;
    // Records are sorted by created_at: all of them are wanted when the first is.
    const all = records[0].createdAtUs >= this.startUs;
    const wanted = all ? records : records.filter((r) => r.createdAtUs >= this.startUs);
    if (wanted.length === 0) return;
    if (this.aggregator !== null) {
      const elements = this.aggregator.add(wanted);
      if (elements.length > 0) this.viewer.send(encodeData(this.key, elements.map((e) => JSON.stringify(e))));
      return;
    }
    if (all) {
      delivery.frame ??= encodeData(this.key, records.map((r) => r.json));
      this.viewer.send(delivery.frame);
    } else {
      this.viewer.send(encodeData(this.key, wanted.map((r) => r.json)));
    }
  }

  /** The records the cache already held when subscribing. */
  deliverHeld(records: readonly CachedRecord[]): void {
    let first = records.length;
    // Binary search for the first record at or after start_time.
    let lo = 0;
    while (lo < first) {
      const mid = (lo + first) >> 1;
      if (records[mid].createdAtUs < this.startUs) lo = mid + 1;
      else first = mid;
    }
    if (first < records.length) this.deliver({ records: records.slice(first) });
  }
}

export class FeedViewer {
  private readonly subscriptions = new Map<string, Subscription>();
  lastFrameAt = Date.now();
  private closed = false;

  constructor(
    readonly socket: WebSocket,
    private readonly cache: FeedCache,
    private readonly options: ViewerOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    socket.on('message', (data: RawData, isBinary: boolean) => {
      this.lastFrameAt = Date.now();
      if (!isBinary) this.handleText(data.toString());
    });
    socket.on('ping', () => (this.lastFrameAt = Date.now()));
    socket.on('pong', () => (this.lastFrameAt = Date.now()));
    socket.on('error', (error: Error) => log.debug({ err: error.message }, 'feed socket error'));
  }

  get subscriptionCount(): number {
    return this.subscriptions.size;
  }

  handleText(text: string): void {
    const request = parseRequest(text);
    switch (request.kind) {
      case 'ignore':
        return;
      case 'error':
        this.metrics.feedSubscriptionsRefused.inc({ reason: 'invalid' });
        this.send(encodeError(request.error));
        return;
      case 'unsubscribe':
        this.unsubscribe(request.key);
        return;
      case 'subscribe': {
        const id = keyId(request.key);
        // Subscribing again to a key replaces its subscription (new start_time and aggregation).
        this.unsubscribe(request.key);
        if (this.subscriptions.size >= this.options.maxSubscriptions) {
          this.metrics.feedSubscriptionsRefused.inc({ reason: 'too_many_subscriptions' });
          this.send(encodeError(tooManySubscriptions(this.options.maxSubscriptions)));
          return;
        }
        const subscription = new Subscription(this, request.key, request.startUs, request.aggregation, this.options.lateWindowUs);
        const held = this.cache.subscribe(request.key, subscription);
        if (held === null) {
          this.metrics.feedSubscriptionsRefused.inc({ reason: 'cache_full' });
          this.send(encodeError(CACHE_FULL));
          return;
        }
        this.subscriptions.set(id, subscription);
        this.metrics.feedSubscriptions.inc();
        subscription.deliverHeld(held);
        return;
      }
    }
  }

  private unsubscribe(key: FeedKey): void {
    const id = keyId(key);
    const subscription = this.subscriptions.get(id);
    if (subscription === undefined) return;
    this.subscriptions.delete(id);
    this.cache.unsubscribe(key, subscription);
    this.metrics.feedSubscriptions.dec();
  }

  send(frame: string): void {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return;
    if (this.socket.bufferedAmount > this.options.maxBufferedBytes) {
      this.metrics.feedSlowViewersDisconnected.inc();
      this.log.info({ buffered: this.socket.bufferedAmount }, 'feed viewer too slow: disconnecting');
      this.close(FEED_CLOSE_CODES.TOO_SLOW, 'too slow: unsent data over FEED_MAX_BUFFERED_BYTES');
      return;
    }
    this.socket.send(frame);
    this.metrics.feedFramesSent.inc();
    this.metrics.feedBytesSent.inc(Buffer.byteLength(frame));
  }

  /** Sends a close frame and drops the TCP connection shortly after (a slow peer may never answer). */
  close(code: number, reason: string): void {
    this.release();
    if (this.socket.readyState === this.socket.OPEN) this.socket.close(code, reason);
    setTimeout(() => this.socket.terminate(), 1000).unref();
  }

  /** Gives every subscription back to the cache; called once the socket is done. */
  release(): void {
    if (this.closed) return;
    this.closed = true;
    for (const subscription of this.subscriptions.values()) {
      this.cache.unsubscribe(subscription.key, subscription);
      this.metrics.feedSubscriptions.dec();
    }
    this.subscriptions.clear();
  }
}
