// Command line for the load generator: parses flags, runs the simulation, prints progress and a summary.
// A URL no node would accept, or a first dial that fails, is one line on stderr and a non-zero exit.

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { checkTelemetryUrl, networkOptionsProblem, runSimulation, type DialOutcome, type SimulationOptions, type SimulationStats } from './index.js';

const USAGE = `Usage: npm run simulate -- --url ws://127.0.0.1:8080/ [options]

  --url URL               telemetry endpoint (ws:// or wss://, path allowed, no query)
  --nodes N               simulated nodes (default 1)
  --ids-per-socket K      nodes sharing one websocket, by envelope id (default 1)
  --first-id ID           envelope id of the first node on each socket, any u64 (default 1)
  --verbosity V           0, 1, 5 or 9 (default 0)
  --role R                validator | full (default full)
  --validators N          GRANDPA voters on the chain (default 4)
  --duration S            seconds to run, 0 = until Ctrl-C (default 60)
  --rate R                messages/s per node with a realistic mix (default: natural schedule)
  --tx-rate R             txpool.import per second per node (default 0)
  --network-state-kb KB   system.network_state size, 2..350 (default 22)
  --v1                    replay the 2020 capture verbatim (flat V1 format, src/simulator/data/)
  --polite                answer pings and close frames (a real node does not)
  --time-scale X          run simulated time X times faster (default 1)
  --reconnect-delay A-B   reconnect delay range in whole seconds (default 5-9)
  --ramp N                connections opened per second (default 500)
  --seed S                seed for node ids and hashes (default random)
  --report FILE           write the per-node sent records as JSON

Network mode (the default schedule; not with --rate or --v1), times in simulated seconds:
  --block-time S          seconds between blocks (default 3)
  --propagation-ms A-B    range of each node's block propagation delay, ms (default 100-600)
  --finality-lag N        blocks between best and finalized (default 2, at least 1)
  --fork-rate F           probability that a height also gets a fork block (default 0.02)
  --churn F               probability that a socket goes offline once per churn period (default 0)
  --churn-period S        length of a churn period (default 60)
  --downtime A-B          length of an outage in seconds (default 10-30)
  --syncing F             fraction of nodes that start 100-300 blocks behind and sync (default 0)
  --truth FILE            write the ground truth (blocks, sessions, every block.import and
                          notify.finalized sent) as JSON when the run ends; see docs/simulator.md

`;

