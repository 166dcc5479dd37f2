// Item 3 of the hardening issue over real nginx (test/helpers/nginx.ts, $proxy_add_x_forwarded_for):
// a client's own X-Forwarded-For must not choose its address for INGEST_ALLOW, MAX_CONNECTIONS_PER_IP or
// peer_connections.ip_addr. Clients, proxies and the server use distinct loopback addresses (127.0.0.x)
// so that each hop is visible. Against PostgreSQL and the embedded database.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { startNginx, type Nginx } from '../helpers/nginx.js';
import { accepted, counterValue, handshake, refusal, sendOne } from '../helpers/handshake.js';

const CLIENT = '127.0.0.5';
const OTHER_CLIENT = '127.0.0.6';
const FRONT_PROXY = '127.0.0.2';
const BACK_PROXY = '127.0.0.3';

async function storedAddresses(server: TestServer): Promise<string[]> {
  return (await server.db.query<{ ip_addr: string }>('SELECT ip_addr FROM peer_connections ORDER BY id')).rows.map((r) => r.ip_addr);
}

/** Two nginx in a row, as behind a load balancer and a local proxy: client → front → back → server. */
async function proxyChain(serverPort: number): Promise<{ front: Nginx; back: Nginx; stop(): Promise<void> }> {
  const back = await startNginx([serverPort], { bindAddress: BACK_PROXY });
  const front = await startNginx([back.port], { bindAddress: FRONT_PROXY });
  return { front, back, stop: async () => void (await Promise.all([front.stop(), back.stop()])) };
}

/**
 * Through two proxies in a row: a node at CLIENT that wrote a forged X-Forwarded-For is stored as CLIENT, and
 * one at OTHER_CLIENT claiming to be CLIENT is refused (INGEST_ALLOW admits CLIENT only).
 */
async function clientIsWhatTheFartherProxySaw(server: TestServer, frontPort: number): Promise<void> {
  const node = accepted(await handshake(`ws://127.0.0.1:${frontPort}/`, { localAddress: CLIENT, headers: { 'x-forwarded-for': '10.9.9.9' } }));
  await sendOne(node);
  await node.close();
  await waitFor(async () => (await storedAddresses(server)).length >= 1, 'the connection stored');
  const forged = await handshake(`ws://127.0.0.1:${frontPort}/`, { localAddress: OTHER_CLIENT, headers: { 'x-forwarded-for': CLIENT } });
  assert.deepEqual(refusal(forged), { status: 403, code: 'INGEST_FORBIDDEN' });
  assert.deepEqual(await storedAddresses(server), [CLIENT]);
}

