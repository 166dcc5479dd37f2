// The feed's pure parts without a server: request validation, timestamps, aggregation.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseRequest, ERRORS, encodeData, keyId } from '../../src/feed/protocol.js';
import { parseClientTimestamp, parseDbTimestamp, formatEpochUs, toDbTimestamp } from '../../src/domain/time.js';
import { Aggregator, aggregateValues, numericValue, type AggregatableRecord } from '../../src/feed/aggregate.js';

const base = { peer_id: 'Qm1', msg: 'tracing.profiling', interest: 'subscribe', start_time: '2021-06-23T01:02:03.456' };
const request = (fields: Record<string, unknown>) => parseRequest(JSON.stringify(fields));

describe('feed protocol: client requests', () => {
  it('accepts a subscription as the reference pages send it', () => {
    assert.deepEqual(request({ ...base, aggregate_type: '', aggregate_interval: '', aggregate_key: 'time' }), {
      kind: 'subscribe',
      key: { peerId: 'Qm1', msg: 'tracing.profiling' },
      startUs: Date.UTC(2021, 5, 23, 1, 2, 3, 456) * 1000,
      aggregation: null,
    });
    // the reputation page: no aggregation, interval 0
    assert.equal(request({ ...base, msg: 'system.network_state', aggregate_type: '', aggregate_interval: 0 }).kind, 'subscribe');
    // the profiling page with aggregation; the type is case-insensitive
    assert.deepEqual(request({ ...base, aggregate_type: 'Percentile90', aggregate_interval: 60, aggregate_key: 'time' }), {
      kind: 'subscribe',
      key: { peerId: 'Qm1', msg: 'tracing.profiling' },
      startUs: Date.UTC(2021, 5, 23, 1, 2, 3, 456) * 1000,
      aggregation: { type: 'percentile90', intervalS: 60, field: 'time' },
    });
  });

  it('accepts an unsubscribe without start_time (the pages send an empty one)', () => {
    assert.deepEqual(request({ peer_id: 'Qm1', msg: 'system.interval', interest: 'unsubscribe', start_time: '' }), { kind: 'unsubscribe', key: { peerId: 'Qm1', msg: 'system.interval' } });
    assert.deepEqual(request({ peer_id: 'Qm1', msg: 'system.interval', interest: 'unsubscribe' }).kind, 'unsubscribe');
  });

  it('answers invalid requests with the reference error texts, in the reference order', () => {
    const cases: Array<[unknown, string]> = [
      [{}, '`peer_id` not found'],
      [[1, 2], '`peer_id` not found'],
      [{ ...base, peer_id: 7 }, '`peer_id` not found'],
      [{ ...base, msg: undefined }, '`msg` not found'],
      [{ ...base, interest: undefined }, '`interest` not found'],
      [{ ...base, interest: 'watch' }, '`interest` must be either `subscribe` or `unsubscribe`'],
      [{ ...base, start_time: undefined }, '`start_time` not found'],
      [{ ...base, start_time: null }, '`start_time` not found'],
      [{ ...base, start_time: '2021-06-23T01:02:03Z' }, 'unable to parse `start_time`'],
      [{ ...base, start_time: '2021-06-23 01:02:03' }, 'unable to parse `start_time`'],
      [{ ...base, start_time: '2021-02-30T01:02:03' }, 'unable to parse `start_time`'],
      [{ ...base, start_time: 1624410123 }, 'unable to parse `start_time`'],
      [{ ...base, aggregate_type: 'mean' }, 'Unable to parse `aggregate_type` or `aggregate_interval`'],
      [{ ...base, aggregate_type: 'mean', aggregate_interval: -1 }, 'Unable to parse `aggregate_type` or `aggregate_interval`'],
      [{ ...base, aggregate_type: 'mean', aggregate_interval: 1.5 }, 'Unable to parse `aggregate_type` or `aggregate_interval`'],
      [{ ...base, aggregate_type: 'mean', aggregate_interval: '60' }, 'Unable to parse `aggregate_type` or `aggregate_interval`'],
      // docs/decisions.md#feed-aggregation: the reference hung a worker on an interval of 0
      [{ ...base, aggregate_type: 'mean', aggregate_interval: 0 }, 'Unable to parse `aggregate_type` or `aggregate_interval`'],
      // the interval is checked before the type
      [{ ...base, aggregate_type: 'average', aggregate_interval: 0 }, 'Unable to parse `aggregate_type` or `aggregate_interval`'],
      [{ ...base, aggregate_type: 'average', aggregate_interval: 10 }, 'Unable to parse AggregateType'],
    ];
    for (const [fields, error] of cases) assert.deepEqual(parseRequest(JSON.stringify(fields)), { kind: 'error', error }, JSON.stringify(fields));
    assert.ok(Object.values(ERRORS).length === 8);
  });

  it('ignores text that is not JSON', () => {
    assert.deepEqual(parseRequest('subscribe me'), { kind: 'ignore' });
    assert.deepEqual(parseRequest(''), { kind: 'ignore' });
  });

  it('never throws, whatever the text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.record({ peer_id: fc.string(), msg: fc.string(), interest: fc.constantFrom('subscribe', 'unsubscribe'), start_time: fc.string(), aggregate_type: fc.string(), aggregate_interval: fc.anything() }).map((o) => JSON.stringify(o))), (text) => {
        const r = parseRequest(text);
        assert.ok(['subscribe', 'unsubscribe', 'error', 'ignore'].includes(r.kind));
      }),
    );
  });

  it('encodes data frames in the reference shape', () => {
    const frame = encodeData({ peerId: 'Qm"1', msg: 'system.interval' }, ['{"peers": 3, "created_at":"2021-06-23T01:02:03"}']);
    assert.deepEqual(JSON.parse(frame), { peer_message: { peer_id: 'Qm"1', msg: 'system.interval' }, data: [{ peers: 3, created_at: '2021-06-23T01:02:03' }] });
    assert.notEqual(keyId({ peerId: 'a,b', msg: 'c' }), keyId({ peerId: 'a', msg: 'b,c' }));
  });
});

