// npm run bench:query-flood — does a flood of queries slow ingestion? Nodes stream as fast as the server
// takes them (ingest saturation), measured in alternating windows without and with CONCURRENCY clients each
// re-issuing heavy query-API requests (honouring Retry-After of a 503, as a well-behaved client does);
// stored messages/s compared within the same setup and run (docs/scaling.md#measured-here). Setups:
//   all:   one ROLE=all server (target: flooded ≥ 0.75 × no-flood)
//   split: a ROLE=ingest server the nodes stream to, a ROLE=query server the flood goes to, reading from a
//          real streaming replica started here (test/helpers/replica.ts) (target ≥ 0.9)
//   below, below-all: the split / ROLE=all setup below saturation (--below-nodes × --below-rate) with the
//          flood: stored = sent, and send→queryable p99 (on the database the API reads) < 1 s
//   --nodes 200 --rate 50 --window 15 --rounds 2 --concurrency 500 --setups all,split,below,below-all --query-nice 0
// On one machine the split setups share its CPUs; --query-nice 10 runs the query server and the replica at
// a lower CPU priority, standing for the separate machines they would have in production.
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runSimulation, type Simulation } from '../src/simulator/index.js';
import { build, startServer, type ServerProcess } from './lib/server.js';
import { createPostgresDatabase, connect, storedBySequence, round, databaseName, checkStoredEqualsSent } from './lib/db.js';
import { machine, PostgresCpu } from './lib/proc.js';
import { keyValues, save, sleep, table, until } from './lib/report.js';
import { LatencyProbe } from './lib/latency.js';
import { startReplica, type Replica } from '../test/helpers/replica.js';

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '200' },
    rate: { type: 'string', default: '50' },
    window: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '500' },
    setups: { type: 'string', default: 'all,split,below,below-all' },
    'below-nodes': { type: 'string', default: '100' },
    'below-rate': { type: 'string', default: '30' },
    'below-seconds': { type: 'string', default: '30' },
    'query-nice': { type: 'string', default: '0' },
    'flood-child': { type: 'boolean', default: false },
  },
});
const WINDOW_S = Number(args.window);
const CONCURRENCY = Number(args.concurrency);
/** CPU priority of the query side (query server, replica) in the split setups: on one machine, stands for "on other machines". */
const QUERY_NICE = Number(args['query-nice']);

if (args['flood-child']) {
  await floodChild();
  process.exit(0);
}

/**
 * The flood runs in a process of its own (this script with --flood-child, at the lowest CPU priority),
 * so that its HTTP parsing does not starve the simulated nodes or the server: what is measured is the
 * server, not the load generator.
 */
