// Large responses (hardening item 5), on both databases over real HTTP: list answers stop at
// API_MAX_RESPONSE_BYTES and at `limit`, and carry a continuation cursor (X-Next-Cursor, Link rel="next")
// through which a client reads every row exactly once; /nodes and the benchmark lists are paginated; a
// bad `limit` or `cursor` is a 400 naming it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import net from 'node:net';
import { api, connectedV1, ingest, post, tsAt, v1, type ApiResponse } from '../helpers/api-support.js';

const PAGE_BYTES = 1_048_576;

/** Follows Link: rel="next" from `path`; returns every page. */
async function allPages<T = any>(server: TestServer, path: string): Promise<Array<ApiResponse<T[]>>> {
  const pages: Array<ApiResponse<T[]>> = [];
  let next: string | null = path;
  while (next !== null) {
    const page: ApiResponse<T[]> = await api<T[]>(server, next);
    assert.equal(page.status, 200, `${next}: ${page.text.slice(0, 200)}`);
    pages.push(page);
    const link = page.headers.get('link');
    const cursor = page.headers.get('x-next-cursor');
    assert.equal(link === null, cursor === null, 'Link and X-Next-Cursor come together');
    next = link === null ? null : (/^<([^>]+)>; rel="next"$/.exec(link)?.[1] ?? assert.fail(`bad Link ${link}`));
    if (next !== null) assert.equal(new URL(next, 'http://x').searchParams.get('cursor'), cursor);
    assert.ok(pages.length < 1000, 'paging ends');
  }
  return pages;
}

const badRequest = async (server: TestServer, path: string, parameter: string) => {
  const r = await api(server, path);
  assert.equal(r.status, 400, `${path} → ${r.status}`);
  assert.equal(r.body.parameter, parameter, path);
  assert.ok(r.body.message.includes(parameter), r.body.message);
};

