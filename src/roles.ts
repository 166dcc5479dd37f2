// What a server of each ROLE answers for the routes it does not serve (docs/scaling.md#roles): a query
// server refuses node websockets on `/` and `/audit` before the upgrade, an ingest server answers
// everything but ingestion and operations 404, both with the error code WRONG_ROLE, so that a node or
// a client pointed at the wrong server (or a load balancer routing wrongly) is told so, not left guessing.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/websocket';
import { AppError } from './errors.js';
import { sendRefusal } from './access/refusal.js';
import type { Metrics } from './metrics/catalogue.js';

export type Role = 'all' | 'ingest' | 'query';

export const servesIngestion = (role: Role) => role !== 'query';
export const servesQueries = (role: Role) => role !== 'ingest';

/** ROLE=query: `/` and `/audit` refuse websocket handshakes (404 WRONG_ROLE); a browser's GET on `/` gets `httpRoot`. */
export function refuseIngestion(app: FastifyInstance, metrics: Metrics, httpRoot?: (request: FastifyRequest, reply: FastifyReply) => unknown): void {
  const refusal = new AppError('WRONG_ROLE', 'this server runs ROLE=query: it serves the query API, /feed and the dashboards; nodes stream telemetry to a ROLE=ingest or ROLE=all server');
  for (const url of ['/', '/audit']) {
    app.route({
      method: 'GET',
      url,
      preValidation: async (request, reply) => {
        if (!request.ws) return;
        metrics.handshakesRefused.inc({ reason: 'WRONG_ROLE' });
        return sendRefusal(reply, refusal);
      },
      handler: (request, reply) => {
        if (url === '/' && httpRoot) return httpRoot(request, reply);
        return sendRefusal(reply, refusal);
      },
    });
  }
}

/** ROLE=ingest: every route it does not have (the query API, /feed, dashboards) is a 404 WRONG_ROLE naming where to go. */
export function answerQueriesElsewhere(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) =>
    sendRefusal(
      reply,
      new AppError('WRONG_ROLE', `${request.method} ${request.url.split('?')[0]} is not served here: this server runs ROLE=ingest (node websockets on / and /audit, /metrics, /health, /ready); the query API, /feed and the dashboards are on ROLE=query or ROLE=all servers`),
    ),
  );
}
