// @ts-check
// Network view (GET / in a browser): one row per node from /nodes/summary, which sorts, filters, pins and
// pages on the server, so that the page asks only for the rows it shows (a 10,000-node network costs the
// same as a 40-node one). Polls the visible rows every REFRESH_MS; pins live in localStorage.
import { api, pageLink, rememberParams, telemetryUrl } from '../common/api.js';
import { byId, el } from '../common/dom.js';
import { renderHeader } from '../common/header.js';
import { DataState, poll } from '../common/state.js';
import { count } from '../common/format.js';
import { VirtualTable } from './table.js';

export const REFRESH_MS = 5_000;
const CHAINS_REFRESH_MS = 30_000;
const PINS_KEY = 'tetcore-analytics.pinned';
/** Numeric columns read best largest first. */
const DESC_FIRST = new Set(['peers', 'txcount', 'best_height', 'finalized_height', 'uptime_pct', 'last_seen']);

/** @returns {string[]} */
function loadPins() {
  try {
    const pins = JSON.parse(localStorage.getItem(PINS_KEY) ?? '[]');
    return Array.isArray(pins) ? pins.filter((p) => typeof p === 'string') : [];
  } catch {
    return [];
  }
}

export function start() {
  const status = renderHeader('network');
  const state = new DataState(byId('state'));
  state.loading();
  const params = new URLSearchParams(location.search);
  const view = { sort: params.get('sort') ?? 'name', desc: params.get('order') === 'desc', q: params.get('q') ?? '' };
  let pins = loadPins();
  /** Bumped when the order changes: answers to older requests are dropped. */
  let generation = 0;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let rangeTimer = null;
  const filter = /** @type {HTMLInputElement} */ (byId('filter'));
  filter.value = view.q;

  const table = new VirtualTable({
    head: byId('head'),
    viewport: byId('viewport'),
    spacer: byId('spacer'),
    onSort(sort) {
      view.desc = view.sort === sort ? !view.desc : DESC_FIRST.has(sort);
      view.sort = sort;
      orderChanged();
    },
    onPin(peerId) {
      pins = pins.includes(peerId) ? pins.filter((p) => p !== peerId) : [...pins, peerId];
      localStorage.setItem(PINS_KEY, JSON.stringify(pins));
      orderChanged();
    },
    onRange() {
      // Scrolled: fetch the rows now in view that are not held, once the scrolling pauses.
      const { first, last } = table.range();
      for (let i = first; i < last; i++) {
        if (!table.rows.has(i)) {
          if (rangeTimer !== null) clearTimeout(rangeTimer);
          rangeTimer = setTimeout(() => refresher.now(), 80);
          return;
        }
      }
    },
  });
  table.setSort(view.sort, view.desc);

  function orderChanged() {
    generation++;
    table.setSort(view.sort, view.desc);
    rememberParams({ sort: view.sort, order: view.desc ? 'desc' : 'asc', q: view.q });
    refresher.now();
  }

  filter.addEventListener('input', () => {
    view.q = filter.value.trim();
    table.viewport.scrollTop = 0;
    orderChanged();
  });

  async function load() {
    const asked = generation;
    const { first, last } = table.range();
    const limit = Math.max(last - first, 60);
    const query = new URLSearchParams({ sort: view.sort, order: view.desc ? 'desc' : 'asc', offset: String(first), limit: String(limit) });
    if (view.q) query.set('q', view.q);
    if (pins.length > 0) query.set('pinned', pins.join(','));
    const summary = await api(`/nodes/summary?${query}`);
    if (asked !== generation) return; // the order changed meanwhile: the next request is on its way
    table.setData(summary.matched, summary.offset, summary.rows, table.lastGeneration !== asked);
    table.lastGeneration = asked;
    const filtered = view.q ? ` · ${count(summary.matched)} shown` : '';
    byId('summary').textContent = `${count(summary.total)} node${summary.total === 1 ? '' : 's'}, ${count(summary.connected)} connected${filtered}`;
    status.textContent = `updated ${summary.generated_at.slice(11, 19)} UTC`;
    if (summary.total === 0) state.empty('No node has connected yet.', `Point a node at this server: ${telemetryUrl()}`);
    else state.ok();
  }
  const refresher = poll(state, load, REFRESH_MS);

  poll(
    state,
    async () => {
      const chains = await api('/chains');
      byId('chains').replaceChildren(
        ...chains.map((/** @type {{ chain: string, genesis_hash: string | null, nodes_connected: number, best_height: number | null }} */ c) =>
          el('a', { href: pageLink('/dashboard/chain/', { chain: c.chain, ...(c.genesis_hash ? { genesis_hash: c.genesis_hash } : {}) }), title: c.genesis_hash ?? 'no genesis hash' }, `${c.chain} · ${c.nodes_connected} connected · #${count(c.best_height)}`),
        ),
      );
    },
    CHAINS_REFRESH_MS,
  );
}
