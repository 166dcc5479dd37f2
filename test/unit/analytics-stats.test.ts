// Counted percentiles (src/analytics/stats.ts percentilesOfIntegers) without a database: the same answer as
// sorting and taking the nearest rank, for narrow ranges (counted) and wide ones (sorted), negatives included.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { COUNTING_RANGE, percentilesOf, percentilesOfIntegers } from '../../src/analytics/stats.js';

const sortedPercentiles = (values: number[]) => percentilesOf(Float64Array.from(values).sort());

describe('percentilesOfIntegers', () => {
  it('is empty for no values and takes the nearest rank', () => {
    assert.deepEqual(percentilesOfIntegers(new Int32Array()), { p50: null, p90: null, p99: null, max: null });
    assert.deepEqual(percentilesOfIntegers(Int32Array.from([400, 0, 150])), { p50: 150, p90: 400, p99: 400, max: 400 });
    assert.deepEqual(percentilesOfIntegers(Int32Array.from([7])), { p50: 7, p90: 7, p99: 7, max: 7 });
  });

  it('equals sorting for delays in any order, with repeats and negatives (a clock set back)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -500, max: 20_000 }), { minLength: 1, maxLength: 2_000 }), (values) => {
        assert.deepEqual(percentilesOfIntegers(Int32Array.from(values)), sortedPercentiles(values));
      }),
    );
  });

  it('equals sorting past the counted range (it sorts a copy) and leaves its input as it was', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 30 }), { minLength: 2, maxLength: 500 }), (values) => {
        values.push(0, COUNTING_RANGE * 4);
        const input = Int32Array.from(values);
        assert.deepEqual(percentilesOfIntegers(input), sortedPercentiles(values));
        assert.deepEqual([...input], values);
      }),
    );
  });
});
