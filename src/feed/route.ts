// GET /feed: the websocket route, its heartbeat and its connection metrics. A plain GET (no upgrade)
// is answered 426 and counts nothing (docs/decisions.md#feed-connection-counts).
import type { FastifyInstance } from 'fastify';
import type {} from '@fastify/websocket';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/catalogue.js';
import type { FeedCache } from './cache.js';
import { FeedViewer, type ViewerOptions } from './viewer.js';
import { AppError, CLOSE_CODES } from '../errors.js';
import { originForbidden, type OriginPolicy } from '../access/origin.js';
import { sendRefusal } from '../access/refusal.js';
import type { ClientAddressResolver } from '../access/client-address.js';
import type { FeedBudget } from './budget.js';
import type { AddressKeyBudget } from './key-budget.js';

/** Shared by all viewers: the server-wide budgets, and who the client is (TRUST_PROXY). */
export interface FeedLimits {
  budget: FeedBudget;
  keyBudget: AddressKeyBudget;
  addresses: ClientAddressResolver;
}

/** Constants of the reference: a ping every 5 s; a viewer silent for 60 s (no pong) is closed. */
export const FEED_PING_INTERVAL_MS = 5_000;
export const FEED_CLIENT_TIMEOUT_MS = 60_000;

export class FeedRoute {
  private readonly viewers = new Set<FeedViewer>();
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    private readonly cache: FeedCache,
    private readonly options: ViewerOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly origins: OriginPolicy,
    private readonly limits: FeedLimits,
  ) {}

  get viewerCount(): number {
    return this.viewers.size;
  }

  register(app: FastifyInstance): void {
    app.route({
      method: 'GET',
      url: '/feed',
      // A web page of another site must not read the feed through the visitor's browser.
      preValidation: async (request, reply) => {
        if (!request.ws || this.origins.allowsFeed(request.headers.origin, request.headers.host)) return;
        this.metrics.feedHandshakesRefused.inc({ reason: 'ORIGIN_FORBIDDEN' });
        this.log.debug({ origin: request.headers.origin?.slice(0, 80) }, '/feed handshake refused: foreign origin');
        return sendRefusal(reply, originForbidden(request.headers.origin, '/feed', "only this server's own pages and ALLOWED_ORIGINS"));
      },
      handler: (_request, reply) =>
        sendRefusal(reply.header('upgrade', 'websocket'), new AppError('UPGRADE_REQUIRED', '/feed is a websocket: send {"peer_id","msg","interest":"subscribe","start_time"} frames')),
      wsHandler: (socket, request) => {
        const { cache, metrics, log, limits } = this;
        const address = limits.addresses.resolve({ socketAddress: request.socket.remoteAddress, socketPort: request.socket.remotePort, forwardedFor: request.headers['x-forwarded-for'] });
        // An unreadable X-Forwarded-For entry: the budget is charged to the socket peer (the proxy).
        const ip = address.ok ? address.ip : (request.socket.remoteAddress ?? 'unknown');
        const viewer = new FeedViewer(socket, ip, { cache, metrics, log, budget: limits.budget, keyBudget: limits.keyBudget }, this.options);
        this.viewers.add(viewer);
        this.metrics.feedsConnected.inc();
        this.metrics.currentFeedConnections.inc();
        socket.on('close', () => {
          this.viewers.delete(viewer);
          viewer.release();
          this.metrics.feedsDisconnected.inc();
          this.metrics.currentFeedConnections.dec();
        });
      },
    });
    this.heartbeat = setInterval(() => this.checkHeartbeats(), FEED_PING_INTERVAL_MS);
    this.heartbeat.unref();
  }

  private checkHeartbeats(): void {
    const deadline = Date.now() - FEED_CLIENT_TIMEOUT_MS;
    for (const viewer of this.viewers) {
      if (viewer.lastFrameAt < deadline) viewer.close(CLOSE_CODES.CLIENT_TIMEOUT, 'client timeout');
      else if (viewer.socket.readyState === viewer.socket.OPEN) viewer.socket.ping();
    }
  }

  closeAll(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const viewer of this.viewers) viewer.close(CLOSE_CODES.SHUTDOWN, 'server shutting down');
  }
}
