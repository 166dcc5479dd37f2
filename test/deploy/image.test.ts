// test:deploy — the container image as operators run it: built with buildah from deploy/Containerfile on a
// local Debian bookworm + Node 20 base (no registry here), then the server started from it against the
// local PostgreSQL and on its embedded database (a /data volume): simulator traffic is queried back over
// HTTP, and a SIGTERM while nodes stream loses nothing (every message sent is stored, exit code 0).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, statSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { runSimulation, type NodeSentRecord } from '../../src/simulator/index.js';
import { createPostgresDatabase } from '../helpers/backends.js';
import { freePort, ROOT } from '../helpers/process.js';
import { waitFor } from '../helpers/server.js';
import { IMAGE, LOG_DIR, createContainer, ensureBase, gitRevision, imageConfig, preflight, run, runContainer, type ImageConfig, type RunningContainer } from './container.js';

const PACKAGE = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
const SOURCE = 'https://example.invalid/tetcore-analytics.git'; // passed as a build argument, checked in the label
/** Container user of the image (deploy/Containerfile); /data must belong to it. */
const APP_UID = 10001;
/** The embedded database initialises its files on first start: tens of seconds on a busy machine. */
const STARTUP_MS = 180_000;
const SHUTDOWN_MS = 60_000;

const timings: Record<string, number> = {};
async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await fn();
  } finally {
    timings[name] = Math.round((Date.now() - started) / 100) / 10;
  }
}

interface Storage {
  name: string;
  env: Record<string, string>;
  remove(): Promise<void>;
}

async function postgresStorage(): Promise<Storage> {
  const database = await createPostgresDatabase();
  return { name: 'PostgreSQL', env: { DATABASE_URL: database.url }, remove: () => database.drop() };
}

/** The image's own /data volume (buildah keeps it with the working container, as docker does with a container's volume). */
async function embeddedStorage(): Promise<Storage> {
  return { name: 'embedded database on the /data volume', env: {}, remove: async () => {} };
}

async function json<T>(url: string): Promise<T> {
  const response = await fetch(url);
  const body = await response.text();
  assert.equal(response.status, 200, `${url} answered ${response.status}: ${body}`);
  return JSON.parse(body) as T;
}

/** Starts the image's CMD in the working container and waits for /ready. */
async function startServer(container: string, config: ImageConfig, storage: Storage, log: string): Promise<RunningContainer> {
  const port = await freePort();
  // JSON log lines: the test reads the server's "shut down" line (stored and lost counts).
  const server = runContainer(container, config, { PORT: String(port), LOG_LEVEL: 'info', LOG_FORMAT: 'json', ...storage.env }, { log });
  let exitedEarly: number | null | undefined;
  void server.exited.then((code) => (exitedEarly = code));
  try {
    await waitFor(
      async () => {
        if (exitedEarly !== undefined) throw new Error(`the server exited with ${exitedEarly} before it was ready:\n${server.lines.slice(-15).join('\n')}`);
        const response = await fetch(`http://127.0.0.1:${port}/ready`).catch(() => null);
        return response?.status === 200;
      },
      `/ready of the server in the container (${storage.name}); its output is in ${path.join(LOG_DIR, log)}`,
      STARTUP_MS,
    );
  } catch (error) {
    server.kill();
    await server.exited;
    throw error;
  }
  return server;
}

/** Stored messages of one node per type, from GET /nodes/log_stats. */
async function storedByType(port: number, peerId: string): Promise<Record<string, number>> {
  const rows = await json<Array<{ qty: number; log_type: string | null }>>(`http://127.0.0.1:${port}/nodes/log_stats?peer_id=${encodeURIComponent(peerId)}`);
  return Object.fromEntries(rows.map((r) => [r.log_type ?? '(none)', Number(r.qty)]));
}

/** Waits until the server reports, for every node, exactly the per-type counts the simulator sent. */
async function assertAllStored(port: number, records: NodeSentRecord[], what: string): Promise<void> {
  const expected = Object.fromEntries(records.map((r) => [r.networkId, r.sent]));
  let stored: Record<string, Record<string, number>> = {};
  try {
    await waitFor(async () => {
      stored = Object.fromEntries(await Promise.all(records.map(async (r) => [r.networkId, await storedByType(port, r.networkId)] as const)));
      return JSON.stringify(sortKeys(stored)) === JSON.stringify(sortKeys(expected));
    }, what, 30_000);
  } catch {
    assert.deepEqual(sortKeys(stored), sortKeys(expected), `${what}: stored (GET /nodes/log_stats) differs from sent`);
  }
}

function sortKeys(value: Record<string, Record<string, number>>): Record<string, Record<string, number>> {
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, Object.fromEntries(Object.entries(value[k]).sort(([a], [b]) => a.localeCompare(b)))]));
}

function parseLogLine(line: string): { msg?: string; stored?: number; lost?: number } | null {
  try {
    return JSON.parse(line) as { msg?: string; stored?: number; lost?: number };
  } catch {
    return null; // not a JSON log line (buildah's own messages)
  }
}

