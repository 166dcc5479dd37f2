// Query API, shared behaviour and operations: /stats/db, /stats/version, /health, /ready, the OpenAPI
// document, paths with trailing or doubled slashes, 404s, the requests counter, 503 when the database is
// unavailable, and the statement timeout. Against PostgreSQL and the embedded database.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import pg from 'pg';
import { BACKENDS, createPostgresDatabase, type TestBackend } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer, testSettings } from '../helpers/server.js';
import { PostgresDatabase } from '../../src/storage/postgres.js';
import { pino } from 'pino';
import { startServer, type RunningServer } from '../../src/server.js';
import { connectNode } from '../helpers/fixtures.js';
import { api, connectedV1, ingest, TIME_RE, v1 } from '../helpers/api-support.js';

const STAT_KEYS = ['relation', 'size', 'bytes', 'kind', 'rows_estimate', 'oldest_created_at', 'newest_created_at'];

for (const backend of BACKENDS) {
  describe(`query API: operations and shared behaviour (${backend.name})`, () => {
    let server: TestServer;
    const P = '12D3KooWOpsPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP';
    before(async () => {
      server = await startTestServer(backend);
      const expiring = await ingest(server, '/', P, [connectedV1(P, '2021-06-23T10:00:00+00:00'), v1('block.import', '2021-06-23T10:00:01.25+00:00', { height: 1 })]);
      await expiring.close();
      const audit = await ingest(server, '/audit', P, [connectedV1(P, '2021-06-24T07:00:00+00:00'), v1('block.import', '2021-06-24T08:00:00+00:00', { height: 2 }), v1('block.import', '2021-06-24T09:30:00.5+00:00', { height: 3 })]);
      await audit.close();
    });
    after(() => server.dispose());

    it('GET /stats/db: our relations only, sizes largest first, row estimates, and the time span of each message partition', async () => {
      // PostgreSQL's autovacuum sets the estimates when it gets to it; the embedded database has none, the route does it.
      if (backend.name === 'postgres') await server.db.query('ANALYZE');
      const { status, body } = await api(server, '/stats/db');
      assert.equal(status, 200);
      assert.ok(body.length > 10 && body.length <= 1000);
      for (const row of body) assert.deepEqual(Object.keys(row), STAT_KEYS);
      const schemas = new Set(body.map((r: { relation: string }) => r.relation.split('.')[0]));
      assert.deepEqual([...schemas].sort(), ['public', 'reference_compat'], 'no pg_toast or other schemas');
      assert.equal(body.filter((r: { kind: string }) => r.kind === 'toast table').length, 0);
      for (let i = 1; i < body.length; i++) assert.ok(body[i - 1].bytes >= body[i].bytes, 'ordered by size');
      const byName = new Map(body.map((r: { relation: string }) => [r.relation, r]));
      const logs = byName.get('public.substrate_logs') as Record<string, unknown>;
      assert.equal(logs.kind, 'partitioned table');
      assert.equal(logs.rows_estimate, 5);
      assert.equal(logs.oldest_created_at, '2021-06-23T10:00:00');
      assert.equal(logs.newest_created_at, '2021-06-24T09:30:00.500');
      const audit = byName.get('public.substrate_logs_audit') as Record<string, unknown>;
      assert.deepEqual([audit.kind, audit.rows_estimate, audit.oldest_created_at, audit.newest_created_at], ['table', 3, '2021-06-24T07:00:00', '2021-06-24T09:30:00.500']);
      // Older than every time partition: the MINVALUE one (substrate_logs_before_<its end>).
      const outside = body.find((r: { relation: string }) => /^public\.substrate_logs_before_\d{8}_\d{2}$/.test(r.relation)) as Record<string, unknown>;
      assert.deepEqual([outside.oldest_created_at, outside.newest_created_at], ['2021-06-23T10:00:00', '2021-06-23T10:00:01.250']);
      const connections = byName.get('public.peer_connections') as Record<string, unknown>;
      assert.equal(connections.kind, 'table');
      assert.match(connections.size as string, /^\d+ (bytes|kB|MB|GB)$/);
      assert.equal(connections.oldest_created_at, null);
      assert.ok(byName.has('public.substrate_logs_peer_created_idx'), 'indexes are listed');
      assert.equal((byName.get('public.peer_connections_pkey') as Record<string, unknown>).kind, 'index');
    });

    it('GET /stats/version, /health and /ready', async () => {
      const version = await api(server, '/stats/version');
      assert.equal(version.status, 200);
      assert.deepEqual(Object.keys(version.body), ['name', 'version', 'description']);
      assert.equal(version.body.name, 'tetcore-analytics');
      assert.deepEqual((await api(server, '/health')).body, { status: 'ok' });
      const ready = await api(server, '/ready');
      assert.equal(ready.status, 200);
      assert.equal(ready.body.status, 'ready');
      assert.equal(ready.body.database, backend.name);
    });

    it('serves an OpenAPI document generated from the validating schemas, and a browsable page', async () => {
      const { status, body } = await api(server, '/docs/json');
      assert.equal(status, 200);
      assert.match(body.openapi, /^3\./);
      const paths = Object.keys(body.paths);
      for (const path of [
        '/nodes', '/nodes/log_stats', '/nodes/logs', '/reputation', '/reputation/logged', '/reputation/{peer_id}', '/reputation/mock/{qty}',
        '/stats/db', '/stats/version', '/health', '/ready', '/host_systems', '/benchmarks', '/benchmarks/example', '/benchmarks/events',
        '/benchmarks/{benchmark_id}/events', '/benchmarks/{benchmark_id}/targets', '/nodes/summary',
      ]) {
        assert.ok(paths.includes(path), `${path} documented`);
      }
      const logs = body.paths['/nodes/logs'].get;
      const param = (name: string) => logs.parameters.find((p: { name: string; in: string }) => p.name === name && p.in === 'query');
      assert.equal(param('peer_id').required, true);
      assert.equal(param('limit').schema.maximum, 10_000);
      assert.equal(param('limit').schema.default, 100);
      assert.equal(param('start_time').schema.format, 'timestamp');
      assert.ok(body.paths['/benchmarks'].post.requestBody.content['application/json'].schema.anyOf.length === 2, 'both benchmark formats documented');
      assert.ok(logs.responses['400'], 'errors documented');
      // "Try it out" sends the examples it shows: optional time filters have none (one shared example made
      // start_time = end_time, a 400), and the benchmark example names its node where the page looks for it.
      for (const name of ['start_time', 'end_time']) assert.equal(param(name).schema.examples, undefined, `${name} has no example`);
      const { body: example } = await api(server, '/benchmarks/example');
      assert.match(example.benchmark_spec.substrate.peerId, /^12D3KooW/);
      const page = await fetch(server.httpUrl('/docs'));
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    });

    it('answers with and without a trailing slash, and with doubled slashes', async () => {
      for (const path of ['/nodes/', '/nodes', `//nodes//log_stats?peer_id=${P}`, `/nodes/logs/?peer_id=${P}`, '/reputation/', '/stats/db/', '/benchmarks/']) {
        const r = await api(server, path);
        assert.equal(r.status, 200, path);
      }
      assert.equal((await api(server, `/nodes/logs/?peer_id=${P}`)).body.length, 5);
    });

    it('answers 404 in JSON for an unknown path or method', async () => {
      for (const [method, path] of [['GET', '/nope'], ['DELETE', '/nodes'], ['GET', '/benchmarks/events'], ['POST', '/nodes']]) {
        const r = await api(server, path, { method });
        assert.equal(r.status, 404, `${method} ${path}`);
        assert.equal(r.body.statusCode, 404);
      }
    });

    it('counts query requests in the `requests` metric (not /health, /docs, /metrics)', async () => {
      const value = async () => (await server.metrics.requests.get()).values[0]?.value ?? 0;
      const before = await value();
      for (const path of ['/nodes', '/stats/db', '/stats/version', '/benchmarks', '/reputation', `/nodes/log_stats?peer_id=${P}`, '/nodes/logs', '/health', '/docs/json', '/metrics']) await fetch(server.httpUrl(path));
      assert.equal(await value(), before + 7);
    });
  });
}

