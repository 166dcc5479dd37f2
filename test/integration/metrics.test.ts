// GET /metrics: the reference's names (so existing scrapes keep working), the additions, and counters
// that move when messages are ingested over a websocket and when viewers use /feed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { connectNode } from '../helpers/fixtures.js';
import { parseMeminfo, parseNetDev } from '../../src/metrics/host.js';

/** The reference's metrics (spec 4.10), with their types. */
const REFERENCE: Array<[string, 'counter' | 'gauge']> = [
  ['substrate_message_count', 'counter'],
  ['nodes_connected_count', 'counter'],
  ['nodes_dropped_count', 'counter'],
  ['current_substrate_connections', 'gauge'],
  ['substrate_bytes_received', 'counter'],
  ['bytes_received', 'counter'],
  ['bytes_sent', 'counter'],
  ['requests', 'counter'],
  ['current_feed_connections', 'gauge'],
  ['feeds_connected', 'counter'],
  ['feeds_disconnected', 'counter'],
  ['load_avg_one', 'gauge'],
  ['load_avg_five', 'gauge'],
  ['load_avg_fifteen', 'gauge'],
  ['total_mem', 'gauge'],
  ['used_mem', 'gauge'],
  ['total_swap', 'gauge'],
  ['used_swap', 'gauge'],
];

const ADDITIONS = [
  'tetcore_ingest_connections',
  'tetcore_messages_stored_total',
  'tetcore_messages_dropped_total',
  'tetcore_buffer_rows',
  'tetcore_buffer_bytes',
  'tetcore_write_batch_rows',
  'tetcore_write_batch_seconds',
  'tetcore_purge_runs_total',
  'tetcore_purge_partitions_dropped_total',
  'tetcore_purge_rows_deleted_total',
  'tetcore_partition_lock_waits_total',
  'tetcore_partition_lock_waiting',
  'tetcore_partition_maintenance_total',
  'tetcore_partitions_ahead_seconds',
  'tetcore_db_pool_connections',
  'tetcore_feed_subscriptions',
  'tetcore_feed_cache_keys',
  'tetcore_feed_cache_rows',
  'tetcore_feed_cache_bytes',
  'tetcore_feed_refresh_seconds',
  'tetcore_feed_frames_sent_total',
  'tetcore_feed_slow_viewers_disconnected_total',
  // default Node.js process metrics
  'process_cpu_user_seconds_total',
  'process_resident_memory_bytes',
  'nodejs_eventloop_lag_seconds',
  'nodejs_heap_size_used_bytes',
];

interface Scrape {
  text: string;
  types: Map<string, string>;
  /** Value of a sample line, e.g. `tetcore_ingest_connections{endpoint="/"}`. */
  value(sample: string): number | undefined;
}

async function scrape(server: TestServer): Promise<Scrape> {
  const response = await fetch(server.httpUrl('/metrics'));
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4; charset=utf-8$/);
  const text = await response.text();
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1], type[2]);
    else if (line !== '' && !line.startsWith('#')) {
      const at = line.lastIndexOf(' ');
      samples.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
  }
  return { text, types, value: (sample) => samples.get(sample) };
}

