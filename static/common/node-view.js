// @ts-check
// What the pages that view one node share (profiling, reputation): the #controls form (View, Cancel),
// the #node list filled from /nodes, a ?peer_id= in the address opened at once, and the node's facts.
import { api, pageLink, rememberParams, telemetryUrl } from './api.js';
import { byId, el, setText } from './dom.js';
import { nodeLabel } from './format.js';

/**
 * @typedef {{ id: number, peer_id: string | null, name: string | null, chain: string | null, version: string | null, authority: boolean | null,
 *   startup_time: number | null, connected: boolean, last_seen: string | null }} NodeRow
 */

/**
 * Fills a <select> with the nodes that have a peer id; keeps the selection when possible.
 * @param {HTMLSelectElement} select
 * @param {NodeRow[]} nodes
 * @param {string | null} selected
 */
export function fillNodeSelect(select, nodes, selected) {
  const current = selected ?? select.value;
  select.replaceChildren(...nodes.filter((n) => n.peer_id).map((n) => el('option', { value: n.peer_id, selected: n.peer_id === current }, nodeLabel(n))));
}

/**
 * Wires the page: `view(peerId)` on View (and at once for ?peer_id=), `cancel()` on Cancel; the nodes from
 * /nodes go to `onNodes` first. The page's DataState shows loading, empty (no node yet, or none chosen) or
 * why /nodes failed, and /nodes is asked again while the server is unreachable.
 * @param {{ state: import('./state.js').DataState, view: (peerId: string) => void, cancel: () => void, what: string, onNodes: (nodes: NodeRow[]) => void }} page
 */
export function startNodeView({ state, view, cancel, what, onNodes }) {
  const select = /** @type {HTMLSelectElement} */ (byId('node'));
  byId('controls').addEventListener('submit', (event) => {
    event.preventDefault();
    if (!select.value) return;
    rememberParams({ peer_id: select.value });
    view(select.value);
  });
  byId('cancel').addEventListener('click', () => {
    cancel();
    state.empty('Choose a node and press View.', what);
  });
  state.loading();
  let retryMs = 1000;
  const load = async () => {
    try {
      /** @type {NodeRow[]} */
      const nodes = await api('/nodes');
      onNodes(nodes);
      const wanted = new URLSearchParams(location.search).get('peer_id');
      fillNodeSelect(select, nodes, wanted);
      if (nodes.length === 0) state.empty('No node has connected yet.', `Point a node at this server (${telemetryUrl()}), then choose it here: ${what}`);
      else if (wanted && nodes.some((n) => n.peer_id === wanted)) view(wanted);
      else state.empty('Choose a node and press View.', what);
    } catch (error) {
      const wait = state.failed(error, retryMs);
      retryMs = Math.min(retryMs * 2, 30_000);
      if (wait !== null) setTimeout(() => void load(), wait);
    }
  };
  void load();
}

/**
 * Fills the node facts of a page (#name, #chain, #authority, #startup) and its #links.
 * @param {NodeRow | undefined} node
 */
export function showNode(node) {
  setText('name', node?.name ?? '–');
  setText('chain', node?.chain ?? '–');
  setText('authority', node?.authority === null || node?.authority === undefined ? '–' : node.authority ? 'yes' : 'no');
  setText('startup', node?.startup_time ? `${new Date(Number(node.startup_time)).toISOString().slice(0, 19)} UTC` : '–');
  const links = document.getElementById('links');
  if (links && node?.peer_id) links.replaceChildren(el('a', { href: pageLink('/dashboard/node/', { peer_id: node.peer_id }) }, 'node page'));
}