describe('feed timestamps', () => {
  it('formats like the reference: no fraction, 3 or 6 digits', () => {
    assert.equal(formatEpochUs(parseDbTimestamp('2019-10-28 14:05:27')), '2019-10-28T14:05:27');
    assert.equal(formatEpochUs(parseDbTimestamp('2019-10-28 14:05:27.5')), '2019-10-28T14:05:27.500');
    assert.equal(formatEpochUs(parseDbTimestamp('2020-02-14 16:59:34.691495')), '2020-02-14T16:59:34.691495');
    assert.equal(formatEpochUs(parseDbTimestamp('1969-12-31 23:59:59.999999')), '1969-12-31T23:59:59.999999');
    assert.equal(toDbTimestamp(parseDbTimestamp('2020-02-14 16:59:34.691495')), '2020-02-14 16:59:34.691495');
  });

  it('parses client start times with up to 9 fraction digits (truncated to µs)', () => {
    assert.equal(parseClientTimestamp('2021-06-23T01:02:03.123456789'), Date.UTC(2021, 5, 23, 1, 2, 3) * 1000 + 123456);
    assert.equal(parseClientTimestamp('2021-06-23T01:02:03'), Date.UTC(2021, 5, 23, 1, 2, 3) * 1000);
    assert.equal(parseClientTimestamp('2021-13-23T01:02:03'), null);
  });

  it('round-trips every microsecond instant (years 1019 to 2191)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -30_000_000_000_000_000n, max: 7_000_000_000_000_000n }).map(Number), (us) => {
        assert.equal(parseDbTimestamp(toDbTimestamp(us)), us);
        assert.equal(parseClientTimestamp(formatEpochUs(us)), us);
      }),
    );
  });
});

const S = 1_000_000;
const T0 = Date.UTC(2021, 5, 23, 1, 2, 0) * 1000; // a multiple of 60 s
const rec = (offsetS: number, fields: Record<string, unknown>): AggregatableRecord => ({ createdAtUs: T0 + offsetS * S, fields: () => fields });
const profiling = (offsetS: number, time: string | number, target = 'runtime', name = 'execute_block') => rec(offsetS, { target, name, time });

