// What the server logs for an operator, captured from a real server (PostgreSQL and embedded): node
// connects and disconnects at info with name, peer id, address and endpoint; a reconnect storm folded
// into counts; the summary line from the metrics; and no secret (access_token, API_TOKEN, the
// password of DATABASE_URL) in any line, fastify's request logging and the API's warnings included.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { BACKENDS, type TestBackend } from './helpers/backends.js';
import { waitFor } from './helpers/server.js';
import { connectNode, v1Messages, v2SessionFrames } from './helpers/fixtures.js';
import { parseSettings, type Settings } from '../src/config/settings.js';
import { createLogger, createMasker, resolveLogFormat, type LogOutput } from '../src/config/logger.js';
import { startServer, type RunningServer } from '../src/server.js';
import type { Database } from '../src/storage/database.js';
import { ConnectionLog } from '../src/ingest/connection-log.js';
import { NodeHandle } from '../src/ingest/node.js';
import { createMetrics } from '../src/metrics/catalogue.js';
import { MetricsSummary } from '../src/metrics/summary.js';

const TOKEN = 'tok-0123456789-abcdefghij';

/** Collects every line a logger writes. */
class Collector implements LogOutput {
  readonly lines: string[] = [];
  isTTY = false;
  write(line: string): void {
    this.lines.push(...line.split('\n').filter((l) => l !== ''));
  }
  get text(): string {
    return this.lines.join('\n');
  }
  entries(): Array<Record<string, any>> {
    return this.lines.map((line) => JSON.parse(line));
  }
}

interface LoggedServer {
  server: RunningServer;
  settings: Settings;
  out: Collector;
  dispose(): Promise<void>;
}

