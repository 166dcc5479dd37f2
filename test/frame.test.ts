// The pure ingest parser on byte fixtures, without a server.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseFrame } from '../src/ingest/frame.js';
import { rfc3339ToUtc, tsToUtc } from '../src/ingest/timestamp.js';
import { jsonbSafe, topLevelMembers } from '../src/ingest/json-text.js';
import { copyEscape, encodeCopyRows } from '../src/storage/substrate-logs.js';
import { v1Messages, v2SessionFrames } from './helpers/fixtures.js';

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
