// Fuzzing the ingest path with fast-check: 100,000 generated frames through the parser on every run,
// and hostile frames through a real server next to a well-behaved node whose messages must all arrive.
// Among them: nesting beyond MAX_JSON_DEPTH, oversized identity fields, timestamps far in the future.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseFrame, DROP_REASONS, IDENTITY_LIMITS, type IdentityColumn } from '../src/ingest/frame.js';
import { MAX_JSON_DEPTH } from '../src/json-depth.js';
import { BACKENDS } from './helpers/backends.js';
import { startTestServer, waitFor } from './helpers/server.js';
import { connectNode } from './helpers/fixtures.js';

const TS = '2021-06-23T01:02:03.123456789+00:00';
const anyJson = fc.jsonValue({ maxDepth: 4 });
const nastyString = fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom('\u0000', 'a\u0000b', '\ud800', '\udc00x', '\\u0000', '}"{', '\\'));
/** The parser's clock in the property tests: TS is in its past, FUTURE frames far ahead of it. */
const CLOCK = { nowMs: Date.UTC(2021, 5, 23, 2, 0, 0), maxFutureSkewMs: 600_000 };
/** Far enough ahead of any clock this suite runs under (the real server's included). */
const farFutureTs = fc.date({ min: new Date('2200-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString());
const IDENTITY_FIELDS: Record<string, IdentityColumn> = { network_id: 'peer_id', name: 'name', chain: 'chain', version: 'version', implementation: 'implementation', genesis_hash: 'genesis_hash' };
/** Every identity field, each possibly far over its limit (up to 9,000 characters). */
const identityFields = fc.dictionary(fc.constantFrom(...Object.keys(IDENTITY_FIELDS)), fc.integer({ min: 0, max: 9000 }).map((n) => 'x'.repeat(n)), { minKeys: 1 });
const deepFrame = fc.tuple(fc.integer({ min: MAX_JSON_DEPTH, max: 20_000 }), fc.boolean()).map(([depth, closed]) => Buffer.from(`{"id":2,"ts":"${TS}","payload":{"msg":"deep","v":${'['.repeat(depth)}${closed ? ']'.repeat(depth) + '}}' : ''}`));
const oversizedIdentityFrame = fc.tuple(identityFields, fc.boolean()).map(([fields, v2]) => Buffer.from(JSON.stringify(v2 ? { id: 3, ts: TS, payload: { msg: 'system.connected', ...fields } } : { msg: 'system.connected', ts: TS, ...fields })));
const futureFrame = fc.tuple(farFutureTs, fc.boolean()).map(([ts, v2]) => Buffer.from(JSON.stringify(v2 ? { id: 4, ts, payload: { msg: 'future' } } : { msg: 'future', ts })));
const nastyNumberText = fc.constantFrom('1e999999', '-1e999999', '123456789012345678901234567890', '18446744073709551616', '0.0000000000000000000001', '-0', '1E400');

/** Frames a hostile or broken client could send: every shape the parser must survive. */
const hostileFrame: fc.Arbitrary<Buffer> = fc.oneof(
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

describe('fuzzing the ingest parser', () => {
  it('100,000 generated frames: never throws; a row is valid JSON with the ts, or a known drop reason', () => {
    fc.assert(
      fc.property(hostileFrame, (bytes) => {
        const frame = parseFrame(bytes, CLOCK);
        for (const [key, column] of [['peerId', 'peer_id'], ['name', 'name'], ['chain', 'chain'], ['version', 'version'], ['implementation', 'implementation'], ['genesisHash', 'genesis_hash']] as const) {
          const value = frame.identity?.[key];
          assert.ok(value === undefined || value.length <= IDENTITY_LIMITS[column], `${key} within its limit`);
        }
        if (frame.row === null) {
          assert.ok(frame.drop !== null && (DROP_REASONS as readonly string[]).includes(frame.drop));
          return;
        }
        assert.equal(frame.drop, null);
        const stored = JSON.parse(frame.row.logs);
        assert.equal(typeof stored, 'object');
        assert.match(frame.row.createdAt, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/);
        assert.ok(!/(^|[^\\])(\\\\)*\\u0000/.test(frame.row.logs), 'no raw \\u0000 escape reaches JSONB');
      }),
      { numRuns: 100_000 },
    );
  });

  it('nesting beyond MAX_JSON_DEPTH is always too_deep, closed or not', () => {
    fc.assert(fc.property(deepFrame, (bytes) => assert.equal(parseFrame(bytes, CLOCK).drop, 'too_deep')), { numRuns: 200 });
  });

  it('a far-future ts is always ts_in_future, flat or in an envelope', () => {
    fc.assert(fc.property(futureFrame, (bytes) => assert.equal(parseFrame(bytes, CLOCK).drop, 'ts_in_future')), { numRuns: 2_000 });
  });

  it('oversized identity fields are ignored one by one and named; the message is stored whole', () => {
    fc.assert(
      fc.property(identityFields, (fields) => {
        const frame = parseFrame(Buffer.from(JSON.stringify({ msg: 'system.connected', ts: TS, ...fields })), CLOCK);
        assert.equal(frame.drop, null);
        assert.deepEqual(JSON.parse(frame.row!.logs), { msg: 'system.connected', ts: TS, ...fields });
        const over = Object.entries(fields).filter(([field, value]) => value.length > IDENTITY_LIMITS[IDENTITY_FIELDS[field]]).map(([field]) => IDENTITY_FIELDS[field]);
        assert.deepEqual([...(frame.rejectedIdentity ?? [])].sort(), over.sort());
      }),
      { numRuns: 500 },
    );
  });

  it('a well-formed message survives the round trip exactly (unicode, big numbers kept as text)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => k !== 'ts' && k !== 'msg'), fc.oneof(fc.string({ unit: 'grapheme', maxLength: 10 }), fc.integer(), fc.boolean())), (fields) => {
        const payload = { ...fields, msg: 'fuzz' };
        const frame = parseFrame(Buffer.from(JSON.stringify({ id: 1, ts: TS, payload })));
        assert.deepEqual(JSON.parse(frame.row!.logs), { ...payload, ts: TS });
      }),
      { numRuns: 2_000 },
    );
  });
});

