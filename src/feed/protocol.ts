// The /feed wire protocol as pure functions: a client's text frame in, a validated request (or the
// reference's exact error text) out; server frames encoded in the reference's shapes.
import { parseClientTimestamp } from '../domain/time.js';

export const AGGREGATE_TYPES = ['mean', 'median', 'min', 'max', 'percentile90'] as const;
export type AggregateType = (typeof AGGREGATE_TYPES)[number];

export interface FeedKey {
  peerId: string;
  msg: string;
}

export interface Aggregation {
  type: AggregateType;
  intervalS: number;
  /** The numeric field to aggregate; null: every numeric field (`time` for `tracing.profiling`). */
  field: string | null;
}

export type ClientRequest =
  | { kind: 'subscribe'; key: FeedKey; startUs: number; aggregation: Aggregation | null }
  | { kind: 'unsubscribe'; key: FeedKey }
  | { kind: 'error'; error: string }
  | { kind: 'ignore' };

/** The reference's error texts, exactly (clients match on them). */
export const ERRORS = {
  peerId: '`peer_id` not found',
  msg: '`msg` not found',
  interest: '`interest` not found',
  startTime: '`start_time` not found',
  startTimeFormat: 'unable to parse `start_time`',
  interestValue: '`interest` must be either `subscribe` or `unsubscribe`',
  aggregateType: 'Unable to parse AggregateType',
  aggregateInterval: 'Unable to parse `aggregate_type` or `aggregate_interval`',
} as const;

/** Additions: limits the reference did not have. */
export const tooManySubscriptions = (max: number) => `too many subscriptions: at most ${max} per connection`;
export const tooManyKeysForAddress = (max: number) => `too many nodes and message types watched from your address: at most ${max} at once (FEED_MAX_KEYS_PER_ADDRESS)`;
export const CACHE_FULL = 'the feed cache is full: too many nodes and message types are being watched on this server; try again later';

/** Longest aggregate interval accepted: one year. */
export const MAX_AGGREGATE_INTERVAL_S = 366 * 24 * 3600;

export function keyId(key: FeedKey): string {
  return JSON.stringify([key.peerId, key.msg]);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Validates one client text frame. Text that is not JSON is ignored (as the reference did); anything
 * else missing or wrong is answered with one of ERRORS. An aggregate interval of 0 is an error (the
 * reference looped forever on it).
 */
export function parseRequest(text: string): ClientRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'ignore' };
  }
  const m = isObject(value) ? value : {};
  if (typeof m.peer_id !== 'string') return { kind: 'error', error: ERRORS.peerId };
  if (typeof m.msg !== 'string') return { kind: 'error', error: ERRORS.msg };
  if (typeof m.interest !== 'string') return { kind: 'error', error: ERRORS.interest };
  const key = { peerId: m.peer_id, msg: m.msg };
  if (m.interest === 'unsubscribe') return { kind: 'unsubscribe', key };
  if (m.interest !== 'subscribe') return { kind: 'error', error: ERRORS.interestValue };

  if (m.start_time === undefined || m.start_time === null) return { kind: 'error', error: ERRORS.startTime };
  const startUs = typeof m.start_time === 'string' ? parseClientTimestamp(m.start_time) : null;
  if (startUs === null) return { kind: 'error', error: ERRORS.startTimeFormat };

  let aggregation: Aggregation | null = null;
  if (typeof m.aggregate_type === 'string' && m.aggregate_type !== '') {
    const interval = m.aggregate_interval;
    if (typeof interval !== 'number' || !Number.isInteger(interval) || interval < 1 || interval > MAX_AGGREGATE_INTERVAL_S) {
      return { kind: 'error', error: ERRORS.aggregateInterval };
    }
    const type = AGGREGATE_TYPES.find((t) => t === (m.aggregate_type as string).toLowerCase());
    if (type === undefined) return { kind: 'error', error: ERRORS.aggregateType };
    const field = typeof m.aggregate_key === 'string' && m.aggregate_key !== '' ? m.aggregate_key : null;
    aggregation = { type, intervalS: interval, field };
  }
  return { kind: 'subscribe', key, startUs, aggregation };
}

/** `{"peer_message":{"peer_id","msg"},"data":[…]}` with the elements already encoded as JSON. */
export function encodeData(key: FeedKey, elements: readonly string[]): string {
  return `{"peer_message":${JSON.stringify({ peer_id: key.peerId, msg: key.msg })},"data":[${elements.join(',')}]}`;
}

export function encodeError(error: string): string {
  return JSON.stringify({ error });
}
