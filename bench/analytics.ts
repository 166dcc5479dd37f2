// npm run bench:analytics — network analytics: route latency on a seeded network, rebuild throughput, and
// the cost of deriving facts at ingestion (A/B with ANALYTICS=false).
//
// 1. Routes: seeds a fresh PostgreSQL database directly with SQL (generate_series): --nodes nodes (three
//    sessions each, the last one open), --blocks blocks 6 s apart up to now, one arrival per node and block
//    (delays drawn from an exponential of mean 400 ms), a finalized height per block 12 s after it; the job's
//    summaries of blocks older than ANALYTICS_SETTLE_S. Then the server (in this process) answers --requests
//    sequential requests per route after a warm-up; p50/p95/max. Also the database read behind the
//    per-chain /metrics series (uncached: what one scrape costs at most every 5 s), with per-node series
//    of all --nodes nodes, and /metrics itself (mostly answered from that read's 5 s cache).
// 2. Rebuild: --rebuild-messages messages of 100 nodes in substrate_logs (a block.import, a notify.finalized
//    and four other messages per block and node), then rebuildAnalytics over them; messages/s.
// 3. Ingest: the built server with ANALYTICS=true and =false in turn (--ingest-rounds rounds), --ingest-nodes
//    simulated nodes at --ingest-rate messages/s each (saturating), stored messages/s and CPU per message.
// Results: bench/results/analytics-<date>.json.
//
//   --nodes 1000 --blocks 10000 --requests 100 --rebuild-messages 1000000
//   --ingest-nodes 500 --ingest-rate 40 --ingest-seconds 30 --ingest-warmup 10 --ingest-rounds 2
//   --ingest-env KEY=VALUE            a server setting for both variants (repeatable)
//   --skip routes,rebuild,ingest     leave parts out
//   --url postgres://…               measure the routes on a database seeded by an earlier run with --keep
//   --keep                           keep the routes' database (prints its URL)
import { parseArgs } from 'node:util';
import os from 'node:os';
import { pino } from 'pino';
import { createPostgresDatabase } from '../test/helpers/backends.js';
import { PostgresDatabase } from '../src/storage/postgres.js';
import { migrate } from '../src/storage/migrate.js';
import { ensurePartitions } from '../src/storage/partitions.js';
import { parseSettings } from '../src/config/settings.js';
import { startServer } from '../src/server.js';
import { summarizeSettledBlocks } from '../src/storage/analytics-write.js';
import { rebuildAnalytics } from '../src/analytics/rebuild.js';
import { runIngest } from './lib/ingest-run.js';
import { build } from './lib/server.js';
import { round } from './lib/db.js';
import { table, save, keyValues } from './lib/report.js';
import { readChainSeries } from '../src/metrics/chains.js';
import { createQueryRunner } from '../src/storage/query-runner.js';
import { CONNECTED_WINDOW_S } from '../src/domain/liveness.js';

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    blocks: { type: 'string', default: '10000' },
    requests: { type: 'string', default: '100' },
    'rebuild-messages': { type: 'string', default: '1000000' },
    'ingest-nodes': { type: 'string', default: '500' },
    'ingest-rate': { type: 'string', default: '40' },
    'ingest-seconds': { type: 'string', default: '30' },
    'ingest-warmup': { type: 'string', default: '10' },
    'ingest-rounds': { type: 'string', default: '2' },
    'ingest-env': { type: 'string', multiple: true, default: [] },
    skip: { type: 'string', default: '' },
    url: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
  },
});
const NODES = Number(args.nodes);
const BLOCKS = Number(args.blocks);
const REQUESTS = Number(args.requests);
const skip = new Set((args.skip).split(',').filter(Boolean));
const CHAIN = 'Bench Testnet';
const GENESIS = '0x' + 'be'.repeat(32);
const BLOCK_MS = 6000;
const log = (line: string) => console.log(line);

// ---------------------------------------------------------------------------------------------------
// 1. Routes

