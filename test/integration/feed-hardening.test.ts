// /feed against hostile or broken viewers, on both databases: viewers that never read (item 4: frames
// of bounded size, paced to the socket, the frame being sent counted against the viewer's cap, a
// server-wide budget of unsent data) and subscriptions made up to fill the cache (item 8: cache keys
// per client address).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { connectFeed, startNode, startTime, tsAgo, type FeedClient } from '../helpers/feed-client.js';

const metricValue = async (server: TestServer, name: 'feedSlowViewersDisconnected' | 'feedTotalBudgetDisconnects' | 'feedUnsentBytes' | 'currentFeedConnections') =>
  (await server.metrics[name].get()).values[0]?.value ?? 0;
const refusals = async (server: TestServer, reason: string) => (await server.metrics.feedSubscriptionsRefused.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

const bytesSent = async (server: TestServer) => (await server.metrics.feedBytesSent.get()).values[0]?.value ?? 0;

/** Waits until the server sent more than `baseline` bytes, then stopped (its byte counter stayed the same for a while): the viewers' sockets are full. */
async function sendingStopped(server: TestServer, baseline: number): Promise<void> {
  await waitFor(async () => (await bytesSent(server)) > baseline, 'the server to start sending', 60_000);
  let last = -1;
  let stableSince = Date.now();
  await waitFor(async () => {
    const sent = await bytesSent(server);
    if (sent !== last) {
      last = sent;
      stableSince = Date.now();
    }
    return Date.now() - stableSince > 750;
  }, 'the server to stop sending', 60_000);
}

/** `count` messages of `size` bytes of filler each, numbered, with distinct times in the last minute. */
async function storeHistory(server: TestServer, name: string, msg: string, count: number, size: number) {
  const feeding = await startNode(server, name);
  const filler = 'x'.repeat(size);
  for (let i = 0; i < count; i += 50) {
    const frames = [];
    for (let j = i; j < Math.min(count, i + 50); j++) frames.push(JSON.stringify({ msg, i: j, filler, ts: tsAgo(50_000 - j * 10) }));
    await feeding.node.send(...frames);
  }
  await waitFor(async () => Number((await server.db.query<{ n: number }>(`SELECT count(*) AS n FROM substrate_logs WHERE msg = $1`, [msg])).rows[0].n) === count, `${count} ${msg} stored`, 60_000);
  return feeding;
}

for (const backend of BACKENDS) {
  describe(`hardening 4: /feed viewers that never read (${backend.name})`, () => {
    const FRAME = 65_536;
    const CAP = 262_144;
    let server: TestServer;
    before(async () => {
      server = await startTestServer(backend, { CACHE_UPDATE_INTERVAL_MS: '100', FEED_MAX_FRAME_BYTES: String(FRAME), FEED_MAX_BUFFERED_BYTES: String(CAP) });
    });
    after(() => server.dispose());

    it('hardening 4: large history goes out in frames of at most FEED_MAX_FRAME_BYTES, paced to a viewer that stops reading, and all of it arrives once it reads', { timeout: 180_000 }, async () => {
      // 12 MB of history: more than the OS buffers of a local socket take.
      const feeding = await storeHistory(server, 'history', 'system.network_state', 600, 20_000);
      const feed = await connectFeed(server.url('/feed'));
      const baseline = await bytesSent(server);
      feed.pauseReading();
      feed.send({ peer_id: feeding.peerId, msg: 'system.network_state', interest: 'subscribe', start_time: startTime(300_000) });
      await sendingStopped(server, baseline);
      // Stalled: the server holds at most its cap for the viewer (about two frames), not the history.
      const unsent = await metricValue(server, 'feedUnsentBytes');
      assert.ok(unsent <= CAP, `unsent ${unsent} ≤ FEED_MAX_BUFFERED_BYTES ${CAP}`);
      assert.ok(unsent > 0, `the server has data waiting for the stalled viewer (sent ${(await bytesSent(server)) - baseline} bytes so far)`);
      assert.equal(await metricValue(server, 'feedSlowViewersDisconnected'), 0, 'a stalled viewer whose backlog the cache still holds stays');
      feed.resumeReading();
      await waitFor(() => feed.data(feeding.peerId, 'system.network_state').length >= 600, 'the whole history', 120_000);
      const received = feed.data(feeding.peerId, 'system.network_state').map((d) => d.i);
      assert.deepEqual(received, Array.from({ length: 600 }, (_, i) => i), 'every message once, in order');
      assert.ok(feed.frames.length >= 600 / 3, `split into ${feed.frames.length} frames`);
      assert.ok(Math.max(...feed.frameSizes) <= FRAME, `largest frame ${Math.max(...feed.frameSizes)} ≤ ${FRAME}`);
      await feed.close();
      await feeding.node.close();
      await waitFor(async () => (await metricValue(server, 'feedUnsentBytes')) === 0, 'nothing left unsent');
    });

    it('hardening 4: the frame being sent counts against FEED_MAX_BUFFERED_BYTES: one message larger than the cap closes the viewer with 4008 instead of going out', async () => {
      const small = await startTestServer(backend, { CACHE_UPDATE_INTERVAL_MS: '100', FEED_MAX_FRAME_BYTES: '1024', FEED_MAX_BUFFERED_BYTES: '4096' });
      try {
        const feeding = await startNode(small, 'oversized');
        const feed = await connectFeed(small.url('/feed'));
        feed.send({ peer_id: feeding.peerId, msg: 'txpool.import', interest: 'subscribe', start_time: startTime(60_000) });
        await feeding.send({ msg: 'txpool.import', ready: 1 }, 1_000);
        await waitFor(() => feed.data(feeding.peerId, 'txpool.import').length === 1, 'a small message');
        await feeding.send({ msg: 'txpool.import', ready: 2, filler: 'x'.repeat(50_000) });
        await waitFor(() => feed.closeCode() !== null, 'the viewer closed');
        assert.equal(feed.closeCode(), 4008);
        assert.deepEqual(feed.data(feeding.peerId, 'txpool.import').map((d) => d.ready), [1]);
        assert.ok(Math.max(...feed.frameSizes) <= 4096, 'no frame over the cap was sent');
        assert.equal(await metricValue(small, 'feedSlowViewersDisconnected'), 1);
        await feeding.node.close();
      } finally {
        await small.dispose();
      }
    });

    it('hardening 4: past FEED_MAX_TOTAL_BUFFERED_BYTES the viewer holding the most unsent data is disconnected, and the total stays within it', { timeout: 180_000 }, async () => {
      const TOTAL = 200_000;
      const budgeted = await startTestServer(backend, { CACHE_UPDATE_INTERVAL_MS: '100', FEED_MAX_FRAME_BYTES: String(FRAME), FEED_MAX_BUFFERED_BYTES: String(4 * FRAME), FEED_MAX_TOTAL_BUFFERED_BYTES: String(TOTAL) });
      const viewers: FeedClient[] = [];
      try {
        const feeding = await storeHistory(budgeted, 'budget', 'system.network_state', 600, 20_000);
        const baseline = await bytesSent(budgeted);
        for (let i = 0; i < 3; i++) {
          const feed = await connectFeed(budgeted.url('/feed'));
          feed.pauseReading();
          feed.send({ peer_id: feeding.peerId, msg: 'system.network_state', interest: 'subscribe', start_time: startTime(300_000) });
          viewers.push(feed);
        }
        await sendingStopped(budgeted, baseline);
        const evicted = await metricValue(budgeted, 'feedTotalBudgetDisconnects');
        assert.ok(evicted >= 1, `${evicted} viewers disconnected for the total budget`);
        assert.ok(evicted < 3, 'not every viewer: only as many as needed');
        const unsent = await metricValue(budgeted, 'feedUnsentBytes');
        assert.ok(unsent <= TOTAL, `all viewers' unsent data ${unsent} ≤ ${TOTAL}`);
        await waitFor(async () => (await metricValue(budgeted, 'currentFeedConnections')) === 3 - evicted, 'the evicted sockets closed');
        await feeding.node.close();
      } finally {
        for (const viewer of viewers) viewer.ws.terminate();
        await budgeted.dispose();
      }
    });
  });

  describe(`hardening 8: feed cache keys per address (${backend.name})`, () => {
    it('hardening 8: one address holds at most FEED_MAX_KEYS_PER_ADDRESS keys over all its sockets (FEED_MAX_SUBSCRIPTIONS per socket); a viewer from another address still gets its keys', async () => {
      // Every test client is 127.0.0.1: with TRUST_PROXY the address is the X-Forwarded-For one.
      const server = await startTestServer(backend, { FEED_MAX_KEYS: '6', FEED_MAX_SUBSCRIPTIONS: '3', FEED_MAX_KEYS_PER_ADDRESS: '4', TRUST_PROXY: 'true' });
      try {
        const attacker = { 'x-forwarded-for': '203.0.113.7' };
        const sub = (feed: FeedClient, msg: string, interest = 'subscribe') => feed.send({ peer_id: 'made-up', msg, interest, start_time: startTime(0) });
        const first = await connectFeed(server.url('/feed'), attacker);
        for (const msg of ['k1', 'k2', 'k3', 'k4']) sub(first, msg);
        await waitFor(() => first.errors().length === 1, 'the per-socket refusal');
        assert.deepEqual(first.errors(), ['too many subscriptions: at most 3 per connection']);

        const second = await connectFeed(server.url('/feed'), attacker);
        sub(second, 'k1'); // already held by this address: no new key
        sub(second, 'k5');
        sub(second, 'k6');
        await waitFor(() => second.errors().length === 1, 'the per-address refusal');
        assert.match(second.errors()[0], /at most 4 at once \(FEED_MAX_KEYS_PER_ADDRESS\)/);
        assert.equal(await refusals(server, 'address_key_budget'), 1);

        // The cache has 6 keys, the attacker holds 4 of them: another address gets the other 2.
        const viewer = await connectFeed(server.url('/feed'), { 'x-forwarded-for': '198.51.100.9' });
        const node = await startNode(server, 'real');
        viewer.send({ peer_id: node.peerId, msg: 'system.interval', interest: 'subscribe', start_time: startTime(60_000) });
        viewer.send({ peer_id: node.peerId, msg: 'block.import', interest: 'subscribe', start_time: startTime(60_000) });
        await node.send({ msg: 'system.interval', peers: 7 });
        await waitFor(() => viewer.data(node.peerId, 'system.interval').length === 1, 'the real viewer served');
        assert.deepEqual(viewer.errors(), []);

        // Closing a socket gives its keys back to its address.
        await first.close();
        sub(second, 'k6');
        await waitFor(async () => ((await server.metrics.feedSubscriptions.get()).values[0]?.value ?? 0) === 5, 'k6 held once k2, k3 were released');
        assert.equal(second.errors().length, 1);
        await Promise.all([second.close(), viewer.close(), node.node.close()]);
      } finally {
        await server.dispose();
      }
    });
  });
}