for (const backend of BACKENDS) {
  describe(`fuzzing a real server (${backend.name})`, () => {
    it("hostile frames never crash it, never cost another node's messages, and every one is stored or counted", { timeout: 180_000 }, async () => {
      // The nodes go silent while the test waits: no liveness timeout may close them meanwhile.
      const server = await startTestServer(backend, { DB_BATCH_SIZE: '64', CLIENT_TIMEOUT_S: '600' });
      try {
        const good = await connectNode(server.url('/'));
        await good.send(`{"id":1,"ts":"${TS}","payload":{"msg":"system.connected","network_id":"12D3KooWFuzzGoodNode","name":"good"}}`);
        let goodSent = 1;
        // Rows are created with a node's first stored message: find the good node's by its peer id.
        const goodId = await waitFor(async () => (await server.db.query<{ id: number }>(`SELECT id FROM peer_connections WHERE peer_id = '12D3KooWFuzzGoodNode'`)).rows[0]?.id, "the good node's row");
        const hostile = await connectNode(server.url('/'));
        const frames = fc.sample(hostileFrame, { numRuns: backend.name === 'postgres' ? 3_000 : 1_000, seed: 42 });
        for (let i = 0; i < frames.length; i += 50) {
          await hostile.send(...frames.slice(i, i + 50));
          await good.send(`{"id":1,"ts":"${TS}","payload":{"height":${goodSent},"msg":"block.import"}}`);
          goodSent++;
        }
        await waitFor(async () => Number((await server.db.query<{ n: number }>('SELECT count(*) AS n FROM substrate_logs WHERE peer_connection_id = $1', [goodId])).rows[0].n) === goodSent, `the good node's ${goodSent} messages`, 60_000);
        // Reconcile the hostile node: everything it sent is stored or counted as dropped.
        const accounted = async () => {
          const stored = Number((await server.db.query<{ n: number }>('SELECT count(*) AS n FROM substrate_logs WHERE peer_connection_id <> $1', [goodId])).rows[0].n);
          const dropped = (await server.metrics.messagesDropped.get()).values.reduce((n, v) => n + v.value, 0);
          return stored + dropped;
        };
        await waitFor(async () => (await accounted()) === frames.length, `${frames.length} hostile frames accounted for`, 60_000);
        assert.equal(hostile.ws.readyState, hostile.ws.OPEN, 'bad content does not close the connection');
        const dropped = async (reason: string) => (await server.metrics.messagesDropped.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
        assert.ok((await dropped('too_deep')) > 0 && (await dropped('ts_in_future')) > 0, 'deep and future frames were among them');
        assert.ok((await server.metrics.identityFieldsRejected.get()).values.some((v) => v.value > 0), 'so were oversized identity fields');
        assert.equal((await fetch(server.httpUrl('/health'))).status, 200);
        await hostile.close();
        await good.close();
      } finally {
        await server.dispose();
      }
    });
  });
}
