// @ts-check
// The page header, written once for every dashboard: title, navigation (links keep ?access_token=),
// and the place where a page shows the state of its live data.
import { pageLink } from './api.js';
import { el } from './dom.js';

const PAGES = /** @type {const} */ ([
  ['network', '/', 'Network'],
  ['profiling', '/dashboard/profiling/', 'Live profiling'],
  ['reputation', '/dashboard/reputation/', 'Peer reputation'],
  ['benchmarks', '/dashboard/benchmarks/', 'Benchmarks'],
  ['docs', '/docs', 'API'],
]);

/**
 * Fills `<header class="top" id="top">` and returns its status element.
 * @param {string} current the page's key (network, chain, node, profiling, reputation, benchmarks, index)
 * @returns {HTMLElement}
 */
export function renderHeader(current) {
  const header = document.getElementById('top') ?? document.body.insertBefore(el('header', { class: 'top', id: 'top' }), document.body.firstChild);
  const links = PAGES.map(([key, href, label]) => el('a', { href: pageLink(href), 'aria-current': key === current ? 'page' : null }, label));
  const status = el('span', { class: 'status', id: 'status' });
  header.replaceChildren(el('h1', {}, el('a', { href: pageLink('/dashboard/') }, 'Tetcore Analytics')), el('nav', {}, ...links), status);
  return status;
}