/** Seeds the analytics tables of a network of NODES nodes and BLOCKS blocks ending now (SQL only). */
async function seed(db: PostgresDatabase): Promise<Record<string, number>> {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const step = async (name: string, fn: () => Promise<unknown>) => {
    const started = Date.now();
    await fn();
    timings[`${name} s`] = round((Date.now() - started) / 1000, 1);
    log(`  ${name}: ${timings[`${name} s`]} s`);
  };
  // Node n: connection n + 1 open since before the first block; two earlier sessions (another version).
  const spanS = Math.ceil((BLOCKS * BLOCK_MS) / 1000) + 600;
  await step('chain and connections', async () => {
    await db.query(`INSERT INTO chains (id, chain, genesis_hash) VALUES (1, $1, $2)`, [CHAIN, GENESIS]);
    await db.query(`SELECT setval('chains_id_seq', 1)`);
    const now = `(now() AT TIME ZONE 'utc')`;
    const peer = `'12D3KooWBench' || lpad(n::text, 39, '0')`;
    await db.query(
      `INSERT INTO peer_connections (id, ip_addr, peer_id, created_at, audit, name, chain, version, authority, genesis_hash, last_seen, disconnected_at)
       SELECT n + 1, '10.0.' || (n / 250) || '.' || (n % 250) || ':30333', ${peer}, ${now} - make_interval(secs => $4), false, 'bench-' || n, $1, '2.1.2', n % 10 = 0, $2, ${now}, NULL
         FROM generate_series(0, $3 - 1) n`,
      [CHAIN, GENESIS, NODES, spanS],
    );
    await db.query(
      `INSERT INTO peer_connections (id, ip_addr, peer_id, created_at, audit, name, chain, version, authority, genesis_hash, last_seen, disconnected_at)
       SELECT $3 + 2 * n + s + 1, '10.0.' || (n / 250) || '.' || (n % 250) || ':30333', ${peer}, ${now} - make_interval(secs => $4 + 7200 * (2 - s)),
              false, 'bench-' || n, $1, '2.1.1', n % 10 = 0, $2, ${now} - make_interval(secs => $4 + 7200 * (2 - s) - 3600), ${now} - make_interval(secs => $4 + 7200 * (2 - s) - 3600)
         FROM generate_series(0, $3 - 1) n, generate_series(0, 1) s`,
      [CHAIN, GENESIS, NODES, spanS],
    );
    await db.query(`SELECT setval('peer_connections_id_seq', (SELECT max(id) FROM peer_connections))`);
  });
  // Block h is first seen (BLOCKS - h) block times before now - 10 s, by node h % NODES.
  const firstSeen = `((now() AT TIME ZONE 'utc') - interval '10 seconds' - make_interval(secs => ($1 - h) * ${BLOCK_MS / 1000}))`;
  const hash = `'0x' || md5(h::text) || md5((h + 1)::text)`;
  await step('blocks and finalized heights', async () => {
    await db.query(
      `INSERT INTO blocks (chain_id, height, hash, first_seen_at, first_seen_connection_id, first_seen_peer_id, audit)
       SELECT 1, h, ${hash}, ${firstSeen}, h % $2 + 1, '12D3KooWBench' || lpad((h % $2)::text, 39, '0'), false FROM generate_series(1, $1) h`,
      [BLOCKS, NODES],
    );
    await db.query(
      `INSERT INTO finalized_heights (chain_id, height, first_reported_at, first_reported_connection_id, first_reported_peer_id, audit)
       SELECT 1, h, ${firstSeen} + interval '12 seconds', (h + 1) % $2 + 1, '12D3KooWBench' || lpad(((h + 1) % $2)::text, 39, '0'), false
         FROM generate_series(1, $1) h WHERE ${firstSeen} + interval '12 seconds' < (now() AT TIME ZONE 'utc')`,
      [BLOCKS, NODES],
    );
  });
  // One arrival per node and block: the first-seen node at 0 ms, the others after -ln(u) × 400 ms.
  const chunk = Math.max(1, Math.floor(1_000_000 / NODES));
  await step(`${(BLOCKS * NODES).toLocaleString('en')} arrivals`, async () => {
    for (let from = 1; from <= BLOCKS; from += chunk) {
      const to = Math.min(BLOCKS, from + chunk - 1);
      await db.query(
        `INSERT INTO block_arrivals (chain_id, height, hash, peer_id, peer_connection_id, received_at, node_ts, origin, catch_up, audit)
         SELECT 1, h, ${hash}, '12D3KooWBench' || lpad(n::text, 39, '0'), n + 1, at, at, 'NetworkBroadcast', false, false
           FROM generate_series($3::int, $4::int) h, generate_series(0, $2 - 1) n,
                LATERAL (SELECT ${firstSeen} + make_interval(secs => CASE WHEN n = h % $2 THEN 0
                          ELSE round(-ln((abs(hashint8(h::int8 * 100003 + n)) % 1000000 + 1) / 1000001.0) * 400) / 1000.0 END) AS at) t`,
        [BLOCKS, NODES, from, to],
      );
      process.stdout.write(`\r  arrivals: ${(to * NODES).toLocaleString('en')} / ${(BLOCKS * NODES).toLocaleString('en')}`);
    }
    process.stdout.write('\n');
  });
  await step('summaries (the job, blocks older than 60 s)', async () => {
    for (;;) {
      const run = await summarizeSettledBlocks(db, 60, 1000);
      if (run === null || run.summarized < 1000) break;
    }
  });
  await step('VACUUM ANALYZE', async () => {
    for (const t of ['block_arrivals', 'blocks', 'finalized_heights', 'peer_connections', 'chains']) await db.query(`VACUUM (ANALYZE) ${t}`);
  });
  timings['seed total s'] = round((Date.now() - t0) / 1000, 1);
  return timings;
}

