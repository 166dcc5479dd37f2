// Time-series charts on uPlot (served from node_modules by the server, no CDN). A chart holds named
// series of (time, value) points, merges points by time (a value sent again for the same time replaces
// the old one), drops points older than its window, and redraws at most once per animation frame.
import uPlot from '/dashboard/vendor/uplot/uPlot.esm.js';

const PALETTE = ['#2f6fdf', '#e8590c', '#12805c', '#c2352b', '#7048e8', '#0b7285', '#d6336c', '#5c940d', '#f08c00', '#495057'];

export class TimeChart {
  /**
   * @param container element to draw in; it gets `data-points` (points drawn) for tests and scripts
   * @param options { title, yLabel, height, windowMs (drop older points), spark (tiny, no axes) }
   */
  constructor(container, { title = '', yLabel = '', height = 240, windowMs = null, spark = false } = {}) {
    this.container = container;
    this.options = { title, yLabel, height, windowMs, spark };
    this.series = new Map(); // name -> Map(timeSeconds -> value)
    this.plot = null;
    this.plotSeries = [];
    this.pending = false;
    this.times = [];
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(container);
    container.dataset.points = '0';
  }

  /** Adds points [{ t: Date, v: number }] to a series. */
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
    const names = [...this.series.keys()].filter((n) => this.series.get(n).size > 0).sort();
    const times = [...new Set(names.flatMap((n) => [...this.series.get(n).keys()]))].sort((a, b) => a - b);
    this.times = times;
    const data = [times, ...names.map((n) => times.map((t) => this.series.get(n).get(t) ?? null))];
    const points = names.reduce((sum, n) => sum + this.series.get(n).size, 0);
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
   */
  xRange() {
    const [min, max] = [this.times[0], this.times[this.times.length - 1]];
    const now = Date.now() / 1000;
    if (this.options.windowMs) return [now - this.options.windowMs / 1000, Math.max(now, max ?? now)];
    if (min === undefined) return [now - 60, now];
    return min === max ? [min - 60, max + 60] : [min, max];
  }

  plotOptions(names) {
    const { title, yLabel, height, spark } = this.options;
    // Points are drawn when there are few of them (a single point makes no line).
    const showPoints = (u) => !spark || u.data[0].length < 3;
    const series = [{}, ...names.map((name, i) => ({ label: name, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true, points: { show: showPoints, size: spark ? 3 : 4 } }))];
    const scales = { x: { time: true, range: () => this.xRange() } };
    if (spark) {
      return { width: this.width(), height, series, legend: { show: false }, cursor: { show: false }, axes: [{ show: false }, { show: false }], scales };
    }
    return { title, width: this.width(), height, series, axes: [{}, { label: yLabel, size: 90 }], scales };
  }
}
