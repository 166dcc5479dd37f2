// Fuzzing the ingest path with fast-check: 100,000 generated frames through the parser on every run,
// and hostile frames through a real server next to a well-behaved node whose messages must all arrive.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseFrame, DROP_REASONS } from '../src/ingest/frame.js';
import { BACKENDS } from './helpers/backends.js';
import { startTestServer, waitFor } from './helpers/server.js';
import { connectNode } from './helpers/fixtures.js';

const TS = '2021-06-23T01:02:03.123456789+00:00';
const anyJson = fc.jsonValue({ maxDepth: 4 });
const nastyString = fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom('\u0000', 'a\u0000b', '\ud800', '\udc00x', '\\u0000', '}"{', '\\'));
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
);

describe('fuzzing the ingest parser', () => {
  it('100,000 generated frames: never throws; a row is valid JSON with the ts, or a known drop reason', () => {
    fc.assert(
      fc.property(hostileFrame, (bytes) => {
        const frame = parseFrame(bytes);
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
      const server = await startTestServer(backend, { DB_BATCH_SIZE: '64' });
      try {
        const good = await connectNode(server.url('/'));
        // The hostile node's envelope ids create more rows later: note the good node's row now.
        const goodId = (await server.db.query<{ id: number }>('SELECT max(id) AS id FROM peer_connections')).rows[0].id;
        const hostile = await connectNode(server.url('/'));
        const frames = fc.sample(hostileFrame, { numRuns: backend.name === 'postgres' ? 3_000 : 1_000, seed: 42 });
        let goodSent = 0;
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
        assert.equal((await fetch(server.httpUrl('/health'))).status, 200);
        await hostile.close();
        await good.close();
      } finally {
        await server.dispose();
      }
    });
  });
}
