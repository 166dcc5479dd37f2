// Benchmark 5 — embedded database: sustained ingest into the embedded default (PGlite, in the server's
// process) with 100 nodes, beside the same load into PostgreSQL; each next to the raw COPY rate of the
// same rows into its own table (the embedded database has one session, so one COPY at a time).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import path from 'node:path';
import { runIngest } from './lib/ingest-run.js';
import { ROOT } from './lib/server.js';
import { round } from './lib/db.js';
import { table, save, keyValues } from './lib/report.js';
import { envPairs, copyReferences, ingestRow } from './sustained.js';

export const EMBEDDED_USAGE = `embedded [--nodes 100] [--rate 150] [--verbosity 0] [--seconds 60] [--warmup 10] [--env KEY=VALUE …] [--only embedded|postgres] [--profile]`;

const options = {
  nodes: { type: 'string', default: '100' },
  rate: { type: 'string', default: '150' },
  verbosity: { type: 'string', default: '0' },
  seconds: { type: 'string', default: '60' },
  warmup: { type: 'string', default: '10' },
  'network-state-kb': { type: 'string', default: '22' },
  'copy-seconds': { type: 'string', default: '15' },
  env: { type: 'string', multiple: true, default: [] },
  only: { type: 'string' },
  profile: { type: 'boolean', default: false },
} satisfies ParseArgsConfig['options'];

export async function embedded(argv: string[]): Promise<void> {
  const { values: a } = parseArgs({ args: argv, options });
  const env = envPairs(a.env);
  const nodes = Number(a.nodes);
  const rate = Number(a.rate);
  const rows: Array<Record<string, string | number>> = [];
  const results: Record<string, unknown> = {};
  for (const database of ['embedded', 'postgres'] as const) {
    if (a.only && a.only !== database) continue;
    console.log(`${database}: ${nodes} nodes × ${rate} msg/s, verbosity ${a.verbosity}, ${a.seconds} s after ${a.warmup} s`);
    const run = await runIngest({
      database,
      env,
      simulation: { nodes, verbosity: Number(a.verbosity), rate: rate > 0 ? rate : undefined, networkStateKb: Number(a['network-state-kb']), rampPerSecond: 500 },
      warmupSeconds: Number(a.warmup),
      seconds: Number(a.seconds),
      cpuProfileDir: a.profile ? path.join(ROOT, 'bench/results/profiles') : undefined,
    });
    try {
      // The embedded database takes one COPY at a time; PostgreSQL as many as the writer uses.
      const refs = await copyReferences(run, database === 'embedded' ? { ...env, DB_WRITERS: '1' } : env, Number(a['copy-seconds']));
      const limit = Math.max(...refs.map((c) => c.rowsPerSecond));
      rows.push(ingestRow(database, run.result, limit));
      results[database] = { result: run.result, rawCopy: refs, ratioToCopy: round(run.result.storedPerSecond / limit, 3) };
      keyValues(`${database} details`, { maxBufferRows: run.result.maxBufferRows, pausedSamples: run.result.pausedSamples, batches: run.result.batches, eventLoopDelayMs: run.result.eventLoopDelayMs, rawCopy: refs });
    } finally {
      await run.dispose();
    }
  }
  table(`embedded vs PostgreSQL: ${nodes} nodes × ${rate} msg/s`, rows);
  save('embedded', { command: `npm run bench -- embedded ${argv.join(' ')}`.trim(), options: a, ...results });
}
