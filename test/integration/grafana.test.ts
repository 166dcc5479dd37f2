// The Grafana dashboard in grafana/ must keep working: every SQL panel and variable query runs, with
// Grafana's macros substituted, against data ingested over the websocket into PostgreSQL, and returns
// rows; every metric its Prometheus panels name is exposed by /metrics, filtered by the `instance`
// variable; data sources are chosen through datasource variables, so the file works provisioned as it
// is (no ${DS_…} import inputs). test/integration/prometheus-scrape.test.ts runs its chain panels in a
// real Prometheus. The reference's own dashboards
// run too (dashboard 01 through the reference_compat schema of migration 004, docs/decisions.md#grafana-dashboards).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { connectNode } from '../helpers/fixtures.js';

interface Target {
  refId: string;
  datasource?: { type: string };
  rawSql?: string;
  expr?: string;
  format?: string;
}
interface Panel {
  title: string;
  type: string;
  datasource?: { type: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  datasource?: { type: string; uid?: string };
  query: string;
}
interface Dashboard {
  panels: Panel[];
  templating: { list: Variable[] };
}

const DASHBOARD: Dashboard = JSON.parse(readFileSync(new URL('../../grafana/tetcore-analytics.json', import.meta.url), 'utf8'));
const isPostgres = (ds?: { type: string }) => ds?.type === 'grafana-postgresql-datasource' || ds?.type === 'postgres';
const isPrometheus = (ds?: { type: string }) => ds?.type === 'prometheus';

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

const PEER_A = '12D3KooWGrafanaNodeAlphaAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const PEER_B = '12D3KooWGrafanaNodeBetaBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';

/** Grafana's time range: the last hour, as its macros print it for a timestamp column. */
const range = { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) };

