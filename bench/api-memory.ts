// npm run bench:api-memory — the query API's memory under concurrent large answers: a server process
// whose PostgreSQL holds ROWS messages of KB kilobytes from one node, then CONCURRENCY clients at once
// asking /nodes/logs?limit=10000 for it; reports the server's peak RSS (VmHWM, measured on a server
// restarted after seeding, so ingestion's own peak is not counted), each answer's status and size, and,
// with --follow, that one client reading every page through Link: rel="next" gets every message once.
//   --rows 1300 --kb 500 --concurrency 6 [--follow] [--dist .bench-before] [--env KEY=VALUE]
// `--dist DIR` runs the server built in DIR (e.g. a copy of dist/ made before a change, kept at the top of
// the repository) instead of building dist/ from src/.
import { parseArgs } from 'node:util';
import { build, startServer, type ServerProcess } from './lib/server.js';
import { createPostgresDatabase, connect, storedBySequence } from './lib/db.js';
import { keyValues, save, table, until } from './lib/report.js';
import { connectNode } from '../test/helpers/fixtures.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1300' },
    kb: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '6' },
    limit: { type: 'string', default: '10000' },
    follow: { type: 'boolean', default: false },
    dist: { type: 'string' },
    env: { type: 'string', multiple: true, default: [] },
  },
});
const ROWS = Number(args.rows);
const KB = Number(args.kb);
const CONCURRENCY = Number(args.concurrency);
const PEER = '12D3KooWApiMemoryBench';
const env = Object.fromEntries((args.env).map((pair) => pair.split('=', 2) as [string, string]));

/** Reads a whole answer without keeping it: status, bytes, and the next-page link. */
async function get(url: string): Promise<{ status: number; bytes: number; next: string | null; error?: string }> {
  const response = await fetch(url);
  let bytes = 0;
  let head = '';
  const reader = response.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (head.length < 300) head += Buffer.from(value).toString('utf8', 0, 300);
  }
  const link = response.headers.get('link');
  return { status: response.status, bytes, next: link ? (/<([^>]+)>/.exec(link)?.[1] ?? null) : null, ...(response.status === 200 ? {} : { error: head.slice(0, 300) }) };
}

async function seed(server: ServerProcess, url: string): Promise<void> {
  const node = await connectNode(server.url('/'));
  await node.send(JSON.stringify({ msg: 'system.connected', name: 'memory-bench', network_id: PEER, ts: new Date(Date.now() - 3_600_000).toISOString() }));
  const filler = 'x'.repeat(KB * 1000 - 200);
  const start = Date.now() - 3_000_000;
  for (let i = 0; i < ROWS; i++) {
    await node.send(JSON.stringify({ msg: 'system.network_state', i, state: { filler }, ts: new Date(start + i * 1000).toISOString() }));
  }
  const client = await connect(url);
  const stored = await until(async () => (await storedBySequence(client)) >= ROWS + 1, 600_000, 500);
  await client.end();
  await node.close();
  if (!stored) throw new Error('the messages were not all stored within 10 minutes');
}

if (!args.dist) build();
const database = await createPostgresDatabase();
const serverOptions = { env: { DATABASE_URL: database.url, WS_MAX_PAYLOAD: String(Math.max(524_288, KB * 1000 + 4096)), ...env }, distDir: args.dist };
try {
  console.log(`seeding ${ROWS} messages of ${KB} KB…`);
  let server = await startServer(serverOptions);
  await seed(server, database.url);
  await server.stop();
  server = await startServer(serverOptions);
  try {
    const http = `http://127.0.0.1:${server.port}`;
    await get(`${http}/nodes`);
    const rssBefore = server.rss();
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: CONCURRENCY }, () => get(`${http}/nodes/logs?peer_id=${PEER}&limit=${args.limit}`).catch((error: Error) => ({ status: 0, bytes: 0, next: null, error: error.message }))));
    const seconds = (Date.now() - started) / 1000;
    const peak = server.peakRss();
    const result: Record<string, unknown> = {
      dist: args.dist ?? 'dist',
      rows: ROWS,
      kb: KB,
      concurrency: CONCURRENCY,
      rssBeforeMiB: Math.round(rssBefore),
      peakRssMiB: Math.round(peak),
      seconds: Math.round(seconds * 10) / 10,
    };
    table(
      `${CONCURRENCY} concurrent GET /nodes/logs?limit=${args.limit} over ${ROWS} × ${KB} KB`,
      answers.map((a, i) => ({ client: i + 1, status: a.status, MiB: Math.round((a.bytes / 1048576) * 10) / 10, next: a.next !== null })),
    );
    for (const a of answers) if ('error' in a && a.error) console.log(`answer ${a.status}: ${a.error}`);
    if (server.warnings.length > 0) console.log(`server warnings:\n${server.warnings.slice(0, 3).map((w) => w.slice(0, 600)).join('\n')}`);
    if (args.follow) {
      let pages = 0;
      let bytes = 0;
      let next: string | null = `/nodes/logs?peer_id=${PEER}&limit=${args.limit}`;
      while (next !== null) {
        const page = await get(`${http}${next}`);
        if (page.status !== 200) throw new Error(`page ${pages + 1}: status ${page.status}`);
        pages += 1;
        bytes += page.bytes;
        next = page.next;
      }
      result.followedPages = pages;
      result.followedMiB = Math.round((bytes / 1048576) * 10) / 10;
      result.peakRssAfterFollowMiB = Math.round(server.peakRss());
    }
    keyValues('server memory', result);
    result.answers = answers;
    console.log(`\npeak RSS with ${CONCURRENCY} concurrent large answers: ${Math.round(peak)} MiB (before them: ${Math.round(rssBefore)} MiB)`);
    save('api-memory', result);
  } finally {
    await server.stop();
  }
} finally {
  await database.drop();
}
