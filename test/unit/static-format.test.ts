// The dashboards' formatting (static/common/format.js, plain JavaScript served as it is): units that
// scale themselves, UTC tick labels in 24-hour time that stay short enough for their spacing, ages.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ago, formatBytes, formatMs, formatNs, tickLabels, utcTickLabels, valueLabels } from '../../static/common/format.js';

describe('dashboard units and time labels', () => {
  it('durations scale from ns to s', () => {
    assert.equal(formatNs(850), '850 ns');
    assert.equal(formatNs(1_200_000), '1.2 ms');
    assert.equal(formatNs(45_300), '45.3 µs');
    assert.equal(formatNs(2_500_000_000), '2.5 s');
    assert.equal(formatMs(6000), '6 s');
    assert.equal(formatMs(0), '0 ms', 'zero in the unit it was given');
    assert.equal(formatMs(null), '–');
  });

  it('sizes scale from B to MB', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(350_000), '350 KB');
    assert.equal(formatBytes(4_600_000), '4.6 MB');
  });

  it('an axis uses one unit, chosen from its largest tick', () => {
    assert.deepEqual(tickLabels([0, 500_000, 1_000_000, 1_500_000], 'ns'), ['0 ms', '0.5 ms', '1 ms', '1.5 ms']);
    assert.deepEqual(valueLabels([0, 250, 500], 'ms'), ['0 ms', '250 ms', '500 ms']);
    assert.deepEqual(valueLabels([0, 5000, 10000], 'ms'), ['0 s', '5 s', '10 s']);
    assert.deepEqual(valueLabels([0, 50, 100], 'pct'), ['0 %', '50 %', '100 %']);
  });

  it('time ticks are UTC in 24-hour time, with seconds only for ticks under a minute apart, the date past a day', () => {
    const t = Date.UTC(2026, 0, 2, 13, 5, 30) / 1000; // 13:05:30 UTC: a 12-hour clock would say 1:05pm
    assert.deepEqual(utcTickLabels([t, t + 10], 10), ['13:05:30', '13:05:40']);
    assert.deepEqual(utcTickLabels([t - 30, t + 270], 300), ['13:05', '13:10']);
    assert.deepEqual(utcTickLabels([t, t + 86400], 43200), ['01-02 13:05', '01-03 13:05']);
    assert.deepEqual(utcTickLabels([t, t + 86400 * 2], 86400), ['01-02', '01-04']);
    // The x axis keeps 90 px between ticks: its longest label (11 characters at 12 px) is narrower.
    for (const label of utcTickLabels([t, t + 86400], 3600)) assert.ok(label.length <= 11, label);
  });

  it('ages: a node seen within 10 s is seen just now', () => {
    const now = Date.UTC(2026, 0, 1, 12);
    assert.equal(ago(new Date(now - 4000), now), 'just now');
    assert.equal(ago(new Date(now - 14_000), now), '14 s ago');
    assert.equal(ago(new Date(now - 3 * 3600_000), now), '3 h ago');
    assert.equal(ago(null, now), 'never');
  });
});
