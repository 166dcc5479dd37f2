// Tests of the node simulator's frame builders against docs/wire-protocol.md (the end-to-end runs over a
// real `ws` server: test/integration/simulator.test.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as m from '../../src/simulator/messages.js';
import { naturalRates } from '../../src/simulator/node.js';
import { loadV1Fixture } from '../../src/simulator/index.js';
import { v2SessionFrames } from '../helpers/fixtures.js';

const TS_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6}|\.\d{9})?[+-]\d{2}:\d{2}$/;
const HASH = m.hashHex('test', 1);

/** Every object in the (parsed, order-preserving) value has its keys in ascending order. */
function assertKeysSorted(value: unknown, where = '$'): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) return value.forEach((item, i) => assertKeysSorted(item, `${where}[${i}]`));
  const keys = Object.keys(value);
  assert.deepEqual(keys, [...keys].sort(), `keys of ${where} are not alphabetical`);
  for (const key of keys) assertKeysSorted((value as Record<string, unknown>)[key], `${where}.${key}`);
}

/** Re-serializing the parsed frame gives the same bytes: compact, no whitespace, same key order. */
function assertCompact(text: string): void {
  assert.equal(JSON.stringify(JSON.parse(text)), text);
}

const identity: m.NodeIdentity = {
  name: 'validator-01', networkId: m.peerIdFor('a'), authority: true, chain: 'Local Testnet',
  genesisHash: m.hashHex('genesis'), startupTime: '1624410117123',
  implementation: m.DEFAULT_IMPLEMENTATION, version: m.DEFAULT_VERSION,
};

const everyBuilderPayload: m.Payload[] = [
  m.systemConnected(identity),
  m.intervalChainPart({ best: HASH, finalizedHash: HASH, finalizedHeight: 10, height: 12, txcount: 0, usedStateCacheSize: 8376854 }),
  m.intervalNetworkPart({ bandwidthDownload: 18374, bandwidthUpload: 21973, peers: 25 }),
  m.blockImport(HASH, 12, 'NetworkBroadcast'),
  m.notifyFinalized(HASH, 10),
  m.txpoolImport(1, 0),
  m.afgAuthoritySet({ authorities: [m.ss58For('1'), m.ss58For('2')], authorityId: m.ss58For('1'), setId: 3, finalized: { hash: HASH, number: 10 } }),
  m.afgReceivedVote('prevote', HASH, 12, m.ss58For('2')),
  m.afgReceivedCommit(HASH, 10, [m.ss58For('1'), m.ss58For('2')]),
  m.afgFinalizedBlocksUpTo(HASH, 10),
  m.preparedBlockForProposing(HASH, 12),
  m.slotsPreSealedBlock(HASH, HASH, 12),
  m.slotsStartingAuthorship(266305265, 1597831590000),
  m.afgVoteIssued('precommit', 7, HASH, 12),
  m.afgAnnouncingBlocksToVotedPeers(HASH, 7, 0),
  m.afgCommitIssued(HASH, 10),
  m.babeCheckedAndImporting({ parentHash: HASH, number: 12, stateRoot: HASH, extrinsicsRoot: HASH }),
];

test('ts is chrono to_rfc3339: 9/6/3/0 fraction digits and a numeric offset, never Z', () => {
  assert.equal(m.formatTs(1_624_410_117_123_456_789n), '2021-06-23T01:01:57.123456789+00:00');
  assert.equal(m.formatTs(1_624_410_117_123_456_000n), '2021-06-23T01:01:57.123456+00:00');
  assert.equal(m.formatTs(1_624_410_117_120_000_000n), '2021-06-23T01:01:57.120+00:00');
  assert.equal(m.formatTs(1_624_410_117_000_000_000n), '2021-06-23T01:01:57+00:00');
  assert.equal(m.formatTs(1_624_410_117_123_456_789n, 120), '2021-06-23T03:01:57.123456789+02:00');
  assert.equal(m.formatTs(1_624_410_117_123_456_789n, -330), '2021-06-22T19:31:57.123456789-05:30');
  for (const ts of [m.formatTs(1n), m.formatTs(BigInt(Date.now()) * 1_000_000n + 7n)]) {
    assert.match(ts, TS_PATTERN);
    assert.ok(!ts.endsWith('Z'));
  }
});

