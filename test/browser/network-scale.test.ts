// The network view with 10,000 nodes, in Debian's chromium, on PostgreSQL: 10,000 connections and their
// system.interval figures are stored directly (one statement each), a few simulated nodes stream on top.
// Checked: at 1400×900 at least 30 rows are visible, only about a screenful of row elements exists
// (virtualised), scrolling to the far end shows the rows there. Measured and printed, not asserted
// (machine-dependent): frame times while scrolling, and the bytes the idle page downloads per minute.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { launchBrowser, waitForState, type Browser } from '../helpers/browser.js';
import { runSimulation, type Simulation } from '../../src/simulator/index.js';

const NODES = 10_000;
const IDLE_MS = Number(process.env.IDLE_MS ?? 30_000);

describe(`network view with ${NODES.toLocaleString('en-US')} nodes`, () => {
  let server: TestServer;
  let simulation: Simulation;
  let browser: Browser;

  before(async () => {
    server = await startTestServer(BACKENDS.find((b) => b.name === 'postgres')!);
    // last_seen a while ahead: the stored nodes stay "connected" during the test although no server refreshes them.
    await server.db.query(
      `INSERT INTO peer_connections (ip_addr, peer_id, name, chain, version, created_at, last_seen, disconnected_at)
       SELECT '10.0.' || (g / 250) || '.' || (g % 250) || ':30333', '12D3KooWScale' || lpad(g::text, 39, '0'), 'scale-node-' || lpad(g::text, 5, '0'), 'Scale Testnet',
              '2.1.' || (g % 7), (now() AT TIME ZONE 'utc') - interval '2 hours',
              CASE WHEN g % 10 = 0 THEN NULL ELSE (now() AT TIME ZONE 'utc') + interval '30 minutes' END,
              CASE WHEN g % 10 = 0 THEN (now() AT TIME ZONE 'utc') - interval '1 hour' END
         FROM generate_series(1, $1::int) g`,
      [NODES],
    );
    await server.db.query(
      `INSERT INTO substrate_logs (created_at, logs, peer_connection_id, audit)
       SELECT (now() AT TIME ZONE 'utc') - interval '1 minute', jsonb_build_object('msg', 'system.interval', 'peers', id % 50, 'txcount', id % 7, 'height', 5000 + id % 13, 'finalized_height', 4998 + id % 13), id, false
         FROM peer_connections WHERE peer_id LIKE '12D3KooWScale%'`,
    );
    simulation = await runSimulation({ url: server.url('/'), nodes: 3, timeScale: 2, seed: 'browser-scale' });
    await waitFor(async () => Number((await server.db.query<{ n: number }>(`SELECT count(DISTINCT peer_id)::int AS n FROM block_arrivals`)).rows[0].n) === 3, 'simulated nodes streaming', 30_000);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await simulation?.stop();
    await server?.dispose();
  });

  it('stays virtualised and responsive; frame times and idle traffic measured', async () => {
    const started = Date.now();
    const summaryStarted = performance.now();
    const response = await fetch(server.httpUrl('/nodes/summary?limit=60&sort=peers&order=desc'));
    assert.equal(response.status, 200);
    const body = (await response.json()) as { total: number; rows: unknown[] };
    assert.equal(body.total, NODES + 3);
    const summaryMs = performance.now() - summaryStarted;

    const page = await browser.open(server.httpUrl('/'));
    await waitForState(page, 'ok', 30_000);
    await page.waitForFunction(() => document.querySelectorAll('#spacer .grid-row[data-peer-id^="12D3"]:not([hidden])').length >= 30, null, { timeout: 30_000 });
    const loadMs = Date.now() - started;
    const layout = await page.evaluate(() => {
      const viewport = document.getElementById('viewport')!.getBoundingClientRect();
      const rows = [...document.querySelectorAll('#spacer .grid-row:not([hidden])')].map((r) => r.getBoundingClientRect());
      return { visible: rows.filter((r) => r.top >= viewport.top && r.bottom <= viewport.bottom + 1).length, elements: document.querySelectorAll('#spacer .grid-row').length, height: document.getElementById('spacer')!.offsetHeight };
    });
    assert.ok(layout.visible >= 30, `${layout.visible} rows visible at 1400×900`);
    assert.ok(layout.elements < 120, `${layout.elements} row elements for ${NODES} nodes`);
    assert.equal(layout.height, (NODES + 3) * 22, 'the scroll area stands for every node');
    await browser.screenshot(page, 'network-10000');

    // Scroll through the list, 600 px per frame for 3 s, recording the time between frames.
    // (Given as text: tsx names inner functions with a helper the page does not have.)
    const frames = await page.evaluate<number[]>(`new Promise((resolve) => {
      const viewport = document.getElementById('viewport');
      const times = [];
      let last = performance.now();
      const end = last + 3000;
      function step(now) {
        times.push(now - last);
        last = now;
        viewport.scrollTop += 600;
        if (now < end) requestAnimationFrame(step);
        else resolve(times);
      }
      requestAnimationFrame(step);
    })`);
    // Jump to the far end: the rows there arrive.
    await page.evaluate(() => {
      const viewport = document.getElementById('viewport')!;
      viewport.scrollTop = viewport.scrollHeight;
    });
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#spacer .grid-row:not([hidden])')];
      return rows.length > 0 && rows.every((r) => !r.classList.contains('loading'));
    }, null, { timeout: 20_000 });
    const bottom = await page.$$eval('#spacer .grid-row:not([hidden])', (rows) => rows.map((r) => ({ top: r.getBoundingClientRect().top, text: r.textContent ?? '', stale: r.classList.contains('stale') })));
    bottom.sort((a, b) => a.top - b.top);
    assert.match(bottom.at(-1)?.text ?? '', /scale-node-\d{4}0/, 'the disconnected tenth of the nodes is at the bottom');
    assert.ok(bottom.at(-1)?.stale);
    await browser.screenshot(page, 'network-10000-end');

    // Idle: what the page downloads in IDLE_MS with nobody touching it.
    await page.evaluate(() => performance.clearResourceTimings());
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const idle = await page.evaluate(() => (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).reduce((sum, e) => ({ bytes: sum.bytes + e.transferSize, requests: sum.requests + 1 }), { bytes: 0, requests: 0 }));
    await page.close();

    const sorted = [...frames].sort((a, b) => a - b);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)].toFixed(1);
    const perMinute = Math.round((idle.bytes * 60_000) / IDLE_MS);
    console.log(
      `# ${NODES} nodes: /nodes/summary first answer ${summaryMs.toFixed(0)} ms; page ready in ${loadMs} ms; ${layout.visible} rows visible, ${layout.elements} row elements; ` +
        `scrolling ${frames.length} frames: p50 ${pct(0.5)} ms, p95 ${pct(0.95)} ms, max ${sorted.at(-1)!.toFixed(1)} ms; ` +
        `idle ${idle.requests} requests, ${idle.bytes} bytes in ${IDLE_MS / 1000} s = ${(perMinute / 1000).toFixed(1)} KB/min`,
    );
    assert.deepEqual(browser.errors, []);
  });
});
