// Shared by the dashboards: API calls, the /feed connection, time helpers, small DOM helpers.
// Plain ES modules served as they are (no build step).

/** With API_TOKEN set on the server, open a page as `…?access_token=<token>`: it is passed on. */
const token = new URLSearchParams(location.search).get('access_token');

export async function api(path, options = {}) {
  const headers = { ...(options.body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) throw new Error(`${options.method ?? 'GET'} ${path}: HTTP ${response.status}`);
  const text = await response.text();
  return text === '' ? null : JSON.parse(text);
}

/** The feed's URL on the page's own host: wss:// when the page came over https. */
export function feedUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/feed${token ? `?access_token=${encodeURIComponent(token)}` : ''}`;
}

/** Keeps a link's query (the token) when moving between pages. */
export function pageLink(path, params = {}) {
  const query = new URLSearchParams(params);
  if (token) query.set('access_token', token);
  const q = query.toString();
  return q ? `${path}?${q}` : path;
}

/**
 * The /feed websocket, reconnecting with back-off. Subscriptions are remembered and sent again after a
 * reconnection, from the newest time already received (so nothing is missed; pages merge by time).
 */
export class Feed {
  constructor({ onData, onStatus = () => {}, onError = (e) => console.warn('feed:', e) }) {
    this.onData = onData;
    this.onStatus = onStatus;
    this.onError = onError;
    this.subscriptions = new Map();
    this.retryMs = 500;
    this.connect();
  }

  static key(peerId, msg) {
    return JSON.stringify([peerId, msg]);
  }

  connect() {
    this.onStatus('connecting');
    const ws = new WebSocket(feedUrl());
    this.ws = ws;
    ws.onopen = () => {
      this.retryMs = 500;
      this.onStatus('live');
      for (const request of this.subscriptions.values()) ws.send(JSON.stringify(request));
    };
    ws.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      if (frame.error !== undefined) return this.onError(frame.error);
      const { peer_id, msg } = frame.peer_message ?? {};
      if (msg === undefined) return;
      const request = this.subscriptions.get(Feed.key(peer_id, msg));
      if (request && !request.aggregate_type) {
        const newest = frame.data.reduce((m, d) => (d.created_at > m ? d.created_at : m), request.start_time);
        request.start_time = newest;
      }
      this.onData(peer_id, msg, frame.data);
    };
    ws.onclose = () => {
      if (this.closed) return;
      this.onStatus('reconnecting');
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    };
  }

  subscribe(peerId, msg, startTime, aggregation = {}) {
    const request = { peer_id: peerId, msg, interest: 'subscribe', start_time: toStartTime(startTime), aggregate_type: aggregation.type ?? '', aggregate_interval: aggregation.interval ?? '', ...(aggregation.key ? { aggregate_key: aggregation.key } : {}) };
    this.subscriptions.set(Feed.key(peerId, msg), request);
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(request));
  }

  unsubscribe(peerId, msg) {
    if (!this.subscriptions.delete(Feed.key(peerId, msg))) return;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ peer_id: peerId, msg, interest: 'unsubscribe', start_time: '' }));
  }

  unsubscribeAll() {
    for (const request of [...this.subscriptions.values()]) this.unsubscribe(request.peer_id, request.msg);
  }
}

/** A Date as the feed's naive UTC start_time: yyyy-MM-ddTHH:mm:ss.SSS. */
export function toStartTime(date) {
  return typeof date === 'string' ? date : date.toISOString().slice(0, 23);
}

/** The server's naive UTC timestamps (`2021-06-23T01:02:03.123456`) as a Date. */
export function parseTs(text) {
  return text ? new Date(`${text.slice(0, 23)}Z`) : null;
}

export function ago(date) {
  if (!date) return 'never';
  const s = Math.max(0, Math.round((Date.now() - date.getTime()) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function shortPeer(peerId) {
  if (!peerId) return '(no peer id)';
  return peerId.length > 14 ? `${peerId.slice(0, 6)}…${peerId.slice(-6)}` : peerId;
}

export function nodeLabel(node) {
  return `${node.name ?? 'unnamed'} (${shortPeer(node.peer_id)})`;
}

/** A number from a JSON number or a decimal string (telemetry sends both); null otherwise. */
export function numeric(value) {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && /^\s*-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(value)) return Number(value);
  return null;
}

/** Creates an element: el('td', { class: 'num', title: 'x' }, 'text', child). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/** Fills a <select> with the nodes that have a peer id; keeps the selection when possible. */
export function fillNodeSelect(select, nodes, selected) {
  const current = selected ?? select.value;
  select.replaceChildren(...nodes.filter((n) => n.peer_id).map((n) => el('option', { value: n.peer_id, selected: n.peer_id === current }, nodeLabel(n))));
}

// Links between pages keep the token.
if (token) {
  document.addEventListener('DOMContentLoaded', () => {
    for (const a of document.querySelectorAll('a[href^="/"]')) a.setAttribute('href', pageLink(a.getAttribute('href')));
  });
}

export function setStatus(text) {
  const status = document.querySelector('header.top .status');
  if (status) status.textContent = `feed: ${text}`;
}

/** Puts the chosen node in the address (keeping ?access_token= and the rest), so a reload reopens it. */
export function rememberPeer(peerId) {
  history.replaceState(null, '', `?${new URLSearchParams({ ...Object.fromEntries(new URLSearchParams(location.search)), peer_id: peerId })}`);
}

/**
 * Wires a page that views one node: the #controls form (View) and #cancel button, the #node list filled
 * from /nodes (handed to `onNodes`), and a ?peer_id= in the address opened at once.
 */
export async function startNodePage({ view, cancel, onNodes }) {
  document.getElementById('controls').addEventListener('submit', (event) => {
    event.preventDefault();
    view();
  });
  document.getElementById('cancel').addEventListener('click', cancel);
  try {
    const nodes = await api('/nodes');
    onNodes(nodes);
    const wanted = new URLSearchParams(location.search).get('peer_id');
    fillNodeSelect(document.getElementById('node'), nodes, wanted);
    if (wanted && nodes.some((n) => n.peer_id === wanted)) view();
  } catch (error) {
    console.warn('could not load the nodes:', error.message);
  }
}

/** Fills the node header of a page (#name, #chain, #authority, #startup) and clears #peers and #height. */
export function showNode(node) {
  const set = (id, text) => (document.getElementById(id).textContent = text);
  set('name', node?.name ?? '–');
  set('chain', node?.chain ?? '–');
  set('authority', node?.authority === null || node?.authority === undefined ? '–' : node.authority ? 'yes' : 'no');
  set('startup', node?.startup_time ? new Date(Number(node.startup_time)).toISOString() : '–');
  set('peers', '–');
  set('height', '–');
}