/** A TCP proxy to the local PostgreSQL that can be cut and restored, to make the database unreachable. */
async function startProxy(target: URL): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let listener: net.Server | null = null;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      listener = net.createServer((client) => {
        const upstream = net.connect(Number(target.port || 5432), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('error', () => {});
          s.on('close', () => {
            sockets.delete(s);
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      listener.once('error', reject);
      listener.listen(port, '127.0.0.1', () => {
        port = (listener!.address() as net.AddressInfo).port;
        resolve();
      });
    });
  const cut = async () => {
    const closing = new Promise<void>((resolve) => (listener ? listener.close(() => resolve()) : resolve()));
    for (const s of sockets) s.destroy();
    await closing;
    listener = null;
  };
  await listen();
  return { port, cut, restore: listen, close: cut };
}

describe('query API: database unavailable and statement timeout (postgres)', () => {
  let server: TestServer;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  const behindProxy: TestBackend = {
    name: 'postgres',
    async create() {
      const created = await createPostgresDatabase();
      const direct = new URL(created.url);
      proxy = await startProxy(direct);
      const url = new URL(created.url);
      url.hostname = '127.0.0.1';
      url.port = String(proxy.port);
      const db = new PostgresDatabase({ url: url.toString(), poolSize: 6, maxWriters: 2 });
      return {
        db,
        url: url.toString(),
        async drop() {
          await db.close().catch(() => {});
          await proxy.close();
          await created.drop();
        },
      };
    },
  };
  before(async () => {
    server = await startTestServer(behindProxy, { STATEMENT_TIMEOUT_MS: '300' });
  });
  after(() => server.dispose());

  it('answers 503 with a clear message while the database is unreachable, and recovers', async () => {
    assert.equal((await api(server, '/nodes')).status, 200);
    await proxy.cut();
    for (const path of ['/nodes', '/nodes/logs?peer_id=x', '/reputation', '/stats/db', '/benchmarks']) {
      const r = await api(server, path);
      assert.equal(r.status, 503, path);
      assert.equal(r.body.code, 'DB_UNAVAILABLE');
      assert.match(r.body.message, /database is unavailable/);
      assert.equal(r.headers.get('retry-after'), '5');
    }
    const post = await api(server, '/host_systems', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cpu_clock: 1, cpu_qty: 1, description: 'd', disk_info: 'd', os: 'o', ram_mb: 1 }) });
    assert.equal(post.status, 503);
    assert.equal((await api(server, '/ready')).status, 503);
    await proxy.restore();
    await waitFor(async () => (await api(server, '/nodes')).status === 200, 'recovery');
    assert.equal((await api(server, '/ready')).status, 200);
  });

  it('cancels a query that exceeds STATEMENT_TIMEOUT_MS and answers 503 QUERY_TIMEOUT', async () => {
    const locker = new pg.Client({ connectionString: server.settings.databaseUrl as string });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE peer_connections IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const r = await api(server, '/nodes');
      assert.equal(r.status, 503);
      assert.equal(r.body.code, 'QUERY_TIMEOUT');
      assert.match(r.body.message, /STATEMENT_TIMEOUT_MS=300/);
      assert.ok(Date.now() - started < 10_000);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    assert.equal((await api(server, '/nodes')).status, 200);
  });
});

