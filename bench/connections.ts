// Benchmark 2 — connections: many concurrent nodes at verbosity 0 on their natural schedule. All
// connected and streaming? Server RSS, and p99 time from a message's send (its `ts`) to its row being
// queryable (a reader polling the database for the rows of probe nodes).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import path from 'node:path';
import { runIngest } from './lib/ingest-run.js';
import { ROOT } from './lib/server.js';
import { table, save, keyValues } from './lib/report.js';
import { envPairs } from './sustained.js';

export const CONNECTIONS_USAGE = `connections [--nodes 10000] [--seconds 60] [--warmup 35] [--probes 100] [--ramp 500]
          [--network-state-kb 22] [--env KEY=VALUE …]
  The server child raises its fd limit with \`ulimit -n\` (up to the hard limit); this process needs one
  fd per node too: run \`ulimit -n 65536\` (or as high as the hard limit) before npm run bench if needed.`;

const options = {
  nodes: { type: 'string', default: '10000' },
  seconds: { type: 'string', default: '60' },
  warmup: { type: 'string', default: '35' },
  probes: { type: 'string', default: '100' },
  ramp: { type: 'string', default: '500' },
  'network-state-kb': { type: 'string', default: '22' },
  env: { type: 'string', multiple: true, default: [] },
  'node-flag': { type: 'string', multiple: true, default: [] },
  profile: { type: 'boolean', default: false },
} satisfies ParseArgsConfig['options'];

export async function connections(argv: string[]): Promise<void> {
  const { values: a } = parseArgs({ args: argv, options });
  const env = envPairs(a.env);
  const nodes = Number(a.nodes);
  console.log(`connections: ${nodes} nodes at verbosity 0 (natural schedule), ${a.seconds} s after all connected + ${a.warmup} s`);
  const run = await runIngest({
    database: 'postgres',
    env,
    simulation: { nodes, verbosity: 0, networkStateKb: Number(a['network-state-kb']), rampPerSecond: Number(a.ramp) },
    nodeFlags: a['node-flag'],
    cpuProfileDir: a.profile ? path.join(ROOT, 'bench/results/profiles') : undefined,
    warmupSeconds: Number(a.warmup),
    seconds: Number(a.seconds),
    latencyProbes: Number(a.probes),
  });
  try {
    const r = run.result;
    const l = r.latency!;
    table('connections', [
      {
        nodes,
        connected: r.connectedNodes,
        'streaming in window': r.nodesStreaming,
        'sent/s': r.sentPerSecond,
        'stored/s': r.storedPerSecond,
        'peak RSS MiB': r.serverPeakRssMiB,
        'p50 ms': l.p50Ms,
        'p99 ms': l.p99Ms,
        'max ms': l.maxMs,
        'stored=sent': r.check.missing === 0 && r.check.extra === 0 ? 'yes' : `NO (-${r.check.missing} +${r.check.extra})`,
        'server cores': r.serverCpuCores,
        'db cores': r.databaseCpuCores,
        'bench cores': r.benchCpuCores,
      },
    ]);
    keyValues('details', {
      latency: l,
      reconnectsInWindow: r.reconnectsInWindow,
      nodeDropsInWindow: r.nodeDropsInWindow,
      serverDrops: r.serverDrops,
      serverRssEndMiB: r.serverRssEndMiB,
      machineBusyCores: r.machineBusyCores,
      eventLoopDelayMs: r.eventLoopDelayMs,
      maxBufferRows: r.maxBufferRows,
      pausedSamples: r.pausedSamples,
      batches: r.batches,
      check: { sent: r.check.sent, stored: r.check.stored, missing: r.check.missing, extra: r.check.extra, examples: r.check.examples },
    });
    table('timeline (server metrics)', r.samples.map((x) => ({ ...x })));
    save('connections', {
      command: `npm run bench -- connections ${argv.join(' ')}`.trim(),
      options: a,
      targets: { allConnected: r.connectedNodes === nodes && r.nodesStreaming === nodes, rssUnder1GiB: r.serverPeakRssMiB < 1024, p99Under500ms: l.p99Ms < 500 },
      result: r,
    });
  } finally {
    await run.dispose();
  }
}
