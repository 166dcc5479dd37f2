// @ts-check
// Chain page (/dashboard/chain/?chain=…[&genesis_hash=…]): head, finality and block time from /chains;
// per-block propagation percentiles, time to finality and forks from /chains/{chain}/blocks; the
// propagation histogram and the nodes' figures from /chains/{chain}/propagation; the finality lag from
// /chains/{chain}/finality. Refreshed every REFRESH_MS.
import { api, ApiError, pageLink, telemetryUrl } from '../common/api.js';
import { byId, el, setText } from '../common/dom.js';
import { renderHeader } from '../common/header.js';
import { DataState, poll } from '../common/state.js';
import { ago, count, formatMs, parseTs, shortPeer } from '../common/format.js';
import { TimeChart, histogramChart } from '../common/chart.js';

export const REFRESH_MS = 10_000;
const BLOCKS = 200;

/**
 * @typedef {{ chain: string, genesis_hash: string | null, nodes_connected: number, best_height: number | null, best_seen_at: string | null,
 *   finalized_height: number | null, avg_block_time_ms: number | null, propagation_p90_ms: number | null }} ChainOverview
 * @typedef {{ height: number, hash: string, first_seen_at: string, propagation_ms: { p50: number | null, p90: number | null, p99: number | null },
 *   time_to_finality_ms: number | null, forks: Array<{ hash: string, nodes_reported: number }> }} Block
 * @typedef {{ peer_id: string, name: string | null, blocks_seen: number, blocks_missed: number, mean_ms: number | null, p50_ms: number | null, p90_ms: number | null }} NodePropagation
 */

/**
 * Sorts the nodes' figures by a column, nulls last, ties by peer id.
 * @param {NodePropagation[]} nodes
 * @param {keyof NodePropagation} key
 * @param {boolean} desc
 */
export function sortNodes(nodes, key, desc) {
  return [...nodes].sort((a, b) => {
    const x = a[key];
    const y = b[key];
    if (x === null || y === null) return x === y ? a.peer_id.localeCompare(b.peer_id) : x === null ? 1 : -1;
    const c = typeof x === 'string' && typeof y === 'string' ? x.localeCompare(y) : Number(x) - Number(y);
    return (desc ? -c : c) || a.peer_id.localeCompare(b.peer_id);
  });
}