for (const backend of BACKENDS) {
  describe(`/metrics (${backend.name})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(backend, { CACHE_UPDATE_INTERVAL_MS: '100' });
    });
    after(() => server.dispose());

    it('exposes the reference names with their types, HELP before TYPE, and the additions', async () => {
      const { text, types } = await scrape(server);
      for (const [name, type] of REFERENCE) {
        assert.equal(types.get(name), type, name);
        assert.match(text, new RegExp(`^# HELP ${name} .+\\n# TYPE ${name} ${type}\\n${name} [0-9.e+-]+$`, 'm'), `${name}: HELP, TYPE, value`);
      }
      for (const name of ADDITIONS) assert.ok(types.has(name), name);
    });

    it('reads host figures cheaply and sensibly', async () => {
      const s = await scrape(server);
      assert.ok((s.value('total_mem') ?? 0) > 0);
      assert.ok((s.value('used_mem') ?? -1) >= 0 && (s.value('used_mem') as number) <= (s.value('total_mem') as number));
      assert.ok((s.value('used_swap') ?? -1) >= 0);
      assert.ok((s.value('load_avg_one') ?? -1) >= 0);
      assert.ok((s.value('bytes_received') ?? -1) >= 0);
      assert.ok((s.value('tetcore_db_pool_connections{pool="queries",state="total"}') ?? -1) >= 0, "queries pool reported");
      // the parsers on known texts
      assert.deepEqual(parseMeminfo('MemTotal:       16000 kB\nMemFree:         1000 kB\nMemAvailable:    6000 kB\nSwapTotal:       2000 kB\nSwapFree:        1500 kB\n'), { totalMem: 16000, usedMem: 10000, totalSwap: 2000, usedSwap: 500 });
      assert.deepEqual(
        parseNetDev('Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo: 100 1 0 0 0 0 0 0 200 2 0 0 0 0 0 0\n  eth0: 1000 10 0 0 0 0 0 0 3000 20 0 0 0 0 0 0\n'),
        { received: 1100, sent: 3200 },
      );
    });

    it('counts messages received and stored, bytes, connections and batches when a node sends', async () => {
      const before = await scrape(server);
      const node = await connectNode(server.url('/'));
      const frames = [1, 2, 3].map((i) => JSON.stringify({ msg: 'system.interval', peers: i, ts: new Date().toISOString() }));
      await node.send(...frames);
      await waitFor(async () => ((await scrape(server)).value('tetcore_messages_stored_total') ?? 0) >= (before.value('tetcore_messages_stored_total') ?? 0) + 3, 'three messages stored');
      const during = await scrape(server);
      const delta = (name: string) => (during.value(name) ?? 0) - (before.value(name) ?? 0);
      assert.equal(delta('substrate_message_count'), 3);
      assert.equal(delta('tetcore_messages_stored_total'), 3);
      assert.equal(delta('substrate_bytes_received'), frames.reduce((n, f) => n + Buffer.byteLength(f), 0));
      assert.equal(delta('nodes_connected_count'), 1);
      assert.equal(delta('current_substrate_connections'), 1);
      assert.equal(delta('tetcore_ingest_connections{endpoint="/"}'), 1);
      assert.ok(delta('tetcore_write_batch_rows_count') >= 1);
      assert.ok(delta('tetcore_write_batch_rows_sum') === 3);
      assert.equal(delta('requests'), 0, '/metrics is not counted in requests');
      await node.close();
      await waitFor(async () => (await scrape(server)).value('current_substrate_connections') === before.value('current_substrate_connections'), 'connection closed');
      assert.equal((await scrape(server)).value('nodes_dropped_count'), (before.value('nodes_dropped_count') ?? 0) + 1);
    });

    it('counts feed viewers, their subscriptions and the cache', async () => {
      const before = await scrape(server);
      const ws = new WebSocket(server.url('/feed'));
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      ws.send(JSON.stringify({ peer_id: 'metrics-peer', msg: 'system.interval', interest: 'subscribe', start_time: '2021-01-01T00:00:00' }));
      await waitFor(async () => (await scrape(server)).value('tetcore_feed_subscriptions') === 1, 'one subscription');
      const during = await scrape(server);
      assert.equal((during.value('feeds_connected') ?? 0) - (before.value('feeds_connected') ?? 0), 1);
      assert.equal(during.value('current_feed_connections'), 1);
      assert.equal(during.value('tetcore_feed_cache_keys'), 1);
      await waitFor(async () => ((await scrape(server)).value('tetcore_feed_refresh_seconds_count') ?? 0) >= 2, 'refreshes counted');
      ws.close();
      await waitFor(async () => (await scrape(server)).value('current_feed_connections') === 0, 'viewer gone');
      const after = await scrape(server);
      assert.equal(after.value('tetcore_feed_subscriptions'), 0);
      assert.equal((after.value('feeds_disconnected') ?? 0) - (before.value('feeds_disconnected') ?? 0), 1);
    });
  });
}
