// GET /metrics: the Prometheus text exposition of the server's registry.
import type { FastifyInstance } from 'fastify';
import type { Metrics } from './catalogue.js';

export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics): void {
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