function flood(http: string, peerIds: string[]) {
  const child = spawn('nice', ['-n', '19', process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--flood-child', '--concurrency', String(CONCURRENCY)], {
    env: { ...process.env, FLOOD_URL: http, FLOOD_PEERS: JSON.stringify(peerIds) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout.on('data', (chunk) => {
    output += chunk;
    if (output.startsWith('ready\n')) markReady();
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    /** Resolves once the child runs its loops (at nice 19 on a busy machine, starting takes seconds). */
    ready: Promise.race([ready, exited.then(() => Promise.reject(new Error('the flood process exited before it started')))]),
    async stop(): Promise<{ answered: number; statuses: Record<string, number> }> {
      child.kill('SIGTERM');
      await exited;
      return JSON.parse(output.slice('ready\n'.length));
    },
  };
}

/** In the flood process: CONCURRENCY loops, each issuing the next request as soon as the last is answered (after Retry-After on a 503). */
async function floodChild(): Promise<void> {
  const base = process.env.FLOOD_URL as string;
  const peerIds = JSON.parse(process.env.FLOOD_PEERS as string) as string[];
  let running = true;
  const statuses = new Map<number, number>();
  let answered = 0;
  process.once('SIGTERM', () => (running = false));
  process.stdout.write('ready\n');
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, i) => {
      while (running) {
        const peer = encodeURIComponent(peerIds[i % peerIds.length]);
        const path = i % 3 === 0 ? `/nodes/log_stats?peer_id=${peer}` : i % 3 === 1 ? `/nodes/logs?peer_id=${peer}&limit=1000&start_time=1990-01-01T00:00:00` : '/nodes';
        let retryAfterS = 0;
        try {
          const response = await fetch(`${base}${path}`);
          await response.arrayBuffer();
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          if (response.status === 503) retryAfterS = Number(response.headers.get('retry-after') ?? 1) || 1;
        } catch {
          statuses.set(0, (statuses.get(0) ?? 0) + 1);
          retryAfterS = 1;
        }
        answered++;
        for (let waited = 0; running && waited < retryAfterS * 1000; waited += 100) await sleep(100);
      }
    }),
  );
  process.stdout.write(JSON.stringify({ answered, statuses: Object.fromEntries(statuses) }));
}

interface Setup {
  ingest: ServerProcess;
  query: ServerProcess;
  /** Where the query API reads (the replica in the split setup). */
  readUrl: string;
  primaryUrl: string;
  stop(): Promise<void>;
}

async function startSetup(split: boolean): Promise<Setup> {
  const database = await createPostgresDatabase();
  let replica: Replica | null = null;
  const servers: ServerProcess[] = [];
  try {
    if (!split) {
      const server = await startServer({ env: { DATABASE_URL: database.url } });
      servers.push(server);
      return { ingest: server, query: server, readUrl: database.url, primaryUrl: database.url, stop: () => stopAll(servers, replica, database) };
    }
    replica = await startReplica({ nice: QUERY_NICE });
    const readUrl = replica.url(databaseName(database.url));
    const ingest = await startServer({ env: { DATABASE_URL: database.url, ROLE: 'ingest' } });
    servers.push(ingest);
    const query = await startServer({ env: { DATABASE_URL: database.url, DATABASE_READ_URL: readUrl, ROLE: 'query' }, nice: QUERY_NICE });
    servers.push(query);
    await replica.caughtUp(); // the migrations replayed before anything reads there
    return { ingest, query, readUrl, primaryUrl: database.url, stop: () => stopAll(servers, replica, database) };
  } catch (error) {
    await stopAll(servers, replica, database);
    throw error;
  }
}

async function stopAll(servers: ServerProcess[], replica: Replica | null, database: { drop(): Promise<void> }): Promise<void> {
  for (const server of servers) await server.stop();
  replica?.destroy();
  await database.drop();
}

async function floodWindows(name: string, split: boolean) {
  const setup = await startSetup(split);
  const client = await connect(setup.primaryUrl);
  let simulation: Simulation | null = null;
  try {
    simulation = await runSimulation({ url: setup.ingest.url('/'), nodes: Number(args.nodes), rate: Number(args.rate), networkStateKb: 22 });
    await sleep(10_000); // warm-up: nodes connect and announce themselves
    const peerIds = simulation.records().map((r) => r.networkId).filter((id): id is string => Boolean(id));
    const windows = [];
    for (let round_ = 0; round_ < Number(args.rounds); round_++) {
      for (const withFlood of [false, true]) {
        const load = withFlood ? flood(`http://127.0.0.1:${setup.query.port}`, peerIds) : null;
        await load?.ready;
        await sleep(2000); // let the flood reach its steady state
        const pg = new PostgresCpu(databaseName(setup.primaryUrl)).start();
        const sim0 = simulation.stats();
        const stored0 = await storedBySequence(client);
        const cpu0 = setup.ingest.cpu() + (split ? setup.query.cpu() : 0);
        const t0 = Date.now();
        await sleep(WINDOW_S * 1000);
        const seconds = (Date.now() - t0) / 1000;
        const stored = (await storedBySequence(client)) - stored0;
        windows.push({
          flood: withFlood,
          storedPerSecond: Math.round(stored / seconds),
          sentPerSecond: Math.round((simulation.stats().sent - sim0.sent) / seconds),
          nodeDrops: simulation.stats().dropped - sim0.dropped,
          serverCpuCores: round((setup.ingest.cpu() + (split ? setup.query.cpu() : 0) - cpu0) / seconds, 2),
          databaseCpuCores: round(pg.stop() / seconds, 2),
          queries: load ? await load.stop() : null,
        });
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const ratio = mean(windows.filter((w) => w.flood).map((w) => w.storedPerSecond)) / mean(windows.filter((w) => !w.flood).map((w) => w.storedPerSecond));
    table(
      `${name}: ingest with and without a query flood`,
      windows.map((w) => ({ flood: w.flood ? `${CONCURRENCY} clients` : 'none', 'sent/s': w.sentPerSecond, 'stored/s': w.storedPerSecond, 'node drops': w.nodeDrops, 'server cores': w.serverCpuCores, 'postgres cores': w.databaseCpuCores, 'queries answered': w.queries?.answered ?? '', statuses: w.queries ? JSON.stringify(w.queries.statuses) : '' })),
    );
    return { windows, ratio: round(ratio, 3) };
  } finally {
    await simulation?.stop();
    await client.end();
    await setup.stop();
  }
}

/** Below saturation, with the flood on: stored = sent, and send→queryable where the API reads (the replica when split). */
async function belowSaturation(split: boolean) {
  const setup = await startSetup(split);
  const primary = await connect(setup.primaryUrl);
  const reader = await connect(setup.readUrl);
  let simulation: Simulation | null = null;
  try {
    simulation = await runSimulation({ url: setup.ingest.url('/'), nodes: Number(args['below-nodes']), rate: Number(args['below-rate']), networkStateKb: 22 });
    await sleep(10_000);
    const records = simulation.records();
    const peerIds = records.map((r) => r.networkId).filter((id): id is string => Boolean(id));
    const load = flood(`http://127.0.0.1:${setup.query.port}`, peerIds);
    await load.ready;
    await sleep(2000);
    const probe = new LatencyProbe(reader, records.slice(0, 10));
    probe.start();
    const sim0 = simulation.stats();
    const t0 = Date.now();
    await sleep(Number(args['below-seconds']) * 1000);
    const sentPerSecond = Math.round((simulation.stats().sent - sim0.sent) / ((Date.now() - t0) / 1000));
    const latency = await probe.stop();
    const queries = await load.stop();
    const final = await simulation.stop();
    simulation = null;
    await until(async () => (await checkStoredEqualsSent({ query: (sql: string, params?: unknown[]) => primary.query(sql, params) as never }, records)).missing === 0, 30_000, 500);
    const check = await checkStoredEqualsSent({ query: (sql: string, params?: unknown[]) => primary.query(sql, params) as never }, records);
    keyValues(`below saturation, ${split ? 'split + replica' : 'ROLE=all'}, with the flood`, { 'sent/s': sentPerSecond, sent: check.sent, stored: check.stored, missing: check.missing, extra: check.extra, 'node drops': final.dropped, [`send→queryable ${split ? 'on the replica' : ''} p50/p99/max ms`]: `${latency.p50Ms} / ${latency.p99Ms} / ${latency.maxMs}`, unseen: latency.unseen, 'queries answered': queries.answered, statuses: JSON.stringify(queries.statuses) });
    return { sentPerSecond, check, latency, queries, nodeDrops: final.dropped };
  } finally {
    await simulation?.stop();
    await primary.end();
    await reader.end();
    await setup.stop();
  }
}

build();
const setups = new Set(args.setups.split(','));
const result: Record<string, unknown> = { machine: machine(), args };
if (setups.has('all')) result.all = await floodWindows('ROLE=all, one server', false);
if (setups.has('split')) result.split = await floodWindows('ROLE=ingest + ROLE=query, reads on a replica', true);
if (setups.has('below')) result.below = await belowSaturation(true);
if (setups.has('below-all')) result.belowAll = await belowSaturation(false);
const summary: Record<string, unknown> = {};
if (result.all) summary['ROLE=all: flooded / no-flood stored msgs/s'] = `${(result.all as { ratio: number }).ratio} (target ≥ 0.75)`;
if (result.split) summary['split + replica: flooded / no-flood stored msgs/s'] = `${(result.split as { ratio: number }).ratio} (target ≥ 0.9)`;
for (const [key, label] of [['below', 'split + replica'], ['belowAll', 'ROLE=all']] as const) {
  const below = result[key] as { sentPerSecond: number; check: { sent: number; stored: number }; latency: { p99Ms: number } } | undefined;
  if (below === undefined) continue;
  summary[`below saturation (${label}, ${below.sentPerSecond} msg/s): stored = sent`] = `${below.check.stored === below.check.sent} (${below.check.stored} / ${below.check.sent})`;
  summary[`below saturation (${label}): send→queryable p99`] = `${below.latency.p99Ms} ms (target < 1000)`;
}
keyValues('result', summary);
console.log(`written ${save('query-flood', result)}`);
