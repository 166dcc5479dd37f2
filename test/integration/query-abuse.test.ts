// Query abuse: absurd limits and ranges, hostile strings, and 500 concurrent heavy queries while a node
// streams; request bodies nested too deep. Every answer is a result or a clear error within the time
// bounds, and ingestion goes on.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { connectNode } from '../helpers/fixtures.js';
import { MAX_JSON_DEPTH } from '../../src/json-depth.js';

const PEER = '12D3KooWQueryAbuse';
const STATEMENT_TIMEOUT_MS = 2000;

describe('query abuse', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(BACKENDS[0], { STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS), DB_POOL_SIZE: '4' });
    const node = await connectNode(server.url('/'));
    await node.send(`{"id":1,"payload":{"msg":"system.connected","name":"abuse","network_id":"${PEER}"},"ts":"2021-06-23T01:02:03+00:00"}`);
    const filler = JSON.stringify({ note: 'x'.repeat(400) }).slice(1, -1);
    for (let i = 0; i < 20; i++) {
      await node.send(...Array.from({ length: 1000 }, (_, j) => `{"id":1,"ts":"2021-06-23T01:${String(i).padStart(2, '0')}:03.${String(j).padStart(6, '0')}+00:00","payload":{${filler},"height":${i * 1000 + j},"msg":"block.import","target":"t"}}`));
    }
    await waitFor(async () => Number((await server.db.query<{ n: number }>('SELECT count(*) AS n FROM substrate_logs')).rows[0].n) === 20_001, '20,001 rows');
    await node.close();
  });
  after(() => server.dispose());

  const get = (path: string) => fetch(server.httpUrl(path));

  it('refuses a limit of 10 million with a 400 that names the maximum', async () => {
    const response = await get(`/nodes/logs?peer_id=${PEER}&limit=10000000`);
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.equal(body.parameter, 'limit');
    assert.match(body.message, /10000/);
  });

  it('answers a 50-year time range within the limit', async () => {
    const response = await get(`/nodes/logs?peer_id=${PEER}&start_time=1990-01-01T00:00:00&end_time=2040-01-01T00:00:00&limit=10000`);
    assert.equal(response.status, 200);
    assert.equal((await response.json()).length, 10_000);
  });

  for (const hostile of ['.*', '%', '_', "'; DROP TABLE substrate_logs; --", '🦀 ünïcödé', '\\', 'a'.repeat(600), '$1', '[a-z]+']) {
    it(`treats ${JSON.stringify(hostile.slice(0, 30))} as a plain value in every string parameter`, async () => {
      const q = encodeURIComponent(hostile);
      for (const path of [`/nodes/logs?peer_id=${q}`, `/nodes/logs?peer_id=${PEER}&msg=${q}`, `/nodes/logs?peer_id=${PEER}&target=${q}`, `/nodes/log_stats?peer_id=${q}`, `/nodes?chain=${q}`, `/reputation/${q}`]) {
        const response = await get(path);
        // 414: a path parameter over the router's length limit.
        assert.ok([200, 400, 414].includes(response.status), `${path} → ${response.status}`);
        const body = await response.json();
        if (response.status === 200) assert.deepEqual(body, [], path);
        else assert.ok(body.message, path);
      }
      assert.equal(Number((await server.db.query<{ n: number }>('SELECT count(*) AS n FROM substrate_logs')).rows[0].n) >= 20_001, true);
    });
  }

  it('500 concurrent heavy queries: each a result or a clear 503, while ingestion goes on', { timeout: 300_000 }, async () => {
    const node = await connectNode(server.url('/'));
    let sent = 0;
    const streaming = setInterval(() => void node.send(`{"id":1,"ts":"2021-06-23T02:00:00+00:00","payload":{"height":${900_000 + sent++},"msg":"during.flood"}}`), 20);
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 500 }, async (_, i) => {
        const t0 = Date.now();
        const response = await get(i % 2 === 0 ? `/nodes/log_stats?peer_id=${PEER}` : `/nodes/logs?peer_id=${PEER}&limit=200&target=t&start_time=1990-01-01T00:00:00`);
        const body = await response.json();
        return { status: response.status, code: body.code as string | undefined, retryAfter: response.headers.get('retry-after'), ms: Date.now() - t0 };
      }),
    );
    clearInterval(streaming);
    const byStatus = new Map<number, number>();
    for (const a of answers) byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
    for (const a of answers) {
      assert.ok(a.status === 200 || a.status === 503, `status ${a.status}`);
      // QUERY_OVERLOADED: refused by the admission control (QUERY_QUEUE_MAX, QUERY_QUEUE_WAIT_MS) before reaching the database.
      if (a.status === 503) assert.ok(['DB_UNAVAILABLE', 'QUERY_TIMEOUT', 'QUERY_OVERLOADED'].includes(String(a.code)) && a.retryAfter !== null, `code ${a.code}, Retry-After ${a.retryAfter}`);
    }
    // How long the answers took is printed below and measured by `npm run bench:query-flood`; a time bound
    // here would fail on a loaded machine without saying anything about the server.
    await waitFor(async () => Number((await server.db.query<{ n: number }>(`SELECT count(*) AS n FROM substrate_logs WHERE msg = 'during.flood'`)).rows[0].n) === sent, `the ${sent} messages sent during the flood`);
    console.log(`query flood: ${[...byStatus].map(([s, n]) => `${n}×${s}`).join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s; slowest answer ${Math.max(...answers.map((a) => a.ms))} ms; ${sent} messages ingested meanwhile, all stored`);
    await node.close();
  });
});

