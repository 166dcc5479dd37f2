// Live profiling: tracing.profiling span times of one node from /feed, one chart per span name with
// one line per target, raw or aggregated by the server; the node's peers and height from system.interval.
import { Feed, parseTs, numeric, el, setStatus, rememberPeer, startNodePage, showNode } from '/dashboard/common/app.js';
import { TimeChart } from '/dashboard/common/chart.js';

const $ = (id) => document.getElementById(id);
const charts = new Map(); // span name -> TimeChart
let nodes = [];
let viewing = null; // peer id
let windowMs = 5 * 60_000;

const feed = new Feed({
  onStatus: setStatus,
  onError: (error) => console.warn('feed refused a request:', error),
  onData(peerId, msg, data) {
    if (peerId !== viewing) return;
    if (msg === 'tracing.profiling') showSpans(data);
    else if (msg === 'system.interval') showInterval(data);
  },
});

function showSpans(data) {
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
      chart = new TimeChart(box, { title: name, yLabel: 'Execution time (ns)', windowMs });
      charts.set(name, chart);
    }
    const byTarget = new Map();
    for (const d of list) {
      const points = byTarget.get(d.target) ?? [];
      points.push({ t: parseTs(d.created_at), v: numeric(d.time) });
      byTarget.set(d.target, points);
    }
    for (const [target, points] of byTarget) chart.add(String(target), points);
  }
  $('no-data').hidden = charts.size > 0;
}

function insertSorted(box, name) {
  const container = $('charts');
  const after = [...container.children].find((c) => c.dataset.span.localeCompare(name) > 0);
  container.insertBefore(box, after ?? null);
}

function showInterval(data) {
  for (const d of data) {
    if (d.peers !== undefined) $('peers').textContent = String(d.peers);
    if (d.height !== undefined) $('height').textContent = String(d.height);
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
  $('charts').replaceChildren();
  $('no-data').hidden = false;
}

function view() {
  cancel();
  const peerId = $('node').value;
  if (!peerId) return;
  const minutes = Math.max(1, Number($('minutes').value) || 5);
  windowMs = minutes * 60_000;
  const type = $('aggregate-type').value;
  const interval = Number.parseInt($('aggregate-interval').value, 10);
  viewing = peerId;
  showNode(nodes.find((n) => n.peer_id === peerId));
  $('no-data').textContent = 'Waiting for tracing.profiling messages of this node…';
  const since = new Date(Date.now() - windowMs);
  feed.subscribe(peerId, 'tracing.profiling', since, type ? { type, interval: Number.isFinite(interval) ? interval : 60, key: 'time' } : {});
  feed.subscribe(peerId, 'system.interval', since);
  rememberPeer(peerId);
}

startNodePage({ view, cancel, onNodes: (list) => (nodes = list) });