for (const backend of BACKENDS) {
  describe(`hardening 5: large responses (${backend.name})`, () => {
    const BIG = '12D3KooWPagingBigMessages';
    const FILLER = 'x'.repeat(100_000);
    let server: TestServer;
    before(async () => {
      server = await startTestServer(backend, { API_MAX_RESPONSE_BYTES: String(PAGE_BYTES) });
      // 45 messages of 100 KB (4.5 MB): 40 a second apart, then 5 with the very same time (ties).
      const frames = [connectedV1(BIG, tsAt(-3_600_000))];
      for (let i = 0; i < 40; i++) frames.push(v1('big.message', tsAt(-600_000 + i * 1000), { i, target: `t${i % 5}`, filler: FILLER }));
      const same = tsAt(-10_000);
      for (let i = 40; i < 45; i++) frames.push(v1('big.message', same, { i, target: `t${i % 5}`, filler: FILLER }));
      const node = await ingest(server, '/', BIG, frames);
      await node.close();
    });
    after(() => server.dispose());

    it('hardening 5: /nodes/logs?limit=10000 stops at API_MAX_RESPONSE_BYTES, and X-Next-Cursor / Link lead through every message exactly once, newest first', async () => {
      const first = await api(server, `/nodes/logs?peer_id=${BIG}&msg=big.message&limit=10000`);
      assert.equal(first.status, 200);
      assert.ok(first.body.length >= 1 && first.body.length < 45, `${first.body.length} messages in the first page`);
      assert.ok(Buffer.byteLength(first.text) <= PAGE_BYTES + 101_000, `first page ${Buffer.byteLength(first.text)} bytes: the budget plus at most one message`);
      assert.ok(first.headers.get('x-next-cursor'), 'a cursor to the rest');

      const pages = await allPages(server, `/nodes/logs?peer_id=${BIG}&msg=big.message&limit=10000`);
      assert.ok(pages.length >= 5, `${pages.length} pages`);
      for (const page of pages) assert.ok(Buffer.byteLength(page.text) <= PAGE_BYTES + 101_000);
      const messages = pages.flatMap((p) => p.body) as Array<{ created_at: string; logs: { i: number } }>;
      assert.deepEqual(messages.map((m) => m.logs.i).sort((a, b) => a - b), Array.from({ length: 45 }, (_, i) => i), 'every message once');
      for (let k = 1; k < messages.length; k++) assert.ok(messages[k - 1].created_at >= messages[k].created_at, 'newest first across pages');
    });

    it('hardening 5: `limit` pages too: `limit` messages and a cursor while more match, none after the last', async () => {
      const pages = await allPages(server, `/nodes/logs?peer_id=${BIG}&limit=4`);
      // 45 messages and system.connected
      assert.deepEqual(pages.map((p) => p.body.length), [4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2]);
      assert.equal(pages.at(-1)?.headers.get('x-next-cursor'), null);
      const exact = await api(server, `/nodes/logs?peer_id=${BIG}&msg=system.connected&limit=1`);
      assert.equal(exact.body.length, 1);
      assert.equal(exact.headers.get('x-next-cursor'), null, 'no cursor when nothing more matches');
    });

    it('hardening 5: /nodes, /benchmarks, its events and targets are paginated, and every page joined is the whole list', async () => {
      const nodes = [];
      for (const suffix of ['A', 'B', 'C']) nodes.push(await ingest(server, '/', `12D3KooWPaging${suffix}`, [connectedV1(`12D3KooWPaging${suffix}`, tsAt())]));
      const nameless = async () => Number((await server.db.query<{ n: number }>('SELECT count(*) AS n FROM peer_connections WHERE peer_id IS NULL')).rows[0].n);
      const namelessBefore = await nameless();
      for (let i = 0; i < 3; i++) nodes.push(await ingest(server, '/', null, [v1('txpool.import', tsAt(), { ready: i })]));
      // A connection's row is written with its first stored message: wait for the three before listing.
      await waitFor(async () => (await nameless()) >= namelessBefore + 3, 'the rows of the three nameless connections');
      const whole = await api(server, '/nodes');
      assert.equal(whole.headers.get('x-next-cursor'), null);
      const paged = await allPages(server, '/nodes?limit=2');
      assert.ok(paged.length >= 3);
      assert.deepEqual(paged.flatMap((p) => p.body).map((n: any) => n.id), whole.body.map((n: any) => n.id));
      assert.ok(whole.body.filter((n: any) => n.peer_id === null).length >= 3, 'nameless connections paged after the named ones');
      await Promise.all(nodes.map((n) => n.close()));

      const ids = [];
      for (let i = 0; i < 5; i++) ids.push((await post(server, '/benchmarks', { setup: { substrate: { peerId: BIG }, n: i } })).body.id);
      const benchmarks = await allPages(server, '/benchmarks?limit=2');
      assert.deepEqual(benchmarks.map((p) => p.body.length), [2, 2, 1]);
      assert.deepEqual(benchmarks.flatMap((p) => p.body).map((b: any) => b.id), [...ids].reverse());

      for (const [name, phase] of [['b', 'start'], ['a', 'start'], ['b', 'end'], ['a', 'end'], ['c', 'start']]) {
        assert.equal((await post(server, '/benchmarks/events', { benchmark_id: ids[0], name, phase })).status, 200);
      }
      const wholeEvents = await api(server, `/benchmarks/${ids[0]}/events`);
      const events = await allPages(server, `/benchmarks/${ids[0]}/events?limit=2`);
      assert.deepEqual(events.map((p) => p.body.length), [2, 2, 1]);
      assert.deepEqual(events.flatMap((p) => p.body), wholeEvents.body);

      const targets = await allPages(server, `/benchmarks/${ids[0]}/targets?limit=2`);
      assert.deepEqual(targets.flatMap((p) => p.body), ['t0', 't1', 't2', 't3', 't4'].map((target) => ({ target })));
      assert.deepEqual(targets.map((p) => p.body.length), [2, 2, 1]);
    });

    it('hardening 5: /benchmarks with large chain specs stays within API_MAX_RESPONSE_BYTES', async () => {
      const host = (await post(server, '/host_systems', { cpu_clock: 1, cpu_qty: 1, description: 'd', disk_info: 'd', os: 'o', ram_mb: 1 })).body.id;
      const spec = { blob: 'y'.repeat(400_000) };
      for (let i = 0; i < 4; i++) {
        const created = await post(server, '/benchmarks', { benchmark_spec: { i }, chain_spec: spec, description: `big ${i}`, host_system_id: host, ts_start: '2021-01-01T00:00:00', ts_end: '2021-01-01T01:00:00' });
        assert.equal(created.status, 200);
      }
      const first = await api(server, '/benchmarks');
      assert.ok(Buffer.byteLength(first.text) <= PAGE_BYTES + 401_000, `${Buffer.byteLength(first.text)} bytes`);
      assert.ok(first.headers.get('x-next-cursor'));
      const all = (await allPages(server, '/benchmarks')).flatMap((p) => p.body);
      assert.equal(all.filter((b: any) => typeof b.description === 'string' && b.description.startsWith('big ')).length, 4);
    });

    it('hardening 5: a bad `limit` or `cursor` is a 400 naming it', async () => {
      await badRequest(server, '/nodes?limit=0', 'limit');
      await badRequest(server, '/nodes?limit=10001', 'limit');
      await badRequest(server, '/benchmarks?limit=abc', 'limit');
      await badRequest(server, '/benchmarks/1/events?limit=-1', 'limit');
      await badRequest(server, '/benchmarks/1/targets?limit=1.5', 'limit');
      await badRequest(server, `/nodes/logs?peer_id=${BIG}&cursor=not%20a%20cursor!`, 'cursor');
      await badRequest(server, `/nodes/logs?peer_id=${BIG}&cursor=${Buffer.from('[1,2,3]').toString('base64url')}`, 'cursor');
      // A cursor of another route, or with a time the database would reject
      const nodesCursor = Buffer.from(JSON.stringify(['p', 'x'])).toString('base64url');
      await badRequest(server, `/benchmarks?cursor=${nodesCursor}`, 'cursor');
      await badRequest(server, `/nodes/logs?peer_id=${BIG}&cursor=${Buffer.from(JSON.stringify(['l', '2021-13-45 99:00:00', 1])).toString('base64url')}`, 'cursor');
      await badRequest(server, `/nodes?cursor=${Buffer.from(JSON.stringify(['a', -1])).toString('base64url')}`, 'cursor');
    });
  });

  describe(`hardening 5: answers held at once (${backend.name})`, () => {
    it('hardening 5: answers not yet taken by slow clients count against API_MAX_TOTAL_RESPONSE_BYTES; past it a 503 TOO_BUSY, and room again once they are gone', async () => {
      const server = await startTestServer(backend, { API_MAX_RESPONSE_BYTES: '16_777_216', API_MAX_TOTAL_RESPONSE_BYTES: '65_536' });
      const held = async () => (await server.metrics.apiAnswerBytes.get()).values[0]?.value ?? 0;
      let reader: net.Socket | null = null;
      try {
        // 12 MB of messages: more than the OS buffers of a local socket take from an answer nobody reads.
        const peer = '12D3KooWPagingSlowReader';
        const filler = 'x'.repeat(100_000);
        const frames = [connectedV1(peer, tsAt(-3_600_000))];
        for (let i = 0; i < 120; i++) frames.push(v1('big.message', tsAt(-600_000 + i * 1000), { i, filler }));
        const node = await ingest(server, '/', peer, frames);
        await node.close();
        reader = net.connect(server.port, '127.0.0.1');
        await new Promise((resolve) => reader!.once('connect', resolve));
        reader.pause(); // asks, never reads
        reader.write(`GET /nodes/logs?peer_id=${peer}&limit=10000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
        await waitFor(async () => (await held()) > 1_000_000, 'the large answer held, not yet taken');
        const refused = await api(server, '/nodes');
        assert.equal(refused.status, 503);
        assert.equal(refused.body.code, 'TOO_BUSY');
        assert.match(refused.body.message, /API_MAX_TOTAL_RESPONSE_BYTES=65536/);
        assert.equal(refused.headers.get('retry-after'), '1');
        assert.equal((await server.metrics.apiAnswersRefused.get()).values[0]?.value, 1);
        reader.destroy();
        await waitFor(async () => (await held()) === 0, 'the answer released once its client is gone');
        assert.equal((await api(server, '/nodes')).status, 200);
      } finally {
        reader?.destroy();
        await server.dispose();
      }
    });
  });
}