// A POST body nested 10,000 deep once left the embedded database unusable (and got a 500 with a stack trace
// in the log from PostgreSQL): every JSON body is refused past MAX_JSON_DEPTH before it reaches the database.
for (const backend of BACKENDS) {
  describe(`request bodies nested too deep (${backend.name})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(backend);
    });
    after(() => server.dispose());

    const post = (path: string, body: string) => fetch(server.httpUrl(path), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const nest = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

    it(`answers a body nested 10,000 deep with a 400 naming the limit (${MAX_JSON_DEPTH}), on every POST route`, async () => {
      for (const [path, body] of [
        ['/benchmarks', `{"setup":{"deep":${nest(10_000)}}}`],
        ['/benchmarks', `{"setup":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`],
        ['/host_systems', `{"description":${nest(10_000)}}`],
        ['/benchmarks/events', nest(10_000)],
        ['/benchmarks', `{"setup":${'['.repeat(100_000)}`], // not even valid JSON: still refused for its depth
      ] as const) {
        const response = await post(path, body);
        assert.equal(response.status, 400, path);
        const answer = await response.json();
        assert.equal(answer.code, 'INVALID_BODY');
        assert.equal(answer.parameter, 'body');
        assert.match(answer.message, new RegExp(`deeper than ${MAX_JSON_DEPTH}`));
        assert.match(answer.expected, new RegExp(`at most ${MAX_JSON_DEPTH} deep`));
      }
    });

    it('accepts a body right at the limit, and the database goes on answering', async () => {
      // The body object is one level, setup another: MAX_JSON_DEPTH - 2 levels of arrays inside.
      const response = await post('/benchmarks', `{"setup":{"deep":${nest(MAX_JSON_DEPTH - 2)}}}`);
      assert.equal(response.status, 200, await response.clone().text());
      const created = (await response.json()) as { id: number };
      const stored = (await server.db.query<{ depth: number }>(`SELECT length(setup::text) AS depth FROM benchmarks WHERE id = $1`, [created.id])).rows[0];
      assert.ok(stored.depth >= 2 * (MAX_JSON_DEPTH - 2));
      assert.equal((await post('/benchmarks', `{"setup":{"deep":${nest(MAX_JSON_DEPTH - 1)}}}`)).status, 400);
      assert.equal((await fetch(server.httpUrl('/ready'))).status, 200);
      assert.equal((await post('/benchmarks', '{"setup":{"after":"deep bodies"}}')).status, 200);
    });
  });
}
