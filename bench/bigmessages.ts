// Benchmark 3 — big messages: nodes whose system.network_state is 350 KB (a large network), sent every
// 30 s of simulated time next to the normal verbosity-0 mix. Time is compressed (--time-scale) so a
// short run sees many of them. Targets: no disconnects, no drops, and the server's event loop p99
// delay under 50 ms (large JSON must not stall the small traffic).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import path from 'node:path';
import { runIngest } from './lib/ingest-run.js';
import { table, save, keyValues } from './lib/report.js';
import { ROOT } from './lib/server.js';
import { envPairs } from './sustained.js';

export const BIG_USAGE = `big [--nodes 200] [--network-state-kb 350] [--time-scale 6] [--verbosity 0] [--seconds 60] [--warmup 35]
          [--env KEY=VALUE …] [--profile]
  --time-scale X   simulated time runs X× faster: a network state every 30/X s per node, the rest of the mix X× too`;

const options = {
  nodes: { type: 'string', default: '200' },
  'network-state-kb': { type: 'string', default: '350' },
  'time-scale': { type: 'string', default: '6' },
  verbosity: { type: 'string', default: '0' },
  seconds: { type: 'string', default: '60' },
  warmup: { type: 'string', default: '35' },
  env: { type: 'string', multiple: true, default: [] },
  'node-flag': { type: 'string', multiple: true, default: [] },
  profile: { type: 'boolean', default: false },
} satisfies ParseArgsConfig['options'];

export async function bigMessages(argv: string[]): Promise<void> {
  const { values: a } = parseArgs({ args: argv, options });
  const env = envPairs(a.env);
  const nodes = Number(a.nodes);
  const scale = Number(a['time-scale']);
  const kb = Number(a['network-state-kb']);
  console.log(`big messages: ${nodes} nodes, ${kb} KB network_state every ${30 / scale} s (time ×${scale}), verbosity ${a.verbosity}, ${a.seconds} s`);
  const run = await runIngest({
    database: 'postgres',
    env,
    // Nodes start spread over one network-state period, so their 30 s timers have independent phases as
    // on a real network (started all at once, every node would send its state in the same instant).
    simulation: { nodes, verbosity: Number(a.verbosity), networkStateKb: kb, timeScale: scale, rampPerSecond: Math.max(1, nodes / (30 / scale)) },
    // The first network state comes 30 s (simulated) after a node starts: warm up past it.
    warmupSeconds: Number(a.warmup) / scale + 30 / scale,
    seconds: Number(a.seconds),
    sampleSeconds: 5,
    nodeFlags: a['node-flag'],
    cpuProfileDir: a.profile ? path.join(ROOT, 'bench/results/profiles') : undefined,
  });
  try {
    const r = run.result;
    const drops = r.nodeDropsInWindow + Object.values(r.serverDrops).reduce((x, y) => x + y, 0);
    table('big messages', [
      {
        nodes,
        'state KB': kb,
        'states/s': Math.round((nodes * scale / 30) * 10) / 10,
        'sent/s': r.sentPerSecond,
        'MB/s': Math.round(r.sentBytesPerSecond / 1e5) / 10,
        'stored/s': r.storedPerSecond,
        disconnects: r.reconnectsInWindow,
        'node drops': r.nodeDropsInWindow,
        'server drops': drops - r.nodeDropsInWindow,
        'loop p99 ms (worst 5 s)': r.eventLoopDelayMs?.p99Worst ?? NaN,
        'loop p99 ms (median 5 s)': r.eventLoopDelayMs?.p99Median ?? NaN,
        'loop max ms': r.eventLoopDelayMs?.max ?? NaN,
        'stored=sent': r.check.missing === 0 && r.check.extra === 0 ? 'yes' : `NO (-${r.check.missing} +${r.check.extra})`,
        'server cores': r.serverCpuCores,
        'db cores': r.databaseCpuCores,
        'peak RSS MiB': r.serverPeakRssMiB,
      },
    ]);
    keyValues('details', {
      serverDisconnects: r.serverDisconnects,
      serverDrops: r.serverDrops,
      machineBusyCores: r.machineBusyCores,
      benchCpuCores: r.benchCpuCores,
      maxBufferRows: r.maxBufferRows,
      pausedSamples: r.pausedSamples,
      batches: r.batches,
      sentByType: r.sentByType,
      check: { sent: r.check.sent, stored: r.check.stored, missing: r.check.missing, extra: r.check.extra, examples: r.check.examples },
    });
    table('timeline (server metrics)', r.samples.map((x) => ({ ...x })));
    save('big', {
      command: `npm run bench -- big ${argv.join(' ')}`.trim(),
      options: a,
      targets: { noDisconnects: r.reconnectsInWindow === 0, noDrops: drops === 0, eventLoopP99Under50ms: (r.eventLoopDelayMs?.p99Worst ?? Infinity) < 50 },
      result: r,
    });
  } finally {
    await run.dispose();
  }
}
