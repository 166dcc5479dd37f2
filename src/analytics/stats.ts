// Order statistics of network analytics, pure: nearest-rank percentiles computed exactly as PostgreSQL's
// percentile_disc (so figures computed here and in SQL agree), and the ethstats-style propagation histogram.

/** Nearest rank: the value at position ceil(p × n) (1-based) of the sorted values, as percentile_disc. */
export function percentile(sorted: ArrayLike<number>, p: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  const rank = Math.ceil(p * n);
  return sorted[Math.min(n, Math.max(1, rank)) - 1];
}

export interface Percentiles {
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

export function percentilesOf(sorted: ArrayLike<number>): Percentiles {
  return { p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), p99: percentile(sorted, 0.99), max: sorted.length === 0 ? null : sorted[sorted.length - 1] };
}

/** Widest value range percentilesOfIntegers counts rather than sorts (a 4 MiB count array at most). */
export const COUNTING_RANGE = 1 << 20;

/**
 * percentilesOf for whole numbers, without sorting them: one count per value when their range is at most
 * COUNTING_RANGE (delays in ms: an hour of 600,000 delays is counted in a few ms, where sorting them took
 * 50–70 ms here), else a sorted copy. `values` is left as it is.
 */
export function percentilesOfIntegers(values: ArrayLike<number>): Percentiles {
  const n = values.length;
  if (n === 0) return { p50: null, p90: null, p99: null, max: null };
  let min = values[0];
  let max = values[0];
  for (let i = 1; i < n; i++) {
    if (values[i] < min) min = values[i];
    else if (values[i] > max) max = values[i];
  }
  if (max - min + 1 > COUNTING_RANGE) return percentilesOf(Int32Array.from(values).sort());
  const counts = new Uint32Array(max - min + 1);
  for (let i = 0; i < n; i++) counts[values[i] - min]++;
  const ranks = [0.5, 0.9, 0.99].map((p) => Math.min(n, Math.max(1, Math.ceil(p * n))));
  const found: number[] = [];
  let seen = 0;
  for (let v = 0; v < counts.length && found.length < ranks.length; v++) {
    seen += counts[v];
    while (found.length < ranks.length && seen >= ranks[found.length]) found.push(v + min);
  }
  return { p50: found[0], p90: found[1], p99: found[2], max };
}

export function mean(values: ArrayLike<number>): number | null {
  if (values.length === 0) return null;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

/** Ethstats' propagation chart: 40 bins of 250 ms from 0 to 10 s; one more for what is slower. */
export const HISTOGRAM_BIN_MS = 250;
export const HISTOGRAM_BINS = 40;

export interface HistogramBin {
  /** Exclusive upper bound of the bin (its lower bound is the previous bin's); null for the last (≥ 10 s). */
  upper_ms: number | null;
  count: number;
  /** Share of all delays in this bin and the faster ones, in percent. */
  cumulative_pct: number;
}

/** Bin of a delay: [k × 250, (k + 1) × 250) ms for k < 40; a negative delay (clock change) counts as 0. */
export function histogramBin(delayMs: number): number {
  return Math.min(HISTOGRAM_BINS, Math.max(0, Math.floor(delayMs / HISTOGRAM_BIN_MS)));
}

export function histogramOf(counts: ArrayLike<number>): HistogramBin[] {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  let cumulative = 0;
  const bins: HistogramBin[] = [];
  for (let k = 0; k <= HISTOGRAM_BINS; k++) {
    cumulative += counts[k] ?? 0;
    bins.push({
      upper_ms: k < HISTOGRAM_BINS ? (k + 1) * HISTOGRAM_BIN_MS : null,
      count: counts[k] ?? 0,
      cumulative_pct: total === 0 ? 0 : Math.round((cumulative / total) * 10_000) / 100,
    });
  }
  return bins;
}

/** Parses a comma-separated list of integers (array_to_string of an int4[]) into `out`. */
export function parseIntList(text: string | null | undefined, out: number[]): number[] {
  if (!text) return out;
  let value = 0;
  let negative = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2c) {
      out.push(negative ? -value : value);
      value = 0;
      negative = false;
    } else if (c === 0x2d) negative = true;
    else value = value * 10 + (c - 0x30);
  }
  out.push(negative ? -value : value);
  return out;
}

/** Rounded to one decimal (means). */
export const round1 = (value: number | null): number | null => (value === null ? null : Math.round(value * 10) / 10);
