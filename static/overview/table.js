// @ts-check
// The network view's table: columns as operators know them from substrate-telemetry, fixed-height rows
// in a scrolling viewport of which only the visible rows exist in the DOM (a pool of row elements moved
// into place), and cells written only when their text changes. It knows nothing of the API: the page
// gives it rows by index and asks it which indexes are visible.
import { el } from '../common/dom.js';
import { pageLink } from '../common/api.js';
import { ago, count, formatMs, parseTs, shortPeer } from '../common/format.js';

export const ROW_HEIGHT = 22;
/** Rows rendered beyond the visible ones on each side (smooth scrolling). */
const OVERSCAN = 10;

/**
 * @typedef {{ peer_id: string, name: string | null, chain: string | null, genesis_hash: string | null, version: string | null,
 *   connected: boolean, pinned: boolean, last_seen: string | null, peers: number | null, txcount: number | null, best_height: number | null,
 *   finalized_height: number | null, propagation_last_ms: number | null, propagation_p90_ms: number | null, block_time_ms: number | null,
 *   uptime_pct: number | null }} NodeSummary
 * @typedef {{ key: string, label: string, title: string, num?: boolean, sort?: string }} Column
 */

/** @type {Column[]} */
export const COLUMNS = [
  { key: 'pin', label: '☆', title: 'Pin: pinned nodes stay at the top (kept in this browser)' },
  { key: 'name', label: 'Name', title: 'Node name; opens the node page', sort: 'name' },
  { key: 'chain', label: 'Chain', title: 'Chain; opens the chain page', sort: 'chain' },
  { key: 'version', label: 'Version', title: 'Node version', sort: 'version' },
  { key: 'peers', label: 'Peers', title: 'Peers, from its latest system.interval', num: true, sort: 'peers' },
  { key: 'txcount', label: 'Txs', title: 'Transactions in its pool', num: true, sort: 'txcount' },
  { key: 'best_height', label: 'Best', title: 'Best block height', num: true, sort: 'best_height' },
  { key: 'finalized_height', label: 'Finalized', title: 'Finalized height', num: true, sort: 'finalized_height' },
  { key: 'propagation_last_ms', label: 'Prop. last', title: 'Block propagation: delay of its latest import after the block’s first seen', num: true, sort: 'propagation_last_ms' },
  { key: 'propagation_p90_ms', label: 'Prop. p90', title: 'Block propagation: 90th percentile over its last 50 blocks', num: true, sort: 'propagation_p90_ms' },
  { key: 'block_time_ms', label: 'Block time', title: 'Mean time between its last 50 blocks', num: true, sort: 'block_time_ms' },
  { key: 'uptime_pct', label: 'Uptime 24h', title: 'Share of the last 24 hours it was connected', num: true, sort: 'uptime_pct' },
  { key: 'last_seen', label: 'Last seen', title: 'Connected now, or when it was last seen (UTC in the tooltip)', sort: 'last_seen' },
];

/**
 * The text of a cell.
 * @param {NodeSummary} row
 * @param {string} key
 * @param {number} now
 * @returns {string}
 */
export function cellText(row, key, now) {
  switch (key) {
    case 'pin':
      return row.pinned ? '★' : '☆';
    case 'name':
      return row.name ?? shortPeer(row.peer_id);
    case 'chain':
    case 'version':
      return row[key] ?? '–';
    case 'peers':
    case 'txcount':
    case 'best_height':
    case 'finalized_height':
      return count(row[key]);
    case 'propagation_last_ms':
    case 'propagation_p90_ms':
    case 'block_time_ms':
      return formatMs(row[key]);
    case 'uptime_pct':
      if (row.uptime_pct === null) return '–';
      return row.uptime_pct > 0 && row.uptime_pct < 0.1 ? '< 0.1 %' : `${row.uptime_pct.toFixed(1)} %`;
    case 'last_seen':
      return row.connected ? 'connected' : ago(parseTs(row.last_seen), now);
    default:
      return '';
  }
}

