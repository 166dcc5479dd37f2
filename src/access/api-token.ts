// API_TOKEN: when set, every route except ingestion (nodes cannot send headers), the static pages and,
// with METRICS_PUBLIC, /metrics /health /ready, requires `Authorization: Bearer <token>` or, for browsers
// and websockets that cannot set headers, `?access_token=<token>`.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { sendRefusal } from './refusal.js';

const OPEN_ALWAYS = [/^\/dashboard(\/|$)/, /^\/docs(\/|$)/];
const OPEN_WITH_METRICS_PUBLIC = ['/metrics', '/health', '/ready'];

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function presentedToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header.startsWith('Bearer ')) return header.slice(7).trim();
  const query = request.query as Record<string, unknown> | undefined;
  return typeof query?.access_token === 'string' ? query.access_token : null;
}

export function requireApiToken(app: FastifyInstance, options: { token: string; metricsPublic: boolean }): void {
  const expected = digest(options.token);
  app.addHook('onRequest', async (request, reply) => {
    const path = (request.url.split('?')[0] ?? '/').replace(/\/+$/, '') || '/';
    // Ingestion: `/` and `/audit` websocket upgrades (guarded by INGEST_ALLOW); the browser page on `/`.
    if (path === '/' || path === '/audit') return;
    if (OPEN_ALWAYS.some((pattern) => pattern.test(path))) return;
    if (options.metricsPublic && OPEN_WITH_METRICS_PUBLIC.includes(path)) return;
    const token = presentedToken(request);
    // Compare digests: constant time whatever the presented length.
    if (token !== null && timingSafeEqual(digest(token), expected)) return;
    return sendRefusal(reply.header('www-authenticate', 'Bearer'), new AppError('UNAUTHORIZED'));
  });
}
