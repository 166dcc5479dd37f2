// Shared by the query API tests (test/integration/api-*.test.ts): building node messages, ingesting them through the
// websocket like a real node, and calling the API over HTTP.
import type { TestServer } from './server.js';
import { waitFor } from './server.js';
import { connectNode, type TestNode } from './fixtures.js';

/** RFC 3339 (with `+00:00`, as nodes send it) of now + `offsetMs`. */
export function tsAt(offsetMs = 0): string {
  return new Date(Date.now() + offsetMs).toISOString().replace('Z', '+00:00');
}

/** The API's response form of an RFC 3339 time written by tsAt (or any `...Z`/`+00:00` ms time). */
export function apiTime(rfc3339: string): string {
  const iso = new Date(rfc3339).toISOString();
  return iso.endsWith('.000Z') ? iso.slice(0, 19) : iso.slice(0, 23);
}

export function v1(msg: string | null, ts: string, fields: Record<string, unknown> = {}): string {
  return JSON.stringify(msg === null ? { ...fields, ts } : { msg, ...fields, ts });
}

export function v2(id: number, msg: string, ts: string, payload: Record<string, unknown> = {}): string {
  return JSON.stringify({ id, ts, payload: { msg, ...payload } });
}

export function connectedV1(peerId: string, ts: string, identity: Record<string, unknown> = {}): string {
  return v1('system.connected', ts, { network_id: peerId, name: `node-${peerId.slice(-4)}`, chain: 'Test Chain', implementation: 'Tetcore Node', version: '2.1.2', authority: false, ...identity });
}

export async function count(server: TestServer, sql: string, params: unknown[] = []): Promise<number> {
  return Number((await server.db.query<{ n: number }>(sql, params)).rows[0].n);
}

export async function storedFor(server: TestServer, peerId: string): Promise<number> {
  return count(server, `SELECT count(*) AS n FROM substrate_logs s JOIN peer_connections pc ON pc.id = s.peer_connection_id WHERE pc.peer_id = $1`, [peerId]);
}

/**
 * Connects a node to `path`, sends `frames`, and waits until `expected` messages of `peerId` are stored
 * in total (its earlier connections included). Returns the open node; close it when done.
 */
export async function ingest(server: TestServer, path: string, peerId: string | null, frames: string[], expected?: number): Promise<TestNode> {
  const before = peerId === null ? 0 : await storedFor(server, peerId);
  const node = await connectNode(server.url(path));
  await node.send(...frames);
  if (peerId !== null) {
    const target = expected ?? before + frames.length;
    await waitFor(async () => (await storedFor(server, peerId)) >= target, `${target} messages of ${peerId}`);
  }
  return node;
}

/** Waits until the writer has stored everything received so far. */
export async function settled(server: TestServer): Promise<void> {
  await waitFor(() => server.writer.pendingRows === 0, 'the writer to be idle');
  await new Promise((resolve) => setTimeout(resolve, 60));
  await waitFor(() => server.writer.pendingRows === 0, 'the writer to be idle');
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

export async function api<T = any>(server: TestServer, path: string, init?: RequestInit): Promise<ApiResponse<T>> {
  const response = await fetch(server.httpUrl(path), init);
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, body: body as T, text, headers: response.headers };
}

export async function post<T = any>(server: TestServer, path: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<ApiResponse<T>> {
  return api<T>(server, path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

export const query = (params: Record<string, string | number | boolean>) => new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();

/** Naive response times: `YYYY-MM-DDTHH:MM:SS` plus 3 or 6 fraction digits when non-zero. */
export const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6})?$/;

/** Strings that would change a query if spliced into SQL or JSON. */
export const INJECTIONS = [`' OR '1'='1`, `x'; DROP TABLE substrate_logs; --`, `"} OR 1=1 --`, `%' OR peer_id LIKE '%`];
