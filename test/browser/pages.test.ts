// Every dashboard with data, in Debian's chromium: the simulator's network (nodes importing and finalizing
// blocks, forks, network states, profiling spans) streams into a real server, plus one node that left.
// Each page must show what the network did, react to the user (sort, filter, pin, choose), and log no
// console error. Screenshots: test/browser/artifacts/<page>-data.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { connectNode } from '../helpers/fixtures.js';
import { launchBrowser, waitForState, type Browser } from '../helpers/browser.js';
import { runSimulation, type Simulation } from '../../src/simulator/index.js';

const CHAIN = 'Browser Testnet';
const GONE = '12D3KooWBrowserNodeThatLeftXXXXXXXXXXXXXXXXXXXXXXXXX';

describe('dashboards with the simulated network streaming', () => {
  let server: TestServer;
  let simulation: Simulation;
  let browser: Browser;
  let peers: Array<{ peer_id: string; name: string }> = [];

  before(async () => {
    server = await startTestServer(BACKENDS.find((b) => b.name === 'embedded')!, { ANALYTICS_SUMMARY_INTERVAL_S: '2', ANALYTICS_SETTLE_S: '5' });
    // A node that connected, said who it is and left: a stale row.
    const gone = await connectNode(server.url('/'));
    await gone.send(JSON.stringify({ id: 1, ts: new Date().toISOString(), payload: { msg: 'system.connected', chain: CHAIN, name: 'zz-left-early', network_id: GONE, version: '2.0.0', authority: false, implementation: 'Tetcore Node', startup_time: '1624410117123', genesis_hash: '0x' + '00'.repeat(32) } }));
    await waitFor(async () => (await server.db.query(`SELECT 1 FROM peer_connections WHERE peer_id = $1`, [GONE])).rows.length > 0, 'the leaving node stored');
    await gone.close();
    // Simulated time runs 4× faster: a block every 0.75 s, network states every 7.5 s; verbosity 9 sends profiling spans.
    simulation = await runSimulation({ url: server.url('/'), nodes: 6, verbosity: 9, timeScale: 4, seed: 'browser-pages', chain: CHAIN, forkRate: 0.2 });
    await waitFor(async () => Number((await server.db.query<{ n: number }>(`SELECT count(DISTINCT peer_id)::int AS n FROM block_arrivals`)).rows[0].n) === 6, 'every simulated node importing blocks', 30_000);
    await waitFor(async () => Number((await server.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM substrate_logs WHERE msg = 'system.network_state'`)).rows[0].n) >= 6, 'network states', 30_000);
    peers = (await (await fetch(server.httpUrl('/nodes'))).json()) as Array<{ peer_id: string; name: string }>;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await simulation?.stop();
    await server?.dispose();
  });

  const simulated = () => peers.filter((p) => p.peer_id !== GONE);

  it('network view: a row per node with its figures, the stale node dimmed at the bottom, sort, filter and pins', async () => {
    const page = await browser.open(server.httpUrl('/'));
    await waitForState(page, 'ok');
    await page.waitForFunction(() => document.querySelectorAll('#spacer .grid-row[data-peer-id^="12D3"]').length === 7, null, { timeout: 20_000 });
    // Streaming nodes are "connected", with heights and propagation once their blocks are in the summary.
    await page.waitForFunction(
      () => [...document.querySelectorAll('#spacer .grid-row:not(.stale)')].filter((r) => /\d/.test(r.querySelector('.col-best_height')?.textContent ?? '') && /\d/.test(r.querySelector('.col-propagation_p90_ms')?.textContent ?? '')).length === 6,
      null,
      { timeout: 30_000 },
    );
    const rows = () =>
      page.$$eval('#spacer .grid-row:not([hidden])', (trs) =>
        trs
          .map((tr) => ({ y: (tr as HTMLElement).getBoundingClientRect().top, peer: (tr as HTMLElement).dataset.peerId ?? '', stale: tr.classList.contains('stale'), pinned: tr.classList.contains('pinned'), cells: [...tr.children].map((c) => c.textContent ?? '') }))
          .filter((r) => r.peer !== '')
          .sort((a, b) => a.y - b.y),
      );
    let list = await rows();
    assert.equal(list.at(-1)?.peer, GONE, 'the node that left is last');
    assert.ok(list.at(-1)?.stale, 'and dimmed');
    assert.ok(list.slice(0, 6).every((r) => !r.stale && r.cells[12] === 'connected'), 'streaming nodes read "connected"');
    assert.ok(list.slice(0, 6).every((r) => r.cells[2] === CHAIN && /ms|s$/.test(r.cells[9])), 'chain and propagation p90 with its unit');
    assert.ok(await page.$eval('#spacer .grid-row.stale', (e) => Number(getComputedStyle(e).opacity) < 1));

    // Sort by best height, largest first: the connected nodes in that order, the stale node still last.
    await page.click('#head [data-sort="best_height"]');
    await page.waitForFunction(() => document.querySelector('#head [data-sort="best_height"]')?.getAttribute('aria-sort') === 'descending');
    await page.waitForFunction(() => new URLSearchParams(location.search).get('sort') === 'best_height');
    // Once the sorted rows have arrived: the connected nodes' heights never rise down the list.
    await page.waitForFunction(
      (gone) => {
        const shown = [...document.querySelectorAll('#spacer .grid-row:not([hidden])')]
          .filter((r) => (r as HTMLElement).dataset.peerId)
          .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top);
        const heights = shown.slice(0, 6).map((r) => Number((r.querySelector('.col-best_height')?.textContent ?? '').replace(/,/g, '')));
        return shown.length === 7 && (shown[6] as HTMLElement).dataset.peerId === gone && heights.every((h, i) => i === 0 || h <= heights[i - 1]);
      },
      GONE,
      { timeout: 15_000 },
    );

    // Filter by name.
    const target = simulated()[2];
    await page.fill('#filter', target.name);
    await page.waitForFunction((peer) => {
      const shown = [...document.querySelectorAll('#spacer .grid-row:not([hidden])')].filter((r) => (r as HTMLElement).dataset.peerId);
      return shown.length === 1 && (shown[0] as HTMLElement).dataset.peerId === peer;
    }, target.peer_id, { timeout: 15_000 });
    await page.fill('#filter', '');
    await page.waitForFunction(() => document.querySelectorAll('#spacer .grid-row:not([hidden])[data-peer-id^="12D3"]').length === 7, null, { timeout: 15_000 });

    // Pin the node on the fourth row: it goes first, and stays first after a reload (localStorage).
    list = await rows();
    const pinned = list[3].peer;
    await page.click(`#spacer .grid-row[data-peer-id="${pinned}"] .col-pin`);
    await page.waitForFunction((peer) => document.querySelector('#spacer .grid-row.pinned')?.getAttribute('data-peer-id') === peer, pinned, { timeout: 15_000 });
    assert.equal((await rows())[0].peer, pinned);
    await page.reload();
    await page.waitForFunction((peer) => document.querySelector('#spacer .grid-row.pinned')?.getAttribute('data-peer-id') === peer, pinned, { timeout: 15_000 });
    assert.equal((await rows())[0].cells[0], '★');
    await browser.screenshot(page, 'network-data');
    // Unpin, for the other tests' screenshots.
    await page.click(`#spacer .grid-row[data-peer-id="${pinned}"] .col-pin`);
    await page.waitForFunction(() => document.querySelector('#spacer .grid-row.pinned') === null, null, { timeout: 15_000 });
    await page.close();
  });

  it('chain page: heads, per-block propagation with forks, histogram, finality, lag and the nodes’ sortable table', async () => {
    // Two chains share the name (the node that left announced another genesis hash): the page asks which.
    const page = await browser.open(server.httpUrl(`/dashboard/chain/?chain=${encodeURIComponent(CHAIN)}`));
    await waitForState(page, 'empty', 30_000);
    assert.match((await page.textContent('#state')) ?? '', /Several chains are named/);
    await browser.screenshot(page, 'chain-ambiguous');
    const links = await page.$$eval('#state a', (as) => as.map((a) => a.getAttribute('href') ?? ''));
    assert.equal(links.length, 2);
    await page.goto(server.httpUrl(links.find((href) => !href.includes('0x0000'))));
    await waitForState(page, 'ok', 30_000);
    for (const chart of ['#propagation-chart', '#histogram-chart', '#lag-chart']) {
      await page.waitForFunction((s) => Number((document.querySelector(s) as HTMLElement).dataset.points ?? 0) > 0, chart, { timeout: 30_000 });
    }
    assert.match(await page.textContent('#best') ?? '', /\d/);
    assert.match(await page.textContent('#block-time') ?? '', /\d+(\.\d+)? (ms|s)$/);
    await page.waitForFunction(() => document.querySelectorAll('#propagation-nodes tbody tr').length >= 6, null, { timeout: 20_000 });
    await page.click('#propagation-nodes th[data-sort="blocks_seen"]');
    const seen = await page.$$eval('#propagation-nodes tbody tr td:nth-child(2)', (tds) => tds.map((td) => Number(td.textContent?.replace(/,/g, ''))));
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b), 'sorted by blocks seen');
    assert.equal(await page.getAttribute('#propagation-nodes th[data-sort="blocks_seen"]', 'aria-sort'), 'ascending');
    // Forks (fork rate 0.2): marked on the chart and listed; the finality chart fills once blocks are finalized.
    await page.waitForFunction(() => document.querySelectorAll('#forks tbody td.fork').length > 0, null, { timeout: 30_000 });
    await page.waitForFunction(() => Number((document.querySelector('#finality-chart') as HTMLElement).dataset.points ?? 0) > 0, null, { timeout: 30_000 });
    await browser.screenshot(page, 'chain-data');
    await page.close();
  });

  it('node page: sessions on a timeline, uptime, versions, propagation over time, links to profiling and reputation', async () => {
    const node = simulated()[0];
    const page = await browser.open(server.httpUrl(`/dashboard/node/?peer_id=${node.peer_id}`));
    await waitForState(page, 'ok', 30_000);
    assert.equal(await page.textContent('#title'), node.name);
    assert.ok((await page.$$('#timeline .session')).length >= 1);
    assert.match((await page.textContent('#uptime')) ?? '', /^\d+\.\d %$/);
    assert.ok((await page.$$('#versions tbody tr')).length >= 1);
    await page.waitForFunction(() => Number((document.querySelector('#propagation-chart') as HTMLElement).dataset.points ?? 0) > 0, null, { timeout: 30_000 });
    assert.match((await page.getAttribute('#links a[href^="/dashboard/profiling/"]', 'href')) ?? '', new RegExp(`peer_id=${node.peer_id}`));
    assert.match((await page.getAttribute('#links a[href^="/dashboard/reputation/"]', 'href')) ?? '', new RegExp(`peer_id=${node.peer_id}`));
    await browser.screenshot(page, 'node-data');
    await page.close();
  });

  it('live profiling: a chart per span, values in a unit that scales itself', async () => {
    const node = simulated()[1];
    const page = await browser.open(server.httpUrl(`/dashboard/profiling/?peer_id=${node.peer_id}`));
    await waitForState(page, 'ok', 30_000);
    const chart = '#charts [data-span]';
    await page.waitForFunction((s) => Number(document.querySelector<HTMLElement>(s)?.dataset.points ?? 0) >= 10, chart, { timeout: 30_000 });
    // The legend shows the value under the cursor with its unit (the messages give nanoseconds).
    const box = await page.$(`${chart} .u-over`);
    const area = await box!.boundingBox();
    await page.mouse.move(area!.x + area!.width - 3, area!.y + area!.height / 2);
    const values = await page.$$eval(`${chart} .u-legend .u-value`, (cells) => cells.map((c) => c.textContent ?? ''));
    assert.ok(values.some((v) => /^\d+(\.\d+)? (ns|µs|ms|s)$/.test(v)), `legend values with units: ${values.join(", ")}`);
    await page.waitForFunction(() => document.querySelector('#peers')?.textContent !== '–', null, { timeout: 20_000 });
    await browser.screenshot(page, 'profiling-data');
    // Aggregated by the server: the mean per 30 s bucket, fewer points than the raw spans.
    const raw = await page.$eval(chart, (e) => Number((e as HTMLElement).dataset.points));
    await page.selectOption('#aggregate-type', 'mean');
    await page.fill('#aggregate-interval', '30');
    await page.click('#view');
    await page.waitForFunction((s) => Number(document.querySelector<HTMLElement>(s)?.dataset.points ?? 0) > 0, chart, { timeout: 30_000 });
    const aggregated = await page.$eval(chart, (e) => Number((e as HTMLElement).dataset.points));
    assert.ok(aggregated < raw, `fewer points once aggregated (${aggregated} < ${raw})`);
    await browser.screenshot(page, 'profiling-aggregated');
    await page.close();
  });

  it('peer reputation: history from /reputation/{peer_id}, then only newer entries, no network state downloaded', async () => {
    const node = simulated()[0];
    const page = await browser.open(server.httpUrl(`/dashboard/reputation/?peer_id=${node.peer_id}`));
    await waitForState(page, 'ok', 30_000);
    await page.waitForFunction(() => document.querySelectorAll('#reporters tbody tr').length >= 1, null, { timeout: 30_000 });
    const before = await page.$eval('#chart', (e) => Number((e as HTMLElement).dataset.points));
    // A new network state shows within one feed interval of being stored: wait for the next one.
    await page.waitForFunction((n) => Number((document.querySelector('#chart') as HTMLElement).dataset.points) > n, before, { timeout: 30_000 });
    const traffic = await page.evaluate(() =>
      (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).reduce(
        (sum, e) => ({ bytes: sum.bytes + e.transferSize, feed: sum.feed || e.name.includes('/feed') || e.name.includes('/nodes/logs') }),
        { bytes: 0, feed: false },
      ),
    );
    assert.equal(traffic.feed, false, 'no network states fetched');
    console.log(`# reputation page: ${traffic.bytes} bytes transferred in ${Math.round(await page.evaluate(() => performance.now()) / 1000)} s`);
    await browser.screenshot(page, 'reputation-data');
    await page.close();
  });

  it('benchmarks: profiling times of the benchmarked node between an event and its end', async () => {
    const node = simulated()[1];
    const naive = (ms: number) => new Date(Date.now() - ms).toISOString().slice(0, 23);
    const post = async (url: string, body: unknown) => {
      const response = await fetch(server.httpUrl(url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(response.status, 200);
      return (await response.json()) as { id: number };
    };
    const benchmark = await post('/benchmarks', { setup: { substrate: { peerId: node.peer_id } } });
    await post('/benchmarks/events', { benchmark_id: benchmark.id, name: 'import', phase: 'start', created_at: naive(20_000) });
    await post('/benchmarks/events', { benchmark_id: benchmark.id, name: 'import', phase: 'end', created_at: naive(0) });
    const page = await browser.open(server.httpUrl(`/dashboard/benchmarks/?benchmark_id=${benchmark.id}`));
    await waitForState(page, 'ok');
    await page.waitForFunction(() => document.querySelectorAll('#event option').length >= 1, null, { timeout: 15_000 });
    await page.click('#view');
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('[data-group]')?.dataset.points ?? 0) > 0, null, { timeout: 15_000 });
    await browser.screenshot(page, 'benchmarks-data');
    await page.close();
  });

  it('the dashboard index lists the pages, and no page logged a console error', async () => {
    const page = await browser.open(server.httpUrl('/dashboard/'));
    assert.ok((await page.$$('main a')).length >= 4);
    assert.equal((await page.$$('header nav a[aria-current="page"]')).length, 0, 'the index is none of the pages');
    await page.close();
    assert.deepEqual(browser.errors, []);
  });
});
