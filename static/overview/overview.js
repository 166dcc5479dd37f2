// Nodes overview (GET / in a browser): every node from /nodes with its status and last sign of life,
// message rates from /feed/rates, and a live chart per node of a system.interval field fed by /feed.
import { api, Feed, pageLink, parseTs, ago, shortPeer, numeric, el, setStatus } from '/dashboard/common/app.js';
import { TimeChart } from '/dashboard/common/chart.js';

const WINDOW_MS = 15 * 60_000;
const REFRESH_MS = 5_000;
/** Live charts for at most this many nodes (one feed subscription each). */
const MAX_CHARTS = 200;

const tbody = document.querySelector('#nodes tbody');
const filter = document.querySelector('#filter');
const fieldSelect = document.querySelector('#field');
const rows = new Map(); // peer_id or connection id -> { tr, cells, chart, node }
const intervals = new Map(); // peer_id -> system.interval elements (newest last)
let nodes = [];
let rates = { nodes: {} };

document.querySelector('#telemetry-url').textContent = `--telemetry-url '${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ 5'`;

const feed = new Feed({
  onStatus: setStatus,
  onData(peerId, msg, data) {
    if (msg !== 'system.interval') return;
    const list = intervals.get(peerId) ?? [];
    list.push(...data);
    const oldest = Date.now() - WINDOW_MS;
    intervals.set(peerId, list.filter((d) => parseTs(d.created_at)?.getTime() >= oldest));
    plot(peerId, data);
  },
});

function plot(peerId, data) {
  const row = rows.get(peerId);
  if (!row?.chart) return;
  const field = fieldSelect.value;
  row.chart.add(field, data.map((d) => ({ t: parseTs(d.created_at), v: numeric(d[field]) })).filter((p) => p.v !== null));
}

fieldSelect.addEventListener('change', () => {
  for (const [peerId, row] of rows) {
    if (!row.chart) continue;
    row.chart.clear();
    plot(peerId, intervals.get(peerId) ?? []);
  }
});
filter.addEventListener('change', render);

function rowKey(node) {
  return node.peer_id ?? `connection-${node.id}`;
}

function createRow(node) {
  const cells = {
    name: el('td'),
    peer: el('td', { class: 'mono' }),
    chain: el('td'),
    version: el('td', { class: 'mono' }),
    status: el('td'),
    seen: el('td'),
    rate: el('td', { class: 'num' }),
    types: el('td', { class: 'muted' }),
    chart: el('td', { style: 'width: 260px' }),
  };
  const tr = el('tr', { 'data-peer-id': node.peer_id ?? '' }, ...Object.values(cells));
  let chart = null;
  if (node.peer_id && [...rows.values()].filter((r) => r.chart).length < MAX_CHARTS) {
    const box = el('div', { class: 'spark' });
    cells.chart.append(box);
    chart = new TimeChart(box, { height: 40, windowMs: WINDOW_MS, spark: true });
    feed.subscribe(node.peer_id, 'system.interval', new Date(Date.now() - WINDOW_MS));
  }
  return { tr, cells, chart, node };
}

function updateRow(row, node) {
  row.node = node;
  const { cells } = row;
  const profiling = node.peer_id ? el('a', { href: pageLink('/dashboard/profiling/', { peer_id: node.peer_id }), title: 'Live profiling of this node' }, node.name ?? 'unnamed') : node.name ?? 'unnamed';
  cells.name.replaceChildren(profiling);
  cells.peer.textContent = shortPeer(node.peer_id);
  cells.peer.title = node.peer_id ?? '';
  cells.chain.textContent = node.chain ?? '';
  cells.version.textContent = node.version ?? '';
  cells.status.replaceChildren(el('span', { class: `badge${node.connected ? ' connected' : ''}` }, node.connected ? 'connected' : 'disconnected'));
  const seen = parseTs(node.last_seen);
  cells.seen.textContent = ago(seen);
  cells.seen.title = node.last_seen ? `${node.last_seen} UTC` : '';
  const rate = node.peer_id ? rates.nodes[node.peer_id] : undefined;
  cells.rate.textContent = rate ? String(rate.per_minute) : node.connected ? '0' : '';
  const top = rate ? Object.entries(rate.by_msg).sort((a, b) => b[1] - a[1]).slice(0, 3) : [];
  cells.types.textContent = top.map(([msg, n]) => `${msg} ${n}`).join(', ');
}

function render() {
  const shown = nodes.filter((n) => filter.value === 'all' || n.connected);
  const keep = new Set(shown.map(rowKey));
  for (const [key, row] of rows) {
    if (keep.has(key)) continue;
    row.tr.remove();
    if (row.node.peer_id) feed.unsubscribe(row.node.peer_id, 'system.interval');
    rows.delete(key);
  }
  for (const node of shown) {
    const key = rowKey(node);
    let row = rows.get(key);
    if (!row) {
      row = createRow(node);
      rows.set(key, row);
      if (node.peer_id) plot(node.peer_id, intervals.get(node.peer_id) ?? []);
    }
    updateRow(row, node);
    tbody.append(row.tr); // keeps the order of /nodes
  }
  document.querySelector('#empty').hidden = nodes.length > 0;
  const connected = nodes.filter((n) => n.connected).length;
  document.querySelector('#summary').textContent = `${nodes.length} node${nodes.length === 1 ? '' : 's'}, ${connected} connected`;
}

async function refresh() {
  try {
    [nodes, rates] = await Promise.all([api('/nodes'), api('/feed/rates')]);
    render();
  } catch (error) {
    console.warn('refresh failed:', error.message);
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

refresh();
