// @ts-check
// The /feed websocket client: subscriptions remembered and sent again after a reconnection from the
// newest time already received (nothing missed; pages merge by time), reconnection with back-off, and
// the time of the next attempt told to the page (its stale state counts down to it).
import { feedUrl } from './api.js';
import { toStartTime } from './format.js';

/**
 * @typedef {{ peer_id: string, msg: string, interest: 'subscribe', start_time: string, aggregate_type: string, aggregate_interval: number | string, aggregate_key?: string }} FeedRequest
 * @typedef {{ type?: string, interval?: number, key?: string }} Aggregation
 * @typedef {(status: 'connecting' | 'live' | 'reconnecting', retryAt?: number) => void} StatusListener
 * @typedef {(peerId: string, msg: string, data: Array<Record<string, any>>) => void} DataListener
 */

export class Feed {
  /**
   * Nothing happens until start().
   * @param {{ onData: DataListener, onStatus?: StatusListener, onError?: (error: unknown) => void }} handlers
   */
  constructor({ onData, onStatus = () => {}, onError = (e) => console.warn('feed:', e) }) {
    this.onData = onData;
    this.onStatus = onStatus;
    this.onError = onError;
    /** @type {Map<string, FeedRequest>} */
    this.subscriptions = new Map();
    this.retryMs = 500;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.stopped = false;
  }

  /**
   * @param {string} peerId
   * @param {string} msg
   */
  static key(peerId, msg) {
    return JSON.stringify([peerId, msg]);
  }

  start() {
    this.stopped = false;
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    this.ws?.close();
  }

  connect() {
    this.onStatus('connecting');
    const ws = new WebSocket(feedUrl());
    this.ws = ws;
    ws.onopen = () => {
      this.retryMs = 500;
      this.onStatus('live');
      for (const request of this.subscriptions.values()) ws.send(JSON.stringify(request));
    };
    ws.onmessage = (event) => this.receive(event.data);
    ws.onclose = () => {
      if (this.stopped || this.ws !== ws) return;
      const delay = this.retryMs;
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
      this.onStatus('reconnecting', Date.now() + delay);
      setTimeout(() => this.connect(), delay);
    };
  }

  /** @param {string} text */
  receive(text) {
    const frame = JSON.parse(text);
    if (frame.error !== undefined) return this.onError(frame.error);
    const { peer_id: peerId, msg } = frame.peer_message ?? {};
    if (msg === undefined) return;
    const request = this.subscriptions.get(Feed.key(peerId, msg));
    if (request && !request.aggregate_type) {
      /** @type {string} */
      let newest = request.start_time;
      for (const d of frame.data) if (d.created_at > newest) newest = d.created_at;
      request.start_time = newest;
    }
    this.onData(peerId, msg, frame.data);
  }

  /**
   * @param {string} peerId
   * @param {string} msg
   * @param {Date | string} startTime
   * @param {Aggregation} [aggregation]
   */
  subscribe(peerId, msg, startTime, aggregation = {}) {
    /** @type {FeedRequest} */
    const request = { peer_id: peerId, msg, interest: 'subscribe', start_time: toStartTime(startTime), aggregate_type: aggregation.type ?? '', aggregate_interval: aggregation.interval ?? '' };
    if (aggregation.key) request.aggregate_key = aggregation.key;
    this.subscriptions.set(Feed.key(peerId, msg), request);
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(request));
  }

  /**
   * @param {string} peerId
   * @param {string} msg
   */
  unsubscribe(peerId, msg) {
    if (!this.subscriptions.delete(Feed.key(peerId, msg))) return;
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ peer_id: peerId, msg, interest: 'unsubscribe', start_time: '' }));
  }

  unsubscribeAll() {
    for (const request of [...this.subscriptions.values()]) this.unsubscribe(request.peer_id, request.msg);
  }
}
