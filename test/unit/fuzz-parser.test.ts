// Fuzzing the ingest parser with fast-check: 100,000 generated frames on every run (no server; the same
// frames against a real server are in test/integration/fuzz.test.ts). Among them: nesting beyond
// MAX_JSON_DEPTH, oversized identity fields, timestamps far in the future.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseFrame } from '../../src/ingest/frame.js';
import { DROP_REASONS } from '../../src/domain/drops.js';
import { IDENTITY_LIMITS } from '../../src/domain/identity.js';
import { TS, CLOCK, IDENTITY_FIELDS, identityFields, deepFrame, futureFrame, hostileFrame } from '../helpers/hostile-frames.js';

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
