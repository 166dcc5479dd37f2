// npm run bench -- profile [file.cpuprofile]: summarises a V8 CPU profile of the server (written by
// `npm run bench -- sustained --profile` into bench/results/profiles/): where the busy time goes, by
// area of the code (module) and by function (self time). Idle time is left out of the shares.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './lib/server.js';
import { table, save } from './lib/report.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The area a function belongs to, from its script URL. */
function area(url: string, name: string): string {
  if (url === '') {
    if (name === '(garbage collector)') return 'GC';
    if (name === '(idle)') return 'idle';
    if (name === '(program)') return 'V8/native (program)';
    return `native: ${name || '(anonymous)'}`;
  }
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return `dep: ${nm[1]}`;
  const own = /\/dist\/(.+)\.js$/.exec(url);
  if (own) return `src/${own[1]}.ts`;
  if (url.startsWith('node:')) return `node: ${url.slice(5).split('/')[0]}`;
  return url;
}

export function summarise(file: string, top = 25) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMicros = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...selfMicros.values()].reduce((a, b) => a + b, 0);
  let idle = 0;
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, micros] of selfMicros) {
    const frame = byId.get(id)!.callFrame;
    const a = area(frame.url, frame.functionName);
    if (a === 'idle') {
      idle += micros;
      continue;
    }
    areas.set(a, (areas.get(a) ?? 0) + micros);
    const where = frame.url ? `${path.basename(frame.url)}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName || '(anonymous)'} ${where}`.trim();
    functions.set(key, (functions.get(key) ?? 0) + micros);
  }
  const busy = total - idle;
  const share = (m: number) => Math.round((m / busy) * 1000) / 10;
  const areaRows = [...areas].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, m]) => ({ area: name, 'busy %': share(m), ms: Math.round(m / 1000) }));
  const functionRows = [...functions].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, m]) => ({ function: name, 'self %': share(m), ms: Math.round(m / 1000) }));
  return { file: path.relative(ROOT, file), seconds: Math.round(total / 1e5) / 10, busySeconds: Math.round(busy / 1e5) / 10, areaRows, functionRows };
}

export async function profile(argv: string[]): Promise<void> {
  let file = argv.find((a) => !a.startsWith('-'));
  if (!file) {
    const dir = path.join(ROOT, 'bench/results/profiles');
    const newest = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
    if (!newest) throw new Error('no profile: run `npm run bench -- sustained --profile` first');
    file = newest;
  }
  const s = summarise(file);
  console.log(`${s.file}: ${s.seconds} s profiled, ${s.busySeconds} s busy`);
  table('busy time by area', s.areaRows);
  table('busy time by function (self)', s.functionRows);
  save('profile', { command: `npm run bench -- profile ${argv.join(' ')}`.trim(), ...s });
}
