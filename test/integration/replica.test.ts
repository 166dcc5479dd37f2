// DATABASE_READ_URL against a real streaming replica of the local PostgreSQL (test/helpers/replica.ts):
// rows written through the primary are answered from the replica; while replay lags, the API and the
// feed see nothing new, and once it catches up the feed delivers each row exactly once; a replica that
// stops makes reads answer 503 DB_UNAVAILABLE naming DATABASE_READ_URL while ingestion goes on.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { startServer, type RunningServer } from '../../src/server.js';
import { createPostgresDatabase } from '../helpers/backends.js';
import { waitFor, testSettings } from '../helpers/server.js';
import { connectNode, type TestNode } from '../helpers/fixtures.js';
import { connectFeed, startTime, tsAgo } from '../helpers/feed-client.js';
import { startReplica, type Replica } from '../helpers/replica.js';

const PEER = `12D3KooWReplica${process.pid}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`;

describe('DATABASE_READ_URL on a streaming replica', () => {
  let database: { url: string; drop(): Promise<void> };
  let replica: Replica;
  let server: RunningServer;
  let node: TestNode;
  const http = (path: string) => `http://127.0.0.1:${server.port}${path}`;
  const storedOnPrimary = async (msg: string) => Number((await server.ingestDb.query<{ n: number }>(`SELECT count(*)::int AS n FROM substrate_logs WHERE msg = $1`, [msg])).rows[0].n);
  const logsFromApi = async (msg: string) => {
    const response = await fetch(http(`/nodes/logs?peer_id=${PEER}&msg=${msg}`));
    assert.equal(response.status, 200);
    return (await response.json()) as Array<{ id: number }>;
  };
  const send = (msg: string, n: number, agoMs = 0) => node.send(...Array.from({ length: n }, (_, i) => JSON.stringify({ msg, i, ts: tsAgo(agoMs) })));

  before(async () => {
    database = await createPostgresDatabase();
    replica = await startReplica();
    const name = new URL(database.url).pathname.slice(1);
    const settings = testSettings({ DB_SAVE_LATENCY_MS: '20', CACHE_UPDATE_INTERVAL_MS: '100', DATABASE_URL: database.url, DATABASE_READ_URL: replica.url(name) });
    server = await startServer(settings, pino({ level: 'silent' }));
    node = await connectNode(`ws://127.0.0.1:${server.port}/`);
    await node.send(JSON.stringify({ msg: 'system.connected', network_id: PEER, name: 'replica', chain: 'Replica', ts: tsAgo(60_000) }));
  });
  after(async () => {
    await node?.close();
    await server?.close();
    replica?.destroy();
    await database?.drop();
  });

  it('reads go to the replica: rows written through the primary are answered from it, not before replay', async () => {
    const backends = await server.reads.query<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery');
    assert.equal(backends.rows[0].recovery, true, 'the read pool is connected to a standby');
    await send('replica.first', 3);
    await waitFor(async () => (await logsFromApi('replica.first')).length === 3, 'the rows answered by the replica');

    await replica.pauseReplay();
    await send('replica.paused', 2);
    await waitFor(async () => (await storedOnPrimary('replica.paused')) === 2, 'the rows stored on the primary');
    assert.equal((await logsFromApi('replica.paused')).length, 0, 'not replayed yet, so not answered');
    // The API's one write goes to the primary even while the replica lags.
    const created = await fetch(http('/host_systems'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ description: 'replica test', os: 'linux', cpu_qty: 2, cpu_clock: 2600, ram_mb: 4096, disk_info: 'NVME' }) });
    assert.equal(created.status, 200, await created.clone().text());
    await replica.resumeReplay();
    await waitFor(async () => (await logsFromApi('replica.paused')).length === 2, 'the rows answered once replayed');
  });

  it('the feed delivers each row exactly once across replica lag', async () => {
    const feed = await connectFeed(`ws://127.0.0.1:${server.port}/feed`);
    feed.send({ peer_id: PEER, msg: 'replica.feed', interest: 'subscribe', start_time: startTime(60_000), aggregate_type: '', aggregate_interval: '' });
    await send('replica.feed', 5, 2_000);
    await waitFor(() => feed.data(PEER, 'replica.feed').length === 5, 'the first rows through the feed');
    await replica.pauseReplay();
    // Stored while replay is paused: older and newer than what the feed holds (a late row and new ones).
    await send('replica.feed', 3, 5_000);
    await send('replica.feed', 4);
    await waitFor(async () => (await storedOnPrimary('replica.feed')) === 12, 'all rows stored on the primary');
    await replica.resumeReplay();
    await waitFor(() => feed.data(PEER, 'replica.feed').length >= 12, 'the lagging rows through the feed');
    const delivered = feed.data(PEER, 'replica.feed');
    const ids = (await server.ingestDb.query<{ id: number }>(`SELECT id FROM substrate_logs WHERE msg = 'replica.feed'`)).rows.map((r) => Number(r.id));
    assert.equal(delivered.length, 12);
    assert.equal(new Set(delivered.map((d) => `${String(d.created_at)}|${String(d.i)}`)).size, 12, 'no row delivered twice');
    assert.equal(ids.length, 12);
    await feed.close();
  });

  it('a replica that stops: reads answer 503 DB_UNAVAILABLE naming DATABASE_READ_URL, ingestion goes on', async () => {
    replica.stop();
    const response = await fetch(http(`/nodes/logs?peer_id=${PEER}`));
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('retry-after'), '5');
    const body = (await response.json()) as { code: string; message: string };
    assert.equal(body.code, 'DB_UNAVAILABLE');
    assert.match(body.message, /DATABASE_READ_URL/);
    await send('replica.down', 4);
    await waitFor(async () => (await storedOnPrimary('replica.down')) === 4, 'the rows stored on the primary');
    assert.equal((await fetch(http('/ready'))).status, 200, 'the primary is ready');
  });
});
