// One measured ingest run, shared by the benchmarks: a fresh database, the built server in a child
// process, the node simulator in this process; warm-up, a measured window, then a clean stop and the
// check that the database holds exactly what the nodes sent.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runSimulation, type SimulationOptions, type SimulationStats, type Simulation } from '../../src/simulator/index.js';
import { PostgresDatabase } from '../../src/storage/postgres.js';
import { EmbeddedDatabase } from '../../src/storage/embedded.js';
import type { Database } from '../../src/storage/database.js';
import { startServer, metricSum, type ServerProcess } from './server.js';
import { createPostgresDatabase, databaseName, connect, storedBySequence, checkStoredEqualsSent, round, type SentCheck } from './db.js';
import { PostgresCpu, cpuSeconds, machineBusySeconds } from './proc.js';
import { sleep, until } from './report.js';
import { LatencyProbe, type LatencySummary } from './latency.js';

export interface IngestRunOptions {
  database: 'postgres' | 'embedded';
  /** Server settings (environment variables). */
  env?: Record<string, string>;
  simulation: Omit<SimulationOptions, 'url'>;
  warmupSeconds: number;
  seconds: number;
  /** Seconds between samples of the server's metrics (and event-loop delay windows). */
  sampleSeconds?: number;
  cpuProfileDir?: string;
  /** Extra node flags of the server process (e.g. --max-semi-space-size=64). */
  nodeFlags?: string[];
  /** Built server to run (default dist). */
  distDir?: string;
  /** Measure send → queryable latency on this many nodes (PostgreSQL only). */
  latencyProbes?: number;
  /** Keep the database after the run (the caller gets `keep` to use and drop). */
  keepDatabase?: boolean;
  log?: (line: string) => void;
}

export interface Sample {
  t: number;
  stored: number;
  bufferRows: number;
  paused: number;
  rssMiB: number;
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
  connections: number;
  /** Batches written so far, and the seconds they took in total (from the writer's histograms). */
  batches: number;
  batchSeconds: number;
}

export interface IngestRunResult {
  database: string;
  settings: Record<string, string>;
  nodes: number;
  connectedNodes: number;
  /** Nodes that sent at least one message during the window. */
  nodesStreaming: number;
  windowSeconds: number;
  sentPerSecond: number;
  sentBytesPerSecond: number;
  storedPerSecond: number;
  /** Frames the nodes dropped because 16 were already in flight (the server read too slowly). */
  nodeDropsInWindow: number;
  /** Produced while not connected (before the first connection, during reconnect delays). */
  nodeDiscardsInWindow: number;
  reconnectsInWindow: number;
  /** Messages the server received but did not store, by reason (whole run). */
  serverDrops: Record<string, number>;
  serverDisconnects: number;
  serverCpuCores: number;
  databaseCpuCores: number;
  benchCpuCores: number;
  machineBusyCores: number;
  serverPeakRssMiB: number;
  serverRssEndMiB: number;
  maxBufferRows: number;
  pausedSamples: number;
  /** Batches written in the window, mean rows and mean seconds per batch. */
  batches: { count: number; meanRows: number; meanMs: number } | null;
  eventLoopDelayMs: { p99Worst: number; p99Median: number; max: number; resolutionMs: number } | null;
  latency: LatencySummary | null;
  sentByType: Record<string, number>;
  check: SentCheck;
  serverExitCode: number | null;
  serverWarnings: string[];
  samples: Sample[];
}

export interface IngestRun {
  result: IngestRunResult;
  /** The database, still open (postgres: a pool; embedded: reopened from its folder). */
  db: Database;
  /** PostgreSQL URL of the run's database; null for the embedded one. */
  url: string | null;
  dispose(): Promise<void>;
}

/** prom-client's event-loop monitor samples every 10 ms; its values include that interval. */
const ELD_RESOLUTION_MS = 10;

function batchSummary(m0: Map<string, number>, samples: Sample[], stored0: number): IngestRunResult['batches'] {
  const last = samples[samples.length - 1];
  if (!last) return null;
  const count = last.batches - metricSum(m0, 'tetcore_write_batch_seconds_count');
  const seconds = last.batchSeconds - metricSum(m0, 'tetcore_write_batch_seconds_sum');
  return { count, meanRows: count ? Math.round((last.stored - stored0) / count) : 0, meanMs: count ? round((seconds / count) * 1000, 1) : 0 };
}

