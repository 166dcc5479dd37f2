// The ingest guard without a server (src/access/ingest-guard.ts): who may open an ingestion socket, in
// the order the checks run (Origin, X-Forwarded-For, INGEST_ALLOW, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_IP),
// and the counts a release gives back.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IngestGuard, type Handshake, type IngestGuardOptions } from '../../src/access/ingest-guard.js';

const OPTIONS: IngestGuardOptions = { allow: [], maxConnections: 100, maxConnectionsPerIp: 0, trustProxy: { kind: 'none' }, allowedOrigins: [] };

function handshake(remoteAddress: string, headers: Handshake['headers'] = {}): Handshake {
  return { headers, socket: { remoteAddress, remotePort: 40000 } };
}

function refusedWith(guard: IngestGuard, request: Handshake): string {
  const admission = guard.admit(request);
  assert.equal(admission.admitted, false);
  return admission.admitted ? '' : `${admission.refusal.statusCode} ${admission.refusal.code}`;
}

describe('IngestGuard', () => {
  it('admits a node (no Origin) with its address and the address:port to store', () => {
    const guard = new IngestGuard(OPTIONS);
    assert.deepEqual(guard.admit(handshake('10.0.0.1')), { admitted: true, ip: '10.0.0.1', ipAddr: '10.0.0.1:40000' });
    assert.deepEqual(guard.admit(handshake('::ffff:10.0.0.2')), { admitted: true, ip: '10.0.0.2', ipAddr: '10.0.0.2:40000' });
    assert.deepEqual(guard.admit(handshake('2001:db8::1')), { admitted: true, ip: '2001:db8::1', ipAddr: '[2001:db8::1]:40000' });
  });

  it('refuses a web page unless ALLOWED_ORIGINS lists it (403), before anything else', () => {
    const guard = new IngestGuard({ ...OPTIONS, allowedOrigins: ['https://ops.example'], allow: ['192.0.2.0/24'] });
    assert.equal(refusedWith(guard, handshake('10.0.0.1', { origin: 'https://evil.example' })), '403 ORIGIN_FORBIDDEN');
    assert.equal(guard.admit(handshake('192.0.2.7', { origin: 'https://ops.example' })).admitted, true);
  });

  it('refuses an address outside INGEST_ALLOW (403), naming the address', () => {
    const guard = new IngestGuard({ ...OPTIONS, allow: ['192.0.2.0/24', '2001:db8::/32'] });
    const admission = guard.admit(handshake('198.51.100.1'));
    assert.ok(!admission.admitted);
    assert.equal(admission.ip, '198.51.100.1');
    assert.equal(admission.refusal.code, 'INGEST_FORBIDDEN');
    assert.match(admission.refusal.message, /198\.51\.100\.1 is not in INGEST_ALLOW/);
    assert.equal(guard.admit(handshake('2001:db8::5')).admitted, true);
  });

  it('behind a trusted proxy, the forwarded address is the client; a bad entry is a 400 naming the header', () => {
    const guard = new IngestGuard({ ...OPTIONS, trustProxy: { kind: 'hops', hops: 1 }, allow: ['192.0.2.0/24'] });
    assert.deepEqual(guard.admit(handshake('127.0.0.1', { 'x-forwarded-for': '198.51.100.9, 192.0.2.3' })), { admitted: true, ip: '192.0.2.3', ipAddr: '192.0.2.3' });
    const admission = guard.admit(handshake('127.0.0.1', { 'x-forwarded-for': 'not-an-ip' }));
    assert.ok(!admission.admitted);
    assert.equal(admission.ip, undefined);
    assert.equal(admission.refusal.code, 'BAD_FORWARDED_FOR');
    assert.equal((admission.refusal as { parameter?: string }).parameter, 'x-forwarded-for');
  });

  it('holds MAX_CONNECTIONS in all (503) until a connection is released', () => {
    const guard = new IngestGuard({ ...OPTIONS, maxConnections: 2 });
    assert.equal(guard.admit(handshake('10.0.0.1')).admitted, true);
    assert.equal(guard.admit(handshake('10.0.0.2')).admitted, true);
    assert.equal(refusedWith(guard, handshake('10.0.0.3')), '503 TOO_MANY_CONNECTIONS');
    guard.release('10.0.0.1');
    assert.equal(guard.admit(handshake('10.0.0.3')).admitted, true);
  });

  it('holds MAX_CONNECTIONS_PER_IP per address (429), other addresses unaffected; 0 means no cap', () => {
    const guard = new IngestGuard({ ...OPTIONS, maxConnectionsPerIp: 2 });
    for (let i = 0; i < 2; i++) assert.equal(guard.admit(handshake('10.0.0.1')).admitted, true);
    assert.equal(refusedWith(guard, handshake('10.0.0.1')), '429 TOO_MANY_CONNECTIONS_FROM_ADDRESS');
    assert.equal(guard.admit(handshake('10.0.0.2')).admitted, true);
    guard.release('10.0.0.1');
    assert.equal(guard.admit(handshake('10.0.0.1')).admitted, true);
    const uncapped = new IngestGuard(OPTIONS);
    for (let i = 0; i < 50; i++) assert.equal(uncapped.admit(handshake('10.0.0.1')).admitted, true);
  });
});
