// Item 13 of the hardening issue: websocket handshakes carrying a browser's Origin. `/feed` accepts its
// own pages and ALLOWED_ORIGINS; ingestion accepts no Origin (nodes) and ALLOWED_ORIGINS. Refusals are
// HTTP 403 ORIGIN_FORBIDDEN, counted, and write nothing. Over real websockets, both databases.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { startNginx, type Nginx } from '../helpers/nginx.js';
import { accepted, counterValue, handshake, refusal, sendOne } from '../helpers/handshake.js';
import { OriginPolicy, parseOrigin } from '../../src/access/origin.js';

const ALLOWED = 'https://dashboards.example.com';
const FOREIGN = 'https://evil.example';

describe('origin rule, #13', () => {
  it('parses origins to their canonical form and refuses anything else', () => {
    assert.equal(parseOrigin('HTTPS://Dashboards.Example.com:443/'), 'https://dashboards.example.com');
    assert.equal(parseOrigin('http://localhost:3000'), 'http://localhost:3000');
    assert.equal(parseOrigin('http://[::1]:8080'), 'http://[::1]:8080');
    for (const bad of ['null', '', 'dashboards.example.com', 'https://a.example/path', 'https://user@a.example', 'ftp://a.example', 'https://a.example?x=1', 'chrome-extension://abcdef']) {
      assert.equal(parseOrigin(bad), null, bad);
    }
  });

  it('ingestion: no Origin or a listed one; /feed: also the page of the same host', () => {
    const policy = new OriginPolicy([ALLOWED]);
    assert.equal(policy.allowsIngestion(undefined), true);
    assert.equal(policy.allowsIngestion(ALLOWED), true);
    assert.equal(policy.allowsIngestion(FOREIGN), false);
    assert.equal(policy.allowsIngestion('http://analytics.example:8080'), false, 'even our own pages do not stream telemetry');
    assert.equal(policy.allowsFeed(undefined, 'analytics.example:8080'), true);
    assert.equal(policy.allowsFeed('http://analytics.example:8080', 'analytics.example:8080'), true);
    assert.equal(policy.allowsFeed('https://Analytics.example', 'analytics.example:443'), true, 'default port, case');
    assert.equal(policy.allowsFeed('https://analytics.example', 'analytics.example'), true, 'TLS ended at a proxy');
    assert.equal(policy.allowsFeed('http://analytics.example:8081', 'analytics.example:8080'), false, 'another port is another origin');
    assert.equal(policy.allowsFeed('http://analytics.example.evil.example', 'analytics.example'), false);
    assert.equal(policy.allowsFeed(FOREIGN, 'analytics.example'), false);
    assert.equal(policy.allowsFeed('null', 'analytics.example'), false);
    assert.equal(policy.allowsFeed(FOREIGN, undefined), false);
    assert.equal(policy.allowsFeed(ALLOWED, 'analytics.example'), true);
  });
});

for (const backend of BACKENDS) {
  describe(`websocket handshakes with an Origin, #13 (${backend.name})`, () => {
    let server: TestServer;
    let nginx: Nginx;
    const connections = async () => Number((await server.db.query<{ n: number }>('SELECT count(*) AS n FROM peer_connections')).rows[0].n);
    const ingestRefused = () => counterValue(server.httpUrl('/metrics'), 'tetcore_ingest_handshakes_refused_total', 'reason', 'ORIGIN_FORBIDDEN');
    const feedRefused = () => counterValue(server.httpUrl('/metrics'), 'tetcore_feed_handshakes_refused_total', 'reason', 'ORIGIN_FORBIDDEN');

    before(async () => {
      server = await startTestServer(backend, { ALLOWED_ORIGINS: ALLOWED });
      nginx = await startNginx([server.port]);
    });
    after(async () => {
      await nginx?.stop();
      await server?.dispose();
    });

    /** Accepted; on ingestion, one message is sent (a connection's row is written with its first message). */
    const streamOne = async (result: Awaited<ReturnType<typeof handshake>>, path: string) => {
      const socket = accepted(result);
      if (path !== '/feed') await sendOne(socket);
      await socket.close();
    };

    it('#13 no Origin: nodes stream on / and /audit, scripts open /feed', async () => {
      const before = await connections();
      for (const path of ['/', '/audit', '/feed']) await streamOne(await handshake(server.url(path)), path);
      await waitFor(async () => (await connections()) === before + 2, 'a connection row per ingestion socket');
    });

    it('#13 a foreign Origin gets 403 ORIGIN_FORBIDDEN on /, /audit and /feed, counted, nothing written', async () => {
      const before = await connections();
      const [ingestBefore, feedBefore] = [await ingestRefused(), await feedRefused()];
      for (const path of ['/', '/audit', '/feed']) {
        const result = await handshake(server.url(path), { origin: FOREIGN });
        assert.deepEqual(refusal(result), { status: 403, code: 'ORIGIN_FORBIDDEN' }, path);
        assert.equal(!result.open && result.body.error, 'Forbidden');
      }
      assert.equal(await connections(), before);
      await waitFor(async () => (await ingestRefused()) === ingestBefore + 2 && (await feedRefused()) === feedBefore + 1, 'the refusals counted');
    });

    it('#13 /feed accepts a page of its own origin, directly and behind nginx; ingestion does not', async () => {
      await accepted(await handshake(server.url('/feed'), { origin: server.httpUrl('').replace(/\/$/, '') })).close();
      await accepted(await handshake(`ws://127.0.0.1:${nginx.port}/feed`, { origin: `http://127.0.0.1:${nginx.port}` })).close();
      assert.deepEqual(refusal(await handshake(server.url('/'), { origin: server.httpUrl('').replace(/\/$/, '') })), { status: 403, code: 'ORIGIN_FORBIDDEN' });
      // A page of the server's port on the proxy's address, or of the proxy's port seen directly, is another origin.
      assert.deepEqual(refusal(await handshake(server.url('/feed'), { origin: `http://127.0.0.1:${nginx.port}` })), { status: 403, code: 'ORIGIN_FORBIDDEN' });
    });

    it('#13 ALLOWED_ORIGINS opens /feed and ingestion to the listed pages', async () => {
      const before = await connections();
      for (const path of ['/', '/audit', '/feed']) await streamOne(await handshake(server.url(path), { origin: ALLOWED }), path);
      await waitFor(async () => (await connections()) === before + 2, 'a connection row per ingestion socket');
    });
  });
}
