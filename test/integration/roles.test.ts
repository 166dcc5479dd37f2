// ROLE=ingest and ROLE=query servers side by side on one PostgreSQL: nodes stream to the ingest server,
// the query server answers for their messages; each refuses what the other serves with 404 WRONG_ROLE.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { parseSettings } from '../../src/config/settings.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createPostgresDatabase } from '../helpers/backends.js';
import { waitFor, testSettings } from '../helpers/server.js';
import { handshake, refusal } from '../helpers/handshake.js';
import { connectNode } from '../helpers/fixtures.js';

const PEER = `12D3KooWRoles${process.pid}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`;

async function start(url: string, role: string): Promise<RunningServer> {
  const settings = testSettings({ DB_SAVE_LATENCY_MS: '20', DATABASE_URL: url, ROLE: role });
  return startServer(settings, pino({ level: 'silent' }));
}

describe('ROLE=ingest and ROLE=query on one PostgreSQL', () => {
  let database: { url: string; drop(): Promise<void> };
  let ingest: RunningServer;
  let query: RunningServer;
  const http = (server: RunningServer, path: string) => `http://127.0.0.1:${server.port}${path}`;
  const ws = (server: RunningServer, path: string) => `ws://127.0.0.1:${server.port}${path}`;

  before(async () => {
    database = await createPostgresDatabase();
    ingest = await start(database.url, 'ingest');
    query = await start(database.url, 'query');
  });
  after(async () => {
    await query?.close();
    await ingest?.close();
    await database?.drop();
  });

  it('messages streamed to the ingest server are answered by the query server', async () => {
    const node = await connectNode(ws(ingest, '/'));
    const ts = new Date().toISOString();
    await node.send(JSON.stringify({ msg: 'system.connected', network_id: PEER, name: 'roles', chain: 'Roles', ts }), JSON.stringify({ msg: 'block.import', height: 7, ts }));
    const logs = await waitFor(async () => {
      const response = await fetch(http(query, `/nodes/logs?peer_id=${PEER}`));
      const body = (await response.json()) as Array<{ msg: string }>;
      return response.status === 200 && body.length === 2 ? body : null;
    }, 'both messages answered by the query server');
    assert.deepEqual(logs.map((l) => l.msg).sort(), ['block.import', 'system.connected']);
    await node.close();
  });

  it('a query server refuses node websockets on / and /audit with 404 WRONG_ROLE, and counts them', async () => {
    for (const path of ['/', '/audit']) {
      const result = await handshake(ws(query, path));
      assert.deepEqual(refusal(result), { status: 404, code: 'WRONG_ROLE' });
      assert.match(String(result.open ? "" : result.body.message), /ROLE=query/);
    }
    const metrics = await (await fetch(http(query, '/metrics'))).text();
    assert.match(metrics, /tetcore_ingest_handshakes_refused_total\{reason="WRONG_ROLE"\} 2/);
    // A browser on / still gets the nodes overview.
    const page = await fetch(http(query, '/'), { headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  });

  it('an ingest server answers the query API, /feed and the dashboards 404 WRONG_ROLE', async () => {
    for (const path of ['/nodes', `/nodes/logs?peer_id=${PEER}`, '/chains', '/dashboard/profiling/']) {
      const response = await fetch(http(ingest, path));
      assert.equal(response.status, 404, path);
      const body = (await response.json()) as { code: string; message: string };
      assert.equal(body.code, 'WRONG_ROLE', path);
      assert.match(body.message, /ROLE=ingest/);
    }
    assert.deepEqual(refusal(await handshake(ws(ingest, '/feed'))), { status: 404, code: 'WRONG_ROLE' });
  });

  it('both answer /health, /ready and /metrics; only the ingest server maintains partitions', async () => {
    for (const server of [ingest, query]) {
      for (const path of ['/health', '/ready', '/metrics']) assert.equal((await fetch(http(server, path))).status, 200, path);
    }
    const maintained = async (server: RunningServer) => /tetcore_partition_maintenance_total\{outcome="ok"\} [1-9]/.test(await (await fetch(http(server, '/metrics'))).text());
    assert.equal(await maintained(ingest), true);
    assert.equal(await maintained(query), false);
    assert.equal(query.summarizer, null, 'no block summary job on a query server');
  });

  it('ROLE=ingest or query needs DATABASE_URL (the embedded database belongs to one server)', () => {
    assert.throws(() => parseSettings({ ROLE: 'query' }), /ROLE="query" is invalid: expected all without DATABASE_URL/);
    assert.throws(() => parseSettings({ ROLE: 'both' }), /ROLE="both" is invalid: expected one of all, ingest, query/);
    assert.equal(parseSettings({}).role, 'all');
  });
});
