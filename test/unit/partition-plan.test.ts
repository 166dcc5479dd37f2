// Time partitions of the expiring messages: the plan (which ranges to attach at a given instant, and which
// to purge) at fixed instants, the first and last millisecond of an hour or a day. The layout on both
// databases is in test/integration/partitions.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expiredPartitions, gapBelow, partitionName, plannedRanges, type Partition, type Range } from '../../src/storage/partitions.js';
import { utcText } from '../../src/domain/time.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (iso: string) => Date.parse(iso);
/** The first and the last millisecond of an hour, and its middle: no result may depend on where in the hour "now" is. */
const INSTANTS = ['2024-03-10T05:00:00.000Z', '2024-03-10T05:59:59.999Z', '2024-03-10T05:30:00.000Z'];
const show = (ranges: Range[]) => ranges.map((r) => `${r.fromMs === -Infinity ? 'MIN' : utcText(r.fromMs)} .. ${utcText(r.toMs)}`);

describe('partition plan', () => {
  for (const instant of INSTANTS) {
    it(`hourly at ${instant}: a MINVALUE partition, then one per hour from the previous hour to 3 hours ahead`, () => {
      assert.deepEqual(show(plannedRanges([], at(instant), HOUR, 3 * HOUR)), [
        'MIN .. 2024-03-10 04:00:00',
        '2024-03-10 04:00:00 .. 2024-03-10 05:00:00',
        '2024-03-10 05:00:00 .. 2024-03-10 06:00:00',
        '2024-03-10 06:00:00 .. 2024-03-10 07:00:00',
        '2024-03-10 07:00:00 .. 2024-03-10 08:00:00',
        '2024-03-10 08:00:00 .. 2024-03-10 09:00:00',
      ]);
    });
  }

  for (const instant of ['2024-03-10T00:00:00.000Z', '2024-03-10T23:59:59.999Z']) {
    it(`daily at ${instant}: the same by days`, () => {
      const ranges = plannedRanges([], at(instant), DAY, 3 * DAY);
      assert.deepEqual(show(ranges), [
        'MIN .. 2024-03-09 00:00:00',
        '2024-03-09 00:00:00 .. 2024-03-10 00:00:00',
        '2024-03-10 00:00:00 .. 2024-03-11 00:00:00',
        '2024-03-11 00:00:00 .. 2024-03-12 00:00:00',
        '2024-03-12 00:00:00 .. 2024-03-13 00:00:00',
        '2024-03-13 00:00:00 .. 2024-03-14 00:00:00',
      ]);
      assert.deepEqual(ranges.map(partitionName), ['substrate_logs_before_20240309_00', 'substrate_logs_p20240309', 'substrate_logs_p20240310', 'substrate_logs_p20240311', 'substrate_logs_p20240312', 'substrate_logs_p20240313']);
    });
  }

  it('adds only what is missing, and fills a gap left while the server was stopped with one partition', () => {
    const existing = [
      { fromMs: -Infinity, toMs: at('2024-03-01T00:00:00Z') },
      { fromMs: at('2024-03-01T00:00:00Z'), toMs: at('2024-03-01T01:00:00Z') },
    ];
    assert.deepEqual(show(plannedRanges(existing, at('2024-03-10T05:59:59.999Z'), HOUR, HOUR)), [
      '2024-03-01 01:00:00 .. 2024-03-10 04:00:00',
      '2024-03-10 04:00:00 .. 2024-03-10 05:00:00',
      '2024-03-10 05:00:00 .. 2024-03-10 06:00:00',
      '2024-03-10 06:00:00 .. 2024-03-10 07:00:00',
    ]);
    const complete = [...existing, ...plannedRanges(existing, at('2024-03-10T05:59:59.999Z'), HOUR, HOUR)];
    assert.deepEqual(plannedRanges(complete, at('2024-03-10T05:00:00Z'), HOUR, HOUR), []);
  });

  it('leaves the gap below the oldest partition alone (the purge closes it) and reaches at least minAhead', () => {
    const existing = [{ fromMs: at('2024-03-10T04:00:00Z'), toMs: at('2024-03-10T05:00:00Z') }];
    // 1 partition ahead, but messages may be dated 2.5 h ahead: partitions up to the hour holding now + 2.5 h.
    assert.deepEqual(show(plannedRanges(existing, at('2024-03-10T05:00:00Z'), HOUR, 2.5 * HOUR)), [
      '2024-03-10 05:00:00 .. 2024-03-10 06:00:00',
      '2024-03-10 06:00:00 .. 2024-03-10 07:00:00',
      '2024-03-10 07:00:00 .. 2024-03-10 08:00:00',
    ]);
  });

  it('after PARTITION_INTERVAL_H changed from 1 to 24: continues from the last hourly partition to the day boundary, then by days', () => {
    const existing = [
      { fromMs: -Infinity, toMs: at('2024-03-10T04:00:00Z') },
      { fromMs: at('2024-03-10T04:00:00Z'), toMs: at('2024-03-10T09:00:00Z') },
    ];
    const ranges = plannedRanges(existing, at('2024-03-10T05:00:00Z'), DAY, DAY);
    assert.deepEqual(show(ranges), ['2024-03-10 09:00:00 .. 2024-03-11 00:00:00', '2024-03-11 00:00:00 .. 2024-03-12 00:00:00']);
    assert.deepEqual(ranges.map(partitionName), ['substrate_logs_p20240310_09', 'substrate_logs_p20240311']);
  });
});

