// Network analytics, the pure derivation: frames as nodes send them (bytes) → parseFrame → deriveFact,
// and the ingestion glue that only derives once a node has identified itself.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseFrame } from '../../src/ingest/frame.js';
import { deriveFact, heightOf, initialState, type ConnectionState } from '../../src/analytics/derive.js';
import { AnalyticsIngest, utcMillisText } from '../../src/analytics/ingest.js';
import { NodeHandle } from '../../src/ingest/node.js';
import { createMetrics } from '../../src/metrics/catalogue.js';

const TS = '2021-06-23T01:02:01.123457789+00:00';
const HASH = '0x91e8a209492d7b27c75ffad9adc7ef6736c090f55fe8e9ce291771cae0bb991a';

function factOf(frame: string, state: ConnectionState = initialState()) {
  const parsed = parseFrame(Buffer.from(frame));
  assert.ok(parsed.row, `frame stored: ${frame}`);
  return deriveFact(parsed.row.msg, parsed.row.logs, state);
}

const v2 = (payload: string) => `{"id":1,"ts":"${TS}","payload":${payload}}`;

describe('analytics: deriving facts from stored messages', () => {
  it('turns a block.import (V2 envelope or flat V1) into an arrival with its origin', () => {
    assert.deepEqual(factOf(v2(`{"best":"${HASH}","height":1853456,"msg":"block.import","origin":"NetworkBroadcast"}`)), {
      kind: 'arrival',
      height: 1853456,
      hash: HASH,
      origin: 'NetworkBroadcast',
      catchUp: false,
    });
    assert.deepEqual(factOf(`{"best": "${HASH}", "height": 7, "msg": "block.import", "origin": "Own", "ts": "${TS}"}`), {
      kind: 'arrival',
      height: 7,
      hash: HASH,
      origin: 'Own',
      catchUp: false,
    });
  });

  it('marks NetworkInitialSync, File and Genesis imports as catch-up; a missing origin is null', () => {
    for (const origin of ['NetworkInitialSync', 'File', 'Genesis']) {
      const fact = factOf(v2(`{"best":"${HASH}","height":3,"msg":"block.import","origin":"${origin}"}`));
      assert.equal(fact?.kind === 'arrival' && fact.catchUp, true, origin);
    }
    for (const origin of ['ConsensusBroadcast', 'Own', 'NetworkBroadcast']) {
      const fact = factOf(v2(`{"best":"${HASH}","height":3,"msg":"block.import","origin":"${origin}"}`));
      assert.equal(fact?.kind === 'arrival' && fact.catchUp, false, origin);
    }
    assert.deepEqual(factOf(v2(`{"best":"${HASH}","height":3,"msg":"block.import"}`)), { kind: 'arrival', height: 3, hash: HASH, origin: null, catchUp: false });
    assert.deepEqual(factOf(v2(`{"best":"${HASH}","height":3,"msg":"block.import","origin":5}`)), { kind: 'arrival', height: 3, hash: HASH, origin: null, catchUp: false });
  });

  it('accepts heights as numbers or decimal strings, and nothing else', () => {
    const accepted: Array<[string, number]> = [
      ['1853456', 1853456],
      ['"1853457"', 1853457],
      ['0', 0],
      ['-0', 0],
      ['1e3', 1000],
      ['1853456.0', 1853456],
      ['9007199254740991', 9007199254740991],
      ['"999999999999999"', 999999999999999],
      ['"\\u0031\\u0032"', 12],
    ];
    for (const [raw, height] of accepted) {
      const fact = factOf(v2(`{"best":"${HASH}","height":${raw},"msg":"block.import"}`));
      assert.equal(fact?.height, height, raw);
    }
    const refused = ['-1', '1.5', '9007199254740992', '"1e3"', '"-1"', '""', '" 1"', '"1234567890123456"', 'true', 'null', '[1]', '{"n":1}'];
    for (const raw of refused) {
      assert.equal(factOf(v2(`{"best":"${HASH}","height":${raw},"msg":"block.import"}`)), null, raw);
      assert.equal(heightOf(raw), null, raw);
    }
    assert.equal(factOf(v2(`{"best":"${HASH}","msg":"block.import"}`)), null, 'no height');
  });

  it('needs a hash: a string of 1 to 256 characters', () => {
    assert.equal(factOf(v2(`{"height":1,"msg":"block.import"}`)), null);
    assert.equal(factOf(v2(`{"best":"","height":1,"msg":"block.import"}`)), null);
    assert.equal(factOf(v2(`{"best":12,"height":1,"msg":"block.import"}`)), null);
    assert.equal(factOf(v2(`{"best":"${'a'.repeat(257)}","height":1,"msg":"block.import"}`)), null);
    assert.equal(factOf(v2(`{"best":"${'a'.repeat(256)}","height":1,"msg":"block.import"}`))?.hash, 'a'.repeat(256));
  });

  it('reads the last of duplicate keys, as JSONB does, and only top-level fields', () => {
    assert.equal(factOf(v2(`{"best":"0xaa","height":1,"height":2,"msg":"block.import"}`))?.height, 2);
    assert.equal(factOf(v2(`{"nested":{"best":"0xbb","height":9},"best":"0xaa","height":1,"msg":"block.import"}`))?.hash, '0xaa');
  });

  it('turns notify.finalized and system.interval into finality reports, only when the height rises', () => {
    const state = initialState();
    const notify = (height: string) => v2(`{"best":"${HASH}","height":${height},"msg":"notify.finalized"}`);
    const interval = (height: number) => v2(`{"best":"0x01","finalized_hash":"0x02","finalized_height":${height},"height":${height + 3},"msg":"system.interval","txcount":0}`);
    assert.deepEqual(factOf(notify('"100"'), state), { kind: 'finality', height: 100, hash: HASH, source: 'notify.finalized' });
    assert.equal(factOf(notify('"100"'), state), null, 'a repeat');
    assert.equal(factOf(interval(100), state), null, 'the same height from an interval');
    assert.equal(factOf(interval(99), state), null, 'lower');
    assert.deepEqual(factOf(interval(101), state), { kind: 'finality', height: 101, hash: '0x02', source: 'system.interval' });
    assert.deepEqual(factOf(notify('103'), state), { kind: 'finality', height: 103, hash: HASH, source: 'notify.finalized' });
    assert.equal(state.maxFinalized, 103);
    assert.equal(factOf(v2(`{"bandwidth_download":1,"bandwidth_upload":2,"msg":"system.interval","peers":3}`), state), null, 'the network half of an interval');
    assert.equal(factOf(v2(`{"finalized_height":104,"msg":"system.interval"}`), state)?.hash, null, 'no finalized hash: null');
    assert.equal(factOf(v2(`{"height":"x","msg":"notify.finalized"}`), state), null);
    assert.equal(state.maxFinalized, 104);
  });

  it('derives nothing from other messages, and leaves the state alone', () => {
    const state = initialState();
    for (const payload of [
      `{"msg":"txpool.import","ready":1,"future":0}`,
      `{"msg":"afg.finalized_blocks_up_to","number":"5","hash":"${HASH}"}`,
      `{"best":"${HASH}","height":5,"msg":"block.imported"}`,
      `{"best":"${HASH}","height":5}`,
    ]) {
      assert.equal(factOf(v2(payload), state), null, payload);
    }
    assert.equal(state.maxFinalized, -1);
  });

  it('derives at ingestion only once the node has sent system.connected (chain and peer id)', () => {
    const analytics = new AnalyticsIngest(createMetrics());
    const node = new NodeHandle('127.0.0.1:1', false, '1', 1);
    const block = parseFrame(Buffer.from(v2(`{"best":"${HASH}","height":5,"msg":"block.import","origin":"Own"}`)));
    assert.equal(analytics.derive(node, block.row!, 1_000), null, 'unidentified node');
    const connected = parseFrame(
      Buffer.from(v2(`{"msg":"system.connected","chain":"Development","genesis_hash":"0xgen","network_id":"12D3KooWPeer","name":"a","version":"1","authority":false,"startup_time":"1"}`)),
    );
    node.learn(connected.identity!);
    assert.deepEqual(analytics.derive(node, block.row!, 1_624_410_121_123), {
      fact: { kind: 'arrival', height: 5, hash: HASH, origin: 'Own', catchUp: false },
      chain: 'Development',
      genesisHash: '0xgen',
      peerId: '12D3KooWPeer',
      receivedAt: 1_624_410_121_123,
      nodeTs: '2021-06-23 01:02:01.123457',
    });
    assert.equal(utcMillisText(1_624_410_121_123), '2021-06-23 01:02:01.123');
    const noGenesis = new NodeHandle('127.0.0.1:2', true, null, 2);
    noGenesis.learn({ chain: 'Development', peerId: '12D3KooWOther' });
    assert.equal(analytics.derive(noGenesis, block.row!, 0)?.genesisHash, null);
  });
});
