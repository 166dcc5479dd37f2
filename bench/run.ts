// npm run bench [-- <benchmark> [flags]]: runs the issue-4 benchmarks. Without a name, all five in turn
// with their default sizes. Each prints a table and writes bench/results/<name>-<date>.json.
import { sustained, SUSTAINED_USAGE } from './sustained.js';
import { connections, CONNECTIONS_USAGE } from './connections.js';
import { bigMessages, BIG_USAGE } from './bigmessages.js';
import { purge, PURGE_USAGE } from './purge.js';
import { embedded, EMBEDDED_USAGE } from './embedded.js';
import { profile } from './profile.js';
import { copy, COPY_USAGE } from './copy.js';
import { compare, COMPARE_USAGE } from './compare.js';
import { build } from './lib/server.js';

const BENCHMARKS: Record<string, { run: (argv: string[]) => Promise<void>; usage: string }> = {
  sustained: { run: sustained, usage: SUSTAINED_USAGE },
  connections: { run: connections, usage: CONNECTIONS_USAGE },
  big: { run: bigMessages, usage: BIG_USAGE },
  purge: { run: purge, usage: PURGE_USAGE },
  embedded: { run: embedded, usage: EMBEDDED_USAGE },
};
/** Tools, not benchmarks: run only when named. */
const TOOLS: Record<string, { run: (argv: string[]) => Promise<void>; usage: string }> = {
  copy: { run: copy, usage: COPY_USAGE },
  compare: { run: compare, usage: COMPARE_USAGE },
  profile: { run: profile, usage: 'profile [file.cpuprofile]   summary of the newest server profile (sustained --profile)' },
};

async function main(): Promise<void> {
  const [first] = process.argv.slice(2);
  if (first === '--help' || first === '-h') {
    console.log(`npm run bench [-- <name> [flags]] (--no-build: use dist/ as it is)\n\n${[...Object.values(BENCHMARKS), ...Object.values(TOOLS)].map((b) => b.usage).join('\n\n')}`);
    return;
  }
  const argv = process.argv.slice(2).filter((a) => a !== '--no-build');
  if (!process.argv.includes('--no-build') && first !== 'profile' && first !== 'copy') build();
  if (first !== undefined && !first.startsWith('-')) {
    const bench = BENCHMARKS[first] ?? TOOLS[first];
    if (!bench) throw new Error(`unknown benchmark ${first}; one of ${Object.keys(BENCHMARKS).join(', ')} (or ${Object.keys(TOOLS).join(', ')})`);
    await bench.run(argv.slice(1));
    return;
  }
  for (const [name, bench] of Object.entries(BENCHMARKS)) {
    console.log(`\n=== ${name} ===`);
    await bench.run(argv);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