const total = (records: NodeSentRecord[]) => records.reduce((sum, r) => sum + r.total, 0);

describe('container image (buildah, local bookworm + Node 20 base)', { timeout: 60 * 60_000 }, () => {
  let config: ImageConfig;
  let size: string;

  before(async () => {
    preflight([['buildah', 'buildah'], ['debootstrap', 'debootstrap'], ['chroot', 'coreutils']]);
    const base = await timed('base image', () => ensureBase());
    console.log(`test:deploy: base image ${base.tag} (${base.built ? 'made from the recipe' : 'cached'}) in ${timings['base image']} s`);
    await timed('image build', () =>
      run(
        'buildah',
        [
          'bud', '--isolation', 'chroot', '--layers', '--format', 'docker', '--pull=never',
          '--build-arg', `BASE=${base.tag}`,
          '--build-arg', `VERSION=${PACKAGE.version}`,
          '--build-arg', `REVISION=${gitRevision()}`,
          '--build-arg', `SOURCE=${SOURCE}`,
          // This machine reaches the npm registry through a TLS-inspecting proxy: its CA, as a build secret.
          ...(existsSync('/etc/ssl/certs/ca-certificates.crt') ? ['--secret', 'id=npm_ca,src=/etc/ssl/certs/ca-certificates.crt'] : []),
          '-f', 'deploy/Containerfile', '--ignorefile', 'deploy/Containerfile.dockerignore', '-t', IMAGE, '.',
        ],
        { what: 'building the image', log: 'image-build.log', timeoutMs: 25 * 60_000 },
      ),
    );
    ({ config, size } = imageConfig(IMAGE));
    console.log(`test:deploy: image ${IMAGE} built in ${timings['image build']} s, size ${size}`);
  });

  after(() => {
    console.log(`test:deploy timings (s): ${JSON.stringify(timings)}`);
  });

  it('image configuration: non-root, exec-form CMD, HEALTHCHECK, /data volume, OCI labels', () => {
    assert.equal(config.User, `${APP_UID}:${APP_UID}`);
    assert.deepEqual(config.Cmd, ['node', 'dist/main.js'], 'exec form, node itself: SIGTERM reaches the server');
    assert.ok(!config.Entrypoint || config.Entrypoint.length === 0, `no entrypoint wrapper: ${JSON.stringify(config.Entrypoint)}`);
    assert.equal(config.WorkingDir, '/app');
    assert.equal(config.StopSignal, 'SIGTERM');
    assert.deepEqual(Object.keys(config.Volumes ?? {}), ['/data']);
    assert.ok(config.Env.includes('DATA_DIR=/data'));
    assert.ok(config.Env.includes('NODE_ENV=production'));
    assert.deepEqual(config.Healthcheck?.Test.slice(0, 3), ['CMD', 'node', '-e']);
    assert.match(config.Healthcheck.Test[3], /\/health/);
    assert.equal(config.Labels['org.opencontainers.image.version'], PACKAGE.version);
    assert.equal(config.Labels['org.opencontainers.image.revision'], gitRevision());
    assert.equal(config.Labels['org.opencontainers.image.source'], SOURCE);
    console.log(`test:deploy: image size ${size}`);
  });

  it('image contents: dist, static, migrations, production dependencies only; code owned by root, /data by the user', async () => {
    const container = createContainer(IMAGE);
    try {
      const mount = execFileSync('buildah', ['mount', container.name], { encoding: 'utf8' }).trim();
      try {
        const app = path.join(mount, 'app');
        assert.deepEqual(readdirSync(app).sort(), ['dist', 'migrations', 'node_modules', 'package.json', 'static']);
        assert.ok(existsSync(path.join(app, 'dist/main.js')));
        assert.deepEqual(readdirSync(path.join(app, 'migrations')).sort(), readdirSync(path.join(ROOT, 'migrations')).sort());
        assert.ok(existsSync(path.join(app, 'static/index.html')));
        // Every package the lockfile marks as a development one is absent (typescript, tsx, test tools…).
        const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
        const devOnly = Object.entries(lock.packages).filter(([name, entry]) => name !== '' && entry.dev).map(([name]) => name);
        assert.ok(devOnly.includes('node_modules/typescript'));
        const present = devOnly.filter((name) => existsSync(path.join(app, name)));
        assert.deepEqual(present, [], 'development dependencies in the image');
        for (const runtime of ['fastify', 'pg', '@electric-sql/pglite', 'uplot']) {
          assert.ok(existsSync(path.join(app, 'node_modules', runtime)), `runtime dependency ${runtime} missing`);
        }
        assert.equal(statSync(path.join(app, 'dist/main.js')).uid, 0, 'the server cannot rewrite its own code');
        assert.equal(statSync(path.join(mount, 'data')).uid, APP_UID);
      } finally {
        execFileSync('buildah', ['umount', container.name], { stdio: 'ignore' });
      }
    } finally {
      container.remove();
    }
  });

  for (const makeStorage of [postgresStorage, embeddedStorage]) {
    it(`${makeStorage === postgresStorage ? 'PostgreSQL' : 'embedded database'}: simulator traffic queried back; SIGTERM while streaming loses nothing; data survives a restart`, { timeout: 10 * 60_000 }, async () => {
      const storage = await makeStorage();
      const tag = makeStorage === postgresStorage ? 'postgres' : 'embedded';
      const container = createContainer(IMAGE);
      const servers: RunningContainer[] = [];
      try {
        // 1. Start, health check from inside the container (the image's own HEALTHCHECK command).
        const server = await timed(`${tag}: start`, () => startServer(container.name, config, storage, `server-${tag}-1.log`));
        servers.push(server);
        assert.equal(await server.exec(config.Healthcheck!.Test.slice(1), 30_000), 0, 'HEALTHCHECK command fails against a healthy server');
        const version = await json<{ version: string }>(`http://127.0.0.1:${server.port}/stats/version`);
        assert.equal(version.version, PACKAGE.version, 'package.json is in the image');
        const page = await fetch(`http://127.0.0.1:${server.port}/`);
        assert.equal(page.status, 200, 'the dashboards (static/) are served');

        // 2. The operator's smoke test: the simulator CLI, 3 nodes for 5 s, then the nodes and their counts over HTTP.
        const report = path.join(LOG_DIR, `simulate-${tag}.json`);
        await timed(`${tag}: simulate`, () =>
          run('npm', ['run', '--silent', 'simulate', '--', '--url', `ws://127.0.0.1:${server.port}/`, '--nodes', '3', '--duration', '5', '--polite', '--report', report], {
            what: 'npm run simulate against the container',
            log: `simulate-${tag}.log`,
            timeoutMs: 120_000,
          }),
        );
        const cliRecords = JSON.parse(readFileSync(report, 'utf8')) as NodeSentRecord[];
        assert.equal(cliRecords.length, 3);
        assert.ok(total(cliRecords) > 0, 'the simulator sent nothing');
        await assertAllStored(server.port, cliRecords, 'messages of npm run simulate');
        const nodes = await json<Array<{ peer_id: string; connected: boolean }>>(`http://127.0.0.1:${server.port}/nodes`);
        assert.deepEqual(nodes.map((n) => n.peer_id).sort(), cliRecords.map((r) => r.networkId).sort());

        // 3. SIGTERM to the container's main process while 3 nodes stream: every message sent is stored.
        // Polite nodes answer the server's close frame, so "sent" means handed to TCP before their close
        // reply, all of which the server reads; a real node's in-flight frames would be cut by the close.
        const simulation = await runSimulation({ url: `ws://127.0.0.1:${server.port}/`, nodes: 3, rate: 100, polite: true, reconnectDelaySec: [60, 60] });
        let stats;
        try {
          await waitFor(() => simulation.stats().connectedNodes === 3 && simulation.stats().sent >= 600, 'the 3 nodes streaming 600 messages', 60_000);
          server.terminate();
          const code = await timed(`${tag}: shutdown`, () =>
            Promise.race([server.exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit ${SHUTDOWN_MS / 1000} s after SIGTERM:\n${server.lines.slice(-10).join('\n')}`)), SHUTDOWN_MS))]),
          );
          assert.equal(code, 0, `exit code after SIGTERM; last output:\n${server.lines.slice(-10).join('\n')}`);
        } finally {
          stats = await simulation.stop();
        }
        const shutDown = server.lines.map(parseLogLine).find((l) => l?.msg === 'shut down');
        assert.ok(shutDown && typeof shutDown.stored === 'number', `no "shut down" log line with the stored count:\n${server.lines.slice(-10).join('\n')}`);
        assert.equal(shutDown.lost, 0);
        const streamed = simulation.records();
        assert.equal(total(streamed), stats.sent);
        console.log(`test:deploy (${storage.name}): ${stats.sent} messages sent while SIGTERM arrived; server stored ${shutDown.stored - total(cliRecords)} of them, lost ${shutDown.lost}`);
        assert.equal(shutDown.stored, total(cliRecords) + stats.sent, 'the server\'s own count of stored messages');

        // 4. The container restarted (docker restart, a pod's container restart): everything is there,
        // counted per node and type; for the embedded database, on the image's /data volume.
        const second = await timed(`${tag}: restart`, () => startServer(container.name, config, storage, `server-${tag}-2.log`));
        servers.push(second);
        if (tag === 'embedded') assert.ok(!second.lines.some((l) => l.includes('migrations applied')), 'the restarted server found an empty /data');
        await assertAllStored(second.port, streamed, 'messages streamed across the SIGTERM, after a restart');
        await assertAllStored(second.port, cliRecords, 'messages of npm run simulate, after a restart');
        second.terminate();
        assert.equal(await second.exited, 0);
      } finally {
        for (const server of servers) server.kill();
        container.remove();
        await storage.remove();
      }
    });
  }
});
