// Why a simulated node cannot reach the server, in one line an operator can act on: the telemetry URL
// checked before any dial, and each dial failure (refused, HTTP status, TLS, not a websocket server).

/** Checks `--url`; returns the one-line problem, or null when it is a websocket URL a node would accept. */
export function checkTelemetryUrl(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `--url ${JSON.stringify(text)} is not a URL; nodes take e.g. ws://127.0.0.1:8080/ or ws://HOST:8080/audit`;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    const scheme = url.protocol === 'http:' ? 'ws' : 'wss';
    return `--url ${text} is an ${url.protocol.slice(0, -1)} URL; telemetry is a websocket: use ${scheme}://${url.host}${url.pathname}`;
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return `--url ${text}: the scheme must be ws:// (or wss:// for TLS), not ${url.protocol}//`;
  // A real node refuses such URLs at start-up ("information loss").
  if (url.search || url.hash || url.username || url.password) {
    return `--url ${text}: a tetcore node rejects URLs with a query, fragment or credentials; the server keys on the path only`;
  }
  return null;
}

const TLS_CERT_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function statusHint(status: number): string {
  if (status === 404) return 'wrong path? nodes stream to / or /audit';
  if (status === 401 || status === 403) return 'the server refuses this client (INGEST_ALLOW?)';
  if (status === 429 || status === 503) return 'the server refuses more connections now (MAX_CONNECTIONS, MAX_CONNECTIONS_PER_IP) or is shutting down';
  if (status === 426) return 'the endpoint wants a websocket upgrade the request did not carry';
  if (status >= 300 && status < 400) return 'nodes never follow redirects: use the final URL';
  return 'not a telemetry endpoint?';
}

/** One line for a failed dial of `url` (ws's error: a Node system error, or "Unexpected server response: N"). */
export function describeDialError(error: Error & { code?: string }, url: string): string {
  const target = new URL(url);
  const where = `${target.hostname}:${target.port || (target.protocol === 'wss:' ? '443' : '80')}`;
  const code = error.code ?? '';
  const status = /Unexpected server response: (\d+)/.exec(error.message);
  if (status) return `${url}: the server answered HTTP ${status[1]} instead of upgrading to a websocket; ${statusHint(Number(status[1]))}`;
  if (code === 'ECONNREFUSED') return `${url}: connection refused by ${where}; is the server running, on that port?`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `${url}: host ${target.hostname} not found`;
  if (code === 'ETIMEDOUT' || /handshake has timed out/i.test(error.message)) return `${url}: no answer from ${where} within the node's 20 s dial timeout`;
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `${url}: ${where} is unreachable from here (${code})`;
  if (TLS_CERT_CODES.has(code)) return `${url}: the TLS certificate of ${target.hostname} is not trusted (${code}); real nodes accept only certificates of public CAs, use ws:// for local tests`;
  if (target.protocol === 'wss:' && (code === 'EPROTO' || code.startsWith('ERR_SSL') || /SSL|TLS/i.test(error.message))) {
    return `${url}: TLS handshake with ${where} failed (${code || error.message.split('\n')[0]}); is it a TLS server? for a plain server use ws://`;
  }
  if (code === 'HPE_INVALID_CONSTANT' || /Parse Error/i.test(error.message)) {
    return `${url}: ${where} does not answer HTTP${target.protocol === 'ws:' ? '; if it is a TLS server, use wss://' : ''}`;
  }
  if (code === 'ECONNRESET' || /socket hang up/i.test(error.message)) return `${url}: ${where} closed the connection during the websocket handshake; not a telemetry server?`;
  return `${url}: ${code ? `${code} ` : ''}${error.message.split('\n')[0]}`;
}