function diffStats(a: SimulationStats, b: SimulationStats) {
  return { sent: b.sent - a.sent, bytes: b.bytes - a.bytes, dropped: b.dropped - a.dropped, discarded: b.discarded - a.discarded, reconnects: b.reconnects - a.reconnects };
}

export async function runIngest(options: IngestRunOptions): Promise<IngestRun> {
  const log = options.log ?? ((line: string) => console.log(line));
  const env: Record<string, string> = { ...(options.env ?? {}) };
  let dataDir: string | null = null;
  let dropDatabase: () => Promise<void> = async () => {};
  let dbName = '';
  let url = '';
  if (options.database === 'postgres') {
    const created = await createPostgresDatabase();
    url = created.url;
    dbName = databaseName(url);
    dropDatabase = created.drop;
    env.DATABASE_URL = url;
  } else {
    dataDir = mkdtempSync(path.join(tmpdir(), 'tetcore-bench-'));
    env.DATA_DIR = dataDir;
    delete env.DATABASE_URL;
  }
  const server: ServerProcess = await startServer({ env, cpuProfileDir: options.cpuProfileDir, nodeFlags: options.nodeFlags, distDir: options.distDir });
  const client = options.database === 'postgres' ? await connect(url) : null;
  const simulation: Simulation = await runSimulation({ ...options.simulation, url: server.url('/') });
  const nodes = options.simulation.nodes ?? 1;
  const probe = options.latencyProbes && client ? new LatencyProbe(client, simulation.records().slice(0, options.latencyProbes)) : null;

  const storedNow = async () => (client ? storedBySequence(client) : metricSum(await server.metrics(), 'tetcore_messages_stored_total'));
  const progress = setInterval(() => {
    const s = simulation.stats();
    log(`  … ${s.connectedNodes}/${nodes} nodes connected, ${s.sent} sent, ${s.dropped} dropped by nodes, ${s.reconnects} reconnects`);
  }, 10_000);
  try {
    // Warm-up: everyone connected (or the ramp is over), then the warm-up time.
    await until(() => simulation.stats().connectedNodes >= nodes, Math.max(30_000, (nodes / (options.simulation.rampPerSecond ?? 500)) * 3000), 250);
    await sleep(options.warmupSeconds * 1000);
    probe?.start();

    const sim0 = simulation.stats();
    const totals0 = simulation.records().map((r) => r.total);
    const stored0 = await storedNow();
    const serverCpu0 = server.cpu();
    const benchCpu0 = cpuSeconds(process.pid);
    const busy0 = machineBusySeconds();
    const pgCpu = options.database === 'postgres' ? new PostgresCpu(dbName).start() : null;
    const m0 = await server.metrics(); // also resets the event-loop delay histogram
    const stored0Metric = metricSum(m0, 'tetcore_messages_stored_total');
    const t0 = performance.now();
    const samples: Sample[] = [];
    const sampleMs = (options.sampleSeconds ?? 5) * 1000;
    while (performance.now() - t0 < options.seconds * 1000) {
      await sleep(Math.min(sampleMs, options.seconds * 1000 - (performance.now() - t0)));
      const m = await server.metrics();
      samples.push({
        t: round((performance.now() - t0) / 1000, 1),
        stored: metricSum(m, 'tetcore_messages_stored_total'),
        bufferRows: metricSum(m, 'tetcore_buffer_rows'),
        paused: metricSum(m, 'tetcore_ingest_paused'),
        rssMiB: round(server.rss()),
        eventLoopP99Ms: round(Math.max(0, metricSum(m, 'nodejs_eventloop_lag_p99_seconds') * 1000 - ELD_RESOLUTION_MS), 1),
        eventLoopMaxMs: round(Math.max(0, metricSum(m, 'nodejs_eventloop_lag_max_seconds') * 1000 - ELD_RESOLUTION_MS), 1),
        connections: metricSum(m, 'current_substrate_connections'),
        batches: metricSum(m, 'tetcore_write_batch_seconds_count'),
        batchSeconds: round(metricSum(m, 'tetcore_write_batch_seconds_sum'), 2),
      });
    }
    const elapsed = (performance.now() - t0) / 1000;
    const stored1 = await storedNow();
    const sim1 = simulation.stats();
    const streaming = simulation.records().filter((r, i) => r.total > totals0[i]).length;
    const serverCpu = (server.cpu() - serverCpu0) / elapsed;
    const benchCpu = (cpuSeconds(process.pid) - benchCpu0) / elapsed;
    const busy = (machineBusySeconds() - busy0) / elapsed;
    const databaseCpu = pgCpu ? pgCpu.stop() / elapsed : NaN;
    const peakRss = server.peakRss();
    const latency = probe ? await probe.stop() : null;
    const window = diffStats(sim0, sim1);

    // Stop the nodes, let the server store what it has read, then shut it down (it drains its buffer).
    clearInterval(progress);
    const final = await simulation.stop();
    let last = -1;
    await until(async () => {
      const m = await server.metrics();
      const stored = metricSum(m, 'tetcore_messages_stored_total');
      const settled = stored === last && metricSum(m, 'tetcore_buffer_rows') === 0;
      last = stored;
      return settled;
    }, 60_000, 500);
    const m = await server.metrics();
    const serverDrops: Record<string, number> = {};
    for (const [key, value] of m) {
      const match = /^tetcore_messages_dropped_total\{reason="([^"]+)"\}$/.exec(key);
      if (match && value > 0) serverDrops[match[1]] = value;
    }
    const serverDisconnects = metricSum(m, 'nodes_dropped_count');
    const rssEnd = server.rss();
    const exitCode = await server.stop();
    await client?.end();

    let db: Database;
    if (options.database === 'postgres') db = new PostgresDatabase({ url, poolSize: 4, maxWriters: 2, applicationName: 'tetcore-bench' });
    else db = await EmbeddedDatabase.open(dataDir);
    const check = await checkStoredEqualsSent(db, simulation.records());

    const p99s = samples.map((s) => s.eventLoopP99Ms).sort((a, b) => a - b);
    const result: IngestRunResult = {
      database: options.database === 'postgres' ? 'PostgreSQL' : 'embedded (PGlite)',
      settings: Object.fromEntries(Object.entries(options.env ?? {})),
      nodes,
      connectedNodes: sim1.connectedNodes,
      nodesStreaming: streaming,
      windowSeconds: round(elapsed, 1),
      sentPerSecond: Math.round(window.sent / elapsed),
      sentBytesPerSecond: Math.round(window.bytes / elapsed),
      storedPerSecond: Math.round((stored1 - stored0) / elapsed),
      nodeDropsInWindow: window.dropped,
      nodeDiscardsInWindow: window.discarded,
      reconnectsInWindow: window.reconnects,
      serverDrops,
      serverDisconnects,
      serverCpuCores: round(serverCpu, 2),
      databaseCpuCores: round(databaseCpu, 2),
      benchCpuCores: round(benchCpu, 2),
      machineBusyCores: round(busy, 2),
      serverPeakRssMiB: Math.round(peakRss),
      serverRssEndMiB: Math.round(rssEnd),
      maxBufferRows: Math.max(0, ...samples.map((s) => s.bufferRows)),
      pausedSamples: samples.filter((s) => s.paused > 0).length,
      batches: batchSummary(m0, samples, stored0Metric),
      eventLoopDelayMs: p99s.length
        ? { p99Worst: p99s[p99s.length - 1], p99Median: p99s[Math.floor(p99s.length / 2)], max: Math.max(...samples.map((s) => s.eventLoopMaxMs)), resolutionMs: ELD_RESOLUTION_MS }
        : null,
      latency,
      sentByType: final.sentByType,
      check,
      serverExitCode: exitCode,
      serverWarnings: server.warnings.slice(0, 20),
      samples,
    };
    return {
      result,
      db,
      url: options.database === 'postgres' ? url : null,
      async dispose() {
        await db.close().catch(() => {});
        await dropDatabase();
        if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    clearInterval(progress);
    await simulation.stop().catch(() => {});
    await server.stop().catch(() => {});
    await client?.end().catch(() => {});
    await dropDatabase().catch(() => {});
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}
