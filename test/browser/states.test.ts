// Every dashboard says what state its data is in, in Debian's chromium: empty on a server that has seen
// nothing (with what to send to fill it), unauthorised when API_TOKEN is set and the page has no or the
// wrong ?access_token= (with the hint), and stale with a countdown when the server goes away. Screenshots:
// test/browser/artifacts/<page>-<state>.png. The browser's own console lines for the failed requests the
// test provokes (401, connection refused) are expected; any other console error fails.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { connectNode, type TestNode } from '../helpers/fixtures.js';
import { launchBrowser, waitForState, type Browser } from '../helpers/browser.js';

const embedded = BACKENDS.find((b) => b.name === 'embedded')!;
const PEER = '12D3KooWStatesNodeAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const CHAIN = 'States Testnet';
const TOKEN = 'states-test-token-0123456789';
const REFUSED = /Failed to load resource|ERR_CONNECTION_REFUSED|WebSocket connection to .* failed/;

const PAGES = {
  network: '/',
  chain: `/dashboard/chain/?chain=${encodeURIComponent(CHAIN)}`,
  node: `/dashboard/node/?peer_id=${PEER}`,
  profiling: `/dashboard/profiling/?peer_id=${PEER}`,
  reputation: `/dashboard/reputation/?peer_id=${PEER}`,
  benchmarks: '/dashboard/benchmarks/',
};
type PageName = keyof typeof PAGES;
const NAMES = Object.keys(PAGES) as PageName[];

const v2 = (payload: Record<string, unknown>) => JSON.stringify({ id: 1, ts: new Date().toISOString(), payload });

/** One node of CHAIN that has connected and imported two blocks. */
async function streamOneNode(server: TestServer): Promise<TestNode> {
  const node = await connectNode(server.url('/'));
  await node.send(
    v2({ msg: 'system.connected', chain: CHAIN, name: 'states-node', network_id: PEER, version: '2.1.2', authority: false, implementation: 'Tetcore Node', startup_time: '1624410117123', genesis_hash: '0x' + '12'.repeat(32) }),
    v2({ msg: 'block.import', best: '0x' + '01'.repeat(32), height: 1, origin: 'NetworkBroadcast' }),
    v2({ msg: 'block.import', best: '0x' + '02'.repeat(32), height: 2, origin: 'NetworkBroadcast' }),
    v2({ msg: 'system.interval', peers: 3, txcount: 1, height: 2, finalized_height: 1 }),
  );
  await waitFor(async () => (await server.db.query(`SELECT 1 FROM block_arrivals WHERE peer_id = $1 AND height = 2`, [PEER])).rows.length > 0, 'the node stored');
  return node;
}

describe('dashboard data states', () => {
  let browser: Browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  it('empty: a server that has seen nothing says what to send', async () => {
    const server = await startTestServer(embedded);
    try {
      const expected: Record<PageName, RegExp> = {
        network: /No node has connected yet\..*--telemetry-url 'ws:\/\/127\.0\.0\.1:\d+\/ 5'/,
        chain: /No chain yet: point a node at this server/,
        node: /No connection of this node is stored\..*--telemetry-url/,
        profiling: /No node has connected yet\..*tracing\.profiling/,
        reputation: /No node has connected yet\..*system\.network_state/,
        benchmarks: /No benchmark yet\..*POST \/benchmarks/,
      };
      for (const name of NAMES) {
        // The node page asks for an unknown node: its 404 is expected; so is the chain page's unknown chain.
        const page = await browser.open(server.httpUrl(PAGES[name]), /status of 404/);
        await waitForState(page, 'empty');
        assert.match((await page.textContent('#state')) ?? '', expected[name], name);
        await browser.screenshot(page, `${name}-empty`);
        await page.close();
      }
    } finally {
      await server.dispose();
    }
  });

  it('unauthorised: without the token, or with a wrong one, each page gives the ?access_token= hint; with it, the data', async () => {
    const server = await startTestServer(embedded, { API_TOKEN: TOKEN, CLIENT_TIMEOUT_S: '600' });
    const node = await streamOneNode(server);
    try {
      for (const name of NAMES) {
        const page = await browser.open(server.httpUrl(PAGES[name]), /status of 401/);
        await waitForState(page, 'unauthorised');
        const text = (await page.textContent('#state')) ?? '';
        assert.match(text, /needs an access token/, name);
        assert.match(text, /access_token=<API_TOKEN>/, name);
        await browser.screenshot(page, `${name}-unauthorised`);
        const separator = PAGES[name].includes('?') ? '&' : '?';
        await page.goto(server.httpUrl(`${PAGES[name]}${separator}access_token=wrong-token`));
        await waitForState(page, 'unauthorised');
        assert.match((await page.textContent('#state')) ?? '', /token in the address was refused/, name);
        await page.goto(server.httpUrl(`${PAGES[name]}${separator}access_token=${TOKEN}`));
        await page.waitForFunction(() => ['ok', 'empty'].includes(document.body.dataset.state ?? ''), null, { timeout: 20_000 });
        if (name === 'network' || name === 'chain' || name === 'node') assert.equal(await page.evaluate(() => document.body.dataset.state), 'ok', name);
        // The feed accepts the token too (the profiling page subscribes to the node).
        if (name === 'profiling') await page.waitForFunction(() => document.getElementById('status')?.textContent === 'feed: live', null, { timeout: 20_000 });
        // Links between pages keep the token.
        assert.match((await page.getAttribute('header nav a[href^="/dashboard/reputation/"]', 'href')) ?? '', new RegExp(`access_token=${TOKEN}`));
        await page.close();
      }
    } finally {
      await node.close();
      await server.dispose();
    }
  });

  it('stale: when the server goes away, each page says so and counts down to the next attempt', async () => {
    const server = await startTestServer(embedded, { CLIENT_TIMEOUT_S: '600' });
    const node = await streamOneNode(server);
    const created = await fetch(server.httpUrl('/benchmarks'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ setup: { substrate: { peerId: PEER } } }) });
    assert.equal(created.status, 200);
    const event = await fetch(server.httpUrl('/benchmarks/events'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ benchmark_id: ((await created.json()) as { id: number }).id, name: 'import', phase: 'start' }) });
    assert.equal(event.status, 200);
    const pages = [];
    try {
      for (const name of NAMES) {
        const page = await browser.open(server.httpUrl(PAGES[name]), REFUSED);
        await page.waitForFunction(() => ['ok', 'empty'].includes(document.body.dataset.state ?? ''), null, { timeout: 20_000 });
        pages.push({ name, page });
      }
    } finally {
      await node.close();
      await server.dispose();
    }
    for (const { name, page } of pages) {
      // The benchmarks page has nothing live: it finds out at the next request.
      if (name === 'benchmarks') await page.click('#view');
      await waitForState(page, 'stale', 30_000).catch(async (error: Error) => {
        await browser.screenshot(page, `${name}-not-stale`);
        throw new Error(`${name}: ${error.message} (state ${await page.evaluate(() => document.body.dataset.state)}: ${await page.textContent('#state')})`);
      });
      const text = (await page.textContent('#state')) ?? '';
      assert.match(text, /Server unreachable\. Reconnecting in \d+ s/, name);
      await browser.screenshot(page, `${name}-stale`);
      await page.close();
    }
  });

  it('no page logged an unexpected console error', () => {
    assert.deepEqual(browser.errors, []);
  });
});
