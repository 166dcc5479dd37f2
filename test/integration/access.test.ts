// Access control: INGEST_ALLOW, connection caps, TRUST_PROXY and API_TOKEN, over real sockets and HTTP.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { connectNode } from '../helpers/fixtures.js';

const postgres = BACKENDS[0];
const TOKEN = 'a-token-of-at-least-16-chars';

async function connections(server: TestServer): Promise<number> {
  return Number((await server.db.query<{ n: number }>('SELECT count(*) AS n FROM peer_connections')).rows[0].n);
}

async function withServer(env: Record<string, string>, fn: (server: TestServer) => Promise<void>) {
  const server = await startTestServer(postgres, env);
  try {
    await fn(server);
  } finally {
    await server.dispose();
  }
}

/** A node's connection row is created with its first stored message: send one, wait for the row. */
async function sendOneAndWait(server: TestServer, node: { send(...frames: string[]): Promise<void>; close(): Promise<void> }, rows: number): Promise<void> {
  await node.send('{"msg":"access.test","ts":"2021-06-23T01:02:03Z"}');
  await waitFor(async () => (await connections(server)) === rows, `${rows} connection rows`);
  await node.close();
}

const refusedWith = (status: number) => (error: { statusCode?: number }) => error.statusCode === status;

describe('access control', () => {
  it('INGEST_ALLOW refuses other addresses with 403 before writing anything', () =>
    withServer({ INGEST_ALLOW: '10.0.0.0/8,2001:db8::/32' }, async (server) => {
      await assert.rejects(connectNode(server.url('/')), refusedWith(403));
      await assert.rejects(connectNode(server.url('/audit')), refusedWith(403));
      assert.equal(await connections(server), 0);
    }));

  it('INGEST_ALLOW admits listed addresses', () =>
    withServer({ INGEST_ALLOW: '10.0.0.0/8, 127.0.0.1' }, async (server) => {
      const node = await connectNode(server.url('/'));
      await sendOneAndWait(server, node, 1);
    }));

  it('MAX_CONNECTIONS_PER_IP refuses with 429 and frees the slot when a node leaves', () =>
    withServer({ MAX_CONNECTIONS_PER_IP: '2' }, async (server) => {
      const a = await connectNode(server.url('/'));
      const b = await connectNode(server.url('/'));
      await assert.rejects(connectNode(server.url('/')), refusedWith(429));
      await a.close();
      const c = await waitFor(() => connectNode(server.url('/')).catch(() => null), 'a free slot');
      await b.close();
      await c.close();
      assert.equal(await connections(server), 0, 'connections that sent nothing leave no row');
    }));

  it('MAX_CONNECTIONS refuses with 503 once the server is full', () =>
    withServer({ MAX_CONNECTIONS: '1' }, async (server) => {
      const a = await connectNode(server.url('/'));
      await assert.rejects(connectNode(server.url('/audit')), refusedWith(503));
      await a.close();
    }));

  it('ignores X-Forwarded-For without TRUST_PROXY', () =>
    withServer({}, async (server) => {
      const node = await connectNode(server.url('/'), { headers: { 'x-forwarded-for': '203.0.113.9' } });
      await sendOneAndWait(server, node, 1);
      const ip = (await server.db.query<{ ip_addr: string }>('SELECT ip_addr FROM peer_connections')).rows[0].ip_addr;
      assert.match(ip, /^127\.0\.0\.1:\d+$/);
    }));

  it('believes the X-Forwarded-For entry its proxy appended with TRUST_PROXY, for storage and for INGEST_ALLOW', () =>
    withServer({ TRUST_PROXY: 'true', INGEST_ALLOW: '203.0.113.0/24' }, async (server) => {
      // The socket peer (this test) is the trusted proxy: the rightmost entry is the client.
      const node = await connectNode(server.url('/'), { headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' } });
      await sendOneAndWait(server, node, 1);
      await assert.rejects(connectNode(server.url('/'), { headers: { 'x-forwarded-for': '203.0.113.9, 198.51.100.1' } }), refusedWith(403));
      const ips = (await server.db.query<{ ip_addr: string }>('SELECT ip_addr FROM peer_connections')).rows.map((r) => r.ip_addr);
      assert.deepEqual(ips, ['203.0.113.9']);
    }));

  it('API_TOKEN protects query routes, not ingestion; /metrics stays open with METRICS_PUBLIC', () =>
    withServer({ API_TOKEN: TOKEN }, async (server) => {
      const without = await fetch(server.httpUrl('/stats/version'));
      assert.equal(without.status, 401);
      assert.equal((await without.json()).code, 'UNAUTHORIZED');
      assert.equal((await fetch(server.httpUrl('/stats/version'), { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status, 401);
      assert.equal((await fetch(server.httpUrl('/stats/version'), { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
      assert.equal((await fetch(server.httpUrl(`/stats/version?access_token=${TOKEN}`))).status, 200);
      assert.equal((await fetch(server.httpUrl('/metrics'))).status, 200);
      assert.equal((await fetch(server.httpUrl('/health'))).status, 200);
      const node = await connectNode(server.url('/'));
      await node.close();
    }));

  it('METRICS_PUBLIC=false puts /metrics behind the token too', () =>
    withServer({ API_TOKEN: TOKEN, METRICS_PUBLIC: 'false' }, async (server) => {
      assert.equal((await fetch(server.httpUrl('/metrics'))).status, 401);
      assert.equal((await fetch(server.httpUrl('/metrics'), { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
    }));
});