async function startLoggedServer(backend: TestBackend, env: Record<string, string> = {}, databaseUrl?: (url: string) => string): Promise<LoggedServer> {
  const created = await backend.create();
  const url = created.url && databaseUrl ? databaseUrl(created.url) : created.url;
  const settings = parseSettings({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', LOG_FORMAT: 'json', DB_SAVE_LATENCY_MS: '20', SPOOL_DIR: '', ...env, ...(url ? { DATABASE_URL: url } : {}) });
  if (created.url) await created.db.close();
  const out = new Collector();
  const server = await startServer(settings, createLogger(settings, out), created.url ? {} : { db: created.db as Database });
  return {
    server,
    settings,
    out,
    async dispose() {
      await server.close().catch(() => 0);
      await created.drop();
    },
  };
}

describe('the masker', () => {
  const mask = createMasker([TOKEN, 'pass word/1']);
  it('masks access_token values, URL passwords, Bearer tokens and each known secret in every form', () => {
    assert.equal(mask('GET /nodes?peer_id=x&access_token=abc123&limit=2'), 'GET /nodes?peer_id=x&access_token=***&limit=2');
    assert.equal(mask('{"url":"/feed?access_token=abc123"}'), '{"url":"/feed?access_token=***"}');
    assert.equal(mask('postgres://user:hunter22@db:5432/x'), 'postgres://user:***@db:5432/x');
    assert.equal(mask('authorization: Bearer abc.def-ghi'), 'authorization: Bearer ***');
    assert.equal(mask(`token ${TOKEN} in a message`), 'token *** in a message');
    assert.equal(mask(`{"p":${JSON.stringify('pass word/1')}}`), '{"p":"***"}');
    assert.equal(mask(`/x?t=${encodeURIComponent('pass word/1')}`), '/x?t=***');
    assert.equal(mask('nothing secret here: http://host:8080/path'), 'nothing secret here: http://host:8080/path');
  });

  it('LOG_FORMAT=auto is pretty on a terminal and JSON elsewhere', () => {
    assert.equal(resolveLogFormat('auto', { write() {}, isTTY: true }), 'pretty');
    assert.equal(resolveLogFormat('auto', { write() {}, isTTY: false }), 'json');
    assert.equal(resolveLogFormat('json', { write() {}, isTTY: true }), 'json');
    const out = new Collector();
    createLogger({ logLevel: 'info', logFormat: 'pretty', apiToken: TOKEN, databaseUrl: null }, out).info({ url: `/x?access_token=${TOKEN}` }, 'hello');
    assert.equal(out.lines.length, 1);
    assert.match(out.lines[0]!, /^\[[^\]]+\] INFO: hello \{"url":"\/x\?access_token=\*\*\*"\}$/);
  });
});

describe('connection log folding', () => {
  it('writes the first lines of a window one by one and folds the rest into one counted line', () => {
    const out = new Collector();
    const log = createLogger({ logLevel: 'info', logFormat: 'json', apiToken: null, databaseUrl: null }, out);
    const connections = new ConnectionLog(log, { linesPerWindow: 3, windowMs: 60_000 });
    const sockets = Array.from({ length: 10 }, (_, i) => ({ endpoint: '/', i }));
    sockets.forEach((socket, i) => {
      connections.opened(socket, `10.0.0.${i}:30333`);
      const node = new NodeHandle(`10.0.0.${i}:30333`, false, '1', i);
      node.learn({ peerId: `12D3KooWPeer${i}`, name: `node-${i}` });
      connections.identified(socket, node);
      connections.identified(socket, node); // a later identity change is not a second connect
    });
    connections.closed(sockets[0]!, 1006);
    assert.deepEqual(out.entries().map((e) => e.name), ['node-0', 'node-1', 'node-2']);
    connections.flush();
    const folded = out.entries().at(-1)!;
    assert.equal(folded.connected, 7);
    assert.equal(folded.disconnected, 1);
    assert.match(folded.msg, /counted here instead of logged one by one/);
  });
});

describe('summary line', () => {
  it('reports connections, rates, drops by reason, buffer fill and purge runs since the previous line', async () => {
    const out = new Collector();
    const metrics = createMetrics();
    const summary = new MetricsSummary(metrics, createLogger({ logLevel: 'info', logFormat: 'json', apiToken: null, databaseUrl: null }, out), { maxRows: 100, maxBytes: 1_000_000 });
    metrics.currentConnections.set(4);
    metrics.messagesReceived.inc(30);
    metrics.messagesStored.inc(25);
    metrics.messagesDropped.inc({ reason: 'invalid_json' }, 2);
    metrics.bufferRows.set(50);
    metrics.bufferBytes.set(1000);
    metrics.purgeRuns.inc({ outcome: 'ok' });
    metrics.purgePartitionsDropped.inc(2);
    const first = await summary.summarize();
    assert.equal(first.connections, 4);
    assert.deepEqual(first.dropped, { invalid_json: 2 });
    assert.deepEqual(first.buffer, { rows: 50, bytes: 1000, fillPercent: 50, paused: false });
    assert.deepEqual(first.purge, { runs: { ok: 1 }, partitionsDropped: 2, rowsDeleted: 0 });
    assert.ok((first.receivedPerS as number) > 0 && (first.storedPerS as number) > 0);
    const second = await summary.summarize(); // nothing happened since: only what is new is reported
    assert.equal(second.dropped, 'none');
    assert.equal(second.purge, 'no run');
    assert.equal(second.receivedPerS, 0);
    assert.deepEqual(out.entries().map((e) => e.msg), ['summary', 'summary']);
  });
});

for (const backend of BACKENDS) {
  describe(`operator log of a real server (${backend.name})`, () => {
    let logged: LoggedServer;
    before(async () => {
      logged = await startLoggedServer(backend);
    });
    after(() => logged.dispose());

    it('logs the URL and the database at start', () => {
      const listening = logged.out.entries().find((e) => e.msg === 'tetcore-analytics listening')!;
      assert.equal(listening.url, `http://127.0.0.1:${logged.server.port}`);
      assert.equal(listening.database, backend.name === 'postgres' ? logged.settings.databaseUrl : 'embedded (given by the caller)');
    });

    it('logs each node connect at info once identified, and its disconnect, with name, peer id, address and endpoint', async () => {
      const frames = v2SessionFrames();
      const identity = JSON.parse(frames[0]!).payload;
      const node = await connectNode(`ws://127.0.0.1:${logged.server.port}/`);
      await node.send(...frames);
      const connected = await waitFor(() => logged.out.entries().find((e) => e.msg === 'node connected' && e.peerId === identity.network_id), 'the connect line');
      assert.equal(connected.level, 30);
      assert.equal(connected.name, identity.name);
      assert.equal(connected.endpoint, '/');
      assert.match(connected.address, /^127\.0\.0\.1:\d+$/);
      await node.close();
      const disconnected = await waitFor(() => logged.out.entries().find((e) => e.msg === 'node disconnected' && e.peerId === identity.network_id), 'the disconnect line');
      assert.deepEqual([disconnected.level, disconnected.name, disconnected.address, disconnected.endpoint], [30, identity.name, connected.address, '/']);
      assert.equal(typeof disconnected.code, 'number');

      // A flat V1 node on /audit is identified by the peer id of its network_state.
      const v1 = v1Messages();
      const peerId = (v1.find((m) => m.msg === 'system.network_state') as { state: { peerId: string } }).state.peerId;
      const audit = await connectNode(`ws://127.0.0.1:${logged.server.port}/audit`);
      await audit.send(...v1.map((m) => JSON.stringify(m)));
      const auditLine = await waitFor(() => logged.out.entries().find((e) => e.msg === 'node connected' && e.peerId === peerId), 'the /audit connect line');
      assert.deepEqual([auditLine.endpoint, auditLine.name], ['/audit', null]);
      await audit.close();
    });
  });

  describe(`secrets never reach the log (${backend.name})`, () => {
    let logged: LoggedServer;
    before(async () => {
      // debug: fastify logs every request with its URL; the password only exists on PostgreSQL (trust auth accepts it).
      logged = await startLoggedServer(backend, { LOG_LEVEL: 'debug', API_TOKEN: TOKEN }, (url) => {
        const withPassword = new URL(url);
        withPassword.password = 'pw-s3cret-9876';
        return withPassword.toString();
      });
    });
    after(() => logged.dispose());

    it('masks ?access_token= in request logs, 404 messages and error warnings, and the database password everywhere', async () => {
      const base = `http://127.0.0.1:${logged.server.port}`;
      assert.equal((await fetch(`${base}/nodes?access_token=${TOKEN}`)).status, 200);
      await fetch(`${base}/no/such/route?access_token=${TOKEN}`);
      await fetch(`${base}/nodes?access_token=wrong-token-1234567890`);
      await waitFor(() => logged.out.lines.filter((l) => l.includes('access_token=')).length >= 3, 'the request lines');
      assert.ok(!logged.out.text.includes(TOKEN), 'API_TOKEN in the log');
      assert.ok(!logged.out.text.includes('wrong-token-1234567890'), 'a presented token in the log');
      assert.ok(!logged.out.text.includes('pw-s3cret-9876'), 'the database password in the log');
      assert.match(logged.out.text, /access_token=\*\*\*/);
    });
  });
}

describe('secrets in the warning of a failed query (postgres)', () => {
  let logged: LoggedServer;
  before(async () => {
    const postgres = BACKENDS.find((b) => b.name === 'postgres')!;
    logged = await startLoggedServer(postgres, { API_TOKEN: TOKEN, STATEMENT_TIMEOUT_MS: '200' });
  });
  after(() => logged.dispose());

  it('at the default level, the warning of a timed-out query names its URL with the token masked', async () => {
    const locker = new pg.Client({ connectionString: logged.settings.databaseUrl as string });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE peer_connections IN ACCESS EXCLUSIVE MODE');
      const response = await fetch(`http://127.0.0.1:${logged.server.port}/nodes?access_token=${TOKEN}`);
      assert.equal(response.status, 503);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    const warning = await waitFor(() => logged.out.entries().find((e) => e.msg === 'query failed'), 'the warning');
    assert.equal(warning.level, 40);
    assert.equal(warning.url, '/nodes?access_token=***');
    assert.ok(!logged.out.text.includes(TOKEN));
  });
});
