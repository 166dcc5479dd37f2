// @ts-check
// Charts on uPlot (served from node_modules by the server, no CDN). Time axes are UTC, labelled in 24-hour
// time like the tables; value axes scale their unit (ns/µs/ms/s, B/KB/MB) from the largest tick; ticks keep
// a minimum spacing, so labels never overlap. A TimeChart holds named series of (time, value) points,
// merges points by time, drops points older than its window, and redraws at most once per frame.
import uPlot from '/dashboard/vendor/uplot/uPlot.esm.js';
import { formatNs, formatBytes, round3, utc, utcTickLabels, valueLabels } from './format.js';

export { utcTickLabels, valueLabels };

const PALETTE = ['#2f6fdf', '#e8590c', '#12805c', '#c2352b', '#7048e8', '#0b7285', '#d6336c', '#5c940d', '#f08c00', '#495057'];

/**
 * @typedef {'ns' | 'ms' | 'bytes' | 'plain' | 'pct'} Unit
 * @typedef {{ title?: string, unit?: Unit, height?: number, windowMs?: number | null, spark?: boolean, points?: boolean, markers?: string[] }} ChartOptions
 */

/**
 * One value as the legend shows it.
 * @param {number | null} v
 * @param {Unit} unit
 */
export function formatValue(v, unit) {
  if (v === null || v === undefined) return '–';
  if (unit === 'ns') return formatNs(v);
  if (unit === 'ms') return formatNs(v * 1e6);
  if (unit === 'bytes') return formatBytes(v);
  if (unit === 'pct') return `${round3(v)} %`;
  return round3(v);
}

/** A time x axis in UTC whose labels keep 90 px apart. */
export function utcAxis() {
  return {
    space: 90,
    values: (/** @type {uPlot} */ _u, /** @type {number[]} */ splits, /** @type {number} */ _i, /** @type {number} */ _space, /** @type {number} */ incr) => utcTickLabels(splits, incr),
  };
}

/**
 * A value axis in `unit`, wide enough for its labels.
 * @param {Unit} unit
 * @param {Record<string, unknown>} [extra]
 */
export function valueAxis(unit, extra = {}) {
  return {
    space: 28,
    size: (/** @type {uPlot} */ _u, /** @type {string[] | null} */ values) => 16 + 7 * Math.max(4, ...(values ?? []).map((v) => v.length)),
    values: (/** @type {uPlot} */ _u, /** @type {number[]} */ splits) => valueLabels(splits, unit),
    ...extra,
  };
}

