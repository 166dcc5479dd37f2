// The JSON helpers without a server: the API's serializer that splices stored JSONB text unchanged
// (src/api/json.ts), its body parser, and the raw-text helpers of ingestion (src/ingest/json-text.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RawJson, rawJson, rawBodyOf, toJson, jsonBodyParser } from '../../src/api/json.js';
import { ApiError } from '../../src/api/errors.js';
import { MAX_JSON_DEPTH } from '../../src/json-depth.js';
import { topLevelMembers, jsonbSafe } from '../../src/ingest/json-text.js';

describe('toJson', () => {
  it('is JSON.stringify when there is no raw text', () => {
    for (const value of [null, 1, 'a"b', [1, undefined, 'x'], { a: 1, b: undefined, c: [true] }, {}]) assert.equal(toJson(value), JSON.stringify(value));
    assert.equal(toJson(undefined), 'null');
  });

  it('writes raw text verbatim at the top, in items and in their fields, keeping integers above 2^53', () => {
    const big = '{"n":123456789012345678901234567890}';
    assert.equal(toJson(rawJson(big)), big);
    assert.equal(toJson([rawJson(big), null, undefined]), `[${big},null,null]`);
    assert.equal(toJson({ id: 1, body: rawJson(big), gone: undefined, f: () => 0 }), `{"id":1,"body":${big}}`);
    assert.equal(toJson([{ id: 2, body: rawJson(big) }]), `[{"id":2,"body":${big}}]`);
    assert.equal(JSON.parse(toJson([{ k: 'é\n', body: rawJson('[]') }]))[0].k, 'é\n');
  });

  it('rawJson(null) is null, and serializes as null', () => {
    assert.equal(rawJson(null), null);
    assert.equal(toJson({ body: rawJson(null) }), '{"body":null}');
    assert.ok(rawJson('1') instanceof RawJson);
  });
});

/** Runs the body parser the way fastify does, returning its error or its value. */
function parse(body: string): { request: object; error: Error | null; value?: unknown } {
  const request = {};
  let out: { error: Error | null; value?: unknown } = { error: null };
  jsonBodyParser(request, body, (error, value) => (out = { error, value }));
  return { request, ...out };
}

describe('jsonBodyParser', () => {
  it('parses a JSON body and keeps its text for the request', () => {
    const body = '{"n": 18446744073709551616}';
    const { request, error, value } = parse(body);
    assert.equal(error, null);
    assert.deepEqual(value, { n: 18446744073709551616 });
    assert.equal(rawBodyOf(request), body);
  });

  it('answers malformed JSON with a 400 naming the body', () => {
    const { request, error } = parse('{"a":');
    assert.ok(error instanceof ApiError);
    assert.equal(error.code, 'INVALID_BODY');
    assert.equal(error.statusCode, 400);
    assert.equal(error.parameter, 'body');
    assert.match(error.message, /not valid JSON/);
    assert.equal(rawBodyOf(request), undefined);
  });

  it(`answers a body nested deeper than ${MAX_JSON_DEPTH} with a 400 saying so, and takes one at the limit`, () => {
    const { error } = parse('['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1));
    assert.ok(error instanceof ApiError);
    assert.equal(error.code, 'INVALID_BODY');
    assert.match(error.message, /nested deeper than/);
    assert.equal(parse('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH)).error, null);
  });
});

describe('topLevelMembers', () => {
  it('the last of duplicate keys wins, as in JSON.parse; escaped keys are compared decoded', () => {
    const members = topLevelMembers('{ "ts" : "a" , "\\u0074s":"b", "msg":"m" }', ['ts', 'msg']);
    assert.equal(members.get('ts'), '"b"');
    assert.equal(members.get('msg'), '"m"');
  });

  it('finds nothing in an empty object, and leaves out keys not asked for', () => {
    assert.equal(topLevelMembers('{}', ['a']).size, 0);
    assert.deepEqual([...topLevelMembers('{"a":true,"b":false,"c":null}', ['a', 'c'])], [['a', 'true'], ['c', 'null']]);
  });

  it('skips over strings holding braces and brackets inside nested values', () => {
    const members = topLevelMembers('{"x":{"s":"}]{["},"y":-1.5e3}', ['y']);
    assert.equal(members.get('y'), '-1.5e3');
  });
});

describe('jsonbSafe', () => {
  it('returns text without \\u escapes as the same string', () => {
    const text = '{"a":"plain"}';
    assert.equal(jsonbSafe(text), text);
  });

  it('leaves an escaped backslash before u alone, and a paired surrogate', () => {
    assert.equal(jsonbSafe('{"a":"\\\\u0000"}'), '{"a":"\\\\u0000"}');
    assert.equal(jsonbSafe('["\\uD83D\\uDE00"]'), '["\\uD83D\\uDE00"]');
  });

  it('escapes a lone low surrogate after an escaped backslash (not a pair)', () => {
    assert.equal(jsonbSafe('["\\\\uD83D\\uDE00"]'), '["\\\\uD83D\\\\uDE00"]');
  });
});
