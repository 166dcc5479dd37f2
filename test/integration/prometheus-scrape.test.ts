// Debian's Prometheus (/usr/bin/prometheus, package prometheus; .ci/run installs it) scrapes two real
// servers, one on PostgreSQL and one on the embedded database, each fed the same three chains over
// websockets; once it has scraped each twice, its HTTP API (/api/v1/query) must hold the per-chain series
// with the values the analytics routes give, and the alert rules of deploy/prometheus/alerts.yml must be
// loaded and evaluated without error. Prometheus runs on loopback with its own port and storage folder.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { ALPHA, G_ALPHA, scenarioStored, seriesFromRoutes, seriesKey, streamScenario, type Scenario } from '../helpers/chain-metrics.js';

const PROMETHEUS = '/usr/bin/prometheus';
const ALERTS = fileURLToPath(new URL('../../deploy/prometheus/alerts.yml', import.meta.url));
const DASHBOARD = fileURLToPath(new URL('../../grafana/tetcore-analytics.json', import.meta.url));

interface Panel {
  title: string;
  datasource?: { type: string };
  targets?: Array<{ expr?: string; datasource?: { type: string } }>;
  panels?: Panel[];
}
const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

describe('Prometheus scrapes the per-chain series', () => {
  const servers: Array<{ backend: string; server: TestServer; scenario: Scenario }> = [];
  let prometheus: ChildProcess | undefined;
  let exited: Promise<unknown> | undefined;
  let dir: string | undefined;
  let output = '';
  let base = '';

  const query = async (promql: string): Promise<Sample[]> => {
    const response = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await response.json()) as { status: string; error?: string; data: { resultType: string; result: Sample[] } };
    assert.equal(body.status, 'success', `${promql}: ${body.error}`);
    return body.data.result;
  };

  before(async () => {
    for (const backend of BACKENDS) {
      const server = await startTestServer(backend, { METRICS_MAX_CHAINS: '2', ANALYTICS_SETTLE_S: '86400' });
      servers.push({ backend: backend.name, server, scenario: await streamScenario([server.url('/')]) });
    }
    for (const s of servers) await scenarioStored(s.server, s.scenario);

    dir = mkdtempSync(path.join(tmpdir(), 'tetcore-prometheus-'));
    const config = path.join(dir, 'prometheus.yml');
    // JSON is YAML: one job, a target per server, labelled with its database.
    writeFileSync(
      config,
      JSON.stringify({
        global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
        rule_files: [ALERTS],
        scrape_configs: [
          {
            job_name: 'tetcore-analytics',
            static_configs: servers.map((s) => ({ targets: [`127.0.0.1:${s.server.port}`], labels: { database: s.backend } })),
          },
        ],
      }),
    );
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    prometheus = spawn(PROMETHEUS, [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    prometheus.stdout?.on('data', (chunk) => (output += chunk));
    prometheus.stderr?.on('data', (chunk) => (output += chunk));
    exited = new Promise((resolve) => prometheus!.once('exit', resolve));
    prometheus.once('error', (error) => {
      output += `\n${PROMETHEUS} did not start (${error.message}): apt-get install -y prometheus (.ci/run installs it)`;
    });
    await waitFor(
      async () => {
        if (prometheus?.exitCode !== null || output.includes('did not start')) throw new Error(`Prometheus exited:\n${output}`);
        return fetch(`${base}/-/ready`).then((r) => r.ok, () => false);
      },
      'Prometheus ready',
      30_000,
    );
  });

  after(async () => {
    if (prometheus?.exitCode === null) {
      prometheus.kill('SIGTERM');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    for (const s of servers) {
      for (const n of s.scenario.nodes) await n.socket.close();
      await s.server.dispose();
    }
  });

  it('after two scrapes of each server, the series in Prometheus are the values of the analytics routes', async () => {
    // Two successful scrapes of each target: `up` was 1 at least twice.
    await waitFor(async () => {
      const scrapes = await query('sum_over_time(up{job="tetcore-analytics"}[1m])');
      return scrapes.length === servers.length && scrapes.every((s) => Number(s.value[1]) >= 2);
    }, 'two scrapes of each server', 30_000);

    for (const { backend, server } of servers) {
      const instance = `127.0.0.1:${server.port}`;
      const samples = await query(`{__name__=~"tetcore_chain_.+|tetcore_chains_not_exported", instance="${instance}"}`);
      for (const s of samples) assert.equal(s.metric.database, backend);
      const inPrometheus = new Map(samples.map((s) => [seriesKey(s.metric.__name__, Object.fromEntries(Object.entries(s.metric).filter(([k]) => k !== 'database'))), Number(s.value[1])]));
      const expected = await seriesFromRoutes(server, 2);
      assert.deepEqual(inPrometheus, expected, backend);
      assert.equal(inPrometheus.get(seriesKey('tetcore_chain_best_height', { chain: ALPHA, genesis_hash: G_ALPHA })), 104, backend);
      // Both scrapes carried the series (not only the latest).
      const [count] = await query(`count_over_time(tetcore_chain_best_height{instance="${instance}", chain="${ALPHA}"}[1m])`);
      assert.ok(Number(count.value[1]) >= 2, `${backend}: ${count.value[1]} samples`);
    }
  });

  it('loads the alert rules of deploy/prometheus/alerts.yml and evaluates them without error', async () => {
    const rules = await waitFor(async () => {
      const body = (await (await fetch(`${base}/api/v1/rules`)).json()) as { data: { groups: Array<{ name: string; rules: Array<{ name: string; health: string; lastError?: string }> }> } };
      const all = body.data.groups.flatMap((g) => g.rules);
      return all.length > 0 && all.every((r) => r.health === 'ok') ? all : null;
    }, 'every rule evaluated (health ok)', 20_000);
    for (const name of ['TetcoreChainFinalityStalled', 'TetcoreChainBestBlockStalled', 'TetcoreChainNodesDropped', 'TetcoreChainPropagationSlow', 'TetcoreDatabaseUnreachable']) {
      assert.ok(rules.some((r) => r.name === name), name);
    }
    // Nothing is wrong with these servers: no alert fires (a rule that fired here would be mis-written).
    const alerts = (await (await fetch(`${base}/api/v1/alerts`)).json()) as { data: { alerts: Array<{ labels: Record<string, string>; state: string }> } };
    assert.deepEqual(alerts.data.alerts.filter((a) => a.state === 'firing'), []);
  });

  it('the Grafana dashboard\'s Prometheus queries run here; its chain panels show the chains of each server', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
    const targets = allPanels(dashboard.panels).flatMap((p) => (p.targets ?? []).filter((t) => (t.datasource ?? p.datasource)?.type === 'prometheus').map((t) => ({ panel: p.title, expr: t.expr as string })));
    assert.ok(targets.length >= 25);
    for (const { backend, server } of servers) {
      // The variables as Grafana substitutes them: one server chosen, all chains (allValue .*).
      const instance = `127.0.0.1:${server.port}`.replaceAll('.', '\\\\.');
      for (const { panel, expr } of targets) {
        const promql = expr.replaceAll('$instance', instance).replaceAll('$chain', '.*');
        const result = await query(promql);
        if (/tetcore_chain_/.test(expr)) assert.ok(result.length > 0, `${backend}: panel "${panel}" shows nothing: ${promql}`);
      }
      const best = await query(targets.find((t) => t.expr.startsWith('max by (chain, genesis_hash) (tetcore_chain_best_height'))!.expr.replaceAll('$instance', instance).replaceAll('$chain', '.*'));
      assert.deepEqual(best.map((s) => [s.metric.chain, Number(s.value[1])]).sort(), [[ALPHA, 104], ['Metrics Beta', 8]], backend);
    }
  });
});
