// Ingestion end to end, against PostgreSQL and the embedded database: real websockets in, SQL out.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { connectNode, v1Messages, v2SessionFrames } from '../helpers/fixtures.js';

async function count(server: TestServer, sql: string, params: unknown[] = []): Promise<number> {
  const r = await server.db.query<{ n: number }>(sql, params);
  return Number(r.rows[0].n);
}

/**
 * The id of the connection row created after `afterId` (rows are created with a node's first stored
 * message, so it is waited for).
 */
async function newRow(server: TestServer, afterId: number, where = 'true'): Promise<number> {
  return waitFor(async () => (await server.db.query<{ id: number }>(`SELECT id FROM peer_connections WHERE id > $1 AND ${where} ORDER BY id DESC LIMIT 1`, [afterId])).rows[0]?.id, 'the new connection row');
}

async function lastRowId(server: TestServer): Promise<number> {
  return Number((await server.db.query<{ id: number | null }>(`SELECT coalesce(max(id), 0) AS id FROM peer_connections`)).rows[0].id);
}

async function dropped(server: TestServer, reason: string): Promise<number> {
  const metric = await server.metrics.messagesDropped.get();
  return metric.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

for (const backend of BACKENDS) {
  describe(`ingestion (${backend.name})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(backend, { HEARTBEAT_INTERVAL: '1', CLIENT_TIMEOUT_S: '3', WS_MAX_PAYLOAD: '262_144' });
    });
    after(() => server.dispose());

    it('stores the V1 fixture sent to / : one row per message, created_at from ts, identity from the network state', async () => {
      const all = v1Messages();
      assert.equal(all.length, 16);
      const last = await lastRowId(server);
      const node = await connectNode(server.url('/'));
      await node.send(...all.map((m) => JSON.stringify(m)));
      const id = await newRow(server, last);
      await waitFor(async () => (await count(server, 'SELECT count(*) AS n FROM substrate_logs WHERE peer_connection_id = $1', [id])) === 16, '16 rows');
      const rows = (
        await server.db.query<{ msg: string; created_at: string; audit: boolean; ts: string }>(
          `SELECT logs->>'msg' AS msg, created_at, audit, logs->>'ts' AS ts FROM substrate_logs WHERE peer_connection_id = $1`,
          [id],
        )
      ).rows;
      assert.deepEqual(rows.map((r) => r.msg).sort(), all.map((m) => m.msg as string).sort());
      for (const row of rows) {
        assert.equal(row.audit, false);
        // created_at is the instant of ts, in UTC, to the microsecond
        const ts = new Date(row.ts);
        assert.equal(new Date(`${row.created_at.replace(' ', 'T')}Z`).getTime(), ts.getTime(), `${row.msg}: ${row.created_at} vs ${row.ts}`);
      }
      const networkState = all.find((m) => m.msg === 'system.network_state') as { state: { peerId: string } };
      const connection = (await server.db.query<{ peer_id: string; ip_addr: string; audit: boolean }>(`SELECT peer_id, ip_addr, audit FROM peer_connections WHERE id = $1`, [id])).rows[0];
      await waitFor(async () => (await server.db.query<{ peer_id: string }>(`SELECT peer_id FROM peer_connections WHERE id = $1`, [id])).rows[0].peer_id === networkState.state.peerId, 'peer id from network state');
      assert.match(connection.ip_addr, /^127\.0\.0\.1:\d+$/);
      await node.close();
    });

    it('stores a V2 session sent to /audit unwrapped: flat JSON paths work, identity from system.connected', async () => {
      const frames = v2SessionFrames();
      const last = await lastRowId(server);
      const node = await connectNode(server.url('/audit'));
      await node.send(...frames);
      const id = await newRow(server, last, 'audit');
      await waitFor(async () => (await count(server, 'SELECT count(*) AS n FROM substrate_logs WHERE peer_connection_id = $1', [id])) === frames.length, `${frames.length} rows`);
      const connected = JSON.parse(frames[0]).payload;
      const row = (await server.db.query<Record<string, unknown>>(`SELECT * FROM peer_connections WHERE id = $1`, [id])).rows[0];
      await waitFor(async () => (await server.db.query<{ name: string }>(`SELECT name FROM peer_connections WHERE id = $1`, [id])).rows[0].name === connected.name, 'identity written');
      const identity = (await server.db.query<Record<string, unknown>>(`SELECT peer_id, name, chain, version, authority, startup_time, implementation, genesis_hash, envelope_id, audit FROM peer_connections WHERE id = $1`, [id])).rows[0];
      assert.deepEqual(identity, {
        peer_id: connected.network_id,
        name: connected.name,
        chain: connected.chain,
        version: connected.version,
        authority: connected.authority,
        startup_time: Number(connected.startup_time),
        implementation: connected.implementation,
        genesis_hash: connected.genesis_hash,
        envelope_id: '1',
        audit: true,
      });
      assert.ok(row);
      // Every row answers the reference's flat paths.
      const msgs = (await server.db.query<{ msg: string; ts: string; has_payload: boolean }>(`SELECT logs->>'msg' AS msg, logs->>'ts' AS ts, logs ? 'payload' AS has_payload FROM substrate_logs WHERE peer_connection_id = $1`, [id])).rows;
      assert.deepEqual(msgs.map((m) => m.msg).sort(), frames.map((f) => JSON.parse(f).payload.msg).sort());
      assert.ok(msgs.every((m) => !m.has_payload && typeof m.ts === 'string'));
      const interval = (await server.db.query<{ peers: string }>(`SELECT logs->>'peers' AS peers FROM substrate_logs WHERE peer_connection_id = $1 AND logs->>'msg' = 'system.interval' AND logs ? 'peers'`, [id])).rows;
      assert.equal(interval.length, 1);
      const sets = (await server.db.query<{ n: number }>(`SELECT jsonb_array_length(logs->'state'->'peerset'->'sets') AS n FROM substrate_logs WHERE peer_connection_id = $1 AND msg = 'system.network_state'`, [id])).rows;
      assert.ok(sets[0].n >= 1);
      await node.close();
    });

    it('keeps each envelope id on one socket as its own node, with ids above 2^53 exact', async () => {
      const big = '18446744073709551615';
      const frame = (id: string, msg: string, extra = '') => `{"id":${id},"ts":"2021-06-23T01:02:03.123456789+02:00","payload":{${extra}"msg":"${msg}"}}`;
      const node = await connectNode(server.url('/'));
      await node.send(
        `{"id":${big},"payload":{"authority":false,"chain":"Big","msg":"system.connected","name":"big-node","network_id":"12D3KooWBig"},"ts":"2021-06-23T01:02:03+00:00"}`,
        frame(big, 'system.interval', '"height":9007199254740993,'),
        frame('7', 'block.import'),
        frame('7', 'block.import'),
      );
      const bigRow = await waitFor(async () => (await server.db.query<{ id: number; name: string; envelope_id: string }>(`SELECT id, name, envelope_id FROM peer_connections WHERE envelope_id = $1`, [big])).rows[0], 'row of the big id');
      const smallRow = await waitFor(async () => (await server.db.query<{ id: number }>(`SELECT id FROM peer_connections WHERE envelope_id = 7`)).rows[0], 'row of id 7');
      assert.notEqual(bigRow.id, smallRow.id);
      await waitFor(async () => (await count(server, 'SELECT count(*) AS n FROM substrate_logs WHERE peer_connection_id = $1', [smallRow.id])) === 2, 'two rows for id 7');
      await waitFor(async () => (await count(server, 'SELECT count(*) AS n FROM substrate_logs WHERE peer_connection_id = $1', [bigRow.id])) === 2, 'two rows for the big id');
      const height = (await server.db.query<{ h: string; created_at: string }>(`SELECT logs->>'height' AS h, created_at FROM substrate_logs WHERE peer_connection_id = $1 AND msg = 'system.interval'`, [bigRow.id])).rows[0];
      assert.equal(height.h, '9007199254740993'); // not rounded through a double
      assert.equal(height.created_at, '2021-06-22 23:02:03.123456'); // +02:00 converted to UTC, ns truncated
      await node.close();
    });

    it('drops bad messages by reason and keeps the connection and its other messages', async () => {
      const before = {
        json: await dropped(server, 'invalid_json'),
        noTs: await dropped(server, 'missing_ts'),
        badTs: await dropped(server, 'invalid_ts'),
        array: await dropped(server, 'not_an_object'),
        utf8: await dropped(server, 'invalid_utf8'),
      };
      const last = await lastRowId(server);
      const node = await connectNode(server.url('/'));
      const good = (n: number) => JSON.stringify({ msg: 'txpool.import', ready: n, future: 0, ts: '2021-06-23T01:02:03.5+00:00' });
      await node.send(
        good(1),
        'this is not json',
        JSON.stringify({ msg: 'txpool.import', ready: 2 }),
        JSON.stringify({ msg: 'txpool.import', ready: 3, ts: 'yesterday' }),
        JSON.stringify({ msg: 'txpool.import', ready: 4, ts: '2021-02-30T00:00:00Z' }),
        '[1,2,3]',
        Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
        good(5),
      );
      const id = await newRow(server, last);
      await waitFor(async () => (await count(server, 'SELECT count(*) AS n FROM substrate_logs WHERE peer_connection_id = $1', [id])) === 2, 'the two good rows');
      const readies = (await server.db.query<{ r: string }>(`SELECT logs->>'ready' AS r FROM substrate_logs WHERE peer_connection_id = $1 ORDER BY 1`, [id])).rows.map((r) => r.r);
      assert.deepEqual(readies, ['1', '5']);
      assert.equal(await dropped(server, 'invalid_json'), before.json + 1);
      assert.equal(await dropped(server, 'missing_ts'), before.noTs + 1);
      assert.equal(await dropped(server, 'invalid_ts'), before.badTs + 2);
      assert.equal(await dropped(server, 'not_an_object'), before.array + 1);
      assert.equal(await dropped(server, 'invalid_utf8'), before.utf8 + 1);
      assert.equal(node.ws.readyState, node.ws.OPEN);
      await node.close();
    });

    it('stores a message containing \\u0000 with the character escaped, without failing its batch', async () => {
      const last = await lastRowId(server);
      const node = await connectNode(server.url('/'));
      await node.send(
        '{"msg":"afg.received_commit","voter":"a\\u0000b","ts":"2021-06-23T01:02:03Z"}',
        '{"msg":"afg.received_commit","voter":"ok","ts":"2021-06-23T01:02:03Z"}',
      );
      const id = await newRow(server, last);
      await waitFor(async () => (await count(server, 'SELECT count(*) AS n FROM substrate_logs WHERE peer_connection_id = $1', [id])) === 2, 'both rows');
      const voters = (await server.db.query<{ v: string }>(`SELECT logs->>'voter' AS v FROM substrate_logs WHERE peer_connection_id = $1 ORDER BY 1`, [id])).rows.map((r) => r.v);
      assert.deepEqual(voters, ['a\\u0000b', 'ok']);
      await node.close();
    });

    it('drops only the row the database rejects and stores the rest of the batch', async () => {
      const before = await dropped(server, 'rejected_by_database');
      const last = await lastRowId(server);
      const node = await connectNode(server.url('/'));
      const frames = Array.from({ length: 9 }, (_, i) => `{"msg":"block.import","height":${i},"ts":"2021-06-23T01:02:03Z"}`);
      frames.splice(4, 0, '{"msg":"block.import","height":1e999999,"ts":"2021-06-23T01:02:03Z"}'); // numeric overflow in JSONB
      await node.send(...frames);
      const id = await newRow(server, last);
      await waitFor(async () => (await dropped(server, 'rejected_by_database')) === before + 1, 'the rejected row counted');
      await waitFor(async () => (await count(server, 'SELECT count(*) AS n FROM substrate_logs WHERE peer_connection_id = $1', [id])) === 9, 'the nine good rows');
      await node.close();
    });

    it('closes a connection whose frame exceeds WS_MAX_PAYLOAD with 1009, after storing what came before', async () => {
      const last = await lastRowId(server);
      const node = await connectNode(server.url('/'));
      await node.send('{"msg":"txpool.import","ready":1,"ts":"2021-06-23T01:02:03Z"}');
      const id = await newRow(server, last);
      await node.send(JSON.stringify({ msg: 'system.network_state', ts: '2021-06-23T01:02:03Z', state: { big: 'x'.repeat(300_000) } }));
      const { code } = await node.closed;
      assert.equal(code, 1009);
      await waitFor(async () => (await count(server, 'SELECT count(*) AS n FROM substrate_logs WHERE peer_connection_id = $1', [id])) === 1, 'the message before');
      await waitFor(async () => (await server.db.query<{ d: string | null }>(`SELECT disconnected_at AS d FROM peer_connections WHERE id = $1`, [id])).rows[0].d !== null, 'disconnected_at set');
    });

    it('closes a silent connection after CLIENT_TIMEOUT_S, but keeps one that only sends data (never answers pings)', async () => {
      const silent = await connectNode(server.url('/'));
      const talker = await connectNode(server.url('/'));
      let pings = 0;
      talker.ws.on('ping', () => pings++);
      const timer = setInterval(() => void talker.send('{"msg":"system.interval","peers":1,"ts":"2021-06-23T01:02:03Z"}'), 500);
      try {
        const { code } = await silent.closed;
        assert.equal(code, 4408);
        assert.equal(talker.ws.readyState, talker.ws.OPEN);
        assert.ok(pings >= 2, 'pings were sent (and never answered)');
      } finally {
        clearInterval(timer);
        await talker.close();
      }
    });

    it('accepts a node whose connection row the database refuses, drops its messages as connection_rejected_by_database, leaves no row', async () => {
      // The handshake writes nothing (a database outage refuses no node); the row comes with the first message.
      const before = await count(server, 'SELECT count(*) AS n FROM peer_connections');
      const droppedBefore = await dropped(server, 'connection_rejected_by_database');
      await server.db.query(`ALTER TABLE peer_connections ADD CONSTRAINT refuse_all CHECK (ip_addr = 'nobody') NOT VALID`);
      try {
        const refused = await connectNode(server.url('/'));
        await refused.send('{"msg":"txpool.import","ready":1,"ts":"2021-06-23T01:02:03Z"}', '{"msg":"txpool.import","ready":2,"ts":"2021-06-23T01:02:03Z"}');
        await waitFor(async () => (await dropped(server, 'connection_rejected_by_database')) === droppedBefore + 2, 'both messages counted as dropped');
        assert.equal(refused.ws.readyState, refused.ws.OPEN);
        await refused.close();
      } finally {
        await server.db.query(`ALTER TABLE peer_connections DROP CONSTRAINT refuse_all`);
      }
      assert.equal(await count(server, 'SELECT count(*) AS n FROM peer_connections'), before);
      const last = await lastRowId(server);
      const node = await connectNode(server.url('/audit/'));
      await node.send('{"msg":"txpool.import","ready":3,"ts":"2021-06-23T01:02:03Z"}');
      const id = await newRow(server, last);
      await waitFor(async () => (await count(server, 'SELECT count(*) AS n FROM substrate_logs WHERE peer_connection_id = $1', [id])) === 1, 'the next node stored');
      await node.close();
    });

    it('accepts text frames as well as binary ones, and `/` with a query string', async () => {
      const node = await connectNode(server.url('/?source=test'));
      await new Promise<void>((resolve, reject) => node.ws.send('{"msg":"text.frame","ts":"2021-06-23T01:02:03Z"}', { binary: false }, (e) => (e ? reject(e) : resolve())));
      await node.send('{"msg":"binary.frame","ts":"2021-06-23T01:02:03Z"}');
      await waitFor(async () => (await count(server, `SELECT count(*) AS n FROM substrate_logs WHERE msg IN ('text.frame', 'binary.frame')`)) === 2, 'both frames stored');
      await node.close();
    });

    it('answers a plain GET on /audit with 426 and records nothing', async () => {
      const before = await count(server, 'SELECT count(*) AS n FROM peer_connections');
      const response = await fetch(server.httpUrl('/audit'));
      assert.equal(response.status, 426);
      assert.equal(await count(server, 'SELECT count(*) AS n FROM peer_connections'), before);
    });
  });
}
