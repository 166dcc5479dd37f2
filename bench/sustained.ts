// Benchmark 1 — sustained ingest: N simulated nodes (realistic mix) stream to the server for a measured
// window after warm-up; stored messages/s (counted in the database) next to the raw COPY rate of the
// same rows into the same table (the limit), CPU of server and database, peak RSS, and the check that
// the database holds exactly what the nodes sent.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import path from 'node:path';
import { runIngest, type IngestRun, type IngestRunResult } from './lib/ingest-run.js';
import { rawCopy, sampleStoredRows, round, type CopyReference } from './lib/db.js';
import { PostgresCpu } from './lib/proc.js';
import { databaseName } from './lib/db.js';
import { table, save, keyValues } from './lib/report.js';
import { ROOT } from './lib/server.js';
import { parseSettings } from '../src/config/settings.js';

export const SUSTAINED_USAGE = `sustained [--nodes 1000] [--rate 40] [--verbosity 0] [--seconds 60] [--warmup 10]
          [--network-state-kb 22] [--env KEY=VALUE …] [--profile] [--copy-seconds 15]
  --rate R   messages/s per node with the natural mix of the verbosity (0 = natural schedule)`;

export const sustainedOptions = {
  nodes: { type: 'string', default: '1000' },
  rate: { type: 'string', default: '40' },
  verbosity: { type: 'string', default: '0' },
  role: { type: 'string', default: 'full' },
  seconds: { type: 'string', default: '60' },
  warmup: { type: 'string', default: '10' },
  'network-state-kb': { type: 'string', default: '22' },
  'copy-seconds': { type: 'string', default: '15' },
  env: { type: 'string', multiple: true, default: [] },
  'node-flag': { type: 'string', multiple: true, default: [] },
  profile: { type: 'boolean', default: false },
  embedded: { type: 'boolean', default: false },
} satisfies ParseArgsConfig['options'];

export function envPairs(pairs: string[]): Record<string, string> {
  return Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
}

/** Batch size and writer count the server used (its defaults unless overridden). */
export function writerShape(env: Record<string, string>): { batch: number; writers: number } {
  const settings = parseSettings({ ...env, DATABASE_URL: env.DATABASE_URL ?? 'postgres://x@127.0.0.1/x' });
  return { batch: settings.dbBatchSize, writers: settings.dbWriters };
}

export async function copyReferences(run: IngestRun, env: Record<string, string>, seconds: number): Promise<CopyReference[]> {
  const url = run.url;
  const rows = await sampleStoredRows(run.db, 20_000);
  const { batch, writers } = writerShape(env);
  const refs: CopyReference[] = [];
  for (const connections of [...new Set([1, writers])]) {
    const cpu = url ? () => new PostgresCpu(databaseName(url)).start() : undefined;
    refs.push(await rawCopy(run.db, rows, { batchRows: batch, connections, seconds, cpu }));
  }
  return refs;
}

export function ingestRow(label: string, r: IngestRunResult, limit?: number): Record<string, string | number> {
  return {
    run: label,
    nodes: r.nodes,
    'sent/s': r.sentPerSecond,
    'stored/s': r.storedPerSecond,
    ...(limit ? { 'raw COPY/s': limit, ratio: round(r.storedPerSecond / limit, 3) } : {}),
    'node drops': r.nodeDropsInWindow,
    'server drops': Object.values(r.serverDrops).reduce((a, b) => a + b, 0),
    'stored=sent': r.check.missing === 0 && r.check.extra === 0 ? 'yes' : `NO (-${r.check.missing} +${r.check.extra})`,
    'server cores': r.serverCpuCores,
    'db cores': r.databaseCpuCores,
    'bench cores': r.benchCpuCores,
    'peak RSS MiB': r.serverPeakRssMiB,
  };
}

export async function sustained(argv: string[]): Promise<void> {
  const { values: a } = parseArgs({ args: argv, options: sustainedOptions, allowPositionals: false });
  const env = envPairs(a.env);
  const rate = Number(a.rate);
  const embedded = a.embedded;
  const nodes = Number(a.nodes);
  console.log(`sustained: ${nodes} nodes, ${rate > 0 ? `${rate} msg/s each` : 'natural schedule'}, verbosity ${a.verbosity}, ${a.seconds} s after ${a.warmup} s warm-up, ${embedded ? 'embedded' : 'PostgreSQL'}`);
  const run = await runIngest({
    database: embedded ? 'embedded' : 'postgres',
    env,
    simulation: {
      nodes,
      verbosity: Number(a.verbosity),
      role: a.role as 'full' | 'validator',
      rate: rate > 0 ? rate : undefined,
      networkStateKb: Number(a['network-state-kb']),
      rampPerSecond: 500,
    },
    nodeFlags: a['node-flag'],
    warmupSeconds: Number(a.warmup),
    seconds: Number(a.seconds),
    cpuProfileDir: a.profile ? path.join(ROOT, 'bench/results/profiles') : undefined,
  });
  try {
    const r = run.result;
    const refs = await copyReferences(run, env, Number(a['copy-seconds']));
    const limit = Math.max(...refs.map((c) => c.rowsPerSecond));
    table('sustained ingest', [ingestRow(embedded ? 'embedded' : 'postgres', r, limit)]);
    table('raw COPY reference (same rows, same table, same batch size)', refs.map((c) => ({ ...c })));
    keyValues('details', {
      sentBytesPerSecond: r.sentBytesPerSecond,
      averageMessageBytes: Math.round(r.sentBytesPerSecond / Math.max(1, r.sentPerSecond)),
      nodeDiscardsInWindow: r.nodeDiscardsInWindow,
      reconnectsInWindow: r.reconnectsInWindow,
      serverDisconnects: r.serverDisconnects,
      machineBusyCores: r.machineBusyCores,
      maxBufferRows: r.maxBufferRows,
      pausedSamples: r.pausedSamples,
      batches: r.batches,
      eventLoopDelayMs: r.eventLoopDelayMs,
      check: { sent: r.check.sent, stored: r.check.stored, missing: r.check.missing, extra: r.check.extra, examples: r.check.examples },
    });
    table('timeline (server metrics)', r.samples.map((x) => ({ ...x })));
    save(embedded ? 'sustained-embedded' : 'sustained', { command: `npm run bench -- sustained ${argv.join(' ')}`.trim(), options: a, result: r, rawCopy: refs, ratioToCopy: round(r.storedPerSecond / limit, 3) });
  } finally {
    await run.dispose();
  }
}