test('ordinary frames are {"id","ts","payload"}, system.connected is {"id","payload","ts"}, payload keys alphabetical', () => {
  const ts = m.formatTs(1_624_410_117_123_456_789n);
  for (const payload of everyBuilderPayload) {
    const text = m.frame(1, ts, payload);
    assertCompact(text);
    const parsed = JSON.parse(text);
    const expectedOrder = payload.msg === 'system.connected' ? ['id', 'payload', 'ts'] : ['id', 'ts', 'payload'];
    assert.deepEqual(Object.keys(parsed), expectedOrder, payload.msg);
    assert.match(parsed.ts, TS_PATTERN);
    assertKeysSorted(parsed.payload);
    assert.ok(!('level' in parsed.payload));
  }
  const connected = m.frame(1, ts, m.systemConnected(identity));
  assert.ok(connected.startsWith('{"id":1,"payload":{"authority":true,"chain":"Local Testnet","config":"","genesis_hash":"0x'));
  assert.ok(connected.endsWith(`"version":"2.1.2-dcda600-x86_64-linux-gnu"},"ts":"${ts}"}`));
  assert.equal(m.frame(1, ts, m.txpoolImport(1, 0)), `{"id":1,"ts":"${ts}","payload":{"future":0,"msg":"txpool.import","ready":1}}`);
});

test('field types follow the catalogue: str# and Rust Debug text where docs/wire-protocol.md#numbers-as-strings says so', () => {
  const finalized = m.notifyFinalized(HASH, 1853457);
  assert.equal(finalized.height, '1853457');
  assert.equal(m.blockImport(HASH, 5, 'Own').height, 5);
  assert.equal(m.afgReceivedVote('precommit', HASH, 5, 'X').voter, '"X"');
  assert.equal(m.afgReceivedCommit(HASH, 5, ['A', 'B']).contains_precommits_signed_by, '["A", "B"]');
  assert.equal(m.afgAuthoritySet({ authorities: ['A', 'B'], authorityId: 'A', setId: 0 }).authorities, '["A","B"]');
  assert.match(HASH, /^0x[0-9a-f]{64}$/);
  assert.match(m.peerIdFor('x'), /^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/);
});

test('envelope ids are opaque u64 text: big ids round-trip exactly, anything else is refused', () => {
  const ts = m.formatTs(1n);
  const payload = m.txpoolImport(0, 0);
  assert.ok(m.frame('18446744073709551615', ts, payload).startsWith('{"id":18446744073709551615,"ts":'));
  assert.ok(m.frame(2n ** 53n + 1n, ts, payload).startsWith('{"id":9007199254740993,"ts":'));
  assert.ok(m.frame('9007199254740993', ts, m.systemConnected(identity)).startsWith('{"id":9007199254740993,"payload":'));
  for (const bad of ['18446744073709551616', '-1', '1e3', '01', ' 1', 2 ** 53 + 2, 1.5]) {
    assert.throws(() => m.frame(bad, ts, payload), RangeError, String(bad));
  }
});

test('system.network_state hits its target size (±10 %) with the tetcore structure of docs/wire-protocol.md#systemnetwork_state', () => {
  const peerId = m.peerIdFor('me');
  for (const kb of [2, 22, 140, 350]) {
    const template = m.buildNetworkStateTemplate(kb * 1000);
    const text = m.networkStateFrame(template, 1, m.formatTs(BigInt(Date.now()) * 1_000_000n + 1n), peerId);
    const bytes = Buffer.byteLength(text);
    assert.ok(Math.abs(bytes - kb * 1000) <= kb * 100, `${kb} KB target gave ${bytes} bytes`);
    assertCompact(text);
    const parsed = JSON.parse(text);
    assert.deepEqual(Object.keys(parsed), ['id', 'ts', 'payload']);
    assert.deepEqual(Object.keys(parsed.payload), ['msg', 'state']);
    const state = parsed.payload.state;
    assertKeysSorted(state);
    assert.deepEqual(Object.keys(state), ['connectedPeers', 'externalAddresses', 'listenedAddresses', 'notConnectedPeers', 'peerId', 'peerset']);
    assert.equal(state.peerId, peerId);
    assert.equal(state.peerset.nodes, undefined);
    assert.equal(state.peerset.sets.length, 3);
    const connected = Object.keys(state.connectedPeers);
    assert.equal(connected.length, template.connectedPeers);
    assert.ok(connected.length >= 1);
    for (const peer of connected) assert.deepEqual(state.peerset.sets[0].nodes[peer].connected, true);
    assert.equal(Object.keys(state.peerset.sets[0].nodes).length, template.discoveredPeers);
    assert.deepEqual(Object.keys(state.peerset.sets[1].nodes), connected);
    const node = Object.values(state.peerset.sets[0].nodes)[0] as Record<string, unknown>;
    assert.deepEqual(Object.keys(node), ['connected', 'reputation']);
    const firstPeer = state.connectedPeers[connected[0]];
    assert.deepEqual(Object.keys(firstPeer), ['endpoint', 'knownAddresses', 'latestPingTime', 'versionString']);
  }
});

