// The /feed websocket end to end: messages go in through the ingestion websocket, come out of /feed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer, testSettings } from '../helpers/server.js';
import { connectNode } from '../helpers/fixtures.js';
import { connectFeed, dataAtLeast, startNode, startTime, tsAgo } from '../helpers/feed-client.js';
import { startServer } from '../../src/server.js';
import { PostgresDatabase } from '../../src/storage/postgres.js';
import pg from 'pg';

const counterValue = async (server: TestServer, name: 'feedsConnected' | 'feedsDisconnected' | 'feedSlowViewersDisconnected') => (await server.metrics[name].get()).values[0]?.value ?? 0;
const gaugeValue = async (server: TestServer, name: 'currentFeedConnections' | 'feedSubscriptions') => (await server.metrics[name].get()).values[0]?.value ?? 0;
const refreshFailures = async (server: TestServer, kind: string) => (await server.metrics.feedRefreshFailures.get()).values.find((v) => v.labels.kind === kind)?.value ?? 0;
const refreshQueries = async (server: TestServer) => (await server.metrics.feedRefreshSeconds.get()).values.find((v) => v.metricName === 'tetcore_feed_refresh_seconds_count')?.value ?? 0;

for (const backend of BACKENDS) {
  describe(`/feed (${backend.name})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(backend, { CACHE_UPDATE_INTERVAL_MS: '100', FEED_MAX_SUBSCRIPTIONS: '4' });
    });
    after(() => server.dispose());

    it('sends the stored messages from start_time, then each new one exactly once, in the reference shape', async () => {
      const { node, peerId, send } = await startNode(server, 'plain');
      await send({ msg: 'system.interval', peers: 3, height: 10, level: 'INFO' }, 20_000);
      await send({ msg: 'system.interval', peers: 4, height: 11 }, 10_000);
      await send({ msg: 'block.import', height: 11, best: '0xaa', origin: 'Own' }, 10_000);
      const feed = await connectFeed(server.url('/feed'));
      feed.send({ peer_id: peerId, msg: 'system.interval', interest: 'subscribe', start_time: startTime(15_000), aggregate_type: '', aggregate_interval: '' });
      const first = await dataAtLeast(feed, peerId, 'system.interval', 1, 'the stored message after start_time');
      assert.equal(first.length, 1);
      const element = first[0];
      assert.deepEqual(Object.keys(element).sort(), ['created_at', 'height', 'peers']); // ts, msg, level removed
      assert.equal(element.peers, 4);
      assert.match(element.created_at as string, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6})?$/);

      await send({ msg: 'system.interval', peers: 5, height: 12 });
      await waitFor(() => feed.data(peerId, 'system.interval').length >= 2, 'the new message');
      await send({ msg: 'system.interval', peers: 6, height: 13 });
      await waitFor(() => feed.data(peerId, 'system.interval').length >= 3, 'the next one');
      // A few more refreshes: nothing is sent twice, and no other type leaks in.
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(feed.data(peerId, 'system.interval').map((e) => e.peers), [4, 5, 6]);
      assert.deepEqual(feed.data(peerId, 'block.import'), []);
      await feed.close();
      await node.close();
    });

    it('delivers rows stored late, older than what was already sent (docs/decisions.md#feed-cache)', async () => {
      const { node, peerId, send } = await startNode(server, 'late');
      const feed = await connectFeed(server.url('/feed'));
      feed.send({ peer_id: peerId, msg: 'txpool.import', interest: 'subscribe', start_time: startTime(60_000) });
      await send({ msg: 'txpool.import', ready: 1, future: 0 }, 2_000);
      await waitFor(() => feed.data(peerId, 'txpool.import').length === 1, 'the first row');
      await send({ msg: 'txpool.import', ready: 2, future: 0 }, 5_000); // older than the one already sent
      await send({ msg: 'txpool.import', ready: 3, future: 0 }, 2_000); // the very same time as the first
      await waitFor(() => feed.data(peerId, 'txpool.import').length === 3, 'the late rows');
      assert.deepEqual(feed.data(peerId, 'txpool.import').map((e) => e.ready).sort(), [1, 2, 3]);
      await feed.close();
      await node.close();
    });

    it('aggregates tracing.profiling time per target and name in buckets labelled with their start', async () => {
      const { node, peerId } = await startNode(server, 'profiled');
      const bucket = 10_000;
      const start = Math.floor((Date.now() - 120_000) / bucket) * bucket; // a bucket start two minutes ago
      const at = (offsetMs: number) => new Date(start + offsetMs).toISOString();
      const span = (offsetMs: number, time: string, target = 'runtime', name = 'execute_block') => JSON.stringify({ msg: 'tracing.profiling', target, name, time, ts: at(offsetMs) });
      await node.send(span(0, '100'), span(4_000, '300'), span(9_999, '200'), span(2_000, '40', 'sync', 'import'), span(10_000, '50'), span(25_000, '1'));
      const feed = await connectFeed(server.url('/feed'));
      feed.send({ peer_id: peerId, msg: 'tracing.profiling', interest: 'subscribe', start_time: new Date(start - 1).toISOString().slice(0, -1), aggregate_type: 'mean', aggregate_interval: 10, aggregate_key: 'time' });
      const data = await dataAtLeast(feed, peerId, 'tracing.profiling', 3, 'two closed buckets');
      const label = (offsetMs: number) => new Date(start + offsetMs).toISOString().slice(0, 19);
      assert.deepEqual(data, [
        { time: 200, name: 'execute_block', target: 'runtime', values: 'mean of 3 values', count: 3, created_at: label(0) },
        { time: 40, name: 'import', target: 'sync', values: 'mean of 1 value', count: 1, created_at: label(0) },
        { time: 50, name: 'execute_block', target: 'runtime', values: 'mean of 1 value', count: 1, created_at: label(10_000) },
      ]);
      await feed.close();
      await node.close();
    });

    it('aggregates a numeric field of any message type (system.interval peers)', async () => {
      const { node, peerId } = await startNode(server, 'numeric');
      const start = Math.floor((Date.now() - 300_000) / 60_000) * 60_000;
      const at = (offsetMs: number) => new Date(start + offsetMs).toISOString();
      await node.send(
        ...[
          [0, 10],
          [30_000, '20'],
          [59_999, 30],
          [60_000, 7],
        ].map(([offset, peers]) => JSON.stringify({ msg: 'system.interval', peers, txcount: 1, ts: at(offset as number) })),
      );
      const feed = await connectFeed(server.url('/feed'));
      feed.send({ peer_id: peerId, msg: 'system.interval', interest: 'subscribe', start_time: new Date(start).toISOString().slice(0, -1), aggregate_type: 'max', aggregate_interval: 60, aggregate_key: 'peers' });
      const data = await dataAtLeast(feed, peerId, 'system.interval', 1, 'the first minute');
      assert.deepEqual(data, [{ peers: 30, values: 'max of 3 values', count: 3, created_at: new Date(start).toISOString().slice(0, 19) }]);
      await feed.close();
      await node.close();
    });

    it('answers invalid requests with the reference errors, an interval of 0 included, and keeps serving', async () => {
      const feed = await connectFeed(server.url('/feed'));
      feed.ws.send(Buffer.from('{"binary":"ignored"}'), { binary: true });
      feed.ws.send('not json: ignored');
      feed.send({ msg: 'system.interval', interest: 'subscribe', start_time: startTime(0) });
      feed.send({ peer_id: 'x', msg: 'tracing.profiling', interest: 'subscribe', start_time: startTime(0), aggregate_type: 'mean', aggregate_interval: 0 });
      feed.send({ peer_id: 'x', msg: 'tracing.profiling', interest: 'subscribe', start_time: 'now' });
      feed.send({ peer_id: 'x', msg: 'tracing.profiling', interest: 'maybe' });
      feed.send({ peer_id: 'x', msg: 'tracing.profiling', interest: 'subscribe', start_time: startTime(0), aggregate_type: 'mode', aggregate_interval: 5 });
      await waitFor(() => feed.errors().length === 5, 'five errors');
      assert.deepEqual(feed.errors(), [
        '`peer_id` not found',
        'Unable to parse `aggregate_type` or `aggregate_interval`',
        'unable to parse `start_time`',
        '`interest` must be either `subscribe` or `unsubscribe`',
        'Unable to parse AggregateType',
      ]);
      assert.equal(await gaugeValue(server, 'feedSubscriptions'), 0, 'no subscription registered');
      // still serving
      const { node, peerId, send } = await startNode(server, 'after-errors');
      feed.send({ peer_id: peerId, msg: 'system.interval', interest: 'subscribe', start_time: startTime(60_000) });
      await send({ msg: 'system.interval', peers: 1 });
      await waitFor(() => feed.data(peerId, 'system.interval').length === 1, 'data after the errors');
      await feed.close();
      await node.close();
    });

    it('limits subscriptions per connection (FEED_MAX_SUBSCRIPTIONS); unsubscribe frees a slot; resubscribing replaces', async () => {
      const feed = await connectFeed(server.url('/feed'));
      const sub = (msg: string, interest = 'subscribe') => feed.send({ peer_id: 'nobody', msg, interest, start_time: startTime(0) });
      for (const msg of ['a', 'b', 'c', 'd', 'd']) sub(msg);
      sub('e');
      await waitFor(() => feed.errors().length === 1, 'the refusal');
      assert.deepEqual(feed.errors(), ['too many subscriptions: at most 4 per connection']);
      sub('a', 'unsubscribe');
      sub('e');
      await waitFor(async () => (await gaugeValue(server, 'feedSubscriptions')) === 4, 'four subscriptions held');
      assert.equal(feed.errors().length, 1);
      await feed.close();
      await waitFor(async () => (await gaugeValue(server, 'feedSubscriptions')) === 0, 'subscriptions released on close');
    });

    it('counts feed connections; a plain GET on /feed is 426 and counts nothing (docs/decisions.md#feed-connection-counts)', async () => {
      const before = { connected: await counterValue(server, 'feedsConnected'), disconnected: await counterValue(server, 'feedsDisconnected'), open: await gaugeValue(server, 'currentFeedConnections') };
      const response = await fetch(server.httpUrl('/feed'));
      assert.equal(response.status, 426);
      assert.equal(await counterValue(server, 'feedsConnected'), before.connected);
      assert.equal(await counterValue(server, 'feedsDisconnected'), before.disconnected);
      const feed = await connectFeed(server.url('/feed'));
      assert.equal(await counterValue(server, 'feedsConnected'), before.connected + 1);
      assert.equal(await gaugeValue(server, 'currentFeedConnections'), before.open + 1);
      await feed.close();
      await waitFor(async () => (await counterValue(server, 'feedsDisconnected')) === before.disconnected + 1, 'disconnect counted');
      assert.equal(await gaugeValue(server, 'currentFeedConnections'), before.open);
    });
  });
}

describe('/feed cache sharing and limits (embedded)', () => {
  const embedded = BACKENDS.find((b) => b.name === 'embedded')!;

  it('serves many viewers of one node with one query: the cache is shared', async () => {
    // Refreshes every minute only: the one query is the one filling the new entry.
    const server = await startTestServer(embedded, { CACHE_UPDATE_INTERVAL_MS: '60_000' });
    try {
      const { node, peerId, send } = await startNode(server, 'popular');
      await send({ msg: 'system.interval', peers: 9 }, 1_000);
      await waitFor(async () => (await server.db.query(`SELECT 1 FROM substrate_logs WHERE msg = 'system.interval'`)).rows.length === 1, 'row stored');
      const before = await refreshQueries(server);
      const viewers = await Promise.all(Array.from({ length: 30 }, () => connectFeed(server.url('/feed'))));
      for (const v of viewers) v.send({ peer_id: peerId, msg: 'system.interval', interest: 'subscribe', start_time: startTime(60_000) });
      await waitFor(() => viewers.every((v) => v.data(peerId, 'system.interval').length === 1), 'every viewer has the row');
      assert.equal((await refreshQueries(server)) - before, 1);
      await Promise.all(viewers.map((v) => v.close()));
      await node.close();
    } finally {
      await server.dispose();
    }
  });

  it('refuses a new key when FEED_MAX_KEYS entries are all watched, and reuses an idle one', async () => {
    const server = await startTestServer(embedded, { FEED_MAX_KEYS: '2' });
    try {
      const feed = await connectFeed(server.url('/feed'));
      const sub = (msg: string, interest = 'subscribe') => feed.send({ peer_id: 'nobody', msg, interest, start_time: startTime(0) });
      sub('a');
      sub('b');
      sub('c');
      await waitFor(() => feed.errors().length === 1, 'the refusal');
      assert.match(feed.errors()[0], /feed cache is full/);
      sub('a', 'unsubscribe');
      sub('c');
      await waitFor(async () => (await gaugeValue(server, 'feedSubscriptions')) === 2, 'b and c held');
      assert.equal(feed.errors().length, 1);
      await feed.close();
    } finally {
      await server.dispose();
    }
  });

  it('keeps at most FEED_MAX_ROWS_PER_KEY rows per key and FEED_MAX_CACHE_BYTES in all, the newest', async () => {
    const server = await startTestServer(embedded, { FEED_MAX_ROWS_PER_KEY: '3', FEED_MAX_CACHE_BYTES: '65_536' });
    try {
      const { node, peerId } = await startNode(server, 'capped');
      await node.send(...[1, 2, 3, 4, 5].map((i) => JSON.stringify({ msg: 'txpool.import', ready: i, ts: tsAgo(10_000 - i * 1000) })));
      await node.send(...[1, 2, 3, 4].map((i) => JSON.stringify({ msg: 'system.network_state', state: { peerId, i, filler: 'x'.repeat(30_000) }, ts: tsAgo(10_000 - i * 1000) })));
      await waitFor(async () => (await server.db.query(`SELECT 1 FROM substrate_logs WHERE msg IN ('txpool.import', 'system.network_state')`)).rows.length === 9, 'rows stored');
      const feed = await connectFeed(server.url('/feed'));
      feed.send({ peer_id: peerId, msg: 'txpool.import', interest: 'subscribe', start_time: startTime(3_600_000) });
      assert.deepEqual((await dataAtLeast(feed, peerId, 'txpool.import', 3, 'the newest three')).map((d) => d.ready), [3, 4, 5]);
      feed.send({ peer_id: peerId, msg: 'system.network_state', interest: 'subscribe', start_time: startTime(3_600_000) });
      const states = await dataAtLeast(feed, peerId, 'system.network_state', 1, 'network states');
      // 3 rows would fit the row cap but not the byte budget: the newest two stay
      assert.deepEqual(states.map((d) => (d.state as { i: number }).i), [3, 4]);
      assert.ok(((await server.metrics.feedCacheBytes.get()).values[0]?.value ?? 0) <= 65_536);
      await feed.close();
      await node.close();
    } finally {
      await server.dispose();
    }
  });

  it('disconnects a viewer that stops reading once the cache drops messages it was not sent yet, and ingestion goes on', async () => {
    // The cache holds about five of these messages: a viewer that reads nothing falls behind it.
    const server = await startTestServer(embedded, { CACHE_UPDATE_INTERVAL_MS: '50', FEED_MAX_CACHE_BYTES: '1_048_576', FEED_MAX_FRAME_BYTES: '65_536' });
    try {
      const { node, peerId } = await startNode(server, 'bulky');
      const big = (i: number) => JSON.stringify({ msg: 'system.network_state', state: { peerId, filler: 'x'.repeat(200_000), i }, ts: tsAgo(1_000) });
      const feed = await connectFeed(server.url('/feed'));
      feed.send({ peer_id: peerId, msg: 'system.network_state', interest: 'subscribe', start_time: startTime(60_000) });
      await new Promise((r) => setTimeout(r, 100));
      feed.pauseReading(); // the server's sends pile up in the OS, then wait in the cache
      for (let i = 0; i < 200 && (await counterValue(server, 'feedSlowViewersDisconnected')) === 0; i++) {
        await node.send(big(i));
        await new Promise((r) => setTimeout(r, 60));
      }
      await waitFor(async () => (await counterValue(server, 'feedSlowViewersDisconnected')) === 1, 'the slow viewer disconnected');
      await waitFor(async () => (await gaugeValue(server, 'currentFeedConnections')) === 0, 'its socket closed');
      // ingestion was not held up by the viewer
      await node.send(JSON.stringify({ msg: 'system.interval', peers: 1, ts: tsAgo(0) }));
      await waitFor(async () => (await server.db.query(`SELECT 1 FROM substrate_logs WHERE msg = 'system.interval'`)).rows.length === 1, 'ingestion continues');
      await node.close();
    } finally {
      await server.dispose();
    }
  });
});

describe('/feed on PostgreSQL: rows of other servers, stuck refreshes', () => {
  const postgres = BACKENDS.find((b) => b.name === 'postgres')!;

  it('shows rows that another server stored', async () => {
    const viewerServer = await startTestServer(postgres, { CACHE_UPDATE_INTERVAL_MS: '100' });
    const settings = testSettings({ DB_SAVE_LATENCY_MS: '20', DATABASE_URL: viewerServer.settings.databaseUrl as string });
    const ingestServer = await startServer(settings, pino({ level: 'silent' }), { db: new PostgresDatabase({ url: settings.databaseUrl as string, poolSize: 4, maxWriters: 1 }) });
    try {
      const peerId = `12D3KooWOtherServer${process.pid}`;
      const node = await connectNode(`ws://127.0.0.1:${ingestServer.port}/`);
      await node.send(JSON.stringify({ msg: 'system.connected', name: 'elsewhere', network_id: peerId, ts: tsAgo(5_000) }));
      const feed = await connectFeed(viewerServer.url('/feed'));
      feed.send({ peer_id: peerId, msg: 'block.import', interest: 'subscribe', start_time: startTime(60_000) });
      await node.send(JSON.stringify({ msg: 'block.import', height: 77, best: '0x77', origin: 'Own', ts: tsAgo(1_000) }));
      const data = await dataAtLeast(feed, peerId, 'block.import', 1, 'the row from the other server');
      assert.equal(data[0].height, 77);
      await feed.close();
      await node.close();
    } finally {
      await ingestServer.close();
      await viewerServer.dispose();
    }
  });

  it('abandons a refresh stuck for 4 × CACHE_UPDATE_TIMEOUT_S, and delivers again once the database answers', async () => {
    const server = await startTestServer(postgres, { CACHE_UPDATE_INTERVAL_MS: '100', CACHE_UPDATE_TIMEOUT_S: '1' });
    const locker = new pg.Client({ connectionString: server.settings.databaseUrl as string });
    try {
      const { node, peerId, send } = await startNode(server, 'stuck');
      const feed = await connectFeed(server.url('/feed'));
      feed.send({ peer_id: peerId, msg: 'txpool.import', interest: 'subscribe', start_time: startTime(60_000) });
      await send({ msg: 'txpool.import', ready: 1, future: 0 });
      await dataAtLeast(feed, peerId, 'txpool.import', 1, 'the first row');
      // Another session holds the table: refreshes wait, and are abandoned after 4 s.
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE substrate_logs IN ACCESS EXCLUSIVE MODE');
      await waitFor(async () => (await refreshFailures(server, 'abandoned')) >= 1, 'a refresh abandoned', 20_000);
      await locker.query('ROLLBACK');
      await send({ msg: 'txpool.import', ready: 2, future: 0 });
      const data = await dataAtLeast(feed, peerId, 'txpool.import', 2, 'data again after the lock');
      assert.deepEqual(data.map((d) => d.ready), [1, 2]);
      await feed.close();
      await node.close();
    } finally {
      await locker.end().catch(() => {});
      await server.dispose();
    }
  });
});
