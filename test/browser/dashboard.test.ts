// The dashboards in a real browser (Debian's chromium driven by playwright-core): nodes send telemetry
// over the ingestion websocket, each page must show it, its charts must grow when a new message
// arrives, and no page may log a console error. Screenshots go to test-output/.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { connectNode, type TestNode } from '../helpers/fixtures.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUTPUT = path.resolve('test-output');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];

const tsAgo = (ms: number) => new Date(Date.now() - ms).toISOString();
const PEER_A = '12D3KooWDashboardNodeAlphaAAAAAAAAAAAAAAAAAAAAAAAAAA';
const PEER_B = '12D3KooWDashboardNodeBetaBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
const PEER_C = '12D3KooWDashboardNodeGammaCCCCCCCCCCCCCCCCCCCCCCCCCC';

function connected(peerId: string, name: string, agoMs: number): string {
  return JSON.stringify({ msg: 'system.connected', name, chain: 'Dashboard Testnet', version: '2.1.2-dcda600', authority: true, network_id: peerId, startup_time: String(Date.now() - 3_600_000), implementation: 'Tetcore Node', config: '', ts: tsAgo(agoMs) });
}
const interval = (peers: number, height: number, agoMs: number) => JSON.stringify({ msg: 'system.interval', peers, height, txcount: 0, ts: tsAgo(agoMs) });
const span = (name: string, target: string, timeNs: number, agoMs: number) => JSON.stringify({ msg: 'tracing.profiling', name, target, time: String(timeNs), ts: tsAgo(agoMs) });
/** A network state in the older shape (peerset.nodes) or Tetcore's (peerset.sets[].nodes). */
function networkState(self: string, about: Record<string, number>, agoMs: number, shape: 'nodes' | 'sets'): string {
  const nodes = Object.fromEntries(Object.entries(about).map(([peer, reputation]) => [peer, { connected: true, reputation }]));
  const peerset = shape === 'nodes' ? { nodes, message_queue: 0, reserved_only: false } : { sets: [{ nodes, reserved_only: false }], message_queue: 0 };
  return JSON.stringify({ msg: 'system.network_state', state: { peerId: self, peerset, connectedPeers: {}, notConnectedPeers: {}, externalAddresses: [], listenedAddresses: [] }, ts: tsAgo(agoMs) });
}

