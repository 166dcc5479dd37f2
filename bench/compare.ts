// npm run bench -- compare --variant "DB_WRITERS=2" --variant "DB_WRITERS=4" [--rounds 2] [sustained flags]
// A/B of server settings (or node flags: tokens starting with --) on the sustained ingest: the variants
// run in turn, round after round (A B A B …), each on a fresh database and server, so the machine's
// noise spreads over all of them. Reports medians of stored/s and of CPU per message.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { runIngest } from './lib/ingest-run.js';
import { round } from './lib/db.js';
import { table, save } from './lib/report.js';
import { sustainedOptions, envPairs } from './sustained.js';

export const COMPARE_USAGE = `compare --variant=defaults --variant=KEY=VALUE,KEY=VALUE --variant=--node-flag [--rounds 2] [--nodes 1000 --rate 20 --seconds 30 …]
  A/B of settings on the sustained ingest, variants interleaved round after round (commas separate
  the settings of one variant; a token starting with -- is a node flag of the server; @DIR runs the
  server built in DIR instead of dist/, e.g. a copy of dist/ made before a change, kept at the top of the
  repository so that its ../migrations and ../package.json resolve).`;

const options = {
  ...sustainedOptions,
  seconds: { type: 'string', default: '30' },
  warmup: { type: 'string', default: '5' },
  rate: { type: 'string', default: '20' },
  variant: { type: 'string', multiple: true, default: [] },
  rounds: { type: 'string', default: '2' },
  probes: { type: 'string', default: '0' },
  'network-state-kb': { type: 'string', default: '22' },
  'time-scale': { type: 'string', default: '1' },
  ramp: { type: 'string', default: '500' },
} satisfies ParseArgsConfig['options'];

export async function compare(argv: string[]): Promise<void> {
  const { values: a } = parseArgs({ args: argv, options });
  const variants = (a.variant).map((text) => {
    const tokens = text.split(/[\s,]+/).filter((t) => t !== '' && t !== 'defaults');
    return {
      name: tokens.length ? text : 'defaults',
      env: { ...envPairs(a.env), ...envPairs(tokens.filter((t) => !t.startsWith('--') && !t.startsWith('@'))) },
      nodeFlags: tokens.filter((t) => t.startsWith('--')),
      distDir: tokens.find((t) => t.startsWith('@'))?.slice(1),
    };
  });
  if (variants.length === 0) throw new Error('give at least one --variant ("" for the defaults)');
  const rate = Number(a.rate);
  const runs: Array<Record<string, number | string>> = [];
  for (let r = 0; r < Number(a.rounds); r++) {
    for (const v of variants) {
      console.log(`round ${r + 1}: ${v.name}`);
      const run = await runIngest({
        database: a.embedded ? 'embedded' : 'postgres',
        env: v.env,
        nodeFlags: v.nodeFlags,
        distDir: v.distDir,
        simulation: { nodes: Number(a.nodes), verbosity: Number(a.verbosity), role: a.role as 'full' | 'validator', rate: rate > 0 ? rate : undefined, networkStateKb: Number(a['network-state-kb']), timeScale: Number(a['time-scale']), rampPerSecond: Number(a.ramp) },
        warmupSeconds: Number(a.warmup),
        seconds: Number(a.seconds),
        latencyProbes: Number(a.probes) || undefined,
      });
      const x = run.result;
      await run.dispose();
      const row = {
        variant: v.name,
        round: r + 1,
        'sent/s': x.sentPerSecond,
        'stored/s': x.storedPerSecond,
        'node drops': x.nodeDropsInWindow,
        'stored=sent': x.check.missing === 0 && x.check.extra === 0 ? 'yes' : 'NO',
        // Per message received (the server parses everything sent, whether or not its writer kept up).
        'server µs/msg': round((x.serverCpuCores / Math.max(1, x.sentPerSecond)) * 1e6, 1),
        'db µs/row': round((x.databaseCpuCores / Math.max(1, x.storedPerSecond)) * 1e6, 1),
        'batch ms': x.batches?.meanMs ?? NaN,
        'batch rows': x.batches?.meanRows ?? NaN,
        'loop p99 ms': x.eventLoopDelayMs?.p99Median ?? NaN,
        'loop p99 worst ms': x.eventLoopDelayMs?.p99Worst ?? NaN,
        'loop max ms': x.eventLoopDelayMs?.max ?? NaN,
        'latency p99 ms': x.latency?.p99Ms ?? NaN,
        'max buffer': x.maxBufferRows,
        'peak RSS MiB': x.serverPeakRssMiB,
        'machine busy': x.machineBusyCores,
      };
      console.log(`  ${JSON.stringify(row)}`);
      runs.push(row);
    }
  }
  const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor((xs.length - 1) / 2)];
  const summary = variants.map((v) => {
    const mine = runs.filter((r) => r.variant === v.name);
    const out: Record<string, number | string> = { variant: v.name };
    for (const key of ['sent/s', 'stored/s', 'server µs/msg', 'db µs/row', 'batch ms', 'loop p99 ms', 'loop p99 worst ms', 'loop max ms', 'latency p99 ms', 'max buffer', 'peak RSS MiB']) out[key] = median(mine.map((r) => Number(r[key])));
    out['node drops'] = mine.reduce((n, r) => n + Number(r['node drops']), 0);
    out['stored=sent'] = mine.every((r) => r['stored=sent'] === 'yes') ? 'yes' : 'NO';
    return out;
  });
  table('all runs', runs);
  table(`medians (lower of the middle two) over ${a.rounds} rounds`, summary);
  save('compare', { command: `npm run bench -- compare ${argv.map((x) => (/\s/.test(x) ? JSON.stringify(x) : x)).join(' ')}`, options: a, runs, summary });
}