export class VirtualTable {
  /**
   * @param {{ head: HTMLElement, viewport: HTMLElement, spacer: HTMLElement, onSort: (sort: string) => void, onPin: (peerId: string) => void, onRange: () => void }} parts
   */
  constructor({ head, viewport, spacer, onSort, onPin, onRange }) {
    this.viewport = viewport;
    this.spacer = spacer;
    this.onPin = onPin;
    this.onRange = onRange;
    /** @type {Map<number, NodeSummary>} */
    this.rows = new Map();
    this.length = 0;
    /** @type {Array<{ tr: HTMLElement, cells: HTMLElement[], texts: string[], index: number, peerId: string }>} */
    this.pool = [];
    this.sort = 'name';
    this.desc = false;
    this.framePending = false;
    /** The order (generation) of the rows held; another one replaces them all. */
    this.lastGeneration = -1;
    head.replaceChildren(
      ...COLUMNS.map((c) =>
        el('div', { class: `cell col-${c.key}${c.num ? ' num' : ''}${c.sort ? ' sortable' : ''}`, role: 'columnheader', title: c.title, 'data-sort': c.sort ?? null, onclick: c.sort ? () => onSort(c.sort ?? '') : null }, c.label),
      ),
    );
    this.head = head;
    viewport.addEventListener('scroll', () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(viewport);
  }

  /**
   * Shows the sort in the header.
   * @param {string} sort
   * @param {boolean} desc
   */
  setSort(sort, desc) {
    this.sort = sort;
    this.desc = desc;
    for (const cell of this.head.children) {
      const h = /** @type {HTMLElement} */ (cell);
      h.setAttribute('aria-sort', h.dataset.sort === sort ? (desc ? 'descending' : 'ascending') : 'none');
    }
  }

  /** The indexes [first, last) that should be rendered now. */
  range() {
    const first = Math.max(0, Math.floor(this.viewport.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const visible = Math.ceil(this.viewport.clientHeight / ROW_HEIGHT) + 1;
    return { first, last: Math.min(this.length, first + visible + 2 * OVERSCAN) };
  }

  /**
   * New data: the list's length and some of its rows by index (others are kept until replaced).
   * @param {number} length
   * @param {number} offset
   * @param {NodeSummary[]} rows
   * @param {boolean} replaceAll drop every row held (the order changed)
   */
  setData(length, offset, rows, replaceAll) {
    if (replaceAll) this.rows.clear();
    this.length = length;
    rows.forEach((row, i) => this.rows.set(offset + i, row));
    for (const index of this.rows.keys()) if (index >= length) this.rows.delete(index);
    this.spacer.style.height = `${length * ROW_HEIGHT}px`;
    this.render();
  }

  schedule() {
    if (this.framePending) return;
    this.framePending = true;
    requestAnimationFrame(() => {
      this.framePending = false;
      this.render();
      this.onRange();
    });
  }

  /** Places the pool's rows on the visible indexes and writes the cells that changed. */
  render() {
    const { first, last } = this.range();
    const wanted = last - first;
    while (this.pool.length < wanted) this.pool.push(this.createRow());
    const now = Date.now();
    this.pool.forEach((slot, i) => {
      const index = first + i;
      if (i >= wanted) {
        slot.tr.hidden = true;
        return;
      }
      slot.tr.hidden = false;
      if (slot.index !== index) {
        slot.index = index;
        slot.tr.style.transform = `translateY(${index * ROW_HEIGHT}px)`;
      }
      const row = this.rows.get(index);
      const peerId = row?.peer_id ?? '';
      if (slot.peerId !== peerId) {
        slot.peerId = peerId;
        slot.tr.dataset.peerId = peerId;
        const name = /** @type {HTMLAnchorElement} */ (slot.cells[1].firstChild);
        const chain = /** @type {HTMLAnchorElement} */ (slot.cells[2].firstChild);
        name.href = row ? pageLink('/dashboard/node/', { peer_id: row.peer_id }) : '#';
        name.title = row?.peer_id ?? '';
        chain.href = row?.chain ? pageLink('/dashboard/chain/', { chain: row.chain, ...(row.genesis_hash ? { genesis_hash: row.genesis_hash } : {}) }) : '#';
      }
      slot.tr.className = `grid-row${row && !row.connected ? ' stale' : ''}${row?.pinned ? ' pinned' : ''}${row ? '' : ' loading'}`;
      COLUMNS.forEach((column, c) => {
        const text = row ? cellText(row, column.key, now) : c === 1 ? '…' : '';
        if (slot.texts[c] === text) return;
        slot.texts[c] = text;
        const target = c === 1 || c === 2 ? /** @type {HTMLElement} */ (slot.cells[c].firstChild) : slot.cells[c];
        target.textContent = text;
      });
      if (row) slot.cells[12].title = row.last_seen ? `${row.last_seen} UTC` : '';
    });
  }

  createRow() {
    const cells = COLUMNS.map((c) => el('div', { class: `cell col-${c.key}${c.num ? ' num' : ''}`, role: 'cell' }));
    cells[1].append(el('a', { href: '#' }));
    cells[2].append(el('a', { href: '#' }));
    const tr = el('div', { class: 'grid-row', role: 'row' }, ...cells);
    const slot = { tr, cells, texts: COLUMNS.map(() => ''), index: -1, peerId: '' };
    cells[0].addEventListener('click', () => {
      if (slot.peerId) this.onPin(slot.peerId);
    });
    cells[0].title = 'Pin or unpin';
    this.spacer.append(tr);
    return slot;
  }
}
