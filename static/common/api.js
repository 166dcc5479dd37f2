// @ts-check
// The API client of the dashboards: JSON requests carrying the page's ?access_token=, failures sorted
// into what a page can tell its user (unauthorised, server unreachable, other HTTP error), and links
// between pages that keep the token. Reads the address when called, never on import.

/** The token the page was opened with (`…?access_token=<token>`), or null. */
export function accessToken() {
  return new URLSearchParams(location.search).get('access_token');
}

/** Why a request failed: `kind` is what the page shows. */
export class ApiError extends Error {
  /**
   * @param {'unauthorised' | 'unreachable' | 'http'} kind
   * @param {string} message
   * @param {number} [status]
   */
  constructor(kind, message, status) {
    super(message);
    this.kind = kind;
    this.status = status;
  }
}

/**
 * GET (or `options.method`) a JSON route of this server.
 * @param {string} path
 * @param {{ method?: string, body?: string, signal?: AbortSignal }} [options]
 * @returns {Promise<any>}
 */
export async function api(path, options = {}) {
  const token = accessToken();
  /** @type {Record<string, string>} */
  const headers = {};
  if (options.body) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, { ...options, headers });
  } catch (error) {
    throw new ApiError('unreachable', `${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (response.status === 401 || response.status === 403) throw new ApiError('unauthorised', `${path}: HTTP ${response.status}`, response.status);
  // A proxy in front of a stopped server answers 502/503/504: the server is as good as unreachable.
  if (response.status === 502 || response.status === 503 || response.status === 504) throw new ApiError('unreachable', `${path}: HTTP ${response.status}`, response.status);
  if (!response.ok) throw new ApiError('http', `${path}: HTTP ${response.status} ${await response.text()}`, response.status);
  const text = await response.text();
  return text === '' ? null : JSON.parse(text);
}

/**
 * A link to another page that keeps the token.
 * @param {string} path
 * @param {Record<string, string>} [params]
 */
export function pageLink(path, params = {}) {
  const query = new URLSearchParams(params);
  const token = accessToken();
  if (token) query.set('access_token', token);
  const q = query.toString();
  return q ? `${path}?${q}` : path;
}

/** The feed's URL on the page's own host: wss:// when the page came over https. */
export function feedUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const token = accessToken();
  return `${scheme}//${location.host}/feed${token ? `?access_token=${encodeURIComponent(token)}` : ''}`;
}

/** The --telemetry-url a node needs to stream to this server. */
export function telemetryUrl() {
  return `--telemetry-url '${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ 5'`;
}

/**
 * Puts parameters in the address (keeping ?access_token= and the rest), so that a reload reopens the view.
 * @param {Record<string, string>} params
 */
export function rememberParams(params) {
  const query = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(params)) query.set(k, v);
  history.replaceState(null, '', `?${query}`);
}
