// Protocol abuse on the ingestion endpoints: fragmented and oversized messages, handshakes that never
// finish, connection churn. Each is bounded in time and memory, and the server keeps serving.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { connectNode } from '../helpers/fixtures.js';

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

// One hostile node must never stop storage for everyone: each of these sends what once halted or crashed
// ingestion, next to a well-behaved node whose every message must still be stored.
for (const backend of BACKENDS) {
  describe(`hostile nodes (${backend.name})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(backend, { DB_BATCH_SIZE: '16' });
    });
    after(() => server.dispose());

    const TS = '2021-06-23T01:02:03Z';
    const count = async (sql: string, params: unknown[] = []) => Number((await server.db.query<{ n: number }>(sql, params)).rows[0].n);
    const metric = async (counter: 'messagesDropped' | 'identityFieldsRejected' | 'connectionWritesRejected', label: string) =>
      (await server.metrics[counter].get()).values.find((v) => Object.values(v.labels).includes(label))?.value ?? 0;
    let goodSeq = 0;
    /** A well-behaved node sends `n` messages; resolves once every one of them is stored. */
    const goodNodeStores = async (n = 5) => {
      const node = await connectNode(server.url('/'));
      const tag = `good-${goodSeq++}`;
      await node.send(...Array.from({ length: n }, (_, i) => `{"id":1,"ts":"${TS}","payload":{"msg":"block.import","height":${i},"tag":"${tag}"}}`));
      await waitFor(async () => (await count(`SELECT count(*) AS n FROM substrate_logs WHERE logs->>'tag' = $1`, [tag])) === n, `the well-behaved node's ${n} messages`, 60_000);
      await node.close();
    };

    it('one 8,000-character network_id does not halt ingestion (item 1): the message is stored without it, counted, others go on', async () => {
      const rejectedBefore = await metric('identityFieldsRejected', 'peer_id');
      const hostile = await connectNode(server.url('/'));
      // Random text: PostgreSQL would compress a repetitive one below the btree limit.
      const longPeerId = randomBytes(6000).toString('base64');
      await hostile.send(
        JSON.stringify({ id: 1, ts: TS, payload: { msg: 'system.connected', network_id: longPeerId, name: 'long-peer-id', chain: 'Hostile' } }),
        // More than one batch of them (DB_BATCH_SIZE 16), so that every writer meets this node.
        ...Array.from({ length: 40 }, (_, i) => `{"id":1,"ts":"${TS}","payload":{"msg":"after.connected","n":${i},"who":"long-peer-id"}}`),
      );
      await goodNodeStores();
      await waitFor(async () => (await count(`SELECT count(*) AS n FROM substrate_logs WHERE logs->>'who' = 'long-peer-id' OR logs->>'name' = 'long-peer-id'`)) === 41, "the hostile node's 41 messages");
      const row = await waitFor(async () => (await server.db.query<{ peer_id: string | null; chain: string }>(`SELECT peer_id, chain FROM peer_connections WHERE name = 'long-peer-id'`)).rows[0], 'its identity without the peer id');
      assert.deepEqual(row, { peer_id: null, chain: 'Hostile' });
      assert.equal(await metric('identityFieldsRejected', 'peer_id'), rejectedBefore + 1);
      await hostile.close();
    });

    it("a peer_connections update the database refuses (a CHECK) is given up for that node alone: its messages and everyone else's are stored", async () => {
      await server.db.query(`ALTER TABLE peer_connections ADD CONSTRAINT test_refused_name CHECK (name IS DISTINCT FROM 'refused-by-check') NOT VALID`);
      try {
        const rejectedBefore = await metric('connectionWritesRejected', 'identity');
        const hostile = await connectNode(server.url('/'));
        await hostile.send(
          `{"id":3,"ts":"${TS}","payload":{"msg":"before.connected","who":"check-update"}}`,
          `{"id":3,"ts":"${TS}","payload":{"msg":"system.connected","name":"refused-by-check","network_id":"12D3KooWRefusedUpdate","who":"check-update"}}`,
          ...Array.from({ length: 40 }, (_, i) => `{"id":3,"ts":"${TS}","payload":{"msg":"block.import","height":${i},"who":"check-update"}}`),
        );
        await goodNodeStores(40);
        await waitFor(async () => (await count(`SELECT count(*) AS n FROM substrate_logs WHERE logs->>'who' = 'check-update'`)) === 42, "the hostile node's 42 messages");
        assert.ok((await metric('connectionWritesRejected', 'identity')) > rejectedBefore, 'the refused update is counted');
        await hostile.close();
        // What could be kept was: the row records the disconnection, without the refused identity.
        const row = await waitFor(async () => (await server.db.query<{ name: string | null; envelope_id: string; disconnected: boolean }>(
          `SELECT pc.name, pc.envelope_id, pc.disconnected_at IS NOT NULL AS disconnected FROM peer_connections pc WHERE pc.id = (SELECT peer_connection_id FROM substrate_logs WHERE logs->>'who' = 'check-update' LIMIT 1)`,
        )).rows.find((r) => r.disconnected), 'the hostile connection recorded as closed');
        assert.deepEqual(row, { name: null, envelope_id: '3', disconnected: true });
      } finally {
        await server.db.query(`ALTER TABLE peer_connections DROP CONSTRAINT test_refused_name`);
      }
      await goodNodeStores();
    });

    it('a peer_connections row the database refuses to create drops only that node\'s messages, counted as connection_rejected_by_database', async () => {
      await server.db.query(`ALTER TABLE peer_connections ADD CONSTRAINT test_refused_envelope CHECK (envelope_id IS DISTINCT FROM 666) NOT VALID`);
      try {
        const droppedBefore = await metric('messagesDropped', 'connection_rejected_by_database');
        const insertsBefore = await metric('connectionWritesRejected', 'row');
        const hostile = await connectNode(server.url('/'));
        await hostile.send(...Array.from({ length: 30 }, (_, i) => `{"id":666,"ts":"${TS}","payload":{"msg":"block.import","height":${i},"who":"check-insert"}}`));
        await goodNodeStores(30);
        await waitFor(async () => (await metric('messagesDropped', 'connection_rejected_by_database')) === droppedBefore + 30, 'the 30 messages counted as dropped');
        assert.equal(await metric('connectionWritesRejected', 'row'), insertsBefore + 1, 'one refused row, not one per batch');
        assert.equal(await count(`SELECT count(*) AS n FROM substrate_logs WHERE logs->>'who' = 'check-insert'`), 0);
        assert.equal(await count(`SELECT count(*) AS n FROM peer_connections WHERE envelope_id = 666`), 0);
        await hostile.close();
      } finally {
        await server.db.query(`ALTER TABLE peer_connections DROP CONSTRAINT test_refused_envelope`);
      }
    });

    it('one 20 KB frame nested 10,000 deep (item 2) is dropped as too_deep; the database and every other node go on', async () => {
      const droppedBefore = await metric('messagesDropped', 'too_deep');
      const hostile = await connectNode(server.url('/'));
      const deep = `{"id":1,"ts":"${TS}","payload":{"msg":"deep","v":${'['.repeat(10_000)}${']'.repeat(10_000)}}}`;
      await hostile.send(deep, deep, `{"id":1,"ts":"${TS}","payload":{"msg":"shallow","who":"deep-sender"}}`);
      await goodNodeStores();
      await waitFor(async () => (await count(`SELECT count(*) AS n FROM substrate_logs WHERE logs->>'who' = 'deep-sender'`)) === 1, "the deep sender's shallow message");
      assert.equal(await metric('messagesDropped', 'too_deep'), droppedBefore + 2);
      assert.equal(hostile.ws.readyState, hostile.ws.OPEN, 'content is dropped, the connection stays');
      assert.equal((await fetch(server.httpUrl('/ready'))).status, 200);
      await hostile.close();
    });

    it('a timestamp far in the future (item 6) is dropped as ts_in_future; one within MAX_FUTURE_SKEW_S is stored', async () => {
      const droppedBefore = await metric('messagesDropped', 'ts_in_future');
      const hostile = await connectNode(server.url('/'));
      const soon = new Date(Date.now() + 60_000).toISOString();
      await hostile.send(
        `{"id":1,"ts":"9999-12-31T23:59:59Z","payload":{"msg":"future","who":"time-traveller"}}`,
        `{"msg":"future","who":"time-traveller","ts":"${new Date(Date.now() + 86_400_000).toISOString()}"}`,
        `{"id":1,"ts":"${soon}","payload":{"msg":"soon","who":"time-traveller"}}`,
      );
      await goodNodeStores();
      await waitFor(async () => (await count(`SELECT count(*) AS n FROM substrate_logs WHERE logs->>'who' = 'time-traveller'`)) === 1, 'the message within the skew');
      await waitFor(async () => (await metric('messagesDropped', 'ts_in_future')) === droppedBefore + 2, 'both future messages counted');
      await hostile.close();
    });

    it('2,000 bare handshakes (item 14) leave no peer_connections row and no entry in /nodes', { timeout: 180_000 }, async () => {
      const rowsBefore = await count('SELECT count(*) AS n FROM peer_connections');
      const nodesBefore = ((await (await fetch(server.httpUrl('/nodes'))).json()) as unknown[]).length;
      for (let wave = 0; wave < 20; wave++) {
        const nodes = await Promise.all(Array.from({ length: 100 }, () => connectNode(server.url(wave % 2 === 0 ? '/' : '/audit'))));
        await Promise.all(nodes.map((n) => n.close()));
      }
      await waitFor(() => server.ingest.openConnections === 0, 'every bare connection closed');
      // A node that does send a message is recorded, after all the bare ones.
      await goodNodeStores(1);
      await waitFor(() => server.writer.pendingRows === 0, 'the writer idle');
      assert.equal(await count('SELECT count(*) AS n FROM peer_connections'), rowsBefore + 1);
      assert.equal(((await (await fetch(server.httpUrl('/nodes'))).json()) as unknown[]).length, nodesBefore + 1);
    });

    it('after failing statements, a failing transaction and a failing COPY, the database still answers and /ready says 200', async () => {
      await assert.rejects(server.db.query('SELECT 1 / 0'));
      await assert.rejects(server.db.exec(`INSERT INTO host_systems (description, os, cpu_qty, cpu_clock, ram_mb, disk_info) VALUES ('rolled back', 'x', 1, 1, 1, 'x'); SELECT 1 / 0`));
      await assert.rejects(
        server.db.transaction(async (tx) => {
          await tx.query(`INSERT INTO host_systems (description, os, cpu_qty, cpu_clock, ram_mb, disk_info) VALUES ('rolled back', 'x', 1, 1, 1, 'x')`);
          await tx.query('SELECT 1 / 0');
        }),
      );
      await assert.rejects(server.db.transaction((tx) => tx.copyText('substrate_logs', ['created_at', 'logs', 'peer_connection_id', 'audit'], 'not a time\t{}\t1\tf\n')));
      await assert.rejects(server.db.copyText('substrate_logs', ['created_at', 'logs', 'peer_connection_id', 'audit'], '2021-06-23 01:02:03\t{"a":1e999999}\t1\tf\n'));
      await assert.rejects(
        server.db.transaction(async (tx) => {
          await tx.copyText('substrate_logs', ['created_at', 'logs', 'peer_connection_id', 'audit'], '2021-06-23 01:02:03\t{broken\t1\tf\n');
        }),
      );
      assert.equal(await count(`SELECT count(*) AS n FROM host_systems WHERE description = 'rolled back'`), 0, 'the failed writes left nothing');
      assert.deepEqual((await server.db.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
      await server.db.transaction(async (tx) => {
        await tx.query('SELECT 1');
      });
      assert.equal((await fetch(server.httpUrl('/ready'))).status, 200);
      await goodNodeStores();
    });
  });
}
