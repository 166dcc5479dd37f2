// The static dashboards: files of ASSETS_PATH under /dashboard/ (a directory serves its index.html, no
// listings), uPlot from node_modules under /dashboard/vendor/uplot/ (no CDN), and the nodes overview
// page answering a browser's GET on `/`.
import path from 'node:path';
import { createRequire } from 'node:module';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';

export const OVERVIEW_PAGE = 'overview/index.html';

export async function registerDashboards(app: FastifyInstance, assetsPath: string): Promise<(request: FastifyRequest, reply: FastifyReply) => unknown> {
  const root = path.resolve(assetsPath);
  await app.register(fastifyStatic, { root, prefix: '/dashboard/', index: ['index.html'], list: false, decorateReply: true });
  const uplotDist = path.dirname(createRequire(import.meta.url).resolve('uplot'));
  await app.register(fastifyStatic, { root: uplotDist, prefix: '/dashboard/vendor/uplot/', decorateReply: false, list: false });
  app.get('/dashboard', (_request, reply) => reply.sendFile('index.html', root));
  return (_request, reply) => reply.sendFile(OVERVIEW_PAGE, root);
}
