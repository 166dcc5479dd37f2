// @ts-check
// Formatting shared by the dashboards: units that scale themselves (ns/µs/ms/s, B/KB/MB), UTC times like
// the API's, ages, short peer ids. Pure functions, no DOM.

/** Duration units, from nanoseconds. */
const DURATIONS = /** @type {const} */ ([
  ['ns', 1],
  ['µs', 1e3],
  ['ms', 1e6],
  ['s', 1e9],
]);
const BYTES = /** @type {const} */ ([
  ['B', 1],
  ['KB', 1e3],
  ['MB', 1e6],
  ['GB', 1e9],
]);

/**
 * The unit in which `magnitude` (in the base unit) reads best: the largest one it is at least 1 of.
 * @param {readonly (readonly [string, number])[]} units
 * @param {number} magnitude
 * @returns {readonly [string, number]}
 */
function unitFor(units, magnitude) {
  let chosen = units[0];
  for (const unit of units) if (Math.abs(magnitude) >= unit[1]) chosen = unit;
  return chosen;
}

/**
 * A number with up to 3 significant digits (whole numbers kept whole).
 * @param {number} value
 */
export function round3(value) {
  if (Number.isInteger(value) || Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(3)).toString();
}

/**
 * A duration given in nanoseconds, in the unit that suits it: 1200000 → "1.2 ms".
 * @param {number | null | undefined} ns
 */
export function formatNs(ns) {
  if (ns === null || ns === undefined || !Number.isFinite(ns)) return '–';
  const [name, size] = unitFor(DURATIONS, ns);
  return `${round3(ns / size)} ${name}`;
}

/**
 * A duration given in milliseconds: 850 → "850 ms", 6000 → "6 s".
 * @param {number | null | undefined} ms
 */
export function formatMs(ms) {
  if (ms === 0) return '0 ms';
  return ms === null || ms === undefined ? '–' : formatNs(ms * 1e6);
}

/**
 * A size in bytes: 350000 → "350 KB".
 * @param {number | null | undefined} bytes
 */
export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '–';
  const [name, size] = unitFor(BYTES, bytes);
  return `${round3(bytes / size)} ${name}`;
}

/**
 * Tick labels of an axis in one unit chosen from the largest tick: [0, 500000, 1000000] ns → 0, 0.5, 1 ms.
 * @param {number[]} ticks values in the base unit (ns or bytes)
 * @param {'ns' | 'bytes' | 'plain'} kind
 * @returns {string[]}
 */
export function tickLabels(ticks, kind) {
  if (kind === 'plain') return ticks.map((t) => round3(t));
  const largest = ticks.reduce((m, t) => Math.max(m, Math.abs(t)), 0);
  const [name, size] = unitFor(kind === 'ns' ? DURATIONS : BYTES, largest);
  return ticks.map((t) => `${round3(t / size)} ${name}`);
}

/**
 * A Date as the API's naive UTC text: 2021-06-23T01:02:03.
 * @param {Date} date
 */
export function utc(date) {
  return date.toISOString().slice(0, 19);
}

/**
 * The server's naive UTC timestamps (`2021-06-23T01:02:03.123456`) as a Date.
 * @param {string | null | undefined} text
 * @returns {Date | null}
 */
export function parseTs(text) {
  return text ? new Date(`${text.slice(0, 23)}Z`) : null;
}

/**
 * A Date as the feed's naive UTC start_time: yyyy-MM-ddTHH:mm:ss.SSS.
 * @param {Date | string} date
 */
export function toStartTime(date) {
  return typeof date === 'string' ? date : date.toISOString().slice(0, 23);
}

/**
 * How long ago, from `now`: "just now" within 10 s (a streaming node is seen every few seconds).
 * @param {Date | null} date
 * @param {number} [now]
 */
export function ago(date, now = Date.now()) {
  if (!date) return 'never';
  const s = Math.max(0, Math.round((now - date.getTime()) / 1000));
  if (s < 10) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** @param {string | null | undefined} peerId */
export function shortPeer(peerId) {
  if (!peerId) return '(no peer id)';
  return peerId.length > 14 ? `${peerId.slice(0, 6)}…${peerId.slice(-6)}` : peerId;
}

/** @param {{ name?: string | null, peer_id?: string | null }} node */
export function nodeLabel(node) {
  return `${node.name ?? 'unnamed'} (${shortPeer(node.peer_id)})`;
}

/**
 * A number from a JSON number or a decimal string (telemetry sends both); null otherwise.
 * @param {unknown} value
 * @returns {number | null}
 */
export function numeric(value) {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && /^\s*-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(value)) return Number(value);
  return null;
}

/**
 * A count with thousands separators, or – for none.
 * @param {number | null | undefined} n
 */
export function count(n) {
  return n === null || n === undefined ? '–' : n.toLocaleString('en-US');
}

const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');

/**
 * UTC labels of time ticks (seconds), with seconds only when ticks are closer than a minute, and the date
 * when the ticks span more than a day.
 * @param {number[]} splits
 * @param {number} incr seconds between ticks
 */
export function utcTickLabels(splits, incr) {
  const span = splits.length > 1 ? splits[splits.length - 1] - splits[0] : 0;
  return splits.map((s) => {
    const d = new Date(s * 1000);
    const hm = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    const time = incr < 60 ? `${hm}:${pad(d.getUTCSeconds())}` : hm;
    return span >= 86400 || incr >= 86400 ? `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${incr >= 86400 ? '' : time}`.trim() : time;
  });
}

/**
 * Labels of value ticks in one unit.
 * @param {number[]} splits
 * @param {'ns' | 'ms' | 'bytes' | 'plain' | 'pct'} unit
 */
export function valueLabels(splits, unit) {
  if (unit === 'ms') return tickLabels(splits.map((v) => v * 1e6), 'ns');
  if (unit === 'pct') return splits.map((v) => `${round3(v)} %`);
  return tickLabels(splits, unit);
}

