// Query API, nodes: GET /nodes, /nodes/log_stats, /nodes/logs over real HTTP, against PostgreSQL and the
// embedded database, with every message ingested through the websocket.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { v2SessionFrames } from '../helpers/fixtures.js';
import { api, connectedV1, count, ingest, INJECTIONS, query, TIME_RE, tsAt, v1 } from '../helpers/api-support.js';

const NODE_KEYS = ['id', 'ip_addr', 'peer_id', 'created_at', 'audit', 'name', 'chain', 'version', 'authority', 'startup_time', 'implementation', 'connected', 'last_seen'];

for (const backend of BACKENDS) {
  describe(`query API: nodes (${backend.name})`, () => {
    let server: TestServer;
    before(async () => {
      // The longest liveness period: a last_seen a test sets is read back long before a refresh.
      server = await startTestServer(backend, { LIVENESS_INTERVAL_S: '20' });
    });
    after(() => server.dispose());

    describe('GET /nodes', () => {
      const A = '12D3KooWNodesAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
      const D = '12D3KooWNodesDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD';
      const v2Peer = JSON.parse(v2SessionFrames()[0]).payload.network_id as string;

      it('lists one entry per node (its latest connection) with liveness; nameless connections are listed one by one', async () => {
        const a = await ingest(server, '/', A, [connectedV1(A, tsAt(), { chain: 'Chain A', name: 'alpha' }), v1('txpool.import', tsAt(), { ready: 1 })]);
        const b = await ingest(server, '/audit', v2Peer, v2SessionFrames());
        const anon1 = await ingest(server, '/', null, [v1('txpool.import', tsAt(), { ready: 2 })]);
        const anon2 = await ingest(server, '/', null, [v1('txpool.import', tsAt(), { ready: 3 })]);
        await waitFor(async () => (await count(server, `SELECT count(*) AS n FROM substrate_logs s JOIN peer_connections pc ON pc.id = s.peer_connection_id WHERE pc.peer_id IS NULL`)) >= 2, 'anonymous rows');

        const { status, body } = await api(server, '/nodes');
        assert.equal(status, 200);
        for (const node of body) assert.deepEqual(Object.keys(node), NODE_KEYS);
        const named = body.filter((n: { peer_id: string | null }) => n.peer_id !== null);
        const anonymous = body.filter((n: { peer_id: string | null }) => n.peer_id === null);
        assert.deepEqual(
          named.map((n: { peer_id: string }) => n.peer_id),
          [A, v2Peer].sort(),
        );
        assert.ok(anonymous.length >= 2, 'each nameless connection is its own entry (not collapsed)');
        assert.equal(new Set(anonymous.map((n: { id: number }) => n.id)).size, anonymous.length);
        assert.deepEqual(body.slice(named.length), anonymous, 'nameless connections come last');

        const alpha = named.find((n: { peer_id: string }) => n.peer_id === A);
        assert.equal(alpha.name, 'alpha');
        assert.equal(alpha.chain, 'Chain A');
        assert.equal(alpha.audit, false);
        assert.equal(alpha.connected, true);
        assert.match(alpha.created_at, TIME_RE);
        assert.match(alpha.last_seen, TIME_RE);
        assert.match(alpha.ip_addr, /^127\.0\.0\.1:\d+$/);
        const validator = named.find((n: { peer_id: string }) => n.peer_id === v2Peer);
        const identity = JSON.parse(v2SessionFrames()[0]).payload;
        assert.deepEqual(
          { name: validator.name, chain: validator.chain, version: validator.version, authority: validator.authority, startup_time: validator.startup_time, implementation: validator.implementation, audit: validator.audit },
          { name: identity.name, chain: identity.chain, version: identity.version, authority: identity.authority, startup_time: Number(identity.startup_time), implementation: identity.implementation, audit: true },
        );

        await b.close();
        await waitFor(async () => (await api(server, '/nodes')).body.find((n: { peer_id: string }) => n.peer_id === v2Peer).connected === false, 'closed node shown disconnected');
        const closed = (await api(server, '/nodes')).body.find((n: { peer_id: string }) => n.peer_id === v2Peer);
        assert.match(closed.last_seen, TIME_RE, 'a closed node keeps the time it was last seen');
        await Promise.all([a.close(), anon1.close(), anon2.close()]);
      });

      it('filters by ?chain= and ?audit=', async () => {
        const byChain = await api(server, `/nodes?${query({ chain: 'Chain A' })}`);
        assert.equal(byChain.status, 200);
        assert.deepEqual(byChain.body.map((n: { peer_id: string }) => n.peer_id), [A]);
        const audit = await api(server, '/nodes?audit=true');
        assert.deepEqual(audit.body.map((n: { peer_id: string }) => n.peer_id), [v2Peer]);
        const expiring = await api(server, '/nodes?audit=false');
        assert.ok(expiring.body.every((n: { audit: boolean }) => n.audit === false));
        assert.ok(expiring.body.some((n: { peer_id: string }) => n.peer_id === A));
        assert.ok(!expiring.body.some((n: { peer_id: string }) => n.peer_id === v2Peer));
        assert.deepEqual((await api(server, `/nodes?${query({ chain: 'Chain A', audit: true })}`)).body, []);
        assert.deepEqual((await api(server, `/nodes?${query({ chain: 'No Such Chain' })}`)).body, []);
      });

      it('shows the latest connection, and the node connected while any of its connections is', async () => {
        const first = await ingest(server, '/', D, [connectedV1(D, tsAt(), { chain: 'Chain D' })]);
        const second = await ingest(server, '/audit', D, [connectedV1(D, tsAt(), { chain: 'Chain D' })]);
        const rows = (await server.db.query<{ id: number }>(`SELECT id FROM peer_connections WHERE peer_id = $1 ORDER BY id`, [D])).rows;
        assert.equal(rows.length, 2);
        await second.close();
        await waitFor(async () => (await count(server, `SELECT count(*) AS n FROM peer_connections WHERE id = $1 AND disconnected_at IS NOT NULL`, [rows[1].id])) === 1, 'second connection closed');
        const node = (await api(server, '/nodes')).body.find((n: { peer_id: string }) => n.peer_id === D);
        assert.equal(node.id, rows[1].id, 'the latest connection row');
        assert.equal(node.audit, true);
        assert.equal(node.connected, true, 'the first connection is still open');
        await first.close();
        await waitFor(async () => (await api(server, '/nodes')).body.find((n: { peer_id: string }) => n.peer_id === D).connected === false, 'disconnected once both are closed');
      });

      it('stops showing a node connected within a minute when the server holding it stops refreshing it (server died)', async () => {
        const E = '12D3KooWNodesEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE';
        const node = await ingest(server, '/', E, [connectedV1(E, tsAt())]);
        const entry = async () => (await api(server, '/nodes')).body.find((n: { peer_id: string }) => n.peer_id === E);
        assert.equal((await entry()).connected, true);
        // What a dead server leaves behind: disconnected_at never set, last_seen no longer refreshed.
        await server.db.query(`UPDATE peer_connections SET last_seen = (now() AT TIME ZONE 'utc') - interval '61 seconds' WHERE peer_id = $1`, [E]);
        const stale = await entry();
        assert.equal(stale.connected, false);
        assert.match(stale.last_seen, TIME_RE);
        await server.db.query(`UPDATE peer_connections SET last_seen = (now() AT TIME ZONE 'utc') - interval '50 seconds' WHERE peer_id = $1`, [E]);
        assert.equal((await entry()).connected, true, 'refreshed within the minute: still connected');
        await node.close();
      });

      it('answers 400 naming the parameter for a bad filter', async () => {
        const bad = await api(server, '/nodes?audit=maybe');
        assert.equal(bad.status, 400);
        assert.equal(bad.body.code, 'INVALID_PARAMETER');
        assert.equal(bad.body.parameter, 'audit');
        assert.equal(bad.body.expected, 'true or false');
        assert.match(bad.body.message, /audit: expected true or false, got "maybe"/);
        const empty = await api(server, '/nodes?chain=');
        assert.equal(empty.status, 400);
        assert.equal(empty.body.parameter, 'chain');
      });

      it('treats SQL in ?chain= as a plain value', async () => {
        const before = await count(server, 'SELECT count(*) AS n FROM peer_connections');
        for (const attempt of INJECTIONS) {
          const r = await api(server, `/nodes?${query({ chain: attempt })}`);
          assert.equal(r.status, 200);
          assert.deepEqual(r.body, [], attempt);
        }
        assert.equal(await count(server, 'SELECT count(*) AS n FROM peer_connections'), before);
      });
    });

    describe('GET /nodes/log_stats', () => {
      const S = '12D3KooWStatsSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSS';

      it('counts the messages of each type over all connections of the node, ordered by type', async () => {
        const one = await ingest(server, '/', S, [connectedV1(S, tsAt()), v1('block.import', tsAt(), { height: 1 }), v1('block.import', tsAt(), { height: 2 }), v1(null, tsAt(), { note: 'no msg' })]);
        await one.close();
        const two = await ingest(server, '/audit', S, [connectedV1(S, tsAt()), v1('block.import', tsAt(), { height: 3 }), v1('txpool.import', tsAt(), { ready: 1 })]);
        const { status, body } = await api(server, `/nodes/log_stats?${query({ peer_id: S })}`);
        assert.equal(status, 200);
        assert.deepEqual(body, [
          { qty: 3, log_type: 'block.import' },
          { qty: 2, log_type: 'system.connected' },
          { qty: 1, log_type: 'txpool.import' },
          { qty: 1, log_type: null },
        ]);
        await two.close();
      });

      it('gives [] for an unknown node and for SQL in peer_id; 400 without peer_id', async () => {
        assert.deepEqual((await api(server, '/nodes/log_stats?peer_id=nobody')).body, []);
        const before = await count(server, 'SELECT count(*) AS n FROM substrate_logs');
        for (const attempt of INJECTIONS) {
          const r = await api(server, `/nodes/log_stats?${query({ peer_id: attempt })}`);
          assert.equal(r.status, 200);
          assert.deepEqual(r.body, [], attempt);
        }
        assert.equal(await count(server, 'SELECT count(*) AS n FROM substrate_logs'), before);
        const missing = await api(server, '/nodes/log_stats');
        assert.equal(missing.status, 400);
        assert.equal(missing.body.parameter, 'peer_id');
        assert.match(missing.body.message, /peer_id is required/);
      });
    });

    describe('GET /nodes/logs', () => {
      const L = '12D3KooWLogsLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL';
      // Distinct, known times (UTC), oldest first.
      const t = (second: number, fraction = '') => `2021-06-23T10:00:${String(second).padStart(2, '0')}${fraction}+00:00`;
      const frames = [
        connectedV1(L, t(0)),
        v1('block.import', t(1, '.5'), { height: 1, best: '0x01' }),
        v1('tracing.profiling', t(2, '.123456'), { target: 'pallet_babe', name: 'on_initialize', time: 1000 }),
        `{"msg":"block.import","height":9007199254740993,"best":"0x03","ts":"${t(3)}"}`, // written by hand: a JS number would round it
        v1('tracing.profiling', t(4, '.25'), { target: 'pallet_balances', name: 'transfer', time: 2000 }),
        v1('tracing.profiling', t(5, '.000001'), { target: 'pallet_babe', name: 'on_finalize', time: 3000 }),
        v1(null, t(6), { target: 'pallet_babe', note: 'no msg' }),
        v1('block.import', tsAt(300_000), { height: 7, best: '0x07' }), // 5 minutes ahead (within MAX_FUTURE_SKEW_S): after the default end_time
      ];
      const path = (params: Record<string, string | number>) => `/nodes/logs?${query({ peer_id: L, ...params })}`;
      const msgsOf = (body: Array<{ msg: string | null }>) => body.map((r) => r.msg);

      before(async () => {
        const node = await ingest(server, '/', L, frames);
        await node.close();
      });

      it('returns the newest messages first, with the reference fields, up to now by default', async () => {
        const { status, body, text } = await api(server, path({}));
        assert.equal(status, 200);
        assert.equal(body.length, 7, 'the future message is after the default end_time (now)');
        for (const row of body) assert.deepEqual(Object.keys(row), ['ip_addr', 'peer_id', 'msg', 'created_at', 'logs']);
        assert.deepEqual(
          body.map((r: { created_at: string }) => r.created_at),
          ['2021-06-23T10:00:06', '2021-06-23T10:00:05.000001', '2021-06-23T10:00:04.250', '2021-06-23T10:00:03', '2021-06-23T10:00:02.123456', '2021-06-23T10:00:01.500', '2021-06-23T10:00:00'],
        );
        assert.deepEqual(msgsOf(body), [null, 'tracing.profiling', 'tracing.profiling', 'block.import', 'tracing.profiling', 'block.import', 'system.connected']);
        assert.equal(body[0].peer_id, L);
        assert.match(body[0].ip_addr, /^127\.0\.0\.1:\d+$/);
        assert.deepEqual(body[5].logs, JSON.parse(frames[1]), 'logs is the stored message');
        assert.ok(text.includes('9007199254740993'), 'integers above 2^53 are returned exactly');
      });

      it('limits the rows (default 100, at most 10000, else 400 saying the maximum)', async () => {
        assert.deepEqual(msgsOf((await api(server, path({ limit: 2 }))).body), [null, 'tracing.profiling']);
        const tooMany = await api(server, path({ limit: 10_001 }));
        assert.equal(tooMany.status, 400);
        assert.equal(tooMany.body.parameter, 'limit');
        assert.match(tooMany.body.message, /from 1 to 10000/);
        assert.equal((await api(server, path({ limit: 10_000 }))).status, 200);
        for (const bad of ['abc', '0', '-5', '1.5', '']) {
          const r = await api(server, path({ limit: bad }));
          assert.equal(r.status, 400, `limit=${bad}`);
          assert.equal(r.body.parameter, 'limit');
        }
        const twice = await api(server, `${path({ limit: 1 })}&limit=2`);
        assert.equal(twice.status, 400);
        assert.match(twice.body.message, /given once/);
      });

      it('filters by msg, by target (with or without msg), and by exclusive start_time/end_time', async () => {
        assert.deepEqual((await api(server, path({ msg: 'block.import' }))).body.map((r: { logs: { best: string } }) => r.logs.best), ['0x03', '0x01']);
        const babe = await api(server, path({ target: 'pallet_babe' }));
        assert.deepEqual(msgsOf(babe.body), [null, 'tracing.profiling', 'tracing.profiling'], 'target works without msg');
        const babeProfiling = await api(server, path({ msg: 'tracing.profiling', target: 'pallet_babe' }));
        assert.deepEqual(babeProfiling.body.map((r: { logs: { name: string } }) => r.logs.name), ['on_finalize', 'on_initialize']);
        // Exclusive bounds: the messages at exactly 10:00:01.5 and 10:00:05.000001 are left out.
        const window = await api(server, path({ start_time: '2021-06-23T10:00:01.5', end_time: '2021-06-23T10:00:05.000001' }));
        assert.deepEqual(window.body.map((r: { created_at: string }) => r.created_at), ['2021-06-23T10:00:04.250', '2021-06-23T10:00:03', '2021-06-23T10:00:02.123456']);
        // RFC 3339 with an offset is the same instant.
        const offset = await api(server, path({ start_time: '2021-06-23T12:00:01.5+02:00', end_time: '2021-06-23T10:00:05.000001Z' }));
        assert.deepEqual(offset.body, window.body);
        const future = await api(server, path({ end_time: tsAt(7_200_000) }));
        assert.equal(future.body.length, 8, 'an explicit end_time reaches the future message');
        assert.equal((await api(server, path({ msg: 'block.import', start_time: '2021-06-23T10:00:02' }))).body.length, 1);
      });

      it('returns 100 messages when no limit is given', async () => {
        const H = '12D3KooWLogsHundredHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHH';
        const many = Array.from({ length: 110 }, (_, i) => v1('txpool.import', `2021-06-23T11:00:00.${String(i).padStart(3, '0')}+00:00`, { ready: i }));
        const node = await ingest(server, '/', H, [connectedV1(H, t(0)), ...many]);
        await node.close();
        const { body } = await api(server, `/nodes/logs?${query({ peer_id: H })}`);
        assert.equal(body.length, 100);
        assert.equal(body[0].logs.ready, 109);
        assert.equal(body[99].logs.ready, 10);
      });

      it('merges the messages of every connection of the node by time', async () => {
        const M = '12D3KooWLogsMergeMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM';
        const first = await ingest(server, '/', M, [connectedV1(M, t(10)), v1('block.import', t(12), { height: 12 }), v1('block.import', t(14), { height: 14 })]);
        const second = await ingest(server, '/audit', M, [connectedV1(M, t(11)), v1('block.import', t(13), { height: 13 }), v1('block.import', t(15), { height: 15 })]);
        const { body } = await api(server, `/nodes/logs?${query({ peer_id: M, msg: 'block.import', limit: 3 })}`);
        assert.deepEqual(body.map((r: { logs: { height: number } }) => r.logs.height), [15, 14, 13]);
        const all = await api(server, `/nodes/logs?${query({ peer_id: M, limit: 4 })}`);
        assert.deepEqual(all.body.map((r: { created_at: string }) => r.created_at.slice(17)), ['15', '14', '13', '12']);
        await Promise.all([first.close(), second.close()]);
      });

      it('returns V2 (Tetcore) messages unwrapped', async () => {
        const frames2 = v2SessionFrames();
        const peer = JSON.parse(frames2[0]).payload.network_id as string;
        const { body } = await api(server, `/nodes/logs?${query({ peer_id: peer, msg: 'system.interval', end_time: tsAt(1000) })}`);
        assert.equal(body.length, 3);
        for (const row of body) {
          assert.equal(row.logs.msg, 'system.interval');
          assert.equal(row.logs.payload, undefined);
          assert.equal(row.created_at, row.logs.ts.slice(0, 26), 'created_at is the envelope ts to the microsecond');
        }
      });

      it('answers 400 naming the parameter for a missing peer_id, a malformed time or an empty window', async () => {
        const missing = await api(server, '/nodes/logs?limit=5');
        assert.equal(missing.status, 400);
        assert.equal(missing.body.parameter, 'peer_id');
        for (const bad of ['2021-13-01T00:00:00', '2021-02-30T00:00:00', 'yesterday', '2021-06-23', '2021-06-23T10:00:00+25:00', '1624442400']) {
          const r = await api(server, path({ start_time: bad }));
          assert.equal(r.status, 400, bad);
          assert.equal(r.body.parameter, 'start_time');
          assert.match(r.body.expected, /2019-01-01T00:00:00/);
        }
        const endBad = await api(server, path({ end_time: 'now' }));
        assert.equal(endBad.body.parameter, 'end_time');
        const empty = await api(server, path({ start_time: '2021-06-23T10:00:05', end_time: '2021-06-23T10:00:05' }));
        assert.equal(empty.status, 400);
        assert.equal(empty.body.parameter, 'start_time');
        const nul = await api(server, path({ msg: 'block\u0000import' }));
        assert.equal(nul.status, 400);
        assert.equal(nul.body.parameter, 'msg');
      });

      it('treats SQL in peer_id, msg and target as plain values', async () => {
        const before = await count(server, 'SELECT count(*) AS n FROM substrate_logs');
        for (const attempt of INJECTIONS) {
          for (const params of <Array<Record<string, string>>>[{ peer_id: attempt }, { peer_id: L, msg: attempt }, { peer_id: L, target: attempt }, { peer_id: L, msg: 'block.import', target: attempt }]) {
            const r = await api(server, `/nodes/logs?${query(params)}`);
            assert.equal(r.status, 200, JSON.stringify(params));
            assert.deepEqual(r.body, [], JSON.stringify(params));
          }
        }
        assert.equal(await count(server, 'SELECT count(*) AS n FROM substrate_logs'), before);
        assert.equal((await api(server, path({}))).body.length, 7, 'the data is intact');
      });
    });
  });
}
