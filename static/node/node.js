// @ts-check
// Node page (/dashboard/node/?peer_id=…): the node's figures now (/nodes/summary), its sessions over the
// last 24 hours on a timeline with its uptime, reconnects and versions (/nodes/{peer_id}/history), its
// block propagation over time (the same route over consecutive windows), and links to its profiling and
// reputation views. Refreshed every REFRESH_MS.
import { api, ApiError, pageLink, telemetryUrl } from '../common/api.js';
import { byId, el, setText } from '../common/dom.js';
import { renderHeader } from '../common/header.js';
import { DataState, poll } from '../common/state.js';
import { count, formatMs, parseTs, utc } from '../common/format.js';
import { TimeChart } from '../common/chart.js';

export const REFRESH_MS = 15_000;
const DAY_MS = 86_400_000;
/** Windows of the propagation chart, over the node's part of the last 24 hours. */
const BUCKETS = 12;
const MIN_BUCKET_MS = 10_000;

/**
 * @typedef {{ connected_at: string, disconnected_at: string | null, last_seen: string | null, version: string | null, ip_addr: string }} Session
 * @typedef {{ sessions: Session[], uptime_pct: number, reconnects: number, versions: Array<{ version: string | null, first_seen: string, last_seen: string }>,
 *   propagation: { blocks_seen: number, mean_ms: number | null, p90_ms: number | null }, start_time: string, end_time: string }} History
 */

/**
 * The windows [start, end) of the propagation chart: BUCKETS equal ones from the node's first session in
 * the last day (at least MIN_BUCKET_MS long each) up to `now`.
 * @param {number} firstMs
 * @param {number} now
 * @returns {Array<[number, number]>}
 */
export function buckets(firstMs, now) {
  const start = Math.max(firstMs, now - DAY_MS);
  const size = Math.max(MIN_BUCKET_MS, Math.ceil((now - start) / BUCKETS));
  /** @type {Array<[number, number]>} */
  const out = [];
  for (let end = now; end > start && out.length < BUCKETS; end -= size) out.unshift([end - size, end]);
  return out;
}

export function start() {
  renderHeader('node');
  const state = new DataState(byId('state'));
  state.loading();
  const peerId = new URLSearchParams(location.search).get('peer_id');
  if (!peerId) {
    state.show('empty', el('strong', {}, 'No node chosen.'), ' Open a node from the ', el('a', { href: pageLink('/') }, 'Network view'), '.');
    return;
  }
  setText('peer-id', peerId);
  byId('links').replaceChildren(
    el('a', { href: pageLink('/dashboard/profiling/', { peer_id: peerId }) }, 'live profiling'),
    ' · ',
    el('a', { href: pageLink('/dashboard/reputation/', { peer_id: peerId }) }, 'peer reputation'),
  );
  const chart = new TimeChart(byId('propagation-chart'), { title: 'Block propagation over time (mean, p90 per window)', unit: 'ms', points: true });
  const path = `/nodes/${encodeURIComponent(peerId)}/history`;

  /** @param {History} history */
  function renderSessions(history) {
    const from = parseTs(history.start_time)?.getTime() ?? Date.now() - DAY_MS;
    const to = parseTs(history.end_time)?.getTime() ?? Date.now();
    const span = to - from;
    byId('timeline').replaceChildren(
      ...history.sessions.map((s) => {
        const a = Math.max(from, parseTs(s.connected_at)?.getTime() ?? from);
        const b = Math.min(to, parseTs(s.disconnected_at ?? null)?.getTime() ?? (s.disconnected_at === null ? to : parseTs(s.last_seen)?.getTime() ?? to));
        return el('div', { class: 'session', style: `left: ${((a - from) / span) * 100}%; width: ${(Math.max(0, b - a) / span) * 100}%`, title: `${s.connected_at} → ${s.disconnected_at ?? 'now'} UTC (${s.version ?? 'unknown version'})` });
      }),
    );
    byId('timeline-axis').replaceChildren(...[0, 0.25, 0.5, 0.75, 1].map((f) => el('span', {}, utc(new Date(from + f * span)).slice(11, 16))));
    byId('versions').querySelector('tbody')?.replaceChildren(
      ...history.versions.map((v) => el('tr', {}, el('td', { class: 'mono' }, v.version ?? '–'), el('td', { class: 'muted' }, v.first_seen), el('td', { class: 'muted' }, v.last_seen))),
    );
    byId('sessions').querySelector('tbody')?.replaceChildren(
      ...[...history.sessions].reverse().slice(0, 20).map((s) => el('tr', {}, el('td', {}, s.connected_at), el('td', {}, s.disconnected_at ?? 'connected'), el('td', { class: 'mono' }, s.version ?? '–'), el('td', { class: 'mono' }, s.ip_addr))),
    );
    setText('uptime', `${history.uptime_pct.toFixed(1)} %`);
    setText('reconnects', String(history.reconnects));
  }

  /** @param {History} history */
  async function renderPropagation(history) {
    const first = parseTs(history.sessions[0]?.connected_at)?.getTime() ?? Date.now();
    const now = Date.now();
    const windows = buckets(first, now);
    /** @type {History[]} */
    const parts = await Promise.all(windows.map(([a, b]) => api(`${path}?start_time=${utc(new Date(a))}&end_time=${utc(new Date(b))}`)));
    chart.clear();
    chart.add('mean', parts.map((p, i) => ({ t: new Date(windows[i][1]), v: p.propagation.mean_ms })));
    chart.add('p90', parts.map((p, i) => ({ t: new Date(windows[i][1]), v: p.propagation.p90_ms })));
  }

  async function load() {
    let history;
    try {
      history = /** @type {History} */ (await api(path));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        state.empty('No connection of this node is stored.', `A node appears once it streams to this server: ${telemetryUrl()}.`);
        return;
      }
      throw error;
    }
    const summary = await api(`/nodes/summary?pinned=${encodeURIComponent(peerId ?? '')}&limit=1`);
    const row = summary.rows[0]?.peer_id === peerId ? summary.rows[0] : null;
    if (row) {
      setText('title', row.name ?? peerId ?? '');
      document.title = `Tetcore Analytics — ${row.name ?? peerId}`;
      byId('chain').replaceChildren(row.chain ? el('a', { href: pageLink('/dashboard/chain/', { chain: row.chain, ...(row.genesis_hash ? { genesis_hash: row.genesis_hash } : {}) }) }, row.chain) : '–');
      setText('version', row.version ?? '–');
      setText('status-text', row.connected ? 'connected' : `disconnected, last seen ${row.last_seen ?? 'never'} UTC`);
      setText('peers', count(row.peers));
      setText('heights', `${count(row.best_height)} / ${count(row.finalized_height)}`);
      setText('p90', formatMs(row.propagation_p90_ms));
    }
    renderSessions(history);
    await renderPropagation(history);
    state.ok();
  }

  poll(state, load, REFRESH_MS);
}
