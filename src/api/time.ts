// Times in and out of the query API.
// In: query parameters and body fields accept the README's naive form `2019-01-01T00:00:00` (optional
// fraction; naive means UTC) and full RFC 3339 with an offset (`Z`, `+02:00`). They become the naive-UTC
// text PostgreSQL compares with the TIMESTAMP columns (microsecond precision, finer digits truncated).
// Out: PostgreSQL's TIMESTAMP text becomes the reference's JSON form `YYYY-MM-DDTHH:MM:SS`, plus a fraction
// of 3 or 6 digits only when the sub-second part is non-zero.
import { rfc3339ToUtc } from '../ingest/timestamp.js';

const NAIVE = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?$/;

export const TIME_EXPECTED = 'a time like 2019-01-01T00:00:00 (UTC, fraction optional) or RFC 3339 with an offset such as 2019-01-01T00:00:00+02:00';

/** Naive UTC text `YYYY-MM-DD HH:MM:SS.ffffff`, or null when `text` is not an accepted time. */
export function parseTime(text: string): string | null {
  if (text.length > 40) return null;
  return rfc3339ToUtc(NAIVE.test(text) ? `${text}Z` : text);
}

/** Formats a TIMESTAMP column as the reference did (PostgreSQL has already trimmed trailing zeros). */
export function formatTimestamp(value: string): string;
export function formatTimestamp(value: string | null): string | null;
export function formatTimestamp(value: string | null): string | null {
  if (value === null) return null;
  const text = value.replace(' ', 'T');
  const dot = text.indexOf('.', 17);
  if (dot === -1) return text;
  const digits = text.length - dot - 1;
  if (digits === 3 || digits === 6) return text;
  return digits < 3 ? text.padEnd(dot + 4, '0') : text.padEnd(dot + 7, '0');
}

/** An instant (epoch milliseconds) in the response format. */
export function formatEpochMs(ms: number): string {
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return iso.endsWith('.000Z') ? iso.slice(0, 19) : iso.slice(0, 23);
}
