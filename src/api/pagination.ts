// Pagination of the list routes: the `limit` and `cursor` parameters, the continuation cursor (an opaque
// token: base64url of a JSON array naming the last row of the page), and the headers that hand it to the
// client (`X-Next-Cursor`, `Link: <…>; rel="next"`). Answers stay plain JSON arrays, as before.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type, type TSchema } from '@sinclair/typebox';
import { invalidParameter } from './errors.js';
import { MAX_LIMIT } from './schemas.js';
import { parseTime } from '../domain/time.js';

export const NEXT_CURSOR_HEADER = 'x-next-cursor';

/** The `cursor` query parameter. */
export const CursorParam = () =>
  Type.String({
    pattern: '^[A-Za-z0-9_-]{1,2048}$',
    description: 'Continue a list where the previous page stopped: the value of its `X-Next-Cursor` header (or follow its `Link: rel="next"`). Other parameters must stay the same.',
    'x-expected': 'the X-Next-Cursor value of a previous page',
  });

/** Response headers of a paged list, for the OpenAPI document. */
export const PAGE_HEADERS = {
  'X-Next-Cursor': { type: 'string', description: 'Present when more rows follow this page (more than `limit`, or the answer reached API_MAX_RESPONSE_BYTES): pass it as `cursor` for the next page' },
  Link: { type: 'string', description: 'The next page, as `<url>; rel="next"` (present with X-Next-Cursor)' },
} as const;

/** A list answer with the page headers documented. */
export const PagedArray = <T extends TSchema>(items: T) => Type.Array(items, { headers: PAGE_HEADERS });

export const pageLimitDescription = (defaultValue: number, what: string, bytesSetting = 'API_MAX_RESPONSE_BYTES') =>
  `Maximum number of ${what} in this page (default ${defaultValue}, at most ${MAX_LIMIT}); a page also stops at ${bytesSetting} of JSON. When more follow, the answer carries X-Next-Cursor and Link: rel="next".`;

export function encodeCursor(values: readonly unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

/**
 * The values of a cursor, checked by `accept` (which returns them typed, or null when they do not fit this
 * route); a cursor that is not one of ours is a 400 naming `cursor`.
 */
export function decodeCursor<T>(cursor: string | undefined, accept: (values: unknown[]) => T | null): T | undefined {
  if (cursor === undefined) return undefined;
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    values = null;
  }
  const decoded = Array.isArray(values) ? accept(values) : null;
  if (decoded === null) throw invalidParameter('cursor', 'querystring', 'the X-Next-Cursor value of a previous page of this route', cursor);
  return decoded;
}

/** Naive timestamps as the database writes them, the only ones a cursor holds (and valid dates: the database would reject others). */
const DB_TIMESTAMP = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?$/;
export const isDbTimestamp = (value: unknown): value is string => typeof value === 'string' && DB_TIMESTAMP.test(value) && parseTime(value) !== null;
export const isRowId = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** Sets X-Next-Cursor and Link for the page after this one (nothing when this is the last page). */
export function setNextPage(request: FastifyRequest, reply: FastifyReply, next: string | null): void {
  if (next === null) return;
  const url = new URL(request.url, 'http://placeholder');
  url.searchParams.set('cursor', next);
  reply.header(NEXT_CURSOR_HEADER, next);
  reply.header('link', `<${url.pathname}${url.search}>; rel="next"`);
}
