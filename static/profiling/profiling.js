// @ts-check
// Live profiling: tracing.profiling span times of one node from /feed, one chart per span name with one
// line per target, raw or aggregated by the server, in a unit that scales itself (the messages give
// nanoseconds); the node's peers and height from its system.interval.
import { Feed } from '../common/feed.js';
import { byId, el, setText } from '../common/dom.js';
import { renderHeader } from '../common/header.js';
import { DataState } from '../common/state.js';
import { numeric, parseTs } from '../common/format.js';
import { TimeChart } from '../common/chart.js';
import { showNode, startNodeView } from '../common/node-view.js';

const WAITING = 'Waiting for tracing.profiling messages of this node: they come from nodes started with --tracing-targets and telemetry verbosity 9.';

export function start() {
  const status = renderHeader('profiling');
  const state = new DataState(byId('state'));
  /** @type {Map<string, TimeChart>} span name -> chart */
  const charts = new Map();
  /** @type {import('../common/node-view.js').NodeRow[]} */
  let nodes = [];
  /** @type {string | null} */
  let viewing = null;
  let windowMs = 5 * 60_000;

  const feed = new Feed({
    onStatus(s, retryAt) {
      status.textContent = `feed: ${s}`;
      if (s === 'reconnecting' && retryAt !== undefined && viewing) state.stale(retryAt);
      else if (s === 'live' && viewing) {
        if (charts.size > 0) state.ok();
        else state.empty('No profiling data yet.', WAITING);
      }
    },
    onError: (error) => console.warn('feed refused a request:', error),
    onData(peerId, msg, data) {
      if (peerId !== viewing) return;
      if (msg === 'tracing.profiling') showSpans(data);
      else if (msg === 'system.interval') showInterval(data);
    },
  });

  /** @param {Array<Record<string, any>>} data */
  function showSpans(data) {
    /** @type {Map<string, Array<Record<string, any>>>} */
    const byName = new Map();
    for (const d of data) {
      if (typeof d.name !== 'string') continue;
      const list = byName.get(d.name) ?? [];
      list.push(d);
      byName.set(d.name, list);
    }
    for (const [name, list] of [...byName].sort(([a], [b]) => a.localeCompare(b))) {
      let chart = charts.get(name);
      if (!chart) {
        const box = el('div', { class: 'chart panel', 'data-span': name });
        insertSorted(box, name);
        chart = new TimeChart(box, { title: `${name} — execution time`, unit: 'ns', windowMs });
        charts.set(name, chart);
      }
      /** @type {Map<string, Array<{ t: Date | null, v: number | null }>>} */
      const byTarget = new Map();
      for (const d of list) {
        const points = byTarget.get(String(d.target)) ?? [];
        points.push({ t: parseTs(d.created_at), v: numeric(d.time) });
        byTarget.set(String(d.target), points);
      }
      for (const [target, points] of byTarget) chart.add(target, points);
    }
    if (charts.size > 0) state.ok();
  }

  /**
   * @param {HTMLElement} box
   * @param {string} name
   */
  function insertSorted(box, name) {
    const container = byId('charts');
    const after = [...container.children].find((c) => (/** @type {HTMLElement} */ (c).dataset.span ?? '').localeCompare(name) > 0);
    container.insertBefore(box, after ?? null);
  }

  /** @param {Array<Record<string, any>>} data */
  function showInterval(data) {
    for (const d of data) {
      if (d.peers !== undefined) setText('peers', String(d.peers));
      if (d.height !== undefined) setText('height', String(d.height));
    }
  }

  function cancel() {
    if (viewing) {
      feed.unsubscribe(viewing, 'tracing.profiling');
      feed.unsubscribe(viewing, 'system.interval');
    }
    viewing = null;
    for (const chart of charts.values()) chart.destroy();
    charts.clear();
    byId('charts').replaceChildren();
  }

  /** @param {string} peerId */
  function view(peerId) {
    cancel();
    const minutes = Math.max(1, Number(/** @type {HTMLInputElement} */ (byId('minutes')).value) || 5);
    windowMs = minutes * 60_000;
    const type = /** @type {HTMLSelectElement} */ (byId('aggregate-type')).value;
    const interval = Number.parseInt(/** @type {HTMLInputElement} */ (byId('aggregate-interval')).value, 10);
    viewing = peerId;
    showNode(nodes.find((n) => n.peer_id === peerId));
    setText('peers', '–');
    setText('height', '–');
    state.empty('No profiling data yet.', WAITING);
    const since = new Date(Date.now() - windowMs);
    feed.subscribe(peerId, 'tracing.profiling', since, type ? { type, interval: Number.isFinite(interval) ? interval : 60, key: 'time' } : {});
    feed.subscribe(peerId, 'system.interval', since);
  }

  // The feed opens once /nodes answered: a page refused by API_TOKEN says so instead of retrying a websocket.
  let started = false;
  startNodeView({
    state,
    view,
    cancel,
    what: 'its tracing.profiling span times are charted here.',
    onNodes(list) {
      nodes = list;
      if (!started) feed.start();
      started = true;
    },
  });
}
