// The pure ingest parser on byte fixtures, without a server.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseFrame } from '../../src/ingest/frame.js';
import { IDENTITY_LIMITS, IDENTITY_COLUMNS } from '../../src/domain/identity.js';
import { MAX_JSON_DEPTH, exceedsJsonDepth } from '../../src/json-depth.js';
import { rfc3339ToUtc, tsToUtc } from '../../src/domain/time.js';
import { jsonbSafe, topLevelMembers } from '../../src/ingest/json-text.js';
import { copyEscape, encodeCopyRows } from '../../src/storage/substrate-logs.js';
import { v1Messages, v2SessionFrames } from '../helpers/fixtures.js';

describe('parseFrame', () => {
  it('keeps every V1 fixture message verbatim, with created_at from ts', () => {
    for (const message of v1Messages()) {
      const text = JSON.stringify(message);
      const frame = parseFrame(Buffer.from(text));
      assert.equal(frame.drop, null, String(message.msg));
      assert.equal(frame.envelopeId, null);
      assert.equal(frame.msg, message.msg);
      assert.deepEqual(JSON.parse(frame.row!.logs), message);
      assert.equal(frame.row!.createdAt, rfc3339ToUtc(message.ts as string));
    }
  });

  it('takes the peer id of a V1 network state as identity', () => {
    const state = v1Messages().find((m) => m.msg === 'system.network_state') as { state: { peerId: string } };
    assert.deepEqual(parseFrame(Buffer.from(JSON.stringify(state))).identity, { peerId: state.state.peerId });
  });

  it('unwraps every V2 session frame: payload fields at the top, the envelope ts, no payload/id keys', () => {
    for (const text of v2SessionFrames()) {
      const envelope = JSON.parse(text);
      const frame = parseFrame(Buffer.from(text));
      assert.equal(frame.drop, null);
      assert.equal(frame.envelopeId, String(envelope.id));
      assert.deepEqual(JSON.parse(frame.row!.logs), { ...envelope.payload, ts: envelope.ts });
    }
  });

  it('reads the identity of a V2 system.connected', () => {
    const [connected] = v2SessionFrames();
    const payload = JSON.parse(connected).payload;
    assert.deepEqual(parseFrame(Buffer.from(connected)).identity, {
      peerId: payload.network_id,
      name: payload.name,
      chain: payload.chain,
      version: payload.version,
      authority: payload.authority,
      startupTime: payload.startup_time,
      implementation: payload.implementation,
      genesisHash: payload.genesis_hash,
    });
  });

  it('keeps envelope ids and payload numbers above 2^53 exact', () => {
    const frame = parseFrame(Buffer.from('{"id":18446744073709551615,"ts":"2021-06-23T01:01:57.123456789+00:00","payload":{"id":9007199254740993,"msg":"tracing.profiling","time":123}}'));
    assert.equal(frame.envelopeId, '18446744073709551615');
    assert.equal(frame.row!.logs, '{"id":9007199254740993,"msg":"tracing.profiling","time":123,"ts":"2021-06-23T01:01:57.123456789+00:00"}');
  });

  it('does not depend on key order or whitespace, and handles braces inside strings', () => {
    const frame = parseFrame(Buffer.from('{ "payload" : { "msg" : "x", "s" : "}{\\"}" } , "ts" : "2021-06-23T01:01:57Z", "id" : 3 }'));
    assert.equal(frame.envelopeId, '3');
    assert.deepEqual(JSON.parse(frame.row!.logs), { msg: 'x', s: '}{"}', ts: '2021-06-23T01:01:57Z' });
  });

  it('uses the last of duplicate keys, as JSON.parse does', () => {
    const frame = parseFrame(Buffer.from('{"id":1,"id":2,"ts":"bad","ts":"2021-06-23T01:01:57Z","payload":{"msg":"a"}}'));
    assert.equal(frame.envelopeId, '2');
    assert.equal(frame.row!.createdAt, '2021-06-23 01:01:57.000000');
  });

  it('stores an empty payload as just its ts', () => {
    assert.equal(parseFrame(Buffer.from('{"id":1,"ts":"2021-06-23T01:01:57Z","payload":{}}')).row!.logs, '{"ts":"2021-06-23T01:01:57Z"}');
  });

  const drops: Array<[string, string | Buffer, string]> = [
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 'invalid_utf8'],
    ['not JSON', 'hello', 'invalid_json'],
    ['truncated JSON', '{"msg":"a","ts":"2021-06-23T01:01:57Z"', 'invalid_json'],
    ['a JSON array', '[{"msg":"a"}]', 'not_an_object'],
    ['a JSON string', '"x"', 'not_an_object'],
    ['null', 'null', 'not_an_object'],
    ['no ts', '{"msg":"a"}', 'missing_ts'],
    ['a numeric ts', '{"msg":"a","ts":1624410117}', 'missing_ts'],
    ['a ts without offset', '{"msg":"a","ts":"2021-06-23T01:01:57"}', 'invalid_ts'],
    ['an impossible date', '{"msg":"a","ts":"2021-13-01T00:00:00Z"}', 'invalid_ts'],
    ['a V2 id that is a string', '{"id":"1","ts":"2021-06-23T01:01:57Z","payload":{"msg":"a"}}', 'bad_envelope'],
    ['a negative V2 id', '{"id":-1,"ts":"2021-06-23T01:01:57Z","payload":{"msg":"a"}}', 'bad_envelope'],
    ['a V2 id above 2^64', '{"id":18446744073709551616,"ts":"2021-06-23T01:01:57Z","payload":{"msg":"a"}}', 'bad_envelope'],
    ['a fractional V2 id', '{"id":1.5,"ts":"2021-06-23T01:01:57Z","payload":{"msg":"a"}}', 'bad_envelope'],
  ];
  for (const [what, bytes, reason] of drops) {
    it(`drops ${what} as ${reason}`, () => {
      const frame = parseFrame(typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
      assert.equal(frame.row, null);
      assert.equal(frame.drop, reason);
    });
  }

  it('still reports the identity of a system.connected that has no ts', () => {
    const frame = parseFrame(Buffer.from('{"msg":"system.connected","network_id":"Qm1","name":"n"}'));
    assert.equal(frame.drop, 'missing_ts');
    assert.deepEqual(frame.identity, { peerId: 'Qm1', name: 'n' });
  });

  it('treats a non-object payload as a flat message', () => {
    const frame = parseFrame(Buffer.from('{"msg":"a","payload":5,"ts":"2021-06-23T01:01:57Z"}'));
    assert.equal(frame.envelopeId, null);
    assert.equal(frame.row!.logs, '{"msg":"a","payload":5,"ts":"2021-06-23T01:01:57Z"}');
  });
});

