// npm run bench:api — latency of the query API on a realistic volume of stored messages.
//
// 1. Seeds a fresh PostgreSQL database through the server's own BatchWriter (the path websocket messages
//    take): --nodes Tetcore nodes (V2 frames parsed by the ingest parser), one of them "heavy" with
//    --heavy messages, --messages in all, spread over the last --span-h hours, each node sending a
//    system.network_state (Tetcore `sets` shape, --peers peers) every ~30 s of its timeline.
// 2. VACUUM ANALYZE (what autovacuum does on a live database), then one fresh round of network states
//    (now−31 s and now−1 s) so that /reputation's default 60 s window holds what it holds in production.
// 3. Starts the server in this process and measures p50/p95 of each route over HTTP, sequentially,
//    after a warm-up; prints the EXPLAIN (ANALYZE, BUFFERS) plan of each route's SQL (run through the
//    same repository functions the routes call).
// Results: bench/results/api-<date>.json.
//
//   --messages 1000000 --nodes 1000 --heavy 100000 --peers 60 --requests 200 --span-h 12
//   --full                 the issue's scale: 5,000,000 messages from 1,000 nodes
//   --url postgres://…     reuse a database seeded by an earlier run with --keep (skips seeding)
//   --keep                 do not drop the database at the end (prints its URL)
//   --ingest-cost          instead: seed --messages with and without the index the query API
//                          added (migration 003), alternating (--repeat pairs, default 3), and compare the
//                          median write rates
import { parseArgs } from 'node:util';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { createPostgresDatabase } from '../test/helpers/backends.js';
import { PostgresDatabase } from '../src/storage/postgres.js';
import type { Queryable, QueryResult, Row } from '../src/storage/database.js';
import { migrate } from '../src/storage/migrate.js';
import { ensurePartitions } from '../src/storage/partitions.js';
import { BatchWriter } from '../src/ingest/writer.js';
import { NodeHandle } from '../src/ingest/node.js';
import { parseFrame } from '../src/ingest/frame.js';
import { createMetrics } from '../src/metrics/catalogue.js';
import { parseSettings } from '../src/config/settings.js';
import { startServer } from '../src/server.js';
import { listNodes } from '../src/storage/peer-connections.js';
import { logStats, recentLogs } from '../src/storage/substrate-logs.js';
import { newestNetworkStates, reputationOfPeer } from '../src/storage/reputation.js';
import { PACKAGE } from '../src/package-info.js';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    nodes: { type: 'string', default: '1000' },
    heavy: { type: 'string', default: '100000' },
    peers: { type: 'string', default: '60' },
    requests: { type: 'string', default: '200' },
    'span-h': { type: 'string', default: '12' },
    full: { type: 'boolean', default: false },
    url: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'ingest-cost': { type: 'boolean', default: false },
    repeat: { type: 'string', default: '3' },
  },
});
const MESSAGES = args.full ? 5_000_000 : Number(args.messages);
const NODES = Number(args.nodes);
const HEAVY = Math.min(Number(args.heavy), MESSAGES);
const PEERS = Number(args.peers);
const REQUESTS = Number(args.requests);
const SPAN_MS = Number(args['span-h']) * 3_600_000;
const log = pino({ level: 'warn' });

// ---------------------------------------------------------------------------------------------------
// Synthetic Tetcore nodes

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
function peerId(seed: string): string {
  const digest = createHash('sha256').update(seed).digest();
  let id = '12D3KooW';
  for (let i = 0; id.length < 52; i++) id += BASE58[digest[i % digest.length] % 58];
  return id;
}
const NODE_IDS = Array.from({ length: NODES }, (_, i) => peerId(`node-${i}`));
const HEAVY_INDEX = 0;

