// Time, in one place (docs/decisions.md#utc-everywhere): everything is naive UTC. The texts are a node's
// RFC 3339 `ts` (docs/wire-protocol.md#timestamps), PostgreSQL's TIMESTAMP text (`YYYY-MM-DD HH:MM:SS.ffffff`),
// the query API's and the feed's client times, and the response format `YYYY-MM-DDTHH:MM:SS` with a fraction of
// 3 or 6 digits only when it is non-zero; the instants are epoch milliseconds (partitions, clocks) and epoch
// microseconds (the feed: exact in a double until the year 2255).

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

// ---- A node's `ts` → the naive-UTC text stored in `created_at` (microsecond precision; finer digits are
// truncated, as PostgreSQL would).
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,12}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;


/** Returns `YYYY-MM-DD HH:MM:SS.ffffff` in UTC, or null when `ts` is not RFC 3339 with an offset. */
export function rfc3339ToUtc(ts: string): string | null {
  const m = RFC3339.exec(ts);
  if (m === null) return null;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number);
  let second = Number(m[6]);
  const micros = m[7] ? Number((m[7] + '00000').slice(0, 6)) : 0;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return null;
  if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return null;
  // A leap second (:60) is stored as the last microsecond of the minute.
  const leap = second === 60;
  if (leap) second = 59;
  let offsetMinutes = 0;
  if (!m[8]) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute - offsetMinutes, second, 0);
  const y = date.getUTCFullYear();
  if (y < 1 || y > 9999) return null;
  const fraction = leap ? 999_999 : micros;
  return `${pad(y, 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.${pad(fraction, 6)}`;
}

// The common shape of `ts` ('T', seconds 00–59, numeric offset or Z; docs/wire-protocol.md#timestamps):
// converted with a cache of the UTC date-and-minute per (local minute, offset), since whole-minute
// offsets never move the seconds.
// Anything else (leap second, lowercase, space separator…) goes through rfc3339ToUtc in full.
const COMMON_TS = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}):([0-5]\d)(?:\.(\d{1,12}))?(Z|[+-]\d{2}:\d{2})$/;
const minuteCache = new Map<string, string | null>();

/** rfc3339ToUtc, through the per-minute cache for the common shape (the ingest hot path). */
export function tsToUtc(ts: string): string | null {
  const m = COMMON_TS.exec(ts);
  if (m === null) return rfc3339ToUtc(ts);
  const key = m[1] + m[4];
  let minute = minuteCache.get(key);
  if (minute === undefined) {
    // 'YYYY-MM-DD HH:MM:' in UTC, or null when the date, time or offset is invalid.
    minute = rfc3339ToUtc(`${m[1]}:00${m[4]}`)?.slice(0, 17) ?? null;
    if (minuteCache.size >= 256) minuteCache.clear();
    minuteCache.set(key, minute);
  }
  if (minute === null) return null;
  return `${minute}${m[2]}.${m[3] === undefined ? '000000' : m[3].length >= 6 ? m[3].slice(0, 6) : (m[3] + '00000').slice(0, 6)}`;
}

// ---- Times in and out of the query API. In: the naive form `2019-01-01T00:00:00` (optional fraction;
// naive means UTC) and full RFC 3339 with an offset (`Z`, `+02:00`), as the naive-UTC text PostgreSQL
// compares with the TIMESTAMP columns. Out: PostgreSQL's TIMESTAMP text in the response format.
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

// ---- Epoch microseconds (the feed) from and to the texts clients and the database use.
const DB_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;
/** What a client sends: `YYYY-MM-DDTHH:MM:SS[.fraction]`, `T` separator, no zone. */
const CLIENT_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;

function toMicros(m: RegExpExecArray): number | null {
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return null;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  const micros = m[7] ? Number((m[7] + '00000').slice(0, 6)) : 0;
  return date.getTime() * 1000 + micros;
}

/** Parses a TIMESTAMP as PostgreSQL prints it (`2021-06-23 01:02:03.123456`, fraction optional). */
export function parseDbTimestamp(text: string): number {
  const m = DB_TIMESTAMP.exec(text);
  const value = m ? toMicros(m) : null;
  if (value === null) throw new Error(`unexpected timestamp from the database: ${text}`);
  return value;
}

/** Parses a client's naive UTC `start_time`; null when it is not in the expected format. */
export function parseClientTimestamp(text: string): number | null {
  const m = CLIENT_TIMESTAMP.exec(text);
  return m ? toMicros(m) : null;
}

function split(us: number): { date: Date; micros: number } {
  const ms = Math.floor(us / 1000);
  return { date: new Date(ms), micros: us - ms * 1000 + (((ms % 1000) + 1000) % 1000) * 1000 };
}

function datePart(date: Date, separator: string): string {
  return `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}${separator}${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
}

/** An instant (epoch µs) in the response format: `YYYY-MM-DDTHH:MM:SS`, plus `.fff` or `.ffffff` only when needed. */
export function formatEpochUs(us: number): string {
  const { date, micros } = split(us);
  const base = datePart(date, 'T');
  if (micros === 0) return base;
  if (micros % 1000 === 0) return `${base}.${pad(micros / 1000, 3)}`;
  return `${base}.${pad(micros, 6)}`;
}

/** A TIMESTAMP literal for a query parameter. */
export function toDbTimestamp(us: number): string {
  const { date, micros } = split(us);
  return `${datePart(date, ' ')}.${pad(micros, 6)}`;
}

// ---- Epoch milliseconds and second-precision naive UTC text (partition bounds, purge cutoffs).

/** Naive UTC text (second precision) of an epoch-milliseconds instant. */
export function utcText(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** Epoch milliseconds of a naive UTC text (`YYYY-MM-DD HH:MM:SS`). */
export function utcTextToEpochMs(text: string): number {
  return Date.parse(`${text.replace(' ', 'T')}Z`);
}
