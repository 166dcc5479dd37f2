// Timestamps of the feed as integers: microseconds since the epoch (exact in a double until the year
// 2255), converted from and to the texts clients and the database use. All naive UTC.

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

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

/** The server's JSON timestamp: `YYYY-MM-DDTHH:MM:SS`, plus `.fff` or `.ffffff` only when needed. */
export function formatTimestamp(us: number): string {
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

export function nowMicros(): number {
  return Date.now() * 1000;
}