/** The time zone of every chart: UTC, as the API and the tables. */
const tzDate = (/** @type {number} */ ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC');

export class TimeChart {
  /**
   * @param {HTMLElement} container element to draw in; it gets `data-points` (points drawn) for tests and scripts
   * @param {ChartOptions} [options]
   */
  constructor(container, { title = '', unit = 'plain', height = 240, windowMs = null, spark = false, points = false, markers = [] } = {}) {
    this.container = container;
    /** markers: series drawn as marks only (no line), e.g. the blocks that had forks */
    this.options = { title, unit, height, windowMs, spark, points, markers };
    /** @type {Map<string, Map<number, number>>} name -> (time in s -> value) */
    this.series = new Map();
    /** @type {uPlot | null} */
    this.plot = null;
    /** @type {string[]} */
    this.plotSeries = [];
    this.pending = false;
    this.destroyed = false;
    /** @type {number[]} */
    this.times = [];
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(container);
    container.dataset.points = '0';
  }

  /**
   * Adds points to a series.
   * @param {string} name
   * @param {Array<{ t: Date | null, v: number | null }>} points
   */
  add(name, points) {
    let series = this.series.get(name);
    if (!series) this.series.set(name, (series = new Map()));
    for (const { t, v } of points) if (t && v !== null && v !== undefined && Number.isFinite(v)) series.set(t.getTime() / 1000, v);
    this.schedule();
  }

  clear() {
    this.series.clear();
    this.schedule();
  }

  /** Removes the chart for good (a pending redraw included). */
  destroy() {
    this.destroyed = true;
    this.resizeObserver.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      if (!this.destroyed) this.draw();
    });
  }

  width() {
    return Math.max(this.options.spark ? 120 : 300, this.container.clientWidth || 300);
  }

  resize() {
    if (this.plot) this.plot.setSize({ width: this.width(), height: this.options.height });
  }

  draw() {
    if (this.options.windowMs) {
      const oldest = (Date.now() - this.options.windowMs) / 1000;
      for (const series of this.series.values()) for (const t of series.keys()) if (t < oldest) series.delete(t);
    }
    const names = [...this.series.keys()].filter((n) => (this.series.get(n)?.size ?? 0) > 0).sort();
    const times = [...new Set(names.flatMap((n) => [...(this.series.get(n)?.keys() ?? [])]))].sort((a, b) => a - b);
    this.times = times;
    /** @type {uPlot.AlignedData} */
    const data = [times, ...names.map((n) => times.map((t) => this.series.get(n)?.get(t) ?? null))];
    const points = names.reduce((sum, n) => sum + (this.series.get(n)?.size ?? 0), 0);
    if (this.plot === null || names.join('\u0000') !== this.plotSeries.join('\u0000')) {
      this.plot?.destroy();
      this.plotSeries = names;
      this.plot = new uPlot(this.plotOptions(names), data, this.container);
    } else {
      this.plot.setData(data);
    }
    this.container.dataset.points = String(points);
    this.container.dataset.series = String(names.length);
  }

  /**
   * The x range: the chart's window up to now, or the data (widened when it is a single instant).
   * Computed from the chart's own times: uPlot stretches a single point's range to 1000 days.
   * @returns {[number, number]}
   */
  xRange() {
    const [min, max] = [this.times[0], this.times[this.times.length - 1]];
    const now = Date.now() / 1000;
    if (this.options.windowMs) return [now - this.options.windowMs / 1000, Math.max(now, max ?? now)];
    if (min === undefined) return [now - 60, now];
    return min === max ? [min - 60, max + 60] : [min, max];
  }

  /**
   * @param {string[]} names
   * @returns {uPlot.Options}
   */
  plotOptions(names) {
    const { title, unit, height, spark, points, markers } = this.options;
    // Points are drawn when there are few of them (a single point makes no line), or when asked.
    const showPoints = (/** @type {uPlot} */ u) => points || !spark || u.data[0].length < 3;
    /** @type {uPlot.Series[]} */
    const series = [
      { value: (/** @type {uPlot} */ _u, /** @type {number | null} */ v) => (v === null ? '–' : `${utc(new Date(v * 1000)).replace('T', ' ')} UTC`) },
      ...names.map((name, i) =>
        markers.includes(name)
          ? { label: name, stroke: '#c2352b', width: 0, paths: () => null, value: (/** @type {uPlot} */ _u, /** @type {number | null} */ v) => formatValue(v, unit), points: { show: true, size: 9, fill: '#c2352b' } }
          : {
              label: name,
              stroke: PALETTE[i % PALETTE.length],
              width: 1.5,
              spanGaps: true,
              value: (/** @type {uPlot} */ _u, /** @type {number | null} */ v) => formatValue(v, unit),
              points: { show: showPoints, size: spark ? 3 : 4 },
            },
      ),
    ];
    /** @type {uPlot.Scales} */
    const scales = { x: { time: true, range: () => this.xRange() } };
    if (spark) {
      return { width: this.width(), height, series, tzDate, legend: { show: false }, cursor: { show: false }, axes: [{ show: false }, { show: false }], scales };
    }
    return { title, width: this.width(), height, series, tzDate, axes: [utcAxis(), valueAxis(unit)], scales };
  }
}

/**
 * Bars of counts per bin with the cumulative share as a line on a second axis (the propagation histogram).
 * @param {HTMLElement} container
 * @param {{ labels: number[], counts: number[], cumulative: number[], title: string, width: number }} histogram x in ms (bin upper bounds)
 */
export function histogramChart(container, { labels, counts, cumulative, title, width }) {
  container.replaceChildren();
  container.dataset.points = String(counts.reduce((a, b) => a + b, 0));
  const bars = uPlot.paths.bars ? uPlot.paths.bars({ size: [0.9, 40] }) : undefined;
  return new uPlot(
    {
      title,
      width,
      height: 240,
      scales: { x: { time: false }, pct: { range: [0, 100] } },
      series: [
        { value: (/** @type {uPlot} */ _u, /** @type {number | null} */ v) => (v === null ? '–' : `< ${formatValue(v, 'ms')}`) },
        { label: 'arrivals', stroke: PALETTE[0], fill: 'rgba(47, 111, 223, 0.35)', paths: bars, points: { show: false } },
        { label: 'cumulative', stroke: PALETTE[1], width: 1.5, scale: 'pct', value: (/** @type {uPlot} */ _u, /** @type {number | null} */ v) => formatValue(v, 'pct'), points: { show: false } },
      ],
      axes: [{ space: 60, values: (/** @type {uPlot} */ _u, /** @type {number[]} */ splits) => valueLabels(splits, 'ms') }, valueAxis('plain'), valueAxis('pct', { side: 1, scale: 'pct', grid: { show: false } })],
    },
    [labels, counts, cumulative],
    container,
  );
}
