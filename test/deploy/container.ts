// Container tooling for test:deploy: bounded commands, the cached local base image, the image build,
// and a server process run from the image with buildah (no container runtime runs here).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from '../helpers/process.js';

export const BASE_RECIPE = path.join(ROOT, 'test/deploy/base-image.sh');
export const LOG_DIR = path.join(ROOT, 'test-output/deploy');
export const BASE_REPOSITORY = 'localhost/tetcore-analytics-ci-base';
export const IMAGE = 'localhost/tetcore-analytics:test-deploy';

mkdirSync(LOG_DIR, { recursive: true });

/** Runs a command to completion within `timeoutMs`; its output goes to LOG_DIR/<log>; a failure quotes the end of it. */
export function run(command: string, args: string[], options: { what: string; log: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<string> {
  const logPath = path.join(LOG_DIR, options.log);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL'); // the whole process group: buildah's children too
      } catch {
        // already gone
      }
    }, options.timeoutMs);
    const started = Date.now();
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      writeFileSync(logPath, output);
      const tail = output.trimEnd().split('\n').slice(-25).join('\n');
      if (code === 0) return resolve(output);
      const why = signal ? `was killed after ${Math.round((Date.now() - started) / 1000)} s (limit ${options.timeoutMs / 1000} s)` : `exited with ${code}`;
      reject(new Error(`${options.what}: \`${command} ${args.join(' ')}\` ${why}; full log ${logPath}, last lines:\n${tail}`));
    });
  });
}

function capture(command: string, args: string[]): string {
  return execFileSync(command, args, { cwd: ROOT, encoding: 'utf8' }).trim();
}

/** Fails at once, saying what to install, when a tool test:deploy needs is missing. */
export function preflightTools(tools: Array<[string, string]>): void {
  const missing = tools.filter(([tool]) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) throw new Error(`test:deploy needs ${missing.map(([t, pkg]) => `${t} (apt-get install -y ${pkg})`).join(', ')}; .ci/run installs them`);
}

/** preflightTools, and root: buildah builds and runs images as root here (debootstrap, chroot isolation). */
export function preflight(tools: Array<[string, string]>): void {
  preflightTools(tools);
  if (process.getuid?.() !== 0) throw new Error('test:deploy builds and runs images with buildah as root (debootstrap, chroot isolation); run it as root');
}

