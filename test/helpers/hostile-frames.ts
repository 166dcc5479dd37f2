// Frames a hostile or broken client could send, as fast-check arbitraries: shared by the parser's property
// tests (test/unit/fuzz-parser.test.ts) and the real-server fuzzing (test/integration/fuzz.test.ts).
import fc from 'fast-check';
import type { IdentityColumn } from '../../src/domain/identity.js';
import { MAX_JSON_DEPTH } from '../../src/json-depth.js';

export const TS = '2021-06-23T01:02:03.123456789+00:00';
export const anyJson = fc.jsonValue({ maxDepth: 4 });
export const nastyString = fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom('\u0000', 'a\u0000b', '\ud800', '\udc00x', '\\u0000', '}"{', '\\'));
/** The parser's clock in the property tests: TS is in its past, FUTURE frames far ahead of it. */
export const CLOCK = { nowMs: Date.UTC(2021, 5, 23, 2, 0, 0), maxFutureSkewMs: 600_000 };
/** Far enough ahead of any clock this suite runs under (the real server's included). */
export const farFutureTs = fc.date({ min: new Date('2200-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString());
export const IDENTITY_FIELDS: Record<string, IdentityColumn> = { network_id: 'peer_id', name: 'name', chain: 'chain', version: 'version', implementation: 'implementation', genesis_hash: 'genesis_hash' };
/** Every identity field, each possibly far over its limit (up to 9,000 characters). */
export const identityFields = fc.dictionary(fc.constantFrom(...Object.keys(IDENTITY_FIELDS)), fc.integer({ min: 0, max: 9000 }).map((n) => 'x'.repeat(n)), { minKeys: 1 });
export const deepFrame = fc.tuple(fc.integer({ min: MAX_JSON_DEPTH, max: 20_000 }), fc.boolean()).map(([depth, closed]) => Buffer.from(`{"id":2,"ts":"${TS}","payload":{"msg":"deep","v":${'['.repeat(depth)}${closed ? ']'.repeat(depth) + '}}' : ''}`));
export const oversizedIdentityFrame = fc.tuple(identityFields, fc.boolean()).map(([fields, v2]) => Buffer.from(JSON.stringify(v2 ? { id: 3, ts: TS, payload: { msg: 'system.connected', ...fields } } : { msg: 'system.connected', ts: TS, ...fields })));
export const futureFrame = fc.tuple(farFutureTs, fc.boolean()).map(([ts, v2]) => Buffer.from(JSON.stringify(v2 ? { id: 4, ts, payload: { msg: 'future' } } : { msg: 'future', ts })));
export const nastyNumberText = fc.constantFrom('1e999999', '-1e999999', '123456789012345678901234567890', '18446744073709551616', '0.0000000000000000000001', '-0', '1E400');

/** Frames a hostile or broken client could send: every shape the parser must survive. */
export const hostileFrame: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  anyJson.map((v) => Buffer.from(JSON.stringify(v))),
  fc.integer({ min: 1, max: 5000 }).map((depth) => Buffer.from(`{"msg":"deep","ts":"${TS}","v":${'['.repeat(depth)}${']'.repeat(depth)}}`)),
  nastyNumberText.map((n) => Buffer.from(`{"msg":"num","ts":"${TS}","n":${n}}`)),
  nastyString.map((s) => Buffer.from(JSON.stringify({ msg: s, ts: TS, s, [s]: s }))),
  fc.tuple(anyJson, anyJson, anyJson).map(([id, ts, payload]) => Buffer.from(JSON.stringify({ id, ts, payload }))),
  fc.tuple(anyJson, nastyString).map(([payload, s]) => Buffer.from(`{"id":1,"id":2,"ts":"bad","ts":"${TS}","payload":{"msg":${JSON.stringify(s)},"x":${JSON.stringify(payload)},"x":1}}`)),
  fc.tuple(fc.bigInt({ min: 0n, max: 2n ** 70n }), nastyString).map(([id, s]) => Buffer.from(`{"id":${id},"ts":"${TS}","payload":{"msg":"m","s":${JSON.stringify(s)}}}`)),
  fc.string({ maxLength: 40 }).map((ts) => Buffer.from(JSON.stringify({ msg: 'x', ts }))),
  fc.uint8Array({ minLength: 1, maxLength: 50 }).map((b) => Buffer.concat([Buffer.from(`{"msg":"x","ts":"${TS}","s":"`), Buffer.from(b), Buffer.from('"}')])),
  deepFrame,
  oversizedIdentityFrame,
  futureFrame,
);