for (const backend of BACKENDS) {
  describe(`TRUST_PROXY behind real nginx, #3 (${backend.name})`, () => {
    describe('TRUST_PROXY=true (one nginx)', () => {
      let server: TestServer;
      let nginx: Nginx;
      before(async () => {
        server = await startTestServer(backend, { TRUST_PROXY: 'true', INGEST_ALLOW: `10.0.0.0/8,${CLIENT}`, MAX_CONNECTIONS_PER_IP: '2' });
        nginx = await startNginx([server.port]);
      });
      after(async () => {
        await nginx?.stop();
        await server?.dispose();
      });

      it('#3 a forged X-Forwarded-For: 10.9.9.9 no longer passes INGEST_ALLOW=10.0.0.0/8', async () => {
        const forged = await handshake(`ws://127.0.0.1:${nginx.port}/`, { localAddress: OTHER_CLIENT, headers: { 'x-forwarded-for': '10.9.9.9' } });
        assert.deepEqual(refusal(forged), { status: 403, code: 'INGEST_FORBIDDEN' });
        assert.deepEqual(await storedAddresses(server), []);
      });

      it('#3 five connections with invented X-Forwarded-For addresses no longer pass MAX_CONNECTIONS_PER_IP=2', async () => {
        const results = [];
        for (let i = 1; i <= 5; i++) results.push(await handshake(`ws://127.0.0.1:${nginx.port}/audit`, { localAddress: CLIENT, headers: { 'x-forwarded-for': `10.1.1.${i}` } }));
        const open = results.filter((r) => r.open);
        assert.equal(open.length, 2);
        for (const r of results.slice(2)) assert.deepEqual(refusal(r), { status: 429, code: 'TOO_MANY_CONNECTIONS_FROM_ADDRESS' });
        for (const r of open) await sendOne(accepted(r));
        // The address nginx saw, not the invented ones and not nginx's own.
        await waitFor(async () => (await storedAddresses(server)).length >= 2, 'the two connections stored');
        assert.deepEqual(await storedAddresses(server), [CLIENT, CLIENT]);
        for (const r of open) await accepted(r).close();
      });
    });

    describe('TRUST_PROXY=2 (two nginx in a row)', () => {
      let server: TestServer;
      let chain: Awaited<ReturnType<typeof proxyChain>>;
      before(async () => {
        server = await startTestServer(backend, { TRUST_PROXY: '2', INGEST_ALLOW: CLIENT });
        chain = await proxyChain(server.port);
      });
      after(async () => {
        await chain?.stop();
        await server?.dispose();
      });

      it('#3 the client is the address the farther proxy saw, whatever the client wrote before it', async () => {
        await clientIsWhatTheFartherProxySaw(server, chain.front.port);
      });
    });

    describe('TRUST_PROXY=<proxy addresses and CIDR blocks> (two nginx in a row)', () => {
      let server: TestServer;
      let chain: Awaited<ReturnType<typeof proxyChain>>;
      before(async () => {
        server = await startTestServer(backend, { TRUST_PROXY: `${FRONT_PROXY},${BACK_PROXY}/32`, INGEST_ALLOW: CLIENT });
        chain = await proxyChain(server.port);
      });
      after(async () => {
        await chain?.stop();
        await server?.dispose();
      });

      it('#3 walks from the right past the listed proxies to the client', async () => {
        await clientIsWhatTheFartherProxySaw(server, chain.front.port);
      });

      it('#3 a peer that is not a listed proxy is judged by its socket address', async () => {
        const before = (await storedAddresses(server)).length;
        const direct = accepted(await handshake(server.url('/'), { localAddress: CLIENT, headers: { 'x-forwarded-for': '10.9.9.9' } }));
        await sendOne(direct);
        await direct.close();
        await waitFor(async () => (await storedAddresses(server)).length > before, 'the connection stored');
        const forged = await handshake(server.url('/'), { localAddress: OTHER_CLIENT, headers: { 'x-forwarded-for': CLIENT } });
        assert.deepEqual(refusal(forged), { status: 403, code: 'INGEST_FORBIDDEN' });
        const stored = (await storedAddresses(server)).slice(before);
        assert.equal(stored.length, 1);
        assert.match(stored[0], /^127\.0\.0\.5:\d+$/);
      });

      it('#3 an X-Forwarded-For entry from a trusted proxy that is not an IP address is refused with 400 BAD_FORWARDED_FOR', async () => {
        const metrics = server.httpUrl('/metrics');
        const counted = await counterValue(metrics, 'tetcore_ingest_handshakes_refused_total', 'reason', 'BAD_FORWARDED_FOR');
        const bad = await handshake(server.url('/'), { localAddress: BACK_PROXY, headers: { 'x-forwarded-for': 'client.example' } });
        assert.equal(bad.open, false);
        assert.deepEqual(refusal(bad), { status: 400, code: 'BAD_FORWARDED_FOR' });
        assert.equal(!bad.open && bad.body.parameter, 'x-forwarded-for');
        await waitFor(async () => (await counterValue(metrics, 'tetcore_ingest_handshakes_refused_total', 'reason', 'BAD_FORWARDED_FOR')) === counted + 1, 'the refusal counted');
      });
    });
  });
}