/** A small deterministic PRNG (mulberry32), so runs are comparable. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = random(42);

function ts(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '123+00:00'); // 6 fraction digits like Tetcore's chrono output
}

const hash = (n: number) => `0x${createHash('sha1').update(String(n)).digest('hex').padEnd(64, '0')}`;

/** The peerset of node `i`: `PEERS` peers in set 0 (most of them logged nodes), a third connected in sets 1 and 2. */
function peerset(i: number): string {
  const set0: string[] = [];
  const connected: string[] = [];
  for (let k = 0; k < PEERS; k++) {
    const other = k % 5 === 4 ? peerId(`stranger-${i}-${k}`) : NODE_IDS[(i + 1 + Math.floor(rand() * (NODES - 1))) % NODES];
    const isConnected = k % 3 === 0;
    const reputation = isConnected ? Math.floor(rand() * 4000) - 500 : -Math.floor(rand() * 3000);
    set0.push(`"${other}":{"connected":${isConnected},"reputation":${reputation}}`);
    if (isConnected) connected.push(`"${other}":{"connected":true,"reputation":${reputation}}`);
  }
  const set = (nodes: string[]) => `{"nodes":{${nodes.join(',')}},"reserved_nodes":[],"reserved_only":false}`;
  return `{"message_queue":0,"sets":[${set(set0)},${set(connected)},${set(connected)}]}`;
}

function frame(i: number, ms: number, payload: string): string {
  return `{"id":1,"ts":"${ts(ms)}","payload":${payload}}`;
}

/** The k-th regular message of node i (Tetcore verbosity 0 mix), or a network state every 43rd. */
function message(i: number, k: number, ms: number, height: number): string {
  if (k % 43 === 42) return frame(i, ms, `{"msg":"system.network_state","state":{"peerId":"${NODE_IDS[i]}","externalAddresses":[],"listenedAddresses":["/ip4/0.0.0.0/tcp/30333"],"peerset":${peerset(i)}}}`);
  if (i === HEAVY_INDEX && k % 2 === 1) {
    return frame(i, ms, `{"id":${k},"msg":"tracing.profiling","name":"${['on_initialize', 'on_finalize', 'transfer', 'apply_extrinsic'][k % 4]}","parent_id":null,"target":"${['pallet_babe', 'pallet_balances', 'frame_executive', 'pallet_grandpa'][k % 4]}","time":${Math.floor(rand() * 1e7)},"values":{"wasm":true}}`);
  }
  switch (k % 7) {
    case 0:
      return frame(i, ms, `{"best":"${hash(height)}","finalized_hash":"${hash(height - 2)}","finalized_height":${height - 2},"height":${height},"msg":"system.interval","txcount":0,"used_state_cache_size":8376854}`);
    case 1:
      return frame(i, ms, `{"bandwidth_download":${Math.floor(rand() * 30000)},"bandwidth_upload":${Math.floor(rand() * 30000)},"msg":"system.interval","peers":${PEERS / 3}}`);
    case 2:
      return frame(i, ms, `{"best":"${hash(height)}","height":${height},"msg":"block.import","origin":"NetworkBroadcast"}`);
    case 3:
      return frame(i, ms, `{"best":"${hash(height - 2)}","height":"${height - 2}","msg":"notify.finalized"}`);
    case 4:
      return frame(i, ms, `{"msg":"afg.received_prevote","target_hash":"${hash(height)}","target_number":"${height}","voter":"Public(${hash(i).slice(2, 66)} (5Gx…))"}`);
    case 5:
      return frame(i, ms, `{"msg":"afg.received_precommit","target_hash":"${hash(height)}","target_number":"${height}","voter":"Public(${hash(i).slice(2, 66)} (5Gx…))"}`);
    default:
      return frame(i, ms, `{"future":0,"msg":"txpool.import","ready":${Math.floor(rand() * 50)}}`);
  }
}

function connectedFrame(i: number, ms: number): string {
  return `{"id":1,"payload":{"authority":${i % 10 === 0},"chain":"Bench Testnet","config":"","genesis_hash":"${hash(0)}","implementation":"Tetcore Node","msg":"system.connected","name":"bench-${i}","network_id":"${NODE_IDS[i]}","startup_time":"${ms - 60_000}","version":"2.1.2-dcda600-x86_64-linux-gnu"},"ts":"${ts(ms)}"}`;
}

