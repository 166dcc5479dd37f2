// The catalogue of the codes the server answers with: error codes with their HTTP status (every error the
// server raises on purpose is an AppError carrying one of them), and the websocket close codes of ingestion
// and /feed with the grace period after a close frame (docs/wire-protocol.md#close-codes).
import type { WebSocket } from 'ws';

export const ERROR_CODES = {
  CONFIG_INVALID: { status: 500, message: 'invalid configuration' },
  DB_UNAVAILABLE: { status: 503, message: 'the database is unavailable' },
  DB_QUERY_FAILED: { status: 500, message: 'the database could not answer the query' },
  BAD_REQUEST: { status: 400, message: 'invalid request' },
  NOT_FOUND: { status: 404, message: 'not found' },
  MIGRATION_FAILED: { status: 500, message: 'database migration failed' },
  // Start-up (the process exits with one line naming the setting to change)
  DATA_DIR_IN_USE: { status: 500, message: 'the data folder is in use by another process' },
  LISTEN_FAILED: { status: 500, message: 'the server could not listen on its address' },
  EMBEDDED_OPEN_FAILED: { status: 500, message: 'the embedded database could not be opened' },
  // Query API
  INVALID_PARAMETER: { status: 400, message: 'a parameter is missing or invalid' },
  INVALID_BODY: { status: 400, message: 'the request body is not valid' },
  BODY_TOO_LARGE: { status: 413, message: 'the request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'the request body must be JSON (Content-Type: application/json)' },
  QUERY_TIMEOUT: { status: 503, message: 'the query took longer than the statement timeout' },
  // Websocket handshakes refused (src/access/, src/ingest/routes.ts, src/feed/route.ts)
  UNAUTHORIZED: { status: 401, message: 'this route requires Authorization: Bearer <API_TOKEN>' },
  UPGRADE_REQUIRED: { status: 426, message: 'this endpoint accepts websocket connections only' },
  BAD_HANDSHAKE: { status: 400, message: 'invalid websocket handshake (Sec-WebSocket-Key / Sec-WebSocket-Version 13)' },
  SHUTTING_DOWN: { status: 503, message: 'the server is shutting down; reconnect shortly' },
  BAD_FORWARDED_FOR: { status: 400, message: 'an X-Forwarded-For entry from a trusted proxy is not an IP address' },
  ORIGIN_FORBIDDEN: { status: 403, message: 'websocket connections from this web page are not allowed (ALLOWED_ORIGINS)' },
  INGEST_FORBIDDEN: { status: 403, message: 'this address may not stream telemetry (INGEST_ALLOW)' },
  TOO_MANY_CONNECTIONS_FROM_ADDRESS: { status: 429, message: 'this address holds its maximum of node connections (MAX_CONNECTIONS_PER_IP)' },
  TOO_MANY_CONNECTIONS: { status: 503, message: 'the server holds its maximum of node connections (MAX_CONNECTIONS)' },
  TOO_BUSY: { status: 503, message: 'the server holds too many large answers not yet sent; try again shortly' },
  QUERY_OVERLOADED: { status: 503, message: 'too many queries are running or waiting (QUERY_CONCURRENCY, QUERY_QUEUE_MAX, QUERY_QUEUE_WAIT_MS); try again after Retry-After' },
  // ROLE: a route or websocket this server's role does not serve (docs/scaling.md)
  WRONG_ROLE: { status: 404, message: 'this server does not serve this route in its ROLE' },
  AMBIGUOUS_CHAIN: { status: 409, message: 'several chains have this name: name one with genesis_hash' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERROR_CODES[code].message, options);
    this.name = 'AppError';
    this.code = code;
    this.statusCode = ERROR_CODES[code].status;
  }
}

/**
 * Close codes the server sends on websockets, ingestion and /feed alike, and what each means in the log.
 * TOO_BIG is sent by ws itself (WS_MAX_PAYLOAD).
 */
export const CLOSE_CODES = {
  SHUTDOWN: { code: 1001, meaning: 'server shutting down' },
  TOO_BIG: { code: 1009, meaning: 'message larger than WS_MAX_PAYLOAD' },
  TOO_SLOW: { code: 4008, meaning: 'too slow: unsent data over FEED_MAX_BUFFERED_BYTES or FEED_MAX_TOTAL_BUFFERED_BYTES' },
  CLIENT_TIMEOUT: { code: 4408, meaning: 'nothing received for CLIENT_TIMEOUT_S' },
} as const;

/**
 * After a close frame the server closes the TCP connection itself this long later: nodes never answer one
 * (docs/wire-protocol.md#nodes-never-read), and a viewer too slow to read may not either.
 */
export const CLOSE_GRACE_MS = 500;

/** Sends a close frame (when the socket is still open) and drops the connection CLOSE_GRACE_MS later. */
export function closeWithGrace(socket: WebSocket, close: { code: number }, reason: string): void {
  if (socket.readyState === socket.OPEN) socket.close(close.code, reason);
  setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
}

/**
 * SQLSTATE classes that mean "this data can never be stored", as opposed to "try again later". Both
 * backends report them the same way: node-postgres and PGlite errors carry the SQLSTATE in `code`.
 */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== 'string' || code.length !== 5) return false;
  // 22: data exception (bad JSON, \u0000, out of range); 23: integrity constraint; 54: program limit (too large)
  return code.startsWith('22') || code.startsWith('23') || code.startsWith('54');
}
