// Converts a node's RFC 3339 `ts` into the naive-UTC text PostgreSQL stores in `created_at`
// (microsecond precision; finer digits are truncated, as PostgreSQL would).

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,12}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

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
