// Protocol abuse on the ingestion endpoints: fragmented and oversized messages, handshakes that never
// finish, connection churn. Each is bounded in time and memory, and the server keeps serving.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { BACKENDS } from './helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from './helpers/server.js';
import { connectNode } from './helpers/fixtures.js';

describe('protocol abuse', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(BACKENDS[0], { HANDSHAKE_TIMEOUT_S: '1', WS_MAX_PAYLOAD: '65_536', MAX_CONNECTIONS_PER_IP: '500' });
  });
  after(() => server.dispose());

  const rows = async (where = 'true') => Number((await server.db.query<{ n: number }>(`SELECT count(*) AS n FROM substrate_logs WHERE ${where}`)).rows[0].n);

  it('reassembles a message sent as fragments', async () => {
    const node = await connectNode(server.url('/'));
    const text = '{"msg":"fragmented","ts":"2021-06-23T01:02:03Z","parts":[1,2,3]}';
    const send = (data: string, fin: boolean) => new Promise<void>((resolve, reject) => node.ws.send(Buffer.from(data), { binary: true, fin }, (e) => (e ? reject(e) : resolve())));
    await send(text.slice(0, 10), false);
    await send(text.slice(10, 30), false);
    await send(text.slice(30), true);
    await waitFor(async () => (await rows(`msg = 'fragmented'`)) === 1, 'the reassembled message');
    await node.close();
  });

  it('closes with 1009 when fragments add up past WS_MAX_PAYLOAD', async () => {
    const node = await connectNode(server.url('/'));
    const chunk = Buffer.alloc(30_000, 0x20);
    for (let i = 0; i < 3; i++) node.ws.send(chunk, { binary: true, fin: false });
    assert.equal((await node.closed).code, 1009);
  });

  it('closes a connection whose handshake never finishes, without recording it', async () => {
    const before = Number((await server.db.query<{ n: number }>('SELECT count(*) AS n FROM peer_connections')).rows[0].n);
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'); // and never the rest
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.on('error', () => {});
    socket.resume(); // read the server's answer (a 408), or its FIN would go unnoticed
    await waitFor(async () => (await Promise.race([closed.then(() => true), new Promise((r) => setTimeout(() => r(false), 100))])) as boolean, 'the server to close the stalled handshake', 10_000);
    assert.equal(Number((await server.db.query<{ n: number }>('SELECT count(*) AS n FROM peer_connections')).rows[0].n), before);
  });

  it('survives connection churn: 1,000 nodes that connect and vanish, leaving no open connection behind', async () => {
    const churn = async () => {
      const ws = new WebSocket(server.url('/'), { perMessageDeflate: false });
      ws.on('error', () => {});
      await new Promise<void>((resolve) => {
        ws.once('open', () => {
          ws.send(Buffer.from('{"msg":"churn","ts":"2021-06-23T01:02:03Z"}'));
          ws.terminate(); // abrupt, like a node dying: no close frame
          resolve();
        });
        ws.once('unexpected-response', () => resolve());
        ws.once('error', () => resolve());
      });
    };
    const started = Date.now();
    for (let wave = 0; wave < 10; wave++) await Promise.all(Array.from({ length: 100 }, churn));
    const seconds = (Date.now() - started) / 1000;
    await waitFor(() => server.ingest.openConnections === 0, 'every churned connection closed');
    const stored = await waitFor(async () => {
      const n = await rows(`msg = 'churn'`);
      return n > 0 ? n : 0;
    }, 'churn messages');
    // Every connection is recorded as closed, and the per-address slots were all given back.
    await waitFor(async () => Number((await server.db.query<{ n: number }>(`SELECT count(*) AS n FROM peer_connections WHERE disconnected_at IS NULL`)).rows[0].n) === 0, 'disconnected_at on every row');
    const nodes = await Promise.all(Array.from({ length: 50 }, () => connectNode(server.url('/'))));
    await Promise.all(nodes.map((n) => n.close()));
    assert.ok(stored <= 1000);
    console.log(`churn: 1000 connections in ${seconds.toFixed(1)} s, ${stored} of their messages arrived before they vanished`);
  });
});
