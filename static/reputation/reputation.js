// Peer reputation: the reputation every other node gives the chosen node, read live from their
// system.network_state messages (/feed), one line per reporting node. Understands both peerset shapes:
// state.peerset.nodes[peer] (older nodes) and state.peerset.sets[i].nodes[peer] (Tetcore).
import { Feed, parseTs, nodeLabel, el, setStatus, rememberPeer, startNodePage, showNode } from '/dashboard/common/app.js';
import { TimeChart } from '/dashboard/common/chart.js';

const $ = (id) => document.getElementById(id);
let nodes = [];
let viewing = null;
let reporters = [];
let chart = null;
const latest = new Map(); // reporting peer id -> { reputation, connected, at }

const feed = new Feed({
  onStatus: setStatus,
  onError: (error) => console.warn('feed refused a request:', error),
  onData(peerId, msg, data) {
    if (!viewing) return;
    if (msg === 'system.interval' && peerId === viewing) {
      for (const d of data) {
        if (d.peers !== undefined) $('peers').textContent = String(d.peers);
        if (d.height !== undefined) $('height').textContent = String(d.height);
      }
    } else if (msg === 'system.network_state' && reporters.includes(peerId)) {
      showReports(peerId, data);
    }
  },
});

/** The entry of `peer` in a network state's peerset, whichever shape it has. */
export function peersetEntry(state, peer) {
  const peerset = state?.peerset;
  if (!peerset) return null;
  if (peerset.nodes?.[peer]) return peerset.nodes[peer];
  for (const set of peerset.sets ?? []) if (set?.nodes?.[peer]) return set.nodes[peer];
  return null;
}

function showReports(reporter, data) {
  const node = nodes.find((n) => n.peer_id === reporter);
  const label = node ? nodeLabel(node) : reporter;
  const points = [];
  for (const d of data) {
    const entry = peersetEntry(d.state, viewing);
    if (!entry || typeof entry.reputation !== 'number') continue;
    points.push({ t: parseTs(d.created_at), v: entry.reputation });
    const previous = latest.get(reporter);
    if (!previous || d.created_at >= previous.at) latest.set(reporter, { label, reputation: entry.reputation, connected: entry.connected, at: d.created_at });
  }
  if (points.length === 0) return;
  chart.add(label, points);
  $('no-data').hidden = true;
  renderTable();
}

function renderTable() {
  const rows = [...latest.values()].sort((a, b) => a.label.localeCompare(b.label));
  $('reporters').querySelector('tbody').replaceChildren(
    ...rows.map((r) => el('tr', {}, el('td', {}, r.label), el('td', { class: 'num' }, String(r.reputation)), el('td', {}, r.connected ? 'yes' : 'no'), el('td', { class: 'muted' }, `${r.at} UTC`))),
  );
}


function cancel() {
  for (const reporter of reporters) feed.unsubscribe(reporter, 'system.network_state');
  if (viewing) feed.unsubscribe(viewing, 'system.interval');
  viewing = null;
  reporters = [];
  latest.clear();
  chart?.destroy();
  chart = null;
  renderTable();
  $('no-data').hidden = false;
}

function view() {
  cancel();
  const peerId = $('node').value;
  if (!peerId) return;
  const minutes = Math.max(1, Number($('minutes').value) || 5);
  viewing = peerId;
  showNode(nodes.find((n) => n.peer_id === peerId));
  $('chart').replaceChildren();
  $('chart').dataset.points = '0';
  chart = new TimeChart($('chart'), { title: 'Reputation given by other nodes', yLabel: 'Reputation', windowMs: minutes * 60_000 });
  const since = new Date(Date.now() - minutes * 60_000);
  reporters = nodes.filter((n) => n.peer_id && n.peer_id !== peerId).map((n) => n.peer_id);
  for (const reporter of reporters) feed.subscribe(reporter, 'system.network_state', since);
  feed.subscribe(peerId, 'system.interval', since);
  rememberPeer(peerId);
}

startNodePage({ view, cancel, onNodes: (list) => (nodes = list) });