describe('dashboards in chromium', () => {
  let server: TestServer;
  let context: BrowserContext;
  let userDataDir: string;
  let nodeA: TestNode;
  let nodeB: TestNode;
  const consoleErrors: string[] = [];

  before(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    // The test's nodes send only what each test needs, and stay silent while chromium starts (seconds on a
    // loaded machine): a client timeout would close them before the pages look.
    server = await startTestServer(BACKENDS.find((b) => b.name === 'embedded')!, { CACHE_UPDATE_INTERVAL_MS: '200', CLIENT_TIMEOUT_S: '600' });
    // Three nodes: A and B stay connected; C connects, talks, and leaves.
    nodeA = await connectNode(server.url('/'));
    nodeB = await connectNode(server.url('/'));
    const nodeC = await connectNode(server.url('/'));
    await nodeA.send(connected(PEER_A, 'validator-alpha', 300_000));
    await nodeB.send(connected(PEER_B, 'validator-beta', 300_000));
    await nodeC.send(connected(PEER_C, 'sentry-gamma', 300_000), interval(3, 100, 200_000));
    const history: string[] = [];
    for (let i = 24; i >= 1; i--) {
      history.push(interval(10 + (i % 5), 1000 - i, i * 10_000));
      history.push(span('execute_block', 'runtime', 2_000_000 + i * 10_000, i * 10_000 + 500));
      history.push(span('import_block', 'sync', 5_000_000 + i * 30_000, i * 10_000 + 700));
    }
    await nodeA.send(...history);
    await nodeB.send(interval(7, 990, 60_000), networkState(PEER_B, { [PEER_A]: -20, [PEER_C]: 5 }, 120_000, 'sets'), networkState(PEER_B, { [PEER_A]: -40 }, 60_000, 'sets'));
    await nodeA.send(networkState(PEER_A, { [PEER_B]: 100 }, 60_000, 'nodes'));
    await waitFor(async () => (await server.db.query(`SELECT count(DISTINCT peer_id) AS n FROM peer_connections WHERE peer_id IS NOT NULL`)).rows[0].n === 3, 'three peer ids recorded');
    await waitFor(async () => Number((await server.db.query<{ n: number }>(`SELECT count(*) AS n FROM substrate_logs`)).rows[0].n) >= 3 + 1 + history.length + 3 + 1, 'messages stored');
    await nodeC.close();
    await waitFor(async () => (await server.db.query(`SELECT 1 FROM peer_connections WHERE peer_id = $1 AND disconnected_at IS NOT NULL`, [PEER_C])).rows.length > 0, 'C disconnected');

    userDataDir = mkdtempSync(path.join(tmpdir(), 'tetcore-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 900 } });
  });

  after(async () => {
    await context?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    await nodeA?.close();
    await nodeB?.close();
    await server?.dispose();
  });

  async function open(url: string): Promise<Page> {
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(`${url}: ${message.text()}`);
    });
    page.on('pageerror', (error) => consoleErrors.push(`${url}: ${error.message}`));
    await page.goto(server.httpUrl(url));
    return page;
  }

  const points = (page: Page, selector: string) => page.$eval(selector, (e) => Number((e as HTMLElement).dataset.points ?? 0));
  async function pointsAtLeast(page: Page, selector: string, n: number): Promise<number> {
    await page.waitForFunction<boolean, [string, number]>(([s, min]) => Number(document.querySelector<HTMLElement>(s)?.dataset.points ?? 0) >= min, [selector, n], { timeout: 15_000 });
    return points(page, selector);
  }

  it('nodes overview on /: every node, connected or not, with rates and a live chart that grows', async () => {
    const page = await open('/');
    await page.waitForFunction(() => document.querySelectorAll('#nodes tbody tr').length === 3, null, { timeout: 15_000 });
    const rows = await page.$$eval('#nodes tbody tr', (trs) => trs.map((tr) => ({ peer: tr.getAttribute('data-peer-id'), text: (tr as HTMLElement).innerText })));
    const row = (peer: string) => rows.find((r) => r.peer === peer)?.text ?? '';
    assert.match(row(PEER_A), /validator-alpha/);
    assert.match(row(PEER_A), /Dashboard Testnet/);
    assert.match(row(PEER_A), /2\.1\.2-dcda600/);
    assert.match(row(PEER_A), /\bconnected\b/);
    assert.match(row(PEER_C), /sentry-gamma/);
    assert.match(row(PEER_C), /disconnected/);
    // message rates of the last minute: A sent 6 interval/profiling messages + a network state in it
    await page.waitForFunction((peer) => Number(document.querySelector(`tr[data-peer-id="${peer}"] td.num`)?.textContent) > 0, PEER_A, { timeout: 15_000 });
    const chart = `tr[data-peer-id="${PEER_A}"] .spark`;
    const before = await pointsAtLeast(page, chart, 20);
    await nodeA.send(interval(42, 2000, 0));
    const afterNew = await pointsAtLeast(page, chart, before + 1);
    assert.equal(afterNew, before + 1);
    await page.screenshot({ path: path.join(OUTPUT, 'overview.png'), fullPage: true });
    await page.close();
  });

  it('live profiling: a chart per span name, growing with each new message, raw and aggregated', async () => {
    const page = await open(`/dashboard/profiling/?peer_id=${PEER_A}`);
    const chart = '#charts [data-span="execute_block"]';
    const before = await pointsAtLeast(page, chart, 20);
    await pointsAtLeast(page, '#charts [data-span="import_block"]', 20);
    assert.equal(await page.textContent('#name'), 'validator-alpha');
    await page.waitForFunction(() => document.querySelector('#peers')?.textContent !== '–', null, { timeout: 15_000 });
    await nodeA.send(span('execute_block', 'runtime', 1_234_567, 0));
    assert.equal(await pointsAtLeast(page, chart, before + 1), before + 1);
    await page.screenshot({ path: path.join(OUTPUT, 'profiling.png'), fullPage: true });

    // Aggregated by the server: the mean per 30 s bucket.
    await page.selectOption('#aggregate-type', 'mean');
    await page.fill('#aggregate-interval', '30');
    await page.click('#view');
    const aggregated = await pointsAtLeast(page, chart, 5);
    assert.ok(aggregated < before, `fewer points once aggregated (${aggregated} < ${before})`);
    await page.screenshot({ path: path.join(OUTPUT, 'profiling-aggregated.png'), fullPage: true });
    await page.close();
  });

  it('peer reputation: what other nodes report about the chosen one, both peerset shapes', async () => {
    const page = await open(`/dashboard/reputation/?peer_id=${PEER_A}`);
    const before = await pointsAtLeast(page, '#chart', 2);
    await page.waitForFunction(() => document.querySelectorAll('#reporters tbody tr').length === 1, null, { timeout: 15_000 });
    assert.match(await page.innerText('#reporters tbody'), /validator-beta[\s\S]*-40/);
    await nodeB.send(networkState(PEER_B, { [PEER_A]: -60 }, 0, 'sets'));
    assert.equal(await pointsAtLeast(page, '#chart', before + 1), before + 1);
    await page.waitForFunction(() => /-60/.test(document.querySelector('#reporters tbody')?.textContent ?? ''), null, { timeout: 15_000 });
    // the other way round: A reports B in the older shape
    await page.selectOption('#node', PEER_B);
    await page.click('#view');
    await pointsAtLeast(page, '#chart', 1);
    assert.match(await page.innerText('#reporters tbody'), /validator-alpha[\s\S]*100/);
    await page.screenshot({ path: path.join(OUTPUT, 'reputation.png'), fullPage: true });
    await page.close();
  });

  it('benchmarks: profiling times of the benchmarked node between an event and its end', async () => {
    const post = async (url: string, body: unknown) => {
      const response = await fetch(server.httpUrl(url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const text = await response.text();
      assert.equal(response.status, 200, `${url}: ${text}`);
      return JSON.parse(text) as { id: number };
    };
    const benchmark = await post('/benchmarks', { setup: { substrate: { peerId: PEER_A }, note: 'dashboard test' } });
    const naive = (ms: number) => new Date(Date.now() - ms).toISOString().slice(0, 23);
    await post('/benchmarks/events', { benchmark_id: benchmark.id, name: 'import', phase: 'start', created_at: naive(125_000) });
    await post('/benchmarks/events', { benchmark_id: benchmark.id, name: 'import', phase: 'end', created_at: naive(45_000) });
    const page = await open('/dashboard/benchmarks/');
    await page.waitForFunction(() => document.querySelectorAll('#event option').length === 1, null, { timeout: 15_000 });
    await page.waitForFunction(() => document.querySelectorAll('#target option').length === 3, null, { timeout: 15_000 }); // ALL, runtime, sync
    await page.click('#view');
    // spans every 10 s between 125 s and 45 s ago: 8 of each
    assert.equal(await pointsAtLeast(page, '[data-group="runtime::execute_block"]', 8), 8);
    assert.equal(await pointsAtLeast(page, '[data-group="sync::import_block"]', 8), 8);
    await page.selectOption('#target', 'sync');
    await page.click('#view');
    await page.waitForFunction(() => document.querySelectorAll('[data-group]').length === 1, null, { timeout: 15_000 });
    await page.screenshot({ path: path.join(OUTPUT, 'benchmarks.png'), fullPage: true });
    await page.close();
  });

  it('with API_TOKEN set, a page opened with ?access_token= passes it to the API and to /feed', async () => {
    const token = 'dashboard-test-token-0123456789';
    const guarded = await startTestServer(BACKENDS.find((b) => b.name === 'embedded')!, { API_TOKEN: token, CACHE_UPDATE_INTERVAL_MS: '200', CLIENT_TIMEOUT_S: '600' });
    try {
      const node = await connectNode(guarded.url('/'));
      await node.send(connected(PEER_A, 'guarded-alpha', 60_000), interval(5, 10, 30_000));
      assert.equal((await fetch(guarded.httpUrl('/nodes'))).status, 401);
      const page = await context.newPage();
      page.on('console', (message) => {
        if (message.type() === 'error') consoleErrors.push(`guarded: ${message.text()}`);
      });
      page.on('pageerror', (error) => consoleErrors.push(`guarded: ${error.message}`));
      await page.goto(guarded.httpUrl(`/?access_token=${token}`));
      await page.waitForFunction(() => document.querySelectorAll('#nodes tbody tr').length === 1, null, { timeout: 15_000 });
      await pointsAtLeast(page, `tr[data-peer-id="${PEER_A}"] .spark`, 1);
      assert.match((await page.getAttribute('header nav a[href^="/dashboard/profiling/"]', 'href')) ?? '', /access_token=/);
      await page.close();
      await node.close();
    } finally {
      await guarded.dispose();
    }
  });

  it('the dashboard index and every page load without a console error', async () => {
    const page = await open('/dashboard/');
    assert.equal(await page.$$eval('main a', (links) => links.length), 4);
    await page.close();
    assert.deepEqual(consoleErrors, []);
  });
});