const OPTIONS = {
  url: { type: 'string' },
  nodes: { type: 'string', default: '1' },
  'ids-per-socket': { type: 'string', default: '1' },
  'first-id': { type: 'string', default: '1' },
  verbosity: { type: 'string', default: '0' },
  role: { type: 'string', default: 'full' },
  validators: { type: 'string', default: '4' },
  duration: { type: 'string', default: '60' },
  rate: { type: 'string' },
  'tx-rate': { type: 'string', default: '0' },
  'network-state-kb': { type: 'string', default: '22' },
  v1: { type: 'boolean', default: false },
  polite: { type: 'boolean', default: false },
  'time-scale': { type: 'string', default: '1' },
  'reconnect-delay': { type: 'string', default: '5-9' },
  ramp: { type: 'string', default: '500' },
  seed: { type: 'string' },
  report: { type: 'string' },
  'block-time': { type: 'string', default: '3' },
  'propagation-ms': { type: 'string', default: '100-600' },
  'finality-lag': { type: 'string', default: '2' },
  'fork-rate': { type: 'string', default: '0.02' },
  churn: { type: 'string', default: '0' },
  'churn-period': { type: 'string', default: '60' },
  downtime: { type: 'string', default: '10-30' },
  syncing: { type: 'string', default: '0' },
  truth: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** One line on stderr and the exit code: what to fix, without a stack trace. */
function stop(line: string, code = 2): never {
  process.stderr.write(`simulate: ${line}\n`);
  process.exit(code);
}

/** A usage mistake: the line, then the usage. */
function fail(message: string): never {
  process.stderr.write(`simulate: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function parseFlags() {
  try {
    return parseArgs({ options: OPTIONS }).values;
  } catch (error) {
    fail((error as Error).message);
  }
}

const args = parseFlags();

function number(name: keyof typeof args, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(args[name]);
  if (!Number.isFinite(value) || value < min || value > max) fail(`--${name} must be a number in ${min}..${max}`);
  return value;
}

if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (!args.url) fail('--url is required');
const urlProblem = checkTelemetryUrl(args.url);
if (urlProblem !== null) stop(urlProblem);
if (args.role !== 'validator' && args.role !== 'full') fail('--role must be validator or full');
const delay = /^(\d+)-(\d+)$/.exec(args['reconnect-delay']);
if (!delay || Number(delay[1]) > Number(delay[2])) fail('--reconnect-delay must look like 5-9');
function range(name: 'propagation-ms' | 'downtime', example: string): [number, number] {
  const match = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(args[name]);
  if (!match || Number(match[1]) > Number(match[2])) fail(`--${name} must look like ${example} (A ≤ B)`);
  return [Number(match[1]), Number(match[2])];
}
if (args.truth && (args.rate !== undefined || args.v1)) fail('--truth needs network mode: it cannot be used with --rate or --v1');

const options: SimulationOptions = {
  url: args.url,
  nodes: number('nodes', 1),
  idsPerSocket: number('ids-per-socket', 1),
  firstEnvelopeId: args['first-id'],
  verbosity: number('verbosity', 0, 255),
  role: args.role,
  validators: number('validators', 1),
  rate: args.rate === undefined ? undefined : number('rate', 0),
  txRate: number('tx-rate', 0),
  networkStateKb: number('network-state-kb', 1, 10_000),
  v1: args.v1,
  polite: args.polite,
  timeScale: number('time-scale', 0.001),
  reconnectDelaySec: [Number(delay[1]), Number(delay[2])],
  rampPerSecond: number('ramp', 1),
  seed: args.seed,
  blockTimeS: number('block-time', 0.001),
  propagationMs: range('propagation-ms', '100-600'),
  finalityLag: number('finality-lag', 1),
  forkRate: number('fork-rate', 0, 1),
  churn: number('churn', 0, 1),
  churnPeriodS: number('churn-period', 0.001),
  downtimeS: range('downtime', '10-30'),
  syncing: number('syncing', 0, 1),
  truthFile: args.truth,
};
const durationSec = number('duration', 0);
// Settings that are fine alone but not together (e.g. a downtime longer than the churn period).
const networkProblem = networkOptionsProblem(options);
if (networkProblem) fail(networkProblem);

// Like a node, the simulation keeps redialing; but when the very first dial fails the URL or the server
// is wrong, and saying so beats a progress line of "connected 0" forever.
let everConnected = false;
let lastDialFailure: string | null = null;
options.onDial = (outcome: DialOutcome) => {
  if (outcome.ok) {
    everConnected = true;
    lastDialFailure = null;
  } else if (!everConnected) {
    stop(`cannot connect to ${outcome.reason}`, 1);
  } else {
    lastDialFailure = outcome.reason;
  }
};

let simulation: Awaited<ReturnType<typeof runSimulation>>;
try {
  simulation = await runSimulation(options);
} catch (error) {
  stop((error as Error).message.split('\n')[0]);
}
const startedAt = Date.now();
let previousSent = 0;

function progressLine(stats: SimulationStats): string {
  const elapsed = Math.round((Date.now() - startedAt) / 1000);
  const perSecond = stats.sent - previousSent;
  previousSent = stats.sent;
  return `[${String(elapsed).padStart(5)}s] connected ${stats.connectedNodes}/${stats.nodes} nodes` +
    ` (${stats.connectedSockets}/${stats.sockets} sockets)  sent ${perSecond} msg/s, ${stats.sent} total` +
    `  drops ${stats.dropped}  reconnects ${stats.reconnects}` +
    (lastDialFailure !== null && stats.connectedSockets < stats.sockets ? `  last dial failure: ${lastDialFailure}` : '');
}

const progressTimer = setInterval(() => process.stderr.write(progressLine(simulation.stats()) + '\n'), 1000);

let stopping = false;
async function finish(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(progressTimer);
  clearTimeout(durationTimer);
  const stats = await simulation.stop();
  const seconds = (Date.now() - startedAt) / 1000;
  const lines = [
    `Simulated ${stats.nodes} nodes on ${stats.sockets} sockets for ${seconds.toFixed(1)} s`,
    `messages sent: ${stats.sent} (${(stats.sent / seconds).toFixed(1)} msg/s, ${(stats.bytes / 1e6).toFixed(2)} MB)`,
    ...Object.entries(stats.sentByType).sort(([a], [b]) => a.localeCompare(b)).map(([msg, count]) => `  ${msg.padEnd(40)} ${count}`),
    `reconnects: ${stats.reconnects}`,
    `dropped (queue full): ${stats.dropped}`,
    `discarded (not connected): ${stats.discarded}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (args.report) {
    writeFileSync(args.report, JSON.stringify(simulation.records(), null, 2) + '\n');
    process.stdout.write(`per-node records written to ${args.report}\n`);
  }
  if (args.truth) process.stdout.write(`ground truth written to ${args.truth}\n`);
  process.exit(0);
}

const durationTimer = durationSec > 0 ? setTimeout(() => void finish(), durationSec * 1000) : undefined;
process.on('SIGINT', () => void finish());
process.on('SIGTERM', () => void finish());
