// Client address resolution (TRUST_PROXY), item 3 of the hardening issue: the pure resolver.
// The same rules over real nginx are in access-proxy.test.ts, the TRUST_PROXY spellings in settings.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ClientAddressResolver, type TrustProxy } from '../../src/access/client-address.js';

function resolve(trust: TrustProxy, socketAddress: string, forwardedFor?: string | string[], socketPort = 40000) {
  return new ClientAddressResolver(trust).resolve({ socketAddress, socketPort, forwardedFor });
}
const client = (ip: string, ipAddr = ip) => ({ ok: true, ip, ipAddr });

describe('client address (TRUST_PROXY), #3', () => {
  it('without TRUST_PROXY: the socket peer, whatever X-Forwarded-For says', () => {
    assert.deepEqual(resolve({ kind: 'none' }, '127.0.0.1', '10.9.9.9'), client('127.0.0.1', '127.0.0.1:40000'));
    assert.deepEqual(resolve({ kind: 'none' }, '::ffff:192.0.2.7', 'x'), client('192.0.2.7', '192.0.2.7:40000'));
    assert.deepEqual(resolve({ kind: 'none' }, '2001:db8::1', undefined), client('2001:db8::1', '[2001:db8::1]:40000'));
  });

  it('TRUST_PROXY=true trusts one hop: the rightmost entry (the one the proxy appended), never a forged leftmost one (#3)', () => {
    const one: TrustProxy = { kind: 'hops', hops: 1 };
    // nginx with $proxy_add_x_forwarded_for turns a forged "10.9.9.9" into "10.9.9.9, <real client>".
    assert.deepEqual(resolve(one, '127.0.0.1', '10.9.9.9, 198.51.100.4'), client('198.51.100.4'));
    assert.deepEqual(resolve(one, '127.0.0.1', '198.51.100.4'), client('198.51.100.4'));
    // Several headers are one list, in order.
    assert.deepEqual(resolve(one, '127.0.0.1', ['10.9.9.9', '198.51.100.4']), client('198.51.100.4'));
    // No header (a health check from the proxy host itself): the peer.
    assert.deepEqual(resolve(one, '127.0.0.1', undefined), client('127.0.0.1', '127.0.0.1:40000'));
    assert.deepEqual(resolve(one, '127.0.0.1', '  '), client('127.0.0.1', '127.0.0.1:40000'));
    // Forms are normalized so that one address is one address for INGEST_ALLOW and the per-address cap.
    assert.deepEqual(resolve(one, '127.0.0.1', '::FFFF:198.51.100.4'), client('198.51.100.4'));
    assert.deepEqual(resolve(one, '127.0.0.1', ' 2001:DB8::9 '), client('2001:db8::9'));
  });

  it('TRUST_PROXY=<n> trusts n hops; with fewer entries, the farthest one reported', () => {
    const two: TrustProxy = { kind: 'hops', hops: 2 };
    assert.deepEqual(resolve(two, '127.0.0.1', '10.9.9.9, 198.51.100.4, 192.0.2.1'), client('198.51.100.4'));
    assert.deepEqual(resolve(two, '127.0.0.1', '198.51.100.4'), client('198.51.100.4'));
    assert.deepEqual(resolve({ kind: 'hops', hops: 3 }, '127.0.0.1', 'a-name-never-read, 203.0.113.5, 198.51.100.4, 192.0.2.1'), client('203.0.113.5'));
  });

  it('TRUST_PROXY=<addresses>: walks from the right past trusted proxies; an untrusted peer is judged by its socket address', () => {
    const list: TrustProxy = { kind: 'addresses', proxies: ['10.0.0.1', '192.168.0.0/16'] };
    // Untrusted peer: its header means nothing.
    assert.deepEqual(resolve(list, '203.0.113.5', '10.9.9.9'), client('203.0.113.5', '203.0.113.5:40000'));
    // Trusted peer, trusted hop, then the client; the forged entry to its left is ignored.
    assert.deepEqual(resolve(list, '10.0.0.1', '10.9.9.9, 198.51.100.4, 192.168.3.3'), client('198.51.100.4'));
    assert.deepEqual(resolve(list, '::ffff:10.0.0.1', '198.51.100.4'), client('198.51.100.4'));
    // Trusted peer without a header: the peer.
    assert.deepEqual(resolve(list, '10.0.0.1', undefined), client('10.0.0.1', '10.0.0.1:40000'));
    // Every entry a trusted proxy: the farthest one.
    assert.deepEqual(resolve(list, '10.0.0.1', '192.168.1.1, 192.168.2.2'), client('192.168.1.1'));
  });

  it('an entry that has to be read and is not an IP address is refused; one never read is ignored', () => {
    const one: TrustProxy = { kind: 'hops', hops: 1 };
    assert.deepEqual(resolve(one, '127.0.0.1', 'unknown'), { ok: false, entry: 'unknown' });
    assert.deepEqual(resolve(one, '127.0.0.1', '198.51.100.4:5555'), { ok: false, entry: '198.51.100.4:5555' });
    assert.deepEqual(resolve(one, '127.0.0.1', '198.51.100.4,'), { ok: false, entry: '' });
    assert.deepEqual(resolve(one, '127.0.0.1', '<script>, 198.51.100.4'), client('198.51.100.4'));
    assert.deepEqual(resolve({ kind: 'hops', hops: 2 }, '127.0.0.1', 'bogus, 198.51.100.4'), { ok: false, entry: 'bogus' });
    const list: TrustProxy = { kind: 'addresses', proxies: ['10.0.0.0/8'] };
    assert.deepEqual(resolve(list, '10.0.0.1', 'bogus, 10.0.0.2'), { ok: false, entry: 'bogus' });
    assert.deepEqual(resolve(list, '10.0.0.1', 'bogus, 198.51.100.4, 10.0.0.2'), client('198.51.100.4'));
    assert.deepEqual(resolve(list, '198.51.100.4', 'bogus'), client('198.51.100.4', '198.51.100.4:40000'));
  });
});