function intervalSeconds(text: string): number {
  const m = /^'?(\d+)([smhd])'?$/.exec(text.trim());
  assert.ok(m, `interval ${text}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

/** Substitutes the Grafana PostgreSQL macros and template variables as Grafana does. */
function expand(sql: string, variables: Record<string, string>): string {
  const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  let out = sql
    .replace(/\$__timeFilter\(([^)]+)\)/g, (_, col) => `${col} BETWEEN '${iso(range.from)}' AND '${iso(range.to)}'`)
    .replace(/\$__timeGroupAlias\(([^,]+),([^)]+)\)/g, (_, col, i) => `floor(extract(epoch from ${col})/${intervalSeconds(i)})*${intervalSeconds(i)} AS "time"`)
    .replace(/\$__timeGroup\(([^,]+),([^)]+)\)/g, (_, col, i) => `floor(extract(epoch from ${col})/${intervalSeconds(i)})*${intervalSeconds(i)}`)
    .replace(/\$__timeFrom\(\)/g, `'${iso(range.from)}'`)
    .replace(/\$__timeTo\(\)/g, `'${iso(range.to)}'`);
  for (const name of Object.keys(variables).sort((a, b) => b.length - a.length)) {
    out = out.replaceAll(`\${${name}}`, variables[name]).replaceAll(`$${name}`, variables[name]);
  }
  assert.doesNotMatch(out, /\$\w/, `unexpanded macro or variable in:\n${out}`);
  return out;
}

const tsAgo = (ms: number) => new Date(Date.now() - ms).toISOString();

describe('Grafana dashboards against PostgreSQL', () => {
  let server: TestServer;
  const variables = { peer: PEER_A, target: 'runtime', span: 'execute_block' };

  before(async () => {
    server = await startTestServer(BACKENDS.find((b) => b.name === 'postgres')!);
    const a = await connectNode(server.url('/'));
    const b = await connectNode(server.url('/'));
    await a.send(JSON.stringify({ msg: 'system.connected', name: 'grafana-alpha', chain: 'Grafana Testnet', version: '1.0', authority: true, network_id: PEER_A, ts: tsAgo(600_000) }));
    await b.send(JSON.stringify({ msg: 'system.connected', name: 'grafana-beta', chain: 'Grafana Testnet', version: '1.0', authority: false, network_id: PEER_B, ts: tsAgo(600_000) }));
    const frames: string[] = [];
    for (let i = 10; i >= 1; i--) {
      const at = i * 30_000;
      // numbers as numbers and as strings, as nodes send them
      frames.push(JSON.stringify({ msg: 'system.interval', peers: i, height: String(1000 + i), finalized_height: 990 + i, txcount: i % 3, used_state_cache_size: 1, ts: tsAgo(at) }));
      frames.push(JSON.stringify({ msg: 'system.interval', bandwidth_download: 100 * i, bandwidth_upload: '50', peers: String(i), ts: tsAgo(at - 1) }));
      frames.push(JSON.stringify({ msg: 'tracing.profiling', target: 'runtime', name: 'execute_block', time: String(1_000_000 + i), ts: tsAgo(at - 2) }));
      frames.push(JSON.stringify({ msg: 'block.import', height: 1000 + i, best: '0xab', origin: 'Own', ts: tsAgo(at - 3) }));
      frames.push(JSON.stringify({ msg: 'afg.announcing_blocks_to_voted_peers', block: '0xab', round: String(i), set_id: '1', ts: tsAgo(at - 4) }));
    }
    await a.send(...frames);
    await a.send(JSON.stringify({ msg: 'system.network_state', state: { peerId: PEER_A, peerset: { nodes: { [PEER_B]: { connected: true, reputation: 7 } } } }, ts: tsAgo(60_000) }));
    await b.send(JSON.stringify({ msg: 'system.network_state', state: { peerId: PEER_B, peerset: { sets: [{ nodes: { [PEER_A]: { connected: true, reputation: -25 } } }] } }, ts: tsAgo(60_000) }));
    await waitFor(async () => (await server.db.query(`SELECT count(*)::int AS n FROM substrate_logs`)).rows[0].n === 2 + frames.length + 2, 'every message stored');
    await waitFor(async () => (await server.db.query(`SELECT 1 FROM peer_connections WHERE peer_id IN ($1, $2)`, [PEER_A, PEER_B])).rows.length === 2, 'peer ids recorded');
    await a.close();
    await b.close();
  });

  after(() => server?.dispose());

  it('the variable queries return the ingested node, its profiling targets and spans', async () => {
    const vars = DASHBOARD.templating.list.filter((v) => v.type === 'query' && isPostgres(v.datasource));
    assert.deepEqual(vars.map((v) => v.name), ['peer', 'target', 'span']);
    for (const variable of vars) {
      const rows = (await server.db.query<Record<string, unknown>>(expand(variable.query, variables))).rows;
      const values = rows.map((r) => ('__value' in r ? r.__value : Object.values(r)[0]));
      assert.ok(values.includes(variables[variable.name as keyof typeof variables]), `${variable.name}: ${JSON.stringify(values)}`);
    }
  });

  it('every SQL panel runs and returns data', async () => {
    const sqlTargets = allPanels(DASHBOARD.panels).flatMap((panel) => (panel.targets ?? []).filter((t) => isPostgres(t.datasource ?? panel.datasource) && t.rawSql).map((t) => ({ panel, target: t })));
    assert.ok(sqlTargets.length >= 8, `${sqlTargets.length} SQL targets`);
    for (const { panel, target } of sqlTargets) {
      const sql = expand(target.rawSql as string, variables);
      let rows: Array<Record<string, unknown>>;
      try {
        rows = (await server.db.query<Record<string, unknown>>(sql)).rows;
      } catch (error) {
        throw new Error(`panel "${panel.title}" failed: ${(error as Error).message}\n${sql}`, { cause: error });
      }
      assert.ok(rows.length > 0, `panel "${panel.title}" returned no rows`);
      if (target.format === 'time_series') {
        assert.ok('time' in rows[0], `panel "${panel.title}": a time column`);
        const values = Object.entries(rows[0]).filter(([k]) => k !== 'time' && k !== 'metric');
        assert.ok(values.length > 0 && values.every(([, v]) => v === null || Number.isFinite(Number(v))), `panel "${panel.title}": numeric values ${JSON.stringify(rows[0])}`);
      }
    }
  });

  it('reads the values it should: reputation in both peerset shapes, numbers sent as strings', async () => {
    const panel = (title: string) => allPanels(DASHBOARD.panels).find((p) => p.title === title) as Panel;
    const run = async (title: string, vars = variables) => (await server.db.query<Record<string, unknown>>(expand(panel(title).targets![0].rawSql as string, vars))).rows;
    assert.deepEqual(
      (await run('Reputation of $peer given by other nodes')).map((r) => [r.metric, Number(r.value)]),
      [['grafana-beta', -25]],
    );
    assert.deepEqual(
      (await run('Reputation of $peer given by other nodes', { ...variables, peer: PEER_B })).map((r) => [r.metric, Number(r.value)]),
      [['grafana-alpha', 7]],
    );
    const peers = await run('Peers');
    assert.equal(peers.length, 20); // both interval messages, number and string
    const nodes = await run('Nodes');
    assert.deepEqual(nodes.map((n) => n.name).sort(), ['grafana-alpha', 'grafana-beta']);
  });

  it('every metric of the Prometheus panels and variables is exposed by /metrics', async () => {
    const text = await (await fetch(server.httpUrl('/metrics'))).text();
    const exposed = new Set<string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      exposed.add(m[1]);
      if (m[2] === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exposed.add(m[1] + suffix);
    }
    const promql = new Set(['sum', 'rate', 'increase', 'by', 'max', 'histogram_quantile', 'le', 'instance', 'reason', 'endpoint', 'kind', 'outcome', 'table', 'pool', 'state', 'step', 'chain', 'genesis_hash', 'label_values']);
    const variableQueries = DASHBOARD.templating.list.filter((v) => v.type === 'query' && isPrometheus(v.datasource)).map((v) => v.query);
    assert.deepEqual(DASHBOARD.templating.list.filter((v) => v.type === 'query' && isPrometheus(v.datasource)).map((v) => v.name), ['instance', 'chain']);
    const exprs = allPanels(DASHBOARD.panels).flatMap((p) => (p.targets ?? []).filter((t) => isPrometheus(t.datasource ?? p.datasource)).map((t) => t.expr as string));
    assert.ok(exprs.length >= 25, `${exprs.length} Prometheus queries`);
    for (const expr of [...exprs, ...variableQueries]) {
      // Label matchers, ranges and legends hold no metric names.
      const names = [...expr.replace(/\{[^}]*\}/g, '').replace(/\[[^\]]*\]/g, '').matchAll(/[a-z_][a-z0-9_]*/g)].map((m) => m[0]).filter((n) => !promql.has(n));
      assert.ok(names.length > 0, expr);
      for (const name of names) assert.ok(exposed.has(name), `${name} (in ${expr}) is not exposed by /metrics`);
    }
  });

  it('every Prometheus query keeps to the servers chosen in the instance variable', () => {
    const exprs = allPanels(DASHBOARD.panels).flatMap((p) => (p.targets ?? []).filter((t) => isPrometheus(t.datasource ?? p.datasource)).map((t) => t.expr as string));
    for (const expr of exprs) {
      // Ranges and `by (…)` lists hold no selector; a name followed by "(" is a function; the rest are metrics.
      const bare = expr.replace(/\[[^\]]*\]/g, '').replace(/\bby \([^)]*\)/g, '');
      const selectors = [...bare.matchAll(/\b([a-z_][a-z0-9_]*)(?![a-z0-9_])(\{[^}]*\})?(?!\s*\()/g)];
      assert.ok(selectors.length > 0, expr);
      for (const m of selectors) assert.match(m[2] ?? '', /instance=~"\$instance"/, `${m[1]} in ${expr} is not filtered by $instance`);
    }
  });

  it('has the chain panels, and works provisioned from a file: data sources are datasource variables', () => {
    const text = readFileSync(new URL('../../grafana/tetcore-analytics.json', import.meta.url), 'utf8');
    assert.doesNotMatch(text, /\$\{DS_/);
    const sources = DASHBOARD.templating.list.filter((v) => v.type === 'datasource').map((v) => [v.name, v.query]);
    assert.deepEqual(sources, [['ds_prometheus', 'prometheus'], ['ds_postgres', 'grafana-postgresql-datasource']]);
    const uidOf = { prometheus: '${ds_prometheus}', 'grafana-postgresql-datasource': '${ds_postgres}' } as Record<string, string>;
    const refs = [
      ...allPanels(DASHBOARD.panels).flatMap((p) => [p.datasource, ...(p.targets ?? []).map((t) => t.datasource)]),
      ...DASHBOARD.templating.list.map((v) => v.datasource),
    ].filter((d): d is { type: string; uid: string } => d !== undefined);
    for (const ref of refs) assert.equal(ref.uid, uidOf[ref.type], JSON.stringify(ref));
    const chainPanels = allPanels(DASHBOARD.panels).filter((p) => (p.targets ?? []).some((t) => /tetcore_chain_/.test(t.expr ?? '')));
    const series = new Set(chainPanels.flatMap((p) => (p.targets ?? []).flatMap((t) => [...(t.expr ?? '').matchAll(/tetcore_chain_[a-z_]+/g)].map((m) => m[0]))));
    assert.deepEqual([...series].sort(), [
      'tetcore_chain_best_height',
      'tetcore_chain_block_propagation_seconds',
      'tetcore_chain_block_time_seconds',
      'tetcore_chain_finalized_height',
      'tetcore_chain_nodes_connected',
      'tetcore_chain_time_to_finality_seconds',
    ]);
    const propagation = chainPanels.find((p) => /propagation/i.test(p.title))!;
    assert.deepEqual(propagation.targets!.map((t) => /quantile="([\d.]+)"/.exec(t.expr!)?.[1]), ['0.5', '0.9', '0.99']);
  });

  it("the reference's dashboards run: 02 unchanged, 01 through the reference_compat schema (node_ip)", async () => {
    const reference02 = [
      `select DISTINCT logs->>'target' from substrate_logs where logs->>'msg' = 'tracing.profiling';`,
      `select DISTINCT logs->>'name' from substrate_logs where logs->>'msg' = 'tracing.profiling' and logs->>'target' = '$target';`,
      `SELECT created_at AS "time", cast(logs->>'time' as decimal) / 1000 as "execution time" FROM substrate_logs WHERE $__timeFilter(created_at) AND logs->>'target' = '$target' AND logs->>'name' = '$span' ORDER BY 1`,
    ];
    for (const sql of reference02) assert.ok((await server.db.query(expand(sql, variables))).rows.length > 0, sql);

    const reference01 = {
      node_ip: `select distinct  split_part(node_ip, ':', 1) from substrate_logs`,
      round: `SELECT created_at AS "time", CAST(logs->>'round' as INTEGER) as round FROM substrate_logs WHERE $__timeFilter(created_at) AND logs->>'msg' = 'afg.announcing_blocks_to_voted_peers' AND substrate_logs.node_ip LIKE '$node_ip%' ORDER BY 1`,
      peers: `SELECT created_at AS "time", CAST (logs->>'peers' as INTEGER) as peer_count FROM substrate_logs WHERE $__timeFilter(created_at) AND substrate_logs.node_ip LIKE '10.11.0.11%' AND logs->>'msg' = 'system.interval' ORDER BY 1`,
    };
    // Without the compat schema the column does not exist, as in the reference (docs/decisions.md#grafana-dashboards).
    await assert.rejects(server.db.query(reference01.node_ip), /node_ip/);
    await server.db.session(async (session) => {
      await session.query(`SET search_path = reference_compat, public`);
      try {
        const ips = (await session.query<{ split_part: string }>(reference01.node_ip)).rows.map((r) => r.split_part);
        assert.deepEqual(ips, ['127.0.0.1']);
        const rounds = (await session.query(expand(reference01.round, { node_ip: ips[0] }))).rows;
        assert.equal(rounds.length, 10);
        await session.query(expand(reference01.peers, {})); // runs (no node at 10.11.0.11)
      } finally {
        await session.query(`RESET search_path`);
      }
    });
  });
});
