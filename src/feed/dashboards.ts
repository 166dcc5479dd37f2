// The static dashboards: files of ASSETS_PATH under /dashboard/ (a directory serves its index.html, no
// listings), uPlot from node_modules under /dashboard/vendor/uplot/ (no CDN), and the nodes overview
// page answering a browser's GET on `/`. Dot-files and symlinks are never served (404): a `.env`, a
// `.git` or a link to /etc/passwd dropped into the folder stays private.
import path from 'node:path';
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';

export const OVERVIEW_PAGE = 'overview/index.html';

/** The folder with its own symlinks resolved (ASSETS_PATH itself may be a link); unchanged if missing. */
function realFolder(folder: string): string {
  try {
    return realpathSync(folder);
  } catch {
    return folder;
  }
}

/**
 * True when `pathname` (relative to `root`, which is a real path) names no dot-file and no symlink: its
 * real path is the path itself. A path that does not exist passes, to be answered 404 by the file server.
 * Synchronous because @fastify/static asks synchronously; it resolves a few cached directory entries.
 */
export function isPlainAssetPath(root: string, pathname: string): boolean {
  const segments = pathname.split('/').filter((s) => s !== '');
  if (segments.some((s) => s.startsWith('.'))) return false;
  const lexical = path.join(root, ...segments);
  try {
    return realpathSync(lexical) === lexical;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

export async function registerDashboards(app: FastifyInstance, assetsPath: string): Promise<(request: FastifyRequest, reply: FastifyReply) => unknown> {
  const root = realFolder(path.resolve(assetsPath));
  const allowedPath = (pathname: string, folder: string | undefined) => isPlainAssetPath(folder ?? root, pathname);
  await app.register(fastifyStatic, { root, prefix: '/dashboard/', index: ['index.html'], list: false, decorateReply: true, dotfiles: 'ignore', allowedPath });
  const uplotDist = realFolder(path.dirname(createRequire(import.meta.url).resolve('uplot')));
  await app.register(fastifyStatic, { root: uplotDist, prefix: '/dashboard/vendor/uplot/', decorateReply: false, list: false, dotfiles: 'ignore', allowedPath });
  app.get('/dashboard', (_request, reply) => reply.sendFile('index.html', root));
  return (_request, reply) => reply.sendFile(OVERVIEW_PAGE, root);
}