describe('parseFrame against hostile nodes', () => {
  const TS = '2021-06-23T01:02:03Z';
  const nest = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

  it('one oversized network_id (item 1): the identity field is ignored and named, the message is still stored', () => {
    const huge = 'Q'.repeat(8000);
    const frame = parseFrame(Buffer.from(JSON.stringify({ id: 1, ts: TS, payload: { msg: 'system.connected', network_id: huge, name: 'ok', chain: 'Chain' } })));
    assert.equal(frame.drop, null);
    assert.equal(JSON.parse(frame.row!.logs).network_id, huge, 'the message keeps what the node sent');
    assert.deepEqual(frame.identity, { name: 'ok', chain: 'Chain' });
    assert.deepEqual(frame.rejectedIdentity, ['peer_id']);
  });

  it('bounds every identity text at its documented limit, and the peer id of a network state too', () => {
    const fieldOf = { peer_id: 'network_id', name: 'name', chain: 'chain', version: 'version', implementation: 'implementation', genesis_hash: 'genesis_hash' } as const;
    const keyOf = { peer_id: 'peerId', name: 'name', chain: 'chain', version: 'version', implementation: 'implementation', genesis_hash: 'genesisHash' } as const;
    assert.deepEqual([...IDENTITY_COLUMNS].sort(), Object.keys(fieldOf).sort());
    for (const column of IDENTITY_COLUMNS) {
      const limit = IDENTITY_LIMITS[column];
      const atLimit = parseFrame(Buffer.from(JSON.stringify({ msg: 'system.connected', ts: TS, [fieldOf[column]]: 'x'.repeat(limit) })));
      assert.equal((atLimit.identity as Record<string, unknown>)[keyOf[column]], 'x'.repeat(limit), `${column} at its limit is kept`);
      assert.equal(atLimit.rejectedIdentity, null);
      const over = parseFrame(Buffer.from(JSON.stringify({ msg: 'system.connected', ts: TS, [fieldOf[column]]: 'x'.repeat(limit + 1) })));
      assert.deepEqual(over.identity, {}, `${column} one past its limit is ignored`);
      assert.deepEqual(over.rejectedIdentity, [column]);
      assert.notEqual(over.row, null);
    }
    const state = parseFrame(Buffer.from(JSON.stringify({ msg: 'system.network_state', ts: TS, state: { peerId: 'Q'.repeat(IDENTITY_LIMITS.peer_id + 1) } })));
    assert.equal(state.identity, null);
    assert.deepEqual(state.rejectedIdentity, ['peer_id']);
    assert.notEqual(state.row, null);
    // Everything oversized at once is reported field by field; U+0000 removed before measuring.
    const all = parseFrame(Buffer.from(JSON.stringify({ msg: 'system.connected', ts: TS, network_id: 'a'.repeat(200), name: 'b'.repeat(300), chain: 'c'.repeat(200), version: 'd'.repeat(200), implementation: 'e'.repeat(200), genesis_hash: 'f'.repeat(200), authority: true })));
    assert.deepEqual(all.identity, { authority: true });
    assert.deepEqual(all.rejectedIdentity, ['peer_id', 'name', 'chain', 'version', 'implementation', 'genesis_hash']);
    const nul = parseFrame(Buffer.from(JSON.stringify({ msg: 'system.connected', ts: TS, name: `${'n'.repeat(256)}\u0000` })));
    assert.equal(nul.identity!.name, 'n'.repeat(256));
  });

  it('one frame nested 10,000 deep (item 2) is dropped as too_deep before JSON.parse; MAX_JSON_DEPTH itself is accepted', () => {
    assert.equal(parseFrame(Buffer.from(`{"msg":"deep","ts":"${TS}","v":${nest(10_000)}}`)).drop, 'too_deep');
    assert.equal(parseFrame(Buffer.from(`{"msg":"deep","ts":"${TS}","v":${nest(MAX_JSON_DEPTH)}}`)).drop, 'too_deep', 'the message object is one more level');
    const deepest = parseFrame(Buffer.from(`{"msg":"deep","ts":"${TS}","v":${nest(MAX_JSON_DEPTH - 1)}}`));
    assert.equal(deepest.drop, null);
    assert.equal(deepest.row!.logs.length > MAX_JSON_DEPTH * 2, true);
    // An unterminated deep text is too deep as well (it never reaches JSON.parse).
    assert.equal(parseFrame(Buffer.from('['.repeat(100_000))).drop, 'too_deep');
    assert.equal(parseFrame(Buffer.from(`{"msg":"brackets","ts":"${TS}","s":"${'['.repeat(5000)}"}`)).drop, null, 'brackets inside strings are text');
  });

  it('exceedsJsonDepth counts nesting outside strings only, escapes included', () => {
    assert.equal(exceedsJsonDepth(nest(3), 3), false);
    assert.equal(exceedsJsonDepth(nest(4), 3), true);
    assert.equal(exceedsJsonDepth('{"a":{"b":[{}]}}', 3), true);
    assert.equal(exceedsJsonDepth('{"a":{"b":[1]}}', 3), false);
    assert.equal(exceedsJsonDepth('["[[[[\\\\",[]]', 2), false, 'an escaped backslash before the closing quote');
    assert.equal(exceedsJsonDepth('["\\"[[[[",[]]', 2), false, 'an escaped quote inside the string');
    assert.equal(exceedsJsonDepth('[[],[],[],[]]', 2), false, 'siblings do not add up');
    assert.equal(exceedsJsonDepth('', 0), false);
    assert.equal(exceedsJsonDepth(`"${'['.repeat(2000)}`), false, 'an unterminated string');
    assert.equal(exceedsJsonDepth(nest(MAX_JSON_DEPTH)), false);
    assert.equal(exceedsJsonDepth(nest(MAX_JSON_DEPTH + 1)), true);
  });

  describe('timestamps far in the future (item 6), at fixed instants', () => {
    const NOW = Date.UTC(2021, 5, 23, 1, 0, 0); // 2021-06-23T01:00:00Z
    const clock = { nowMs: NOW, maxFutureSkewMs: 600_000 };
    const cases: Array<[string, string | null]> = [
      ['2021-06-23T01:10:00Z', null], // exactly the skew ahead: accepted
      ['2021-06-23T01:10:00.000001Z', 'ts_in_future'],
      ['2021-06-23T01:10:00.0000009Z', null], // below a microsecond: truncated, as stored
      ['2021-06-23T03:09:59+02:00', null], // 01:09:59 UTC
      ['2021-06-23T03:10:01+02:00', 'ts_in_future'], // 01:10:01 UTC
      ['2021-06-22T23:10:01-02:00', 'ts_in_future'],
      ['9999-12-31T23:59:59Z', 'ts_in_future'],
      ['1970-01-01T00:00:00Z', null], // the past is never refused
    ];
    for (const [ts, drop] of cases) {
      it(`${ts} → ${drop ?? 'stored'}`, () => {
        const flat = parseFrame(Buffer.from(JSON.stringify({ msg: 'block.import', ts })), clock);
        assert.equal(flat.drop, drop);
        assert.equal(flat.row === null, drop !== null);
        const envelope = parseFrame(Buffer.from(JSON.stringify({ id: 1, ts, payload: { msg: 'block.import' } })), clock);
        assert.equal(envelope.drop, drop);
      });
    }

    it('keeps the identity of a system.connected dropped for its ts; without a clock nothing is in the future', () => {
      const frame = parseFrame(Buffer.from(JSON.stringify({ msg: 'system.connected', network_id: 'Qm1', ts: '2999-01-01T00:00:00Z' })), clock);
      assert.equal(frame.drop, 'ts_in_future');
      assert.deepEqual(frame.identity, { peerId: 'Qm1' });
      assert.equal(parseFrame(Buffer.from(JSON.stringify({ msg: 'a', ts: '2999-01-01T00:00:00Z' }))).drop, null);
    });

    it('follows the clock it is given from call to call', () => {
      const frame = Buffer.from(JSON.stringify({ msg: 'a', ts: '2021-06-23T01:20:00Z' }));
      assert.equal(parseFrame(frame, clock).drop, 'ts_in_future');
      assert.equal(parseFrame(frame, { nowMs: NOW + 600_000, maxFutureSkewMs: 600_000 }).drop, null);
      assert.equal(parseFrame(frame, clock).drop, 'ts_in_future');
      assert.equal(parseFrame(frame, { nowMs: NOW, maxFutureSkewMs: 1_200_000 }).drop, null);
    });
  });
});