export function start() {
  renderHeader('chain');
  const state = new DataState(byId('state'));
  state.loading();
  const params = new URLSearchParams(location.search);
  const chain = params.get('chain');
  const genesis = params.get('genesis_hash');
  if (!chain) {
    void listChains('Choose a chain.');
    return;
  }
  byId('title').textContent = chain;
  document.title = `Tetcore Analytics — ${chain}`;
  const query = genesis ? `genesis_hash=${encodeURIComponent(genesis)}&` : '';
  const base = `/chains/${encodeURIComponent(chain)}`;

  const propagation = new TimeChart(byId('propagation-chart'), { title: 'Block propagation per block (p50, p90, p99; forks marked)', unit: 'ms', points: true, markers: ['fork'] });
  const finality = new TimeChart(byId('finality-chart'), { title: 'Time to finality per block', unit: 'ms', points: true });
  const lag = new TimeChart(byId('lag-chart'), { title: 'Best − finalized height (per minute)', unit: 'plain', points: true });
  /** @type {NodePropagation[]} */
  let nodes = [];
  /** @type {{ key: keyof NodePropagation, desc: boolean }} */
  const nodeSort = { key: 'p90_ms', desc: false };

  for (const th of byId('propagation-nodes').querySelectorAll('th[data-sort]')) {
    th.addEventListener('click', () => {
      const key = /** @type {keyof NodePropagation} */ (/** @type {HTMLElement} */ (th).dataset.sort);
      nodeSort.desc = nodeSort.key === key ? !nodeSort.desc : false;
      nodeSort.key = key;
      renderNodes();
    });
  }

  function renderNodes() {
    for (const th of byId('propagation-nodes').querySelectorAll('th[data-sort]')) {
      const h = /** @type {HTMLElement} */ (th);
      h.setAttribute('aria-sort', h.dataset.sort === nodeSort.key ? (nodeSort.desc ? 'descending' : 'ascending') : 'none');
    }
    byId('propagation-nodes').querySelector('tbody')?.replaceChildren(
      ...sortNodes(nodes, nodeSort.key, nodeSort.desc).map((n) =>
        el(
          'tr',
          { 'data-peer-id': n.peer_id },
          el('td', {}, el('a', { href: pageLink('/dashboard/node/', { peer_id: n.peer_id }), title: n.peer_id }, n.name ?? shortPeer(n.peer_id))),
          el('td', { class: 'num' }, count(n.blocks_seen)),
          el('td', { class: 'num' }, count(n.blocks_missed)),
          el('td', { class: 'num' }, formatMs(n.mean_ms)),
          el('td', { class: 'num' }, formatMs(n.p50_ms)),
          el('td', { class: 'num' }, formatMs(n.p90_ms)),
        ),
      ),
    );
  }

  /** @param {Block[]} blocks */
  function renderBlocks(blocks) {
    propagation.clear();
    finality.clear();
    const at = (/** @type {Block} */ b) => parseTs(b.first_seen_at);
    propagation.add('p50', blocks.map((b) => ({ t: at(b), v: b.propagation_ms.p50 })));
    propagation.add('p90', blocks.map((b) => ({ t: at(b), v: b.propagation_ms.p90 })));
    propagation.add('p99', blocks.map((b) => ({ t: at(b), v: b.propagation_ms.p99 })));
    const forked = blocks.filter((b) => b.forks.length > 0);
    propagation.add('fork', forked.map((b) => ({ t: at(b), v: b.propagation_ms.p99 ?? 0 })));
    finality.add('time to finality', blocks.map((b) => ({ t: at(b), v: b.time_to_finality_ms })));
    byId('forks').querySelector('tbody')?.replaceChildren(
      ...(forked.length === 0
        ? [el('tr', {}, el('td', { colspan: 4, class: 'muted' }, 'No fork in these blocks.'))]
        : forked.map((b) =>
            el(
              'tr',
              {},
              el('td', { class: 'num' }, count(b.height)),
              el('td', { class: 'mono' }, shortPeer(b.hash)),
              el('td', { class: 'mono fork' }, b.forks.map((f) => `${shortPeer(f.hash)} (${f.nodes_reported})`).join(', ')),
              el('td', { class: 'muted' }, b.first_seen_at),
            ),
          )),
    );
  }

  async function load() {
    /** @type {ChainOverview[]} */
    const chains = await api('/chains');
    const overview = chains.find((c) => c.chain === chain && (genesis === null || (c.genesis_hash ?? 'null') === genesis));
    if (!overview) {
      await listChains(`No chain named ${JSON.stringify(chain)}${genesis ? ` with genesis hash ${genesis}` : ''} has been seen.`);
      return;
    }
    if (genesis === null && chains.filter((c) => c.chain === chain).length > 1) {
      await listChains(`Several chains are named ${JSON.stringify(chain)}: choose one by its genesis hash.`);
      return;
    }
    setText('best', count(overview.best_height));
    setText('finalized', count(overview.finalized_height));
    setText('block-time', formatMs(overview.avg_block_time_ms));
    const lastBlock = parseTs(overview.best_seen_at);
    setText('last-block', lastBlock ? ago(lastBlock) : '–');
    byId('last-block').title = overview.best_seen_at ? `${overview.best_seen_at} UTC` : '';
    setText('nodes', count(overview.nodes_connected));
    setText('p90', formatMs(overview.propagation_p90_ms));
    const [blocks, report, finalityReport] = await Promise.all([
      api(`${base}/blocks?${query}limit=${BLOCKS}`),
      api(`${base}/propagation?${query}`),
      api(`${base}/finality?${query}bucket_s=60`),
    ]);
    renderBlocks(blocks);
    const bins = /** @type {Array<{ upper_ms: number | null, count: number, cumulative_pct: number }>} */ (report.histogram);
    // Up to the slowest bin with arrivals (and one more), so that fast networks are not one bar at the left.
    let used = bins.length;
    while (used > 4 && bins[used - 1].count === 0) used--;
    const histogram = bins.slice(0, Math.min(bins.length, used + 1));
    histogramChart(byId('histogram-chart'), {
      title: `Propagation histogram, last hour (${count(report.arrivals)} arrivals)`,
      width: Math.max(300, byId('histogram-chart').clientWidth - 24),
      labels: histogram.map((b) => b.upper_ms ?? 10_250),
      counts: histogram.map((b) => b.count),
      cumulative: histogram.map((b) => b.cumulative_pct),
    });
    nodes = report.nodes;
    renderNodes();
    lag.clear();
    const lagRows = /** @type {Array<{ end: string, lag: number | null, max_lag: number | null }>} */ (finalityReport.lag);
    lag.add('lag', lagRows.map((b) => ({ t: parseTs(b.end), v: b.lag })));
    lag.add('max lag', lagRows.map((b) => ({ t: parseTs(b.end), v: b.max_lag })));
    if (blocks.length === 0) state.empty('No block of this chain yet.', `Its nodes’ block.import messages fill this page: ${telemetryUrl()}.`);
    else state.ok();
  }

  /** @param {string} why */
  async function listChains(why) {
    try {
      /** @type {ChainOverview[]} */
      const chains = await api('/chains');
      const links = chains
        .filter((c) => !chain || c.chain === chain || why.startsWith('No chain'))
        .map((c) => el('a', { href: pageLink('/dashboard/chain/', { chain: c.chain, ...(c.genesis_hash ? { genesis_hash: c.genesis_hash } : {}) }), style: 'margin-right: 12px' }, `${c.chain}${c.genesis_hash ? ` (${shortPeer(c.genesis_hash)})` : ''}`));
      if (chains.length === 0) state.empty(why, `No chain yet: point a node at this server, ${telemetryUrl()}.`);
      else state.show('empty', el('strong', {}, why), ' ', ...links);
    } catch (error) {
      state.failed(error, 5000);
    }
  }

  poll(
    state,
    async () => {
      try {
        await load();
      } catch (error) {
        if (error instanceof ApiError && (error.status === 404 || error.status === 409)) await listChains(error.message);
        else throw error;
      }
    },
    REFRESH_MS,
  );
}
