// @ts-check
// Peer reputation: the reputation other nodes give the chosen node. The history comes from
// /reputation/{peer_id} (the server reads the other nodes' network states and answers only the entries
// about this node), then the page asks again every FEED_INTERVAL_MS for the entries newer than the newest
// it holds (with an overlap, for nodes whose clocks are behind), so that a new network state shows within
// one feed interval, and a few hundred bytes travel instead of every node's network state.
import { api } from '../common/api.js';
import { byId, el } from '../common/dom.js';
import { renderHeader } from '../common/header.js';
import { DataState } from '../common/state.js';
import { nodeLabel, parseTs, shortPeer } from '../common/format.js';
import { TimeChart } from '../common/chart.js';
import { showNode, startNodeView } from '../common/node-view.js';

/** The feed's default refresh interval (CACHE_UPDATE_INTERVAL_MS): new entries are asked for as often. */
export const FEED_INTERVAL_MS = 1000;
const WHAT = 'the reputation the other nodes give it comes from their system.network_state messages (sent at verbosity 1 and above).';

/**
 * Each request re-reads this much before the newest entry held: a node whose clock is behind the others'
 * stamps its network state earlier than entries already shown (entries seen twice are skipped). A clock
 * more than this behind loses entries from the live view (the history on the next View has them).
 */
export const OVERLAP_MS = 15_000;

/** @typedef {{ reporting_peer: string, reputation: number, connected: boolean, ts: string }} Entry */

export function start() {
  const status = renderHeader('reputation');
  const state = new DataState(byId('state'));
  /** @type {import('../common/node-view.js').NodeRow[]} */
  let nodes = [];
  /** @type {string | null} */
  let viewing = null;
  /** @type {TimeChart | null} */
  let chart = null;
  /** @type {Map<string, Entry>} reporting peer -> its newest entry */
  const latest = new Map();
  /** @type {string | null} */
  let newest = null;
  /** @type {Set<string>} entries already shown: `reporter ts` */
  const seen = new Set();
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  let retryMs = 1000;
  /** Bumped by each view/cancel: answers for an earlier view are dropped. */
  let generation = 0;

  /** @param {string} peerId */
  const label = (peerId) => {
    const node = nodes.find((n) => n.peer_id === peerId);
    return node ? nodeLabel(node) : shortPeer(peerId);
  };

  /** @param {Entry[]} entries */
  function show(entries) {
    if (!chart) return;
    /** @type {Map<string, Array<{ t: Date | null, v: number }>>} */
    const byReporter = new Map();
    for (const e of entries) {
      const key = `${e.reporting_peer} ${e.ts}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const points = byReporter.get(e.reporting_peer) ?? [];
      points.push({ t: parseTs(e.ts), v: e.reputation });
      byReporter.set(e.reporting_peer, points);
      const previous = latest.get(e.reporting_peer);
      if (!previous || e.ts >= previous.ts) latest.set(e.reporting_peer, e);
      if (newest === null || e.ts > newest) newest = e.ts;
    }
    for (const [reporter, points] of byReporter) chart.add(label(reporter), points);
    const rows = [...latest.values()].sort((a, b) => label(a.reporting_peer).localeCompare(label(b.reporting_peer)));
    byId('reporters').querySelector('tbody')?.replaceChildren(
      ...rows.map((r) => el('tr', {}, el('td', {}, label(r.reporting_peer)), el('td', { class: 'num' }, String(r.reputation)), el('td', {}, r.connected ? 'yes' : 'no'), el('td', { class: 'muted' }, r.ts))),
    );
    if (latest.size > 0) state.ok();
    else state.empty('No other node has reported on this node yet.', `Within the window, ${WHAT}`);
  }

  /**
   * @param {number} asked the generation that asked
   * @param {number} minutes
   */
  async function fetchEntries(asked, minutes) {
    if (asked !== generation || viewing === null) return;
    try {
      const since = newest === null ? null : new Date((parseTs(newest)?.getTime() ?? 0) - OVERLAP_MS).toISOString().slice(0, 23);
      const query = since === null ? `max_age_s=${minutes * 60}` : `start_time=${since}`;
      /** @type {Entry[]} */
      const entries = await api(`/reputation/${encodeURIComponent(viewing)}?${query}`);
      if (asked !== generation) return;
      show(entries);
      // Keys older than the overlap cannot come again: forget them (memory stays bounded on a long view).
      if (since !== null && seen.size > 5000) for (const key of seen) if (key.slice(key.indexOf(' ') + 1) < since) seen.delete(key);
      status.textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
      retryMs = 1000;
      timer = setTimeout(() => void fetchEntries(asked, minutes), FEED_INTERVAL_MS);
    } catch (error) {
      if (asked !== generation) return;
      const wait = state.failed(error, retryMs);
      retryMs = Math.min(retryMs * 2, 30_000);
      if (wait !== null) timer = setTimeout(() => void fetchEntries(asked, minutes), wait);
    }
  }

  function cancel() {
    generation++;
    if (timer !== null) clearTimeout(timer);
    viewing = null;
    newest = null;
    seen.clear();
    latest.clear();
    chart?.destroy();
    chart = null;
    byId('chart').replaceChildren();
    byId('reporters').querySelector('tbody')?.replaceChildren();
  }

  /** @param {string} peerId */
  function view(peerId) {
    cancel();
    const minutes = Math.max(1, Number(/** @type {HTMLInputElement} */ (byId('minutes')).value) || 10);
    viewing = peerId;
    showNode(nodes.find((n) => n.peer_id === peerId));
    byId('chart').dataset.points = '0';
    chart = new TimeChart(byId('chart'), { title: 'Reputation given by other nodes', unit: 'plain', windowMs: minutes * 60_000, points: true });
    state.loading();
    void fetchEntries(generation, minutes);
  }

  startNodeView({ state, view, cancel, what: WHAT, onNodes: (list) => (nodes = list) });
}