describe('query API: two servers sharing one database (postgres)', () => {
  let a: TestServer;
  let b: RunningServer;
  before(async () => {
    a = await startTestServer(BACKENDS.find((x) => x.name === 'postgres') as TestBackend);
    const settings = testSettings({ DB_SAVE_LATENCY_MS: '20', DATABASE_URL: a.settings.databaseUrl as string });
    b = await startServer(settings, pino({ level: 'silent' }));
  });
  after(async () => {
    await b.close().catch(() => {});
    await a.dispose();
  });

  it('shows a node connected to the other server as connected, and disconnected once that server closes it', async () => {
    const peer = '12D3KooWTwoServersTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT';
    const node = await connectNode(`ws://127.0.0.1:${b.port}/`);
    await node.send(connectedV1(peer, '2021-06-23T10:00:00+00:00'));
    const entry = async () => (await api(a, '/nodes')).body.find((n: { peer_id: string }) => n.peer_id === peer);
    await waitFor(async () => (await entry())?.connected === true, 'the node seen through server A');
    assert.match((await entry()).last_seen, TIME_RE);
    await b.close();
    await waitFor(async () => (await entry())?.connected === false, 'disconnected once server B closed it');
    await node.closed;
  });
});

describe('query API: database unavailable (embedded)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(BACKENDS.find((b) => b.name === 'embedded') as TestBackend);
  });
  after(() => server.dispose());

  it('answers 503 once the embedded database is closed', async () => {
    assert.equal((await api(server, '/nodes')).status, 200);
    await server.db.close();
    const r = await api(server, '/nodes');
    assert.equal(r.status, 503);
    assert.equal(r.body.code, 'DB_UNAVAILABLE');
    const times = await api(server, '/benchmarks');
    assert.equal(times.status, 503);
    assert.match(JSON.stringify(times.body), /unavailable/);
    assert.doesNotMatch(JSON.stringify(times.body), TIME_RE);
  });
});
