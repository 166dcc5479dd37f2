// Query API, benchmarks: /host_systems, /benchmarks (README and {setup} formats), /benchmarks/events,
// /benchmarks/{id}/events, /benchmarks/{id}/targets, over real HTTP against both databases.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { api, connectedV1, count, ingest, INJECTIONS, post, TIME_RE, tsAt, v1 } from '../helpers/api-support.js';

const HOST = { cpu_clock: 2600, cpu_qty: 4, description: 'Any notes to go here', disk_info: 'NVME', os: 'freebsd', ram_mb: 8192 };
const BENCHMARK_KEYS = ['id', 'setup', 'created_at', 'description', 'host_system_id', 'ts_start', 'ts_end', 'chain_spec', 'benchmark_spec'];

for (const backend of BACKENDS) {
  describe(`query API: benchmarks (${backend.name})`, () => {
    let server: TestServer;
    let hostId: number;
    before(async () => {
      server = await startTestServer(backend);
    });
    after(() => server.dispose());

    describe('/host_systems', () => {
      it('POST creates a host system in the README format and returns it with its id; GET lists them', async () => {
        const created = await post(server, '/host_systems', HOST);
        assert.equal(created.status, 200);
        assert.deepEqual(Object.keys(created.body), ['id', 'description', 'os', 'cpu_qty', 'cpu_clock', 'ram_mb', 'disk_info']);
        assert.deepEqual({ ...created.body, id: undefined }, { ...HOST, id: undefined });
        assert.ok(Number.isInteger(created.body.id));
        hostId = created.body.id;
        const second = await post(server, '/host_systems/', { ...HOST, os: 'linux' });
        const listed = await api(server, '/host_systems');
        assert.equal(listed.status, 200);
        assert.deepEqual(listed.body, [created.body, second.body]);
      });

      it('answers 400 naming the field for a missing or mistyped field, and stores nothing', async () => {
        const before = await count(server, 'SELECT count(*) AS n FROM host_systems');
        const { os: _os, ...withoutOs } = HOST;
        const missing = await post(server, '/host_systems', withoutOs);
        assert.equal(missing.status, 400);
        assert.equal(missing.body.code, 'INVALID_BODY');
        assert.equal(missing.body.parameter, 'os');
        assert.match(missing.body.message, /os is required/);
        for (const [field, value] of [['cpu_qty', '4'], ['cpu_qty', 4.5], ['ram_mb', -1], ['cpu_clock', null], ['description', 7], ['disk_info', 'a\u0000b']] as const) {
          const r = await post(server, '/host_systems', { ...HOST, [field]: value });
          assert.equal(r.status, 400, `${field}=${JSON.stringify(value)}`);
          assert.equal(r.body.parameter, field);
          assert.equal(typeof r.body.expected, 'string');
        }
        assert.equal(await count(server, 'SELECT count(*) AS n FROM host_systems'), before);
      });
    });

    describe('/benchmarks', () => {
      const BENCH_PEER = '12D3KooWBenchBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
      let readmeId: number;
      let setupId: number;

      it('POST accepts the README format and returns the object with its new id', async () => {
        const body = {
          benchmark_spec: { tdb: 'tbd' },
          chain_spec: { name: 'Development', etc: 'more chain spec stuff' },
          description: 'notes',
          host_system_id: hostId,
          ts_end: '2019-10-28T14:05:27.618903',
          ts_start: '1970-01-01T00:00:01',
        };
        const created = await post(server, '/benchmarks', body);
        assert.equal(created.status, 200, created.text);
        assert.deepEqual(Object.keys(created.body), BENCHMARK_KEYS);
        assert.ok(Number.isInteger(created.body.id));
        assert.deepEqual(
          { ...created.body, id: undefined, created_at: undefined },
          { ...body, setup: {}, ts_end: '2019-10-28T14:05:27.618903', ts_start: '1970-01-01T00:00:01', id: undefined, created_at: undefined },
        );
        assert.match(created.body.created_at, TIME_RE);
        readmeId = created.body.id;
        // An offset is converted to UTC.
        const offset = await post(server, '/benchmarks', { ...body, ts_start: '2020-01-01T02:00:00+02:00' });
        assert.equal(offset.body.ts_start, '2020-01-01T00:00:00');
      });

      it('POST accepts the reference code’s {setup} format', async () => {
        const setup = { substrate: { peerId: BENCH_PEER, name: 'bench' }, runs: [1, 2, 3] };
        const created = await post(server, '/benchmarks', { setup });
        assert.equal(created.status, 200, created.text);
        assert.deepEqual(Object.keys(created.body), BENCHMARK_KEYS);
        assert.deepEqual(created.body.setup, setup);
        assert.equal(created.body.description, null);
        assert.equal(created.body.host_system_id, null);
        setupId = created.body.id;
        const listed = await api(server, '/benchmarks');
        assert.equal(listed.status, 200);
        assert.equal(listed.body[0].id, setupId, 'newest first');
        assert.equal(listed.body[1].id, readmeId + 1);
        assert.ok(listed.body.some((b: { id: number }) => b.id === readmeId));
        const big = await post(server, '/benchmarks', '{"setup": {"n": 12345678901234567890}}');
        assert.ok(big.text.includes('12345678901234567890'), 'JSON documents are returned exactly as stored');
        assert.ok((await api(server, '/benchmarks')).text.includes('12345678901234567890'));
      });

      it('POST answers 400 naming the field: unknown host_system_id, bad time, missing fields', async () => {
        const before = await count(server, 'SELECT count(*) AS n FROM benchmarks');
        const good = { benchmark_spec: {}, chain_spec: {}, description: 'd', host_system_id: hostId, ts_start: '2020-01-01T00:00:00', ts_end: '2020-01-01T00:01:00' };
        const unknownHost = await post(server, '/benchmarks', { ...good, host_system_id: 999_999 });
        assert.equal(unknownHost.status, 400);
        assert.equal(unknownHost.body.parameter, 'host_system_id');
        assert.match(unknownHost.body.message, /existing host system/);
        const badTime = await post(server, '/benchmarks', { ...good, ts_end: '2020-01-01 25:00' });
        assert.equal(badTime.status, 400);
        assert.equal(badTime.body.parameter, 'ts_end');
        const { chain_spec: _c, ...noChainSpec } = good;
        const missing = await post(server, '/benchmarks', noChainSpec);
        assert.equal(missing.status, 400);
        assert.equal(missing.body.parameter, 'chain_spec');
        const empty = await post(server, '/benchmarks', {});
        assert.equal(empty.status, 400);
        assert.equal(empty.body.parameter, 'setup');
        assert.match(empty.body.message, /accepted formats/);
        const notObject = await post(server, '/benchmarks', [1, 2]);
        assert.equal(notObject.status, 400);
        assert.equal(await count(server, 'SELECT count(*) AS n FROM benchmarks'), before);
      });

      it('POST answers 400 for malformed JSON, 415 for another content type, 413 over 1 MiB', async () => {
        const malformed = await post(server, '/benchmarks', '{"setup": ', { 'content-type': 'application/json' });
        assert.equal(malformed.status, 400);
        assert.equal(malformed.body.code, 'INVALID_BODY');
        assert.equal(malformed.body.parameter, 'body');
        const text = await post(server, '/benchmarks', 'setup=1', { 'content-type': 'text/plain' });
        assert.equal(text.status, 415);
        assert.equal(text.body.code, 'UNSUPPORTED_MEDIA_TYPE');
        const big = await post(server, '/benchmarks', { setup: { blob: 'x'.repeat(1024 * 1024 + 10) } });
        assert.equal(big.status, 413);
        assert.equal(big.body.code, 'BODY_TOO_LARGE');
        const nul = await post(server, '/benchmarks', '{"setup": {"a": "x\\u0000y"}}');
        assert.equal(nul.status, 400, 'a JSON string PostgreSQL cannot store is bad input, not a 500');
      });

      it('stores SQL in text fields as plain text', async () => {
        const before = await count(server, 'SELECT count(*) AS n FROM benchmarks');
        for (const attempt of INJECTIONS) {
          const r = await post(server, '/benchmarks', { benchmark_spec: attempt, chain_spec: {}, description: attempt, host_system_id: hostId, ts_start: '2020-01-01T00:00:00', ts_end: '2020-01-01T00:00:01' });
          assert.equal(r.status, 200);
          assert.equal(r.body.description, attempt);
          const h = await post(server, '/host_systems', { ...HOST, os: attempt });
          assert.equal(h.body.os, attempt);
        }
        assert.equal(await count(server, 'SELECT count(*) AS n FROM benchmarks'), before + INJECTIONS.length);
        assert.ok((await count(server, 'SELECT count(*) AS n FROM substrate_logs')) >= 0, 'substrate_logs still exists');
      });

      it('GET /benchmarks/example returns a README-format example', async () => {
        const r = await api(server, '/benchmarks/example');
        assert.equal(r.status, 200);
        assert.deepEqual(Object.keys(r.body).sort(), ['benchmark_spec', 'chain_spec', 'description', 'host_system_id', 'ts_end', 'ts_start']);
      });

      it('POST /benchmarks/events records events; GET /benchmarks/{id}/events lists them by name', async () => {
        const b = await post(server, '/benchmarks/events', { benchmark_id: setupId, name: 'transfer', phase: 'start', created_at: '2021-06-23T10:00:00.5' });
        assert.equal(b.status, 200, b.text);
        assert.deepEqual(Object.keys(b.body), ['id', 'benchmark_id', 'name', 'phase', 'created_at']);
        assert.deepEqual({ ...b.body, id: undefined }, { id: undefined, benchmark_id: setupId, name: 'transfer', phase: 'start', created_at: '2021-06-23T10:00:00.500' });
        const end = await post(server, '/benchmarks/events', { benchmark_id: setupId, name: 'transfer', phase: 'end', created_at: '2021-06-23T10:01:00Z' });
        const a = await post(server, '/benchmarks/events', { benchmark_id: setupId, name: 'import', phase: 'start' });
        assert.equal(a.status, 200);
        assert.match(a.body.created_at, TIME_RE, 'created_at defaults to now');
        const listed = await api(server, `/benchmarks/${setupId}/events`);
        assert.equal(listed.status, 200);
        assert.deepEqual(listed.body.map((e: { id: number }) => e.id), [a.body.id, b.body.id, end.body.id]);
        assert.deepEqual((await api(server, `/benchmarks/${readmeId}/events/`)).body, []);
      });

      it('events: 400 for an unknown benchmark or a missing field, 404 for an unknown id, 400 for a non-numeric id', async () => {
        const unknown = await post(server, '/benchmarks/events', { benchmark_id: 999_999, name: 'x', phase: 'start' });
        assert.equal(unknown.status, 400);
        assert.equal(unknown.body.parameter, 'benchmark_id');
        const missing = await post(server, '/benchmarks/events', { benchmark_id: setupId, phase: 'start' });
        assert.equal(missing.status, 400);
        assert.equal(missing.body.parameter, 'name');
        const badTime = await post(server, '/benchmarks/events', { benchmark_id: setupId, name: 'x', phase: 'start', created_at: '10:00' });
        assert.equal(badTime.body.parameter, 'created_at');
        const notFound = await api(server, '/benchmarks/999999/events');
        assert.equal(notFound.status, 404);
        assert.equal(notFound.body.code, 'NOT_FOUND');
        assert.equal(notFound.body.parameter, 'benchmark_id');
        const nonNumeric = await api(server, '/benchmarks/abc/events');
        assert.equal(nonNumeric.status, 400);
        assert.equal(nonNumeric.body.parameter, 'benchmark_id');
        assert.equal((await api(server, `/benchmarks/${encodeURIComponent("1 OR 1=1")}/events`)).status, 400);
      });

      it('GET /benchmarks/{id}/targets: distinct targets in the messages of the benchmarked node', async () => {
        const node = await ingest(server, '/', BENCH_PEER, [
          connectedV1(BENCH_PEER, tsAt()),
          v1('tracing.profiling', tsAt(), { target: 'pallet_balances', name: 'transfer', time: 10 }),
          v1('tracing.profiling', tsAt(), { target: 'pallet_babe', name: 'on_initialize', time: 20 }),
          v1('tracing.profiling', tsAt(), { target: 'pallet_balances', name: 'transfer', time: 30 }),
          v1('block.import', tsAt(), { height: 1 }),
        ]);
        await node.close();
        const r = await api(server, `/benchmarks/${setupId}/targets`);
        assert.equal(r.status, 200);
        assert.deepEqual(r.body, [{ target: 'pallet_babe' }, { target: 'pallet_balances' }]);
        assert.deepEqual((await api(server, `/benchmarks/${readmeId}/targets`)).body, [], 'no peer id in a README-format benchmark');
        for (const attempt of INJECTIONS) {
          const b = await post(server, '/benchmarks', { setup: { substrate: { peerId: attempt } } });
          assert.deepEqual((await api(server, `/benchmarks/${b.body.id}/targets`)).body, [], attempt);
          const e = await post(server, '/benchmarks/events', { benchmark_id: b.body.id, name: attempt, phase: attempt });
          assert.equal(e.status, 200);
          assert.deepEqual([e.body.name, e.body.phase], [attempt, attempt]);
          assert.deepEqual((await api(server, `/benchmarks/${b.body.id}/events`)).body, [e.body]);
        }
        assert.deepEqual((await api(server, `/benchmarks/${setupId}/targets`)).body, [{ target: 'pallet_babe' }, { target: 'pallet_balances' }], 'data intact');
        assert.equal((await api(server, '/benchmarks/999999/targets')).status, 404);
      });
    });
  });
}