// ---------------------------------------------------------------------------------------------------
// Seeding through the BatchWriter

async function seed(url: string, afterMigrate?: (db: PostgresDatabase) => Promise<void>): Promise<{ seconds: number; rowsPerSecond: number }> {
  const db = new PostgresDatabase({ url, poolSize: 4, maxWriters: 2 });
  await migrate(db);
  await afterMigrate?.(db);
  const now = Date.now();
  // Daily partitions over the whole span, as a server running that long would have made them.
  for (let t = now - SPAN_MS; t < now; t += 24 * 3_600_000) await ensurePartitions(db, t, 24, 0);
  await ensurePartitions(db, now, 24, 3);
  const metrics = createMetrics();
  const writer = new BatchWriter(db, { batchSize: 1024, saveLatencyMs: 100, maxWriters: 2, bufferMaxRows: 100_000, bufferMaxBytes: 64 * 1024 * 1024 }, metrics, log, (reason, n) => {
    throw new Error(`dropped ${n} rows: ${reason}`);
  });
  const handles = NODE_IDS.map((_, i) => new NodeHandle(`10.0.${Math.floor(i / 250)}.${i % 250}:30333`, false, '1', null));
  const perNode = NODE_IDS.map((_, i) => (i === HEAVY_INDEX ? HEAVY : Math.floor((MESSAGES - HEAVY) / (NODES - 1)) + (i - 1 < (MESSAGES - HEAVY) % (NODES - 1) ? 1 : 0)));
  const start = now - SPAN_MS;
  const end = now - 60_000;
  const enqueue = async (i: number, text: string) => {
    const parsed = parseFrame(text);
    if (parsed.identity && handles[i].learn(parsed.identity)) writer.nodeChanged(handles[i]);
    if (!parsed.row) throw new Error(`bench frame rejected: ${parsed.drop}`);
    writer.enqueue(handles[i], parsed.row);
    if (writer.isPaused) await once(writer, 'resume');
  };
  const started = process.hrtime.bigint();
  for (let i = 0; i < NODES; i++) await enqueue(i, connectedFrame(i, start));
  // Interleave the nodes in time order, as they would arrive: step through the timeline in slices.
  const maxPerNode = Math.max(...perNode);
  const cursor = new Array<number>(NODES).fill(0);
  const SLICES = 2000;
  let written = NODES;
  for (let slice = 1; slice <= SLICES; slice++) {
    for (let i = 0; i < NODES; i++) {
      const target = Math.floor((perNode[i] * slice) / SLICES);
      for (; cursor[i] < target; cursor[i]++) {
        const k = cursor[i];
        const ms = start + ((end - start) * (k + 1)) / (perNode[i] + 1) + Math.floor(rand() * 1000);
        await enqueue(i, message(i, k, ms, 1_000_000 + Math.floor(((end - start) * (k + 1)) / (perNode[i] + 1) / 6000)));
        written++;
      }
    }
    if (slice % 200 === 0) process.stdout.write(`  seeded ${written.toLocaleString()} / ${(MESSAGES + NODES).toLocaleString()} (max ${maxPerNode.toLocaleString()} per node)\n`);
  }
  await writer.drain(600_000);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await db.close();
  return { seconds, rowsPerSecond: Math.round(written / seconds) };
}

/** Two fresh network states per node (now−31 s and now−1 s), through the writer, as live nodes send them. */
async function freshNetworkStates(url: string): Promise<void> {
  const db = new PostgresDatabase({ url, poolSize: 3, maxWriters: 2 });
  const writer = new BatchWriter(db, { batchSize: 1024, saveLatencyMs: 20, maxWriters: 2, bufferMaxRows: 100_000, bufferMaxBytes: 256 * 1024 * 1024 }, createMetrics(), log, () => {});
  const ids = (await db.query<{ id: number; peer_id: string }>(`SELECT DISTINCT ON (peer_id) id, peer_id FROM peer_connections WHERE peer_id IS NOT NULL ORDER BY peer_id, id DESC`)).rows;
  const byPeer = new Map(ids.map((r) => [r.peer_id, r.id]));
  for (const offset of [31_000, 1_000]) {
    for (let i = 0; i < NODES; i++) {
      const handle = new NodeHandle('10.0.0.1:30333', false, '1', byPeer.get(NODE_IDS[i]) ?? null);
      const parsed = parseFrame(message(i, 42, Date.now() - offset, 0));
      writer.enqueue(handle, parsed.row!);
    }
  }
  await writer.drain(120_000);
  await db.close();
}

