// What the server logs for an operator, captured from a real server (PostgreSQL and embedded): node
// connects and disconnects at info with name, peer id, address and endpoint, and no secret (access_token,
// API_TOKEN, the password of DATABASE_URL) in any line, fastify's request logging and the API's warnings
// included (the masker, the folding and the summary line alone: test/unit/logging.test.ts).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { BACKENDS, type TestBackend } from '../helpers/backends.js';
import { waitFor, testSettings } from '../helpers/server.js';
import { connectNode, v1Messages, v2SessionFrames } from '../helpers/fixtures.js';
import type { Settings } from '../../src/config/settings.js';
import { createLogger } from '../../src/config/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { Collector } from '../helpers/log-collector.js';

const TOKEN = 'tok-0123456789-abcdefghij';


interface LoggedServer {
  server: RunningServer;
  settings: Settings;
  out: Collector;
  dispose(): Promise<void>;
}

async function startLoggedServer(backend: TestBackend, env: Record<string, string> = {}, databaseUrl?: (url: string) => string): Promise<LoggedServer> {
  const created = await backend.create();
  const url = created.url && databaseUrl ? databaseUrl(created.url) : created.url;
  const settings = testSettings({ LOG_LEVEL: 'info', LOG_FORMAT: 'json', DB_SAVE_LATENCY_MS: '20', ...env, ...(url ? { DATABASE_URL: url } : {}) });
  if (created.url) await created.db.close();
  const out = new Collector();
  const server = await startServer(settings, createLogger(settings, out), created.url ? {} : { db: created.db });
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
      const identity = JSON.parse(frames[0]).payload;
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