describe('purge plan', () => {
  const hourly = (from: string, hours: number): Partition[] => [
    { name: 'substrate_logs_before_x', fromMs: -Infinity, toMs: at(from), detachPending: false },
    ...Array.from({ length: hours }, (_, i) => ({ name: `p${i}`, fromMs: at(from) + i * HOUR, toMs: at(from) + (i + 1) * HOUR, detachPending: false })),
  ];
  const partitions = hourly('2024-03-10T00:00:00Z', 9);

  for (const limit of ['2024-03-10T02:00:00.000Z', '2024-03-10T02:59:59.999Z']) {
    it(`messages dated before ${limit} expired: the cutoff is the boundary at or below it, the partitions below go, oldest first`, () => {
      const expired = expiredPartitions(partitions, at(limit), false);
      assert.equal(utcText(expired!.cutoffMs), '2024-03-10 02:00:00');
      assert.deepEqual(expired!.partitions.map((p) => p.name), ['substrate_logs_before_x', 'p0', 'p1']);
    });
  }

  it('nothing is due before the first boundary; the MINVALUE partition alone only when it holds rows, or when its detach is pending', () => {
    assert.equal(expiredPartitions(partitions, at('2024-03-09T23:59:59.999Z'), true), null);
    assert.equal(expiredPartitions(partitions, at('2024-03-10T00:59:59.999Z'), false), null);
    assert.deepEqual(expiredPartitions(partitions, at('2024-03-10T00:59:59.999Z'), true)?.partitions.map((p) => p.name), ['substrate_logs_before_x']);
    const pending = partitions.map((p, i) => (i === 0 ? { ...p, detachPending: true } : p));
    assert.deepEqual(expiredPartitions(pending, at('2024-03-10T00:59:59.999Z'), false)?.partitions.map((p) => p.name), ['substrate_logs_before_x']);
  });

  it('after the purge, a MINVALUE partition up to the oldest one left; none while a detach is pending or one exists', () => {
    const left = partitions.slice(3);
    assert.deepEqual(show([gapBelow(left)!]), ['MIN .. 2024-03-10 02:00:00']);
    assert.equal(gapBelow(partitions), null);
    assert.equal(gapBelow([{ ...left[0], detachPending: true }, ...left.slice(1)]), null);
    assert.equal(gapBelow([]), null);
  });
});