/** Tag of the base image: a hash of its recipe and of everything it takes from this machine. */
export function baseTag(): string {
  const sources = ['/etc/apt/sources.list', ...safeList('/etc/apt/sources.list.d').map((f) => `/etc/apt/sources.list.d/${f}`)];
  const hash = createHash('sha256');
  hash.update(readFileSync(BASE_RECIPE));
  hash.update(capture('node', ['--version']));
  hash.update(capture('npm', ['--version']));
  hash.update(capture('uname', ['-m']));
  for (const file of sources) {
    try {
      hash.update(readFileSync(file));
    } catch {
      // absent
    }
  }
  return `${BASE_REPOSITORY}:${hash.digest('hex').slice(0, 16)}`;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

export function imageExists(ref: string): boolean {
  try {
    execFileSync('buildah', ['inspect', '--type', 'image', ref], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The base image, made from the recipe unless container storage holds one with the same hash. */
export async function ensureBase(): Promise<{ tag: string; built: boolean }> {
  const tag = baseTag();
  if (imageExists(tag)) return { tag, built: false };
  await run('bash', [BASE_RECIPE, tag], { what: 'making the base image (debootstrap + Node)', log: 'base-image.log', timeoutMs: 25 * 60_000 });
  // Bases of older recipes are no longer used by anything; a failure to remove one is no test failure.
  try {
    const images = JSON.parse(capture('buildah', ['images', '--json'])) as Array<{ names?: string[] | null }>;
    for (const name of images.flatMap((image) => image.names ?? [])) {
      if (name !== tag && name.startsWith(`${BASE_REPOSITORY}:`)) execFileSync('buildah', ['rmi', name], { stdio: 'ignore' });
    }
  } catch {
    // still used by an image, or listing failed: kept
  }
  return { tag, built: true };
}

export interface ImageConfig {
  User: string;
  Cmd: string[] | null;
  Entrypoint: string[] | null;
  Env: string[];
  Healthcheck?: { Test: string[]; Interval: number; Timeout: number; StartPeriod: number; Retries: number };
  Volumes?: Record<string, unknown>;
  WorkingDir: string;
  Labels: Record<string, string>;
  StopSignal?: string;
  ExposedPorts?: Record<string, unknown>;
}

export function imageConfig(ref: string): { config: ImageConfig; size: string } {
  const info = JSON.parse(capture('buildah', ['inspect', '--type', 'image', ref])) as { Docker: { config: ImageConfig } };
  const listed = JSON.parse(capture('buildah', ['images', '--json', ref])) as Array<{ size: string }>;
  return { config: info.Docker.config, size: listed[0]?.size ?? '?' };
}

/** Creates a working container of the image; removed by the returned function. */
export function createContainer(ref: string): { name: string; remove(): void } {
  const name = capture('buildah', ['from', '--pull=never', ref]);
  return {
    name,
    remove() {
      try {
        execFileSync('buildah', ['rm', name], { stdio: 'ignore' });
      } catch {
        // gone already
      }
    },
  };
}

/** Process ids of every descendant of `pid`, from /proc. */
function descendants(pid: number): Array<{ pid: number; comm: string }> {
  const children = new Map<number, Array<{ pid: number; comm: string }>>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push({ pid: Number(entry), comm });
      children.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  const out: Array<{ pid: number; comm: string }> = [];
  const walk = (p: number) => {
    for (const child of children.get(p) ?? []) {
      out.push(child);
      walk(child.pid);
    }
  };
  walk(pid);
  return out;
}

export interface RunningContainer {
  port: number;
  lines: string[];
  exited: Promise<number | null>;
  /** The container's main process (node), as a runtime sees it: the target of its SIGTERM. */
  mainPid(): number;
  /** What the runtime does on `docker stop`/pod deletion: SIGTERM to the main process. */
  terminate(): void;
  /** Runs another process in the same container (e.g. the HEALTHCHECK command); resolves with its exit code. */
  exec(command: string[], timeoutMs: number): Promise<number | null>;
  kill(): void;
}

/**
 * Runs the image's own CMD in a working container, on the host network. `buildah run` is not a
 * container runtime: on SIGTERM it kills its child outright, so `terminate()` signals the node process
 * itself, which is what docker, podman and the kubelet signal (PID 1 of the container: node, thanks to
 * the exec-form CMD).
 */
export function runContainer(container: string, config: ImageConfig, env: Record<string, string>, options: { log: string }): RunningContainer {
  const command = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
  const args = ['run', '--isolation', 'chroot', '--network', 'host'];
  for (const [key, value] of Object.entries(env)) args.push('--env', `${key}=${value}`);
  args.push(container, '--', ...command);
  const child: ChildProcess = spawn('buildah', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const lines: string[] = [];
  const logPath = path.join(LOG_DIR, options.log);
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  createInterface({ input: child.stderr! }).on('line', (line) => lines.push(`[stderr] ${line}`));
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      writeFileSync(logPath, lines.join('\n') + '\n');
      resolve(code);
    }),
  );
  const mainPid = () => {
    const node = descendants(child.pid!).find((p) => p.comm === 'node');
    if (!node) throw new Error(`no node process under buildah run (pid ${child.pid}); output:\n${lines.slice(-10).join('\n')}`);
    return node.pid;
  };
  return {
    port: Number(env.PORT),
    lines,
    exited,
    mainPid,
    terminate: () => process.kill(mainPid(), 'SIGTERM'),
    async exec(cmd, timeoutMs) {
      // The same environment as the main process: a runtime sets it for the whole container.
      const envArgs = Object.entries(env).flatMap(([key, value]) => ['--env', `${key}=${value}`]);
      const execChild = spawn('buildah', ['run', '--isolation', 'chroot', '--network', 'host', ...envArgs, container, '--', ...cmd], { stdio: 'ignore', detached: true });
      const timer = setTimeout(() => process.kill(-execChild.pid!, 'SIGKILL'), timeoutMs);
      const code = await new Promise<number | null>((resolve) => execChild.once('close', resolve));
      clearTimeout(timer);
      return code;
    },
    kill() {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    },
  };
}

/** Git commit of the work tree, or "unknown" outside a repository. */
export function gitRevision(): string {
  try {
    return capture('git', ['rev-parse', 'HEAD']);
  } catch {
    return 'unknown';
  }
}