describe('rfc3339ToUtc', () => {
  const cases: Array<[string, string | null]> = [
    ['2021-06-23T01:01:57.123456789+02:00', '2021-06-22 23:01:57.123456'],
    ['2021-06-23T01:01:57+00:00', '2021-06-23 01:01:57.000000'],
    ['2021-06-23T01:01:57.1Z', '2021-06-23 01:01:57.100000'],
    ['2021-06-23t01:01:57.5z', '2021-06-23 01:01:57.500000'],
    ['2020-12-31T23:30:00-01:00', '2021-01-01 00:30:00.000000'],
    ['2020-02-29T00:00:00Z', '2020-02-29 00:00:00.000000'],
    ['2016-12-31T23:59:60Z', '2016-12-31 23:59:59.999999'],
    ['2021-02-29T00:00:00Z', null],
    ['2021-06-23T24:00:00Z', null],
    ['2021-06-23T01:01:57', null],
    ['2021-06-23 01:01:57+00:00', '2021-06-23 01:01:57.000000'],
    ['21-06-23T01:01:57Z', null],
    ['', null],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} → ${expected}`, () => {
      assert.equal(rfc3339ToUtc(input), expected);
      assert.equal(tsToUtc(input), expected, 'the cached hot-path conversion agrees');
      assert.equal(tsToUtc(input), expected, 'and agrees again from its cache');
    });
  }
});

describe('jsonbSafe', () => {
  it('escapes \\u0000 and unpaired surrogates, keeps valid pairs and escaped backslashes', () => {
    assert.equal(jsonbSafe('{"a":"x\\u0000y"}'), '{"a":"x\\\\u0000y"}');
    assert.equal(jsonbSafe('{"a":"\\\\u0000"}'), '{"a":"\\\\u0000"}');
    assert.equal(jsonbSafe('{"a":"\\ud83d\\ude00"}'), '{"a":"\\ud83d\\ude00"}');
    assert.equal(jsonbSafe('{"a":"\\ud83d"}'), '{"a":"\\\\ud83d"}');
    assert.equal(jsonbSafe('{"a":"\\ude00"}'), '{"a":"\\\\ude00"}');
    assert.equal(jsonbSafe('{"a":"\\u00e9"}'), '{"a":"\\u00e9"}');
    for (const text of ['{"a":"x\\u0000y"}', '{"a":"\\ud83d"}', '{"a":"\\\\\\u0000"}']) {
      assert.doesNotThrow(() => JSON.parse(jsonbSafe(text)), text);
    }
  });
});

describe('topLevelMembers', () => {
  it('returns raw text of top-level values only', () => {
    const members = topLevelMembers('{"a":{"id":1},"id":  12345678901234567890 ,"s":"\\"id\\"","z":[1,{"id":2}]}', ['id', 's', 'z']);
    assert.equal(members.get('id'), '12345678901234567890');
    assert.equal(members.get('s'), '"\\"id\\""');
    assert.equal(members.get('z'), '[1,{"id":2}]');
  });
});

describe('COPY encoding', () => {
  it('escapes backslashes and row/field separators', () => {
    assert.equal(copyEscape('a\\b\tc\nd\re'), 'a\\\\b\\tc\\nd\\re');
    assert.equal(copyEscape('plain'), 'plain');
    assert.equal(
      encodeCopyRows([{ createdAt: '2021-06-23 01:01:57.000000', logs: '{"a":"\\"q\\""}', peerConnectionId: 7, audit: true }]),
      '2021-06-23 01:01:57.000000\t{"a":"\\\\"q\\\\""}\t7\tt\n',
    );
  });
});