// ---------------------------------------------------------------------------------------------------
// Measurement

interface RouteResult {
  route: string;
  requests: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  meanMs: number;
  rowsReturned: number;
  bytes: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

async function measure(base: string, route: string, paths: () => string, requests: number): Promise<RouteResult> {
  const warmup = Math.min(20, requests);
  const times: number[] = [];
  let rows = 0;
  let bytes = 0;
  for (let n = 0; n < warmup + requests; n++) {
    const started = process.hrtime.bigint();
    const response = await fetch(base + paths());
    const text = await response.text();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (response.status !== 200) throw new Error(`${route}: ${response.status} ${text.slice(0, 300)}`);
    if (n >= warmup) {
      times.push(ms);
      rows += (JSON.parse(text) as unknown[]).length;
      bytes += text.length;
    }
  }
  times.sort((a, b) => a - b);
  return {
    route,
    requests,
    p50Ms: round(percentile(times, 50)),
    p95Ms: round(percentile(times, 95)),
    maxMs: round(times[times.length - 1]),
    meanMs: round(times.reduce((s, t) => s + t, 0) / times.length),
    rowsReturned: Math.round(rows / requests),
    bytes: Math.round(bytes / requests),
  };
}

/** A Queryable that EXPLAINs (ANALYZE, BUFFERS) every query (not the planner settings) before running it. */
/** The default API_MAX_RESPONSE_BYTES. */
const PAGE_BYTES = 8 * 1024 * 1024;

function explaining(db: Queryable, plans: string[]): Queryable {
  return {
    async query<T = Row>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
      if (sql.startsWith('SELECT set_config') || /^(FETCH|CLOSE) /.test(sql)) return db.query<T>(sql, params);
      // A paged read (readPage) declares a cursor over the statement: explain the statement itself.
      const plan = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql.replace(/^DECLARE \S+ NO SCROLL CURSOR FOR /, '')}`, params);
      plans.push(plan.rows.map((r) => r['QUERY PLAN']).join('\n'));
      return db.query<T>(sql, params);
    },
  };
}

/** Write rate of the BatchWriter with and without substrate_logs_peer_created_idx (migration 003). */
async function ingestCost(): Promise<void> {
  const runs: Array<{ variant: string; rowsPerSecond: number; seconds: number; indexSize?: string }> = [];
  const variants = Array.from({ length: Number(args.repeat) }, () => ['with index', 'without index']).flat();
  for (const variant of variants) {
    const created = await createPostgresDatabase();
    try {
      const result = await seed(created.url, async (db) => {
        if (variant === 'without index') await db.exec('DROP INDEX substrate_logs_peer_created_idx');
      });
      const db = new PostgresDatabase({ url: created.url, poolSize: 2, maxWriters: 1 });
      const size = (await db.query<{ size: string | null }>(
        `SELECT pg_size_pretty(sum(pg_relation_size(i.indexrelid))) AS size FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE '%peer_connection_id_created_at_idx'`,
      )).rows[0].size;
      await db.close();
      runs.push({ variant, ...result, indexSize: size ?? undefined });
      console.log(`${variant.padEnd(14)} ${result.rowsPerSecond} rows/s (${round(result.seconds)} s)${size ? `, index ${size}` : ''}`);
    } finally {
      await created.drop();
    }
  }
  const rates = (v: string) => runs.filter((r) => r.variant === v).map((r) => r.rowsPerSecond).sort((a, b) => a - b);
  const median = (v: string) => rates(v)[Math.floor((rates(v).length - 1) / 2)];
  const summary = {
    withIndexMedian: median('with index'),
    withoutIndexMedian: median('without index'),
    costOfMedians: `${round((1 - median('with index') / median('without index')) * 100, 1)} %`,
    withIndexRates: rates('with index'),
    withoutIndexRates: rates('without index'),
  };
  console.log(JSON.stringify(summary));
  const dir = path.resolve(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `api-ingest-cost-${new Date().toISOString().replaceAll(':', '-').replace('.', '-')}.json`);
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), machine: { cpus: os.cpus().length, node: process.version, loadAverageAtEnd: os.loadavg() }, messages: MESSAGES, nodes: NODES, runs, summary }, null, 2));
  console.log(`results: ${path.relative(process.cwd(), file)}`);
}

async function main(): Promise<void> {
  if (args['ingest-cost']) return ingestCost();
  const created = args.url ? null : await createPostgresDatabase();
  const url = args.url ?? (created as { url: string }).url;
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadAverageAtStart: os.loadavg().map((l) => round(l)) },
    package: `${PACKAGE.name} ${PACKAGE.version}`,
    scale: { messages: MESSAGES, nodes: NODES, heavyNodeMessages: HEAVY, peersetPeers: PEERS, spanHours: SPAN_MS / 3_600_000 },
  };
  try {
    if (!args.url) {
      console.log(`seeding ${MESSAGES.toLocaleString()} messages from ${NODES} nodes through the BatchWriter …`);
      results.seed = await seed(url);
      console.log(`  ${JSON.stringify(results.seed)}`);
    }
    const admin = new PostgresDatabase({ url, poolSize: 2, maxWriters: 1 });
    const vacuumStarted = Date.now();
    await admin.query('VACUUM (ANALYZE) substrate_logs');
    await admin.query('VACUUM (ANALYZE) peer_connections');
    results.vacuumSeconds = (Date.now() - vacuumStarted) / 1000;
    const version = (await admin.query<{ v: string }>('SELECT version() AS v')).rows[0].v;
    const sizes = (await admin.query<{ rows: number; total: string; table: string; indexes: string }>(
      `SELECT (SELECT count(*) FROM substrate_logs)::int8 AS rows, pg_size_pretty(sum(pg_total_relation_size(relid))) AS total,
              pg_size_pretty(sum(pg_relation_size(relid) + COALESCE(pg_relation_size(reltoastrelid), 0))) AS table,
              pg_size_pretty(sum(pg_indexes_size(relid))) AS indexes
         FROM pg_partition_tree('substrate_logs') t JOIN pg_class c ON c.oid = t.relid WHERE t.isleaf`,
    )).rows[0];
    results.database = { version, ...sizes };
    console.log(`database: ${version}\n  substrate_logs: ${JSON.stringify(sizes)}`);

    const heavy = NODE_IDS[HEAVY_INDEX];
    const pick = () => NODE_IDS[1 + Math.floor(rand() * (NODES - 1))];
    const settings = parseSettings({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: url, LOG_LEVEL: 'silent', PURGE_INTERVAL_S: '86400' });
    const server = await startServer(settings, pino({ level: 'silent' }));
    const base = `http://127.0.0.1:${server.port}`;
    const routes: Array<[string, () => string, number, (() => Promise<void>)?]> = [
      ['/nodes', () => '/nodes', Math.min(REQUESTS, 100)],
      ['/nodes/logs?peer_id&limit=100', () => `/nodes/logs?peer_id=${pick()}&limit=100`, REQUESTS],
      ['/nodes/logs?peer_id&msg=block.import&limit=100', () => `/nodes/logs?peer_id=${pick()}&msg=block.import&limit=100`, REQUESTS],
      ['/nodes/logs?peer_id=<heavy>&msg=tracing.profiling&limit=100', () => `/nodes/logs?peer_id=${heavy}&msg=tracing.profiling&limit=100`, REQUESTS],
      ['/nodes/logs?peer_id=<heavy>&target=pallet_balances&limit=100', () => `/nodes/logs?peer_id=${heavy}&target=pallet_balances&limit=100`, REQUESTS],
      ['/nodes/logs?peer_id=<heavy>&limit=100', () => `/nodes/logs?peer_id=${heavy}&limit=100`, REQUESTS],
      ['/nodes/log_stats?peer_id', () => `/nodes/log_stats?peer_id=${pick()}`, REQUESTS],
      [`/nodes/log_stats?peer_id=<heavy: ${HEAVY} messages>`, () => `/nodes/log_stats?peer_id=${heavy}`, Math.min(REQUESTS, 100)],
      // Live nodes send a network state every 30 s: two fresh ones per node before the reputation routes.
      ['/reputation', () => '/reputation', REQUESTS, () => freshNetworkStates(url)],
      ['/reputation/logged', () => '/reputation/logged', Math.min(REQUESTS, 100)],
      ['/reputation/{peer_id}', () => `/reputation/${pick()}`, Math.min(REQUESTS, 50)],
      ['/stats/db', () => '/stats/db', 10],
    ];
    const measured: RouteResult[] = [];
    try {
      for (const [route, path, requests, prepare] of routes) {
        await prepare?.();
        const r = await measure(base, route, path, requests);
        measured.push(r);
        console.log(`${route.padEnd(58)} p50 ${String(r.p50Ms).padStart(8)} ms   p95 ${String(r.p95Ms).padStart(8)} ms   max ${String(r.maxMs).padStart(8)} ms   rows ${r.rowsReturned}`);
      }
    } finally {
      await server.close();
    }
    results.routes = measured;
    results.loadAverageAfterMeasuring = os.loadavg().map((l) => round(l));

    // The plans of the SQL each route runs, through the same repository functions.
    const plans: Record<string, string[]> = {};
    const explain = async (name: string, fn: (q: Queryable) => Promise<unknown>) => {
      const collected: string[] = [];
      await admin.transaction((tx) => fn(explaining(tx, collected)));
      plans[name] = collected;
      console.log(`\n--- EXPLAIN ${name}\n${collected.join('\n\n')}`);
    };
    const someone = NODE_IDS[7];
    await explain('/nodes', (q) => listNodes(q, { connectedWindowS: 60 }, { limit: 10_000, maxBytes: PAGE_BYTES }));
    await explain('/nodes/logs?peer_id&limit=100', (q) => recentLogs(q, { peerId: someone, limit: 100, maxBytes: PAGE_BYTES }));
    await explain('/nodes/logs?peer_id&msg=block.import&limit=100', (q) => recentLogs(q, { peerId: someone, msg: 'block.import', limit: 100, maxBytes: PAGE_BYTES }));
    await explain('/nodes/logs?peer_id=<heavy>&msg=tracing.profiling&limit=100', (q) => recentLogs(q, { peerId: heavy, msg: 'tracing.profiling', limit: 100, maxBytes: PAGE_BYTES }));
    await explain('/nodes/logs?peer_id=<heavy>&target=pallet_balances&limit=100', (q) => recentLogs(q, { peerId: heavy, target: 'pallet_balances', limit: 100, maxBytes: PAGE_BYTES }));
    await explain('/nodes/log_stats?peer_id', (q) => logStats(q, someone));
    await explain('/nodes/log_stats?peer_id=<heavy>', (q) => logStats(q, heavy));
    await freshNetworkStates(url);
    await explain('/reputation', (q) => newestNetworkStates(q, { maxAgeS: 60, limit: 100 }));
    await explain('/reputation/{peer_id}', (q) => reputationOfPeer(q, { peerId: someone, maxAgeS: 600, limit: 1000 }));
    results.plans = plans;
    await admin.close();
  } finally {
    if (created && !args.keep) await created.drop();
    else console.log(`database kept: ${url}`);
  }
  const dir = path.resolve(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `api-${new Date().toISOString().replaceAll(':', '-').replace('.', '-')}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2));
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
}

await main();