interface RouteResult {
  route: string;
  requests: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  targetMs: number | string;
  bytes: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function measure(base: string, route: string, path: () => string, requests: number, targetMs: number | string): Promise<RouteResult> {
  const warmup = Math.min(10, requests);
  const times: number[] = [];
  let bytes = 0;
  for (let n = 0; n < warmup + requests; n++) {
    const started = process.hrtime.bigint();
    const response = await fetch(base + path());
    const text = await response.text();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (response.status !== 200) throw new Error(`${route}: ${response.status} ${text.slice(0, 300)}`);
    if (n >= warmup) {
      times.push(ms);
      bytes += text.length;
    }
  }
  times.sort((a, b) => a - b);
  const r = { route, requests, p50Ms: round(percentile(times, 50), 1), p95Ms: round(percentile(times, 95), 1), maxMs: round(times[times.length - 1], 1), targetMs, bytes: Math.round(bytes / requests) };
  log(`${route.padEnd(60)} p50 ${String(r.p50Ms).padStart(8)} ms   p95 ${String(r.p95Ms).padStart(8)} ms   max ${String(r.maxMs).padStart(8)} ms   (target p95 ${targetMs} ms)`);
  return r;
}

/** As measure, for a function (no HTTP): the database read behind the /metrics series. */
async function measureCall(what: string, call: () => Promise<unknown>, requests: number): Promise<RouteResult> {
  const times: number[] = [];
  for (let n = 0; n < Math.min(10, requests) + requests; n++) {
    const started = process.hrtime.bigint();
    await call();
    if (n >= Math.min(10, requests)) times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  const r = { route: what, requests, p50Ms: round(percentile(times, 50), 1), p95Ms: round(percentile(times, 95), 1), maxMs: round(times[times.length - 1], 1), targetMs: '< 4000 (timeout)', bytes: 0 };
  log(`${what.padEnd(60)} p50 ${String(r.p50Ms).padStart(8)} ms   p95 ${String(r.p95Ms).padStart(8)} ms   max ${String(r.maxMs).padStart(8)} ms`);
  return r;
}

async function routes(): Promise<Record<string, unknown>> {
  const created = args.url ? null : await createPostgresDatabase();
  const url = (args.url) ?? (created as { url: string }).url;
  const out: Record<string, unknown> = { scale: { nodes: NODES, blocks: BLOCKS, arrivals: NODES * BLOCKS } };
  try {
    const db = new PostgresDatabase({ url, poolSize: 2, maxWriters: 1 });
    if (!args.url) {
      await migrate(db);
      log(`seeding ${NODES} nodes × ${BLOCKS} blocks …`);
      out.seed = await seed(db);
    }
    const sizes = await db.query<{ relation: string; size: string }>(
      `SELECT relname AS relation, pg_size_pretty(pg_total_relation_size(oid)) AS size FROM pg_class WHERE relname IN ('block_arrivals', 'blocks', 'finalized_heights') ORDER BY 1`,
    );
    out.sizes = Object.fromEntries(sizes.rows.map((r) => [r.relation, r.size]));
    log(`sizes: ${JSON.stringify(out.sizes)}`);
    await db.close();
    const settings = parseSettings({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: url, LOG_LEVEL: 'silent', PURGE_INTERVAL_S: '86400', ANALYTICS_SUMMARY_INTERVAL_S: '3600' });
    const server = await startServer(settings, pino({ level: 'silent' }));
    const base = `http://127.0.0.1:${server.port}`;
    const chain = encodeURIComponent(CHAIN);
    const peer = () => `12D3KooWBench${String(Math.floor(Math.random() * NODES)).padStart(39, '0')}`;
    const at = () => new Date(Date.now() - Math.floor(Math.random() * BLOCKS * BLOCK_MS)).toISOString();
    const measured: RouteResult[] = [];
    try {
      measured.push(await measure(base, '/chains', () => '/chains', REQUESTS, 50));
      measured.push(await measure(base, '/chains/{chain}/blocks?limit=100', () => `/chains/${chain}/blocks?limit=100`, REQUESTS, 50));
      measured.push(await measure(base, '/nodes/{peer_id}/history (24 h)', () => `/nodes/${peer()}/history`, REQUESTS, 50));
      measured.push(await measure(base, '/chains/{chain}/propagation (1 h: 600 blocks)', () => `/chains/${chain}/propagation`, Math.max(20, Math.floor(REQUESTS / 2)), 200));
      measured.push(await measure(base, '/chains/{chain}/finality (1 h, 60 s buckets)', () => `/chains/${chain}/finality`, REQUESTS, '—'));
      measured.push(await measure(base, '/chains/{chain}/blocks?limit=1000', () => `/chains/${chain}/blocks?limit=1000`, Math.max(20, Math.floor(REQUESTS / 5)), '—'));
      measured.push(await measure(base, '/nodes?at=', () => `/nodes?at=${at()}`, Math.max(20, Math.floor(REQUESTS / 5)), '—'));
      measured.push(await measure(base, '/metrics (per-chain read cached 5 s)', () => '/metrics', REQUESTS, '—'));
      const metricsDb = new PostgresDatabase({ url, poolSize: 1, maxWriters: 1 });
      try {
        const run = createQueryRunner(metricsDb, 4000);
        const options = { maxChains: 20, perNode: true, maxNodes: NODES, connectedWindowS: CONNECTED_WINDOW_S };
        measured.push(await measureCall('per-chain series read (uncached, per-node on)', () => readChainSeries(run, options), REQUESTS));
        measured.push(await measureCall('per-chain series read (uncached, per-node off)', () => readChainSeries(run, { ...options, perNode: false }), REQUESTS));
      } finally {
        await metricsDb.close();
      }
    } finally {
      await server.close();
    }
    out.routes = measured;
    out.loadAverageAfter = os.loadavg().map((l) => round(l, 1));
  } finally {
    if (created && !args.keep) await created.drop();
    else log(`database kept: ${url}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// 2. Rebuild

async function rebuild(): Promise<Record<string, unknown>> {
  const messages = Number(args['rebuild-messages']);
  const created = await createPostgresDatabase();
  const db = new PostgresDatabase({ url: created.url, poolSize: 3, maxWriters: 1 });
  try {
    await migrate(db);
    const nodes = 100;
    const perNode = Math.ceil(messages / nodes);
    log(`rebuild: seeding ${messages.toLocaleString('en')} messages of ${nodes} nodes …`);
    // The time partitions of the messages' hours (a server prepares them at start; there is no DEFAULT partition).
    await ensurePartitions(db, Date.parse('2024-01-01T00:00:00Z'), 1, Math.ceil((perNode * 0.1) / 3600) + 1);
    await db.query(
      `INSERT INTO peer_connections (id, ip_addr, peer_id, created_at, name, chain, genesis_hash, version, last_seen, disconnected_at)
       SELECT n + 1, '10.1.0.' || n || ':30333', '12D3KooWRebuild' || lpad(n::text, 37, '0'), timestamp '2024-01-01', 'r-' || n, 'Rebuild Testnet', $1, '2.1.2', timestamp '2024-01-02', timestamp '2024-01-02'
         FROM generate_series(0, $2 - 1) n`,
      [GENESIS, nodes],
    );
    // Message k of node n at 2024-01-01 + k × 100 ms, a block every 6 messages: its import, a notify.finalized
    // (a rise), the two halves of system.interval (its finalized height repeats the notify: no rise), a
    // txpool.import and a prevote.
    const seedStarted = Date.now();
    const chunk = 100_000;
    for (let from = 0; from < perNode * nodes; from += chunk) {
      await db.query(
        `INSERT INTO substrate_logs (created_at, logs, peer_connection_id, audit)
         SELECT timestamp '2024-01-01' + make_interval(secs => k * 0.1), CASE k % 6
                  WHEN 0 THEN jsonb_build_object('msg', 'block.import', 'best', '0x' || md5((k / 6)::text), 'height', k / 6, 'origin', 'NetworkBroadcast', 'ts', '')
                  WHEN 1 THEN jsonb_build_object('msg', 'notify.finalized', 'best', '0x' || md5((k / 6 - 2)::text), 'height', ((k / 6) - 2)::text, 'ts', '')
                  WHEN 2 THEN jsonb_build_object('msg', 'system.interval', 'bandwidth_download', k % 997, 'bandwidth_upload', k % 991, 'peers', 40, 'ts', '')
                  WHEN 3 THEN jsonb_build_object('msg', 'system.interval', 'best', '0x' || md5((k / 6)::text), 'height', k / 6, 'finalized_height', k / 6 - 2, 'finalized_hash', '0x00', 'txcount', 0, 'ts', '')
                  WHEN 4 THEN jsonb_build_object('msg', 'txpool.import', 'ready', k % 50, 'future', 0, 'ts', '')
                  ELSE jsonb_build_object('msg', 'afg.received_prevote', 'target_hash', '0x' || md5((k / 6)::text), 'target_number', (k / 6)::text, 'voter', 'v', 'ts', '') END,
                n + 1, false
           FROM generate_series($1::int, $2::int) i, LATERAL (SELECT i % $3 AS n, i / $3 AS k) x`,
        [from, Math.min(perNode * nodes, from + chunk) - 1, nodes],
      );
      process.stdout.write(`\r  messages: ${Math.min(perNode * nodes, from + chunk).toLocaleString('en')}`);
    }
    process.stdout.write('\n');
    await db.query('VACUUM (ANALYZE) substrate_logs');
    const seedSeconds = (Date.now() - seedStarted) / 1000;
    let lastLine = 0;
    const result = await rebuildAnalytics(db, {
      until: '2030-01-01 00:00:00',
      onProgress: (p) => {
        if (Date.now() - lastLine > 5000 || p.phase !== 'deriving') {
          lastLine = Date.now();
          log(`  ${p.phase} ${(p.fraction * 100).toFixed(0)} %, ${p.arrivals.toLocaleString('en')} arrivals, ${p.reports.toLocaleString('en')} reports, ${(p.elapsedMs / 1000).toFixed(1)} s`);
        }
      },
    });
    const seconds = result.elapsedMs / 1000;
    const out = {
      messages: result.messages,
      seedSeconds: round(seedSeconds, 1),
      rebuildSeconds: round(seconds, 1),
      messagesPerSecond: Math.round(result.messages / seconds),
      arrivals: result.arrivals,
      finalityReports: result.reports,
      blocks: result.blocks,
      finalizedHeights: result.heights,
      blocksSummarized: result.summarized,
      target: '≥ 100,000 messages/s',
    };
    keyValues('rebuild', out);
    return out;
  } finally {
    await db.close();
    await created.drop();
  }
}

// ---------------------------------------------------------------------------------------------------
// 3. Ingest A/B

async function ingest(): Promise<Record<string, unknown>> {
  if (!args['no-build']) build();
  const common = Object.fromEntries((args['ingest-env']).map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
  const variants = [
    { name: 'ANALYTICS=true', env: { ...common, ANALYTICS: 'true' } },
    { name: 'ANALYTICS=false', env: { ...common, ANALYTICS: 'false' } },
  ];
  const runs: Array<Record<string, number | string>> = [];
  for (let r = 0; r < Number(args['ingest-rounds']); r++) {
    for (const v of r % 2 === 0 ? variants : [...variants].reverse()) {
      log(`ingest round ${r + 1}: ${v.name}`);
      const run = await runIngest({
        database: 'postgres',
        env: v.env,
        simulation: { nodes: Number(args['ingest-nodes']), verbosity: 0, role: 'full', rate: Number(args['ingest-rate']), networkStateKb: 22, rampPerSecond: 500 },
        warmupSeconds: Number(args['ingest-warmup']),
        seconds: Number(args['ingest-seconds']),
        log,
      });
      try {
        const x = run.result;
        const facts = await run.db.query<{ arrivals: number; reports: number; messages: number }>(
          `SELECT (SELECT count(*) FROM block_arrivals)::int8 AS arrivals, (SELECT count(*) FROM finality_reports)::int8 AS reports, (SELECT count(*) FROM substrate_logs)::int8 AS messages`,
        );
        const f = facts.rows[0];
        const row = {
          variant: v.name,
          round: r + 1,
          'sent/s': x.sentPerSecond,
          'stored/s': x.storedPerSecond,
          'stored=sent': x.check.missing === 0 && x.check.extra === 0 ? 'yes' : 'NO',
          'server µs/msg': round((x.serverCpuCores / Math.max(1, x.sentPerSecond)) * 1e6, 1),
          'db µs/row': round((x.databaseCpuCores / Math.max(1, x.storedPerSecond)) * 1e6, 1),
          'facts per message': round((Number(f.arrivals) + Number(f.reports)) / Math.max(1, Number(f.messages)), 3),
          'batch ms': x.batches?.meanMs ?? NaN,
          'machine busy': x.machineBusyCores,
        };
        log(`  ${JSON.stringify(row)}`);
        runs.push(row);
      } finally {
        await run.dispose();
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor((xs.length - 1) / 2)];
  const summary = variants.map((v) => {
    const mine = runs.filter((r) => r.variant === v.name);
    const out: Record<string, number | string> = { variant: v.name };
    for (const key of ['sent/s', 'stored/s', 'server µs/msg', 'db µs/row', 'facts per message', 'batch ms']) out[key] = median(mine.map((r) => Number(r[key])));
    out['stored=sent'] = mine.every((r) => r['stored=sent'] === 'yes') ? 'yes' : 'NO';
    return out;
  });
  const on = Number(summary[0]['stored/s']);
  const off = Number(summary[1]['stored/s']);
  table('ingest runs', runs);
  table(`ingest medians over ${args['ingest-rounds']} rounds`, summary);
  const cost = { storedPerSecondCostPct: round((1 - on / off) * 100, 1), target: '≤ 10 % fewer stored messages/s' };
  keyValues('cost of deriving at ingestion', cost);
  return { runs, summary, cost };
}

const results: Record<string, unknown> = { command: `npm run bench:analytics -- ${process.argv.slice(2).join(' ')}`.trim(), loadAverageAtStart: os.loadavg().map((l) => round(l, 1)) };
if (!skip.has('routes')) {
  results.routes = await routes();
  table('routes', (results.routes as { routes: RouteResult[] }).routes.map((r) => ({ ...r })));
}
if (!skip.has('rebuild')) results.rebuild = await rebuild();
if (!skip.has('ingest')) results.ingest = await ingest();
save('analytics', results);
process.exit(0);