test('fixtureToV2 applies the transform of docs/wire-protocol.md#the-2020-capture to telemetry_messages.json', () => {
  const fixture = loadV1Fixture();
  assert.equal(fixture.length, 16);
  const frames = fixtureToV2Parsed(fixture);
  assert.equal(frames[0]!.payload.msg, 'system.connected');
  assert.deepEqual(Object.keys(frames[0]), ['id', 'payload', 'ts']);
  for (const frame of frames.slice(1)) assert.deepEqual(Object.keys(frame), ['id', 'ts', 'payload']);
  const types = frames.map((frame) => frame.payload.msg);
  assert.ok(!types.includes('afg.finalized'));
  assert.equal(types.filter((type) => type === 'system.interval').length, 2);
  for (const frame of frames) {
    assert.ok(!('level' in frame.payload));
    assertKeysSorted(frame.payload);
  }
  for (const frame of frames.filter((f) => f.payload.msg === 'system.interval')) {
    for (const gone of ['cpu', 'memory', 'disk_read_per_sec', 'disk_write_per_sec', 'used_db_cache_size']) {
      assert.ok(!(gone in frame.payload), gone);
    }
  }
  const state = frames.find((frame) => frame.payload.msg === 'system.network_state')!.payload.state;
  assert.ok(state.peerset.sets[0].nodes);
  assert.equal(state.peerset.nodes, undefined);
  assert.equal(state.averageDownloadPerSec, undefined);
  for (const peer of Object.values<Record<string, unknown>>(state.connectedPeers)) {
    assert.ok(!('enabled' in peer) && !('open' in peer));
  }
  assert.equal(frames[0]!.payload.network_id, state.peerId);
});

test('fixtureToV2 output matches the reference tetcore session payload for payload', () => {
  const session = v2SessionFrames().map((line) => JSON.parse(line));
  const networkId = session[0].payload.network_id;
  const mine = fixtureToV2Parsed(loadV1Fixture(), { networkId });
  for (const reference of session.slice(1)) {
    const match = mine.some((frame) => JSON.stringify(frame.payload) === JSON.stringify(reference.payload));
    assert.ok(match, `no identical payload for ${reference.payload.msg}`);
  }
});

test('V1 replay is the fixture verbatim except for a fresh ts', () => {
  const fixture = loadV1Fixture();
  const templates = m.v1Templates(fixture);
  const ts = m.formatTs(1_624_410_117_123_456_789n);
  for (const message of fixture) {
    const text = m.v1Frame(templates.get(message.msg)!, ts);
    assert.equal(text, JSON.stringify({ ...message, ts }));
  }
});

test('the natural per-node rates match docs/wire-protocol.md#rates-and-sizes (≈1 msg/s at verbosity 0, ≈9 for a validator at 5)', () => {
  const total = (verbosity: number, role: 'validator' | 'full') =>
    naturalRates(verbosity, role, 4, 0).reduce((sum, [, rate]) => sum + rate, 0);
  assert.ok(total(0, 'full') > 0.9 && total(0, 'full') < 1.2);
  assert.ok(total(1, 'full') > 6 && total(1, 'full') < 8);
  assert.ok(total(5, 'validator') > 8 && total(5, 'validator') < 11);
});

function fixtureToV2Parsed(fixture: m.V1Message[], identityOverride: Partial<m.NodeIdentity> = {}) {
  return m.fixtureToV2(fixture, { identity: identityOverride }).map((text) => {
    assertCompact(text);
    return JSON.parse(text);
  });
}
