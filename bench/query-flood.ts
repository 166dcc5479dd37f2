// npm run bench:query-flood — does a flood of queries slow ingestion? A server process at its ingest
// limit (nodes streaming as fast as it takes them), measured in alternating windows without and with
// CONCURRENCY clients each re-issuing heavy query-API requests; stored messages/s compared within the run.
//   --nodes 200 --rate 50 --window 15 --rounds 2 --concurrency 500
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runSimulation } from '../src/simulator/index.js';
import { build, startServer } from './lib/server.js';
import { createPostgresDatabase, connect, storedBySequence, round, databaseName } from './lib/db.js';
import { machine, PostgresCpu } from './lib/proc.js';
import { keyValues, save, sleep, table } from './lib/report.js';

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '200' },
    rate: { type: 'string', default: '50' },
    window: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '500' },
    'flood-child': { type: 'boolean', default: false },
  },
});
const WINDOW_S = Number(args.window);
const CONCURRENCY = Number(args.concurrency);

if (args['flood-child']) {
  await floodChild();
  process.exit(0);
}

build();
const database = await createPostgresDatabase();
const server = await startServer({ env: { DATABASE_URL: database.url } });
const client = await connect(database.url);
const simulation = await runSimulation({ url: server.url('/'), nodes: Number(args.nodes), rate: Number(args.rate), networkStateKb: 22 });
const http = `http://127.0.0.1:${server.port}`;

/**
 * The flood runs in a process of its own (this script with --flood-child, at the lowest CPU priority),
 * so that its HTTP parsing does not starve the simulated nodes or the server: what is measured is the
 * server, not the load generator.
 */
function flood(peerIds: string[]) {
  // Niced: on a small machine the flood client's own CPU would otherwise be taken from the server.
  const child = spawn('nice', ['-n', '19', process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--flood-child', '--concurrency', String(CONCURRENCY)], {
    env: { ...process.env, FLOOD_URL: http, FLOOD_PEERS: JSON.stringify(peerIds) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    async stop(): Promise<{ answered: number; statuses: Record<string, number> }> {
      child.kill('SIGTERM');
      await exited;
      return JSON.parse(output);
    },
  };
}

/** In the flood process: CONCURRENCY loops, each issuing the next request as soon as the last is answered. */
async function floodChild(): Promise<void> {
  const base = process.env.FLOOD_URL as string;
  const peerIds = JSON.parse(process.env.FLOOD_PEERS as string) as string[];
  let running = true;
  const statuses = new Map<number, number>();
  let answered = 0;
  process.once('SIGTERM', () => (running = false));
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, i) => {
      while (running) {
        const peer = encodeURIComponent(peerIds[i % peerIds.length]);
        const path = i % 3 === 0 ? `/nodes/log_stats?peer_id=${peer}` : i % 3 === 1 ? `/nodes/logs?peer_id=${peer}&limit=1000&start_time=1990-01-01T00:00:00` : '/nodes';
        try {
          const response = await fetch(`${base}${path}`);
          await response.arrayBuffer();
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        } catch {
          statuses.set(0, (statuses.get(0) ?? 0) + 1);
        }
        answered++;
      }
    }),
  );
  process.stdout.write(JSON.stringify({ answered, statuses: Object.fromEntries(statuses) }));
}

async function window(withFlood: boolean, peerIds: string[]) {
  const load = withFlood ? flood(peerIds) : null;
  await sleep(2000); // let the flood reach its steady state
  const pg = new PostgresCpu(databaseName(database.url)).start();
  const sim0 = simulation.stats();
  const stored0 = await storedBySequence(client);
  const cpu0 = server.cpu();
  const t0 = Date.now();
  await sleep(WINDOW_S * 1000);
  const seconds = (Date.now() - t0) / 1000;
  const stored = (await storedBySequence(client)) - stored0;
  const result = {
    flood: withFlood,
    storedPerSecond: Math.round(stored / seconds),
    sentPerSecond: Math.round((simulation.stats().sent - sim0.sent) / seconds),
    nodeDrops: simulation.stats().dropped - sim0.dropped,
    serverCpuCores: round((server.cpu() - cpu0) / seconds, 2),
    databaseCpuCores: round(pg.stop() / seconds, 2),
    queries: load ? await load.stop() : null,
  };
  return result;
}

try {
  await sleep(10_000); // warm-up: nodes connect and announce themselves
  const peerIds = simulation.records().map((r) => r.networkId).filter((id): id is string => Boolean(id));
  const windows = [];
  for (let round_ = 0; round_ < Number(args.rounds); round_++) {
    windows.push(await window(false, peerIds));
    windows.push(await window(true, peerIds));
  }
  const base = windows.filter((w) => !w.flood).map((w) => w.storedPerSecond);
  const flooded = windows.filter((w) => w.flood).map((w) => w.storedPerSecond);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const slowdown = 1 - mean(flooded) / mean(base);
  table(
    'ingest with and without a query flood',
    windows.map((w) => ({ flood: w.flood ? `${CONCURRENCY} clients` : 'none', 'sent/s': w.sentPerSecond, 'stored/s': w.storedPerSecond, 'node drops': w.nodeDrops, 'server cores': w.serverCpuCores, 'postgres cores': w.databaseCpuCores, 'queries answered': w.queries?.answered ?? '', statuses: w.queries ? JSON.stringify(w.queries.statuses) : '' })),
  );
  keyValues('result', { slowdown: `${round(slowdown * 100, 1)} %`, target: '≤ 10 %' });
  console.log(`written ${save('query-flood', { machine: machine(), args, windows, slowdown })}`);
} finally {
  await simulation.stop();
  await server.stop();
  await client.end();
  await database.drop();
}
