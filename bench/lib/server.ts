// The server under test: the built `dist/main.js` in a child process of its own (so its CPU and
// memory are its own), started through a shell that raises the file-descriptor limit first.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { cpuSeconds, peakRssMiB, rssMiB } from './proc.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');

/** Compiles src/ into dist/ (the server the benchmarks run is the built one). */
export function build(): void {
  const result = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    if (existsSync(path.join(ROOT, 'dist/main.js'))) console.warn('build failed: running the dist/ already built');
    else throw new Error('npm run build failed and there is no dist/main.js');
  }
}

export interface ServerOptions {
  env: Record<string, string>;
  /** Write a V8 CPU profile (node --cpu-prof) into this folder when the server exits. */
  cpuProfileDir?: string;
  /** File-descriptor limit asked for (`ulimit -n`); the hard limit caps it. */
  nofile?: number;
  /** Extra node flags. */
  nodeFlags?: string[];
  /** Folder of the built server, relative to the repository (default dist): A/B of two builds. */
  distDir?: string;
  /** CPU priority (nice) of the server: stands for "on another machine" when several share this one. */
  nice?: number;
}

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  url(endpoint?: string): string;
  cpu(): number;
  peakRss(): number;
  rss(): number;
  /** The fd limit the server got. */
  nofile: number;
  /** Lines the server logged at warn or above (pausing, failures). */
  warnings: string[];
  metrics(): Promise<Map<string, number>>;
  /** SIGTERM and wait: the server drains its buffer before exiting. Resolves with the exit code. */
  stop(): Promise<number | null>;
}

export async function startServer(options: ServerOptions): Promise<ServerProcess> {
  const flags = [...(options.nodeFlags ?? [])];
  if (options.cpuProfileDir) {
    mkdirSync(options.cpuProfileDir, { recursive: true });
    flags.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`);
  }
  const nofile = options.nofile ?? 65536;
  // The hard limit caps what an unprivileged shell may ask for: try the wanted value, else the hard limit.
  const script = `ulimit -n ${nofile} 2>/dev/null || ulimit -n $(ulimit -Hn); echo "nofile $(ulimit -n)" >&2; exec ${options.nice ? `nice -n ${Math.trunc(options.nice)} ` : ''}"$0" "$@"`;
  const child = spawn('/bin/sh', ['-c', script, process.execPath, ...flags, `${options.distDir ?? 'dist'}/main.js`], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const warnings: string[] = [];
  const lastLines: string[] = [];
  let limit = 0;
  createInterface({ input: child.stderr }).on('line', (line) => {
    const m = /^nofile (\d+)/.exec(line);
    if (m) limit = Number(m[1]);
    else process.stderr.write(`[server] ${line}\n`);
  });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lastLines.push(line);
      if (lastLines.length > 20) lastLines.shift();
      try {
        const entry = JSON.parse(line);
        if (entry.msg === 'tetcore-analytics listening') resolve(entry.port);
        else if (entry.level >= 40) {
          if (warnings.length < 200) warnings.push(line);
        }
      } catch {
        // Not a log line: node's own output (e.g. --trace-gc); shown when asked for.
        if (process.env.BENCH_SERVER_OUTPUT) process.stderr.write(`[server] ${line}\n`);
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code} before listening`)));
  });
  const pid = child.pid!;
  let stopping = false;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, signal) => {
      // An exit nobody asked for: show why.
      if (!stopping) process.stderr.write(`[server] exited unexpectedly (code ${code}, signal ${signal}); last output:\n${lastLines.join('\n')}\n`);
      resolve(code);
    }),
  );
  return {
    child,
    pid,
    port,
    nofile: limit,
    warnings,
    url: (endpoint = '/') => `ws://127.0.0.1:${port}${endpoint}`,
    cpu: () => cpuSeconds(pid),
    peakRss: () => peakRssMiB(pid),
    rss: () => rssMiB(pid),
    metrics: () => scrape(port),
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      stopping = true;
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Parses /metrics into `name{labels}` → value (labels as printed). */
export async function scrape(port: number, timeoutMs = 30_000): Promise<Map<string, number>> {
  // A server too busy to answer within the timeout is a result, not a reason to wait for undici's 5 minutes.
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(timeoutMs) })).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** Sum of a metric over all its label sets. */
export function metricSum(values: Map<string, number>, name: string): number {
  let total = 0;
  for (const [key, value] of values) if (key === name || key.startsWith(`${name}{`)) total += value;
  return total;
}