describe('feed aggregation', () => {
  it('computes the reference statistics', () => {
    const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    assert.equal(aggregateValues('min', values), 1);
    assert.equal(aggregateValues('max', values), 10);
    assert.equal(aggregateValues('mean', values), 5); // 55 / 10 truncated
    assert.equal(aggregateValues('mean', [1.5, 2]), 1.75);
    assert.equal(aggregateValues('median', values), 6); // index 5 of sorted
    assert.equal(aggregateValues('percentile90', values), 10); // index 9
    assert.equal(aggregateValues('median', [3]), 3);
  });

  it('reads numbers and decimal strings only', () => {
    assert.equal(numericValue('760'), 760);
    assert.equal(numericValue('-1.5e3'), -1500);
    assert.equal(numericValue(12), 12);
    for (const v of ['', '0x10', 'abc', '1e999', null, true, {}, [1]]) assert.equal(numericValue(v), null, JSON.stringify(v));
  });

  it('aggregates tracing.profiling time per target and name, buckets labelled with their own start, boundary records kept', () => {
    const agg = new Aggregator({ type: 'max', intervalS: 10, field: null, msg: 'tracing.profiling', retainUs: 30 * S });
    const out = agg.add([
      profiling(0, '100'), // exactly on a bucket start: belongs to [0, 10)
      profiling(5, '300'),
      profiling(9.999999, '200'),
      profiling(3, '7', 'sync', 'import'),
      profiling(10, '50'), // exactly on the next boundary: belongs to [10, 20), closes [0, 10)
      profiling(15, 'not a number'),
      rec(16, { time: '999' }), // no target/name: not a profiling span
    ]);
    assert.deepEqual(out, [
      { time: 300, name: 'execute_block', target: 'runtime', values: 'max of 3 values', count: 3, created_at: '2021-06-23T01:02:00' },
      { time: 7, name: 'import', target: 'sync', values: 'max of 1 value', count: 1, created_at: '2021-06-23T01:02:00' },
    ]);
    // [10, 20) stays open until a later record arrives; then it is sent, with its boundary record.
    assert.deepEqual(agg.add([profiling(25, '1')]), [{ time: 50, name: 'execute_block', target: 'runtime', values: 'max of 1 value', count: 1, created_at: '2021-06-23T01:02:10' }]);
  });

  it('loses no record: every value lands in exactly one bucket, whatever the interval and timestamps', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.array(fc.integer({ min: 0, max: 600 * S }), { minLength: 1, maxLength: 200 }), (interval, offsets) => {
        const sorted = [...offsets].sort((a, b) => a - b);
        const agg = new Aggregator({ type: 'mean', intervalS: interval, field: 'v', msg: 'system.interval', retainUs: 3600 * S });
        const out = [...agg.add(sorted.map((o) => ({ createdAtUs: T0 + o, fields: () => ({ v: 1 }) }))), ...agg.add([{ createdAtUs: T0 + 10_000 * S, fields: () => ({ v: 1 }) }])];
        const total = out.reduce((n, e) => n + (e.count as number), 0);
        assert.equal(total, offsets.length);
        for (const e of out) {
          const start = parseClientTimestamp(e.created_at as string) as number;
          assert.equal(start % (interval * S), 0, "aligned on multiples of the interval");
        }
      }),
    );
  });

  it('sends a bucket again when a late row changes it', () => {
    const agg = new Aggregator({ type: 'mean', intervalS: 10, field: 'peers', msg: 'system.interval', retainUs: 30 * S });
    assert.deepEqual(agg.add([rec(1, { peers: 4 }), rec(12, { peers: 8 })]), [{ peers: 4, values: 'mean of 1 value', count: 1, created_at: '2021-06-23T01:02:00' }]);
    assert.deepEqual(agg.add([rec(2, { peers: '6' })]), [{ peers: 5, values: 'mean of 2 values', count: 2, created_at: '2021-06-23T01:02:00' }]);
  });

  it('aggregates every numeric field of any message type when no field is named', () => {
    const agg = new Aggregator({ type: 'min', intervalS: 60, field: null, msg: 'system.interval', retainUs: 30 * S });
    const out = agg.add([rec(1, { peers: 4, height: '100', best: '0xab', txcount: 2 }), rec(30, { peers: 2, height: 101 }), rec(61, { peers: 1 })]);
    assert.deepEqual(out, [{ height: 100, peers: 2, txcount: 2, values: 'min of 2 values', count: 2, created_at: '2021-06-23T01:02:00' }]);
  });
});
