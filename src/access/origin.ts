// Which web pages may open websockets here (ALLOWED_ORIGINS). Browsers send Origin on every websocket
// handshake and cannot leave it out, while nodes and scripts send none; a handshake carrying a foreign
// Origin is a page the user happens to have open reaching into this server (cross-site websocket
// hijacking), so it is refused. Shared by ingestion (`/`, `/audit`) and `/feed`.
import { ApiError } from '../api/errors.js';

/** `scheme://host[:port]` in canonical form (lower case, default port left out), or null if `text` is not an http(s) origin. */
export function parseOrigin(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  // An origin has no path: `https://a.example` and `https://a.example/` are origins, `https://a.example/x` is not.
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || url.pathname !== '/') return null;
  return url.origin;
}

/** The 403 a refused page gets (the Origin is echoed shortened: it is the client's text). */
export function originForbidden(origin: string | undefined, endpoint: string, allowed: string): ApiError {
  return new ApiError('ORIGIN_FORBIDDEN', `websocket connections to ${endpoint} from web pages of ${JSON.stringify(origin?.slice(0, 80))} are not allowed: ${allowed}`, { parameter: 'origin', in: 'headers' });
}

export class OriginPolicy {
  private readonly allowed: ReadonlySet<string>;

  /** `allowedOrigins`: canonical origins (see parseOrigin), as the settings hold them. */
  constructor(allowedOrigins: readonly string[]) {
    this.allowed = new Set(allowedOrigins);
  }

  /** Ingestion: no Origin (a node, a script) or one of ALLOWED_ORIGINS. Our own pages never stream telemetry. */
  allowsIngestion(origin: string | undefined): boolean {
    return origin === undefined || this.isListed(origin);
  }

  /** `/feed`: no Origin, a page of this server (Origin matches the Host header), or one of ALLOWED_ORIGINS. */
  allowsFeed(origin: string | undefined, host: string | undefined): boolean {
    if (origin === undefined) return true;
    return this.isListed(origin) || sameOrigin(origin, host);
  }

  private isListed(origin: string): boolean {
    const canonical = parseOrigin(origin);
    return canonical !== null && this.allowed.has(canonical);
  }
}

/**
 * The page's host and port are those the browser sent the handshake to. The scheme is not compared: TLS
 * may end at a proxy in front of this server, which then cannot tell https from http.
 */
function sameOrigin(origin: string, host: string | undefined): boolean {
  const canonical = parseOrigin(origin);
  if (canonical === null || host === undefined || host === '') return false;
  const page = new URL(canonical);
  let target: URL;
  try {
    target = new URL(`${page.protocol}//${host}`);
  } catch {
    return false;
  }
  return target.pathname === '/' && target.username === '' && target.host === page.host;
}
