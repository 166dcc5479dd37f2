// Pure parser of one websocket message from a node: bytes in, a row to store (or the reason it is
// dropped) and the node identity it carries out. Understands the flat V1 format of older Substrate and
// the Tetcore V2 envelope {"id","ts","payload"}; V2 messages are unwrapped so that every stored row has
// the same shape: the payload's fields at the top level of `logs`, plus `ts`.
// Pure: the server's clock comes in as an argument (ParseOptions), so every outcome is reproducible.
import { isUtf8 } from 'node:buffer';
import { tsToUtc } from './timestamp.js';
import { jsonbSafe, topLevelMembers } from './json-text.js';
import { exceedsJsonDepth } from '../json-depth.js';

export const DROP_REASONS = [
  'invalid_utf8',
  'invalid_json',
  /** Arrays/objects nested deeper than MAX_JSON_DEPTH (json-depth.ts). */
  'too_deep',
  'not_an_object',
  'bad_envelope',
  'missing_ts',
  'invalid_ts',
  /** `ts` more than MAX_FUTURE_SKEW_S ahead of the server's clock. */
  'ts_in_future',
  'too_many_nodes',
  'rejected_by_database',
  /** A spool record cut short or failing its checksum (docs/spool.md#corrupt-records): its messages are lost. */
  'spool_corrupt',
  /** The database refused to create the node's peer_connections row, so its messages have nowhere to go. */
  'connection_rejected_by_database',
  'shutdown_timeout',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/**
 * Longest identity texts kept, in UTF-16 code units; a longer value is ignored (the message itself is still
 * stored) and counted in `tetcore_identity_fields_rejected_total{field}`. Real nodes stay far below:
 * libp2p peer ids are 46–53 characters, Substrate caps node names at 64, chain names, versions
 * (`2.0.0-rc6-a7bbd5e-x86_64-linux-gnu`) and implementation names are a few dozen, a genesis hash is
 * `0x` + 64 hex digits (130 allows a 64-byte hash). Unbounded, one 8,000-character peer id made
 * PostgreSQL refuse the peer_connections update (btree index rows are limited to 2,704 bytes).
 */
export const IDENTITY_LIMITS = {
  peer_id: 128,
  name: 256,
  chain: 128,
  version: 128,
  implementation: 128,
  genesis_hash: 130,
} as const;
/** The identity fields that are bounded, by their peer_connections column (the metric's `field` label). */
export type IdentityColumn = keyof typeof IDENTITY_LIMITS;
export const IDENTITY_COLUMNS = Object.keys(IDENTITY_LIMITS) as IdentityColumn[];

/** The server's clock, for the checks that depend on it. */
export interface ParseOptions {
  /** Now, in ms since the epoch. */
  nowMs: number;
  /** A `ts` later than nowMs + this is dropped as `ts_in_future`. */
  maxFutureSkewMs: number;
}

/** Identity fields of peer_connections, as far as this message tells them. */
export interface Identity {
  peerId?: string;
  name?: string;
  chain?: string;
  version?: string;
  authority?: boolean;
  /** ms since the epoch, as decimal text (BIGINT). */
  startupTime?: string;
  implementation?: string;
  genesisHash?: string;
}

export interface StoredRow {
  /** `created_at`: naive UTC text with microseconds. */
  createdAt: string;
  /** The JSON text stored in `logs` (JSONB-safe). */
  logs: string;
  msg: string | null;
}

export interface ParsedFrame {
  /** Envelope `id` of a V2 message as exact decimal text; null for V1 (flat) messages. */
  envelopeId: string | null;
  msg: string | null;
  row: StoredRow | null;
  drop: DropReason | null;
  identity: Identity | null;
  /** Identity fields the message sent but that were ignored for being longer than IDENTITY_LIMITS. */
  rejectedIdentity: IdentityColumn[] | null;
}

/** What a message tells about its node. */
interface IdentityReading {
  identity: Identity | null;
  rejected: IdentityColumn[] | null;
}

const NO_IDENTITY: IdentityReading = Object.freeze({ identity: null, rejected: null });
const MAX_U64 = 18446744073709551615n;

function dropped(reason: DropReason, envelopeId: string | null = null, reading: IdentityReading = NO_IDENTITY, msg: string | null = null): ParsedFrame {
  return { envelopeId, msg, row: null, drop: reason, identity: reading.identity, rejectedIdentity: reading.rejected };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses one message. Without `options` nothing depends on the clock (no `ts_in_future` check): the server
 * always passes them.
 */
export function parseFrame(data: Buffer | string, options?: ParseOptions): ParsedFrame {
  let text: string;
  if (typeof data === 'string') text = data;
  else {
    if (!isUtf8(data)) return dropped('invalid_utf8');
    text = data.toString('utf8');
  }
  // Before JSON.parse: a deep document must not cost the work of building it.
  if (exceedsJsonDepth(text)) return dropped('too_deep');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return dropped('invalid_json');
  }
  if (!isObject(value)) return dropped('not_an_object');

  const envelope = isObject(value.payload) ? value : null;
  const latest = options === undefined ? null : latestAcceptedTs(options.nowMs + options.maxFutureSkewMs);
  if (envelope === null) return parseFlat(text, value, latest);
  return parseEnvelope(text, envelope, envelope.payload as Record<string, unknown>, latest);
}

function parseFlat(text: string, message: Record<string, unknown>, latest: string | null): ParsedFrame {
  const msg = typeof message.msg === 'string' ? message.msg : null;
  const reading = identityOf(msg, message);
  const createdAt = timestampOf(message.ts, latest);
  if (typeof createdAt !== 'string') return dropped(createdAt.drop, null, reading, msg);
  return { envelopeId: null, msg, identity: reading.identity, rejectedIdentity: reading.rejected, drop: null, row: { createdAt, logs: jsonbSafe(text), msg } };
}

function parseEnvelope(text: string, envelope: Record<string, unknown>, payload: Record<string, unknown>, latest: string | null): ParsedFrame {
  const raw = topLevelMembers(text, ['id', 'ts', 'payload']);
  let envelopeId: string | null = null;
  if ('id' in envelope) {
    envelopeId = envelopeIdText(raw.get('id') ?? '');
    if (envelopeId === null) return dropped('bad_envelope');
  }
  const msg = typeof payload.msg === 'string' ? payload.msg : null;
  const reading = identityOf(msg, payload);
  const createdAt = timestampOf(envelope.ts, latest);
  if (typeof createdAt !== 'string') return dropped(createdAt.drop, envelopeId, reading, msg);
  const payloadText = raw.get('payload') as string;
  const separator = isEmptyObjectText(payloadText) ? '' : ',';
  // The envelope's ts goes last so it wins over a (never expected) `ts` inside the payload.
  const logs = `${payloadText.slice(0, payloadText.lastIndexOf('}'))}${separator}"ts":${raw.get('ts')}}`;
  return { envelopeId, msg, identity: reading.identity, rejectedIdentity: reading.rejected, drop: null, row: { createdAt, logs: jsonbSafe(logs), msg } };
}

/** Exact decimal text of a u64 envelope id (raw JSON number text), or null if it is not one. */
function envelopeIdText(rawId: string): string | null {
  if (!/^\d{1,20}$/.test(rawId)) return null;
  // Up to 15 digits is below 2^53: a double is exact, and cheaper than a BigInt.
  if (rawId.length <= 15) return String(Number(rawId));
  const id = BigInt(rawId);
  return id > MAX_U64 ? null : id.toString();
}

/** True for the text of an empty JSON object (`{}`, with any whitespace inside). */
function isEmptyObjectText(objectText: string): boolean {
  for (let i = 1; i < objectText.length; i++) {
    const c = objectText.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return c === 0x7d;
  }
  return false;
}

/** `created_at` of a message, or why it has none. `latest`: the latest acceptable, same text form. */
function timestampOf(ts: unknown, latest: string | null): string | { drop: DropReason } {
  if (typeof ts !== 'string') return { drop: 'missing_ts' };
  const createdAt = tsToUtc(ts);
  if (createdAt === null) return { drop: 'invalid_ts' };
  // Both are `YYYY-MM-DD HH:MM:SS.ffffff` with 4-digit years: text order is time order.
  if (latest !== null && createdAt > latest) return { drop: 'ts_in_future' };
  return createdAt;
}

let latestCache = { ms: NaN, text: '' };

/** `ms` as created_at text (naive UTC, microseconds); cached, as a burst of messages shares one clock read. */
function latestAcceptedTs(ms: number): string {
  if (latestCache.ms !== ms) {
    const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
    latestCache = { ms, text: `${iso.slice(0, 10)} ${iso.slice(11, 23)}000` };
  }
  return latestCache.text;
}

/**
 * A text identity field: undefined when absent, or when longer than its limit (then noted in `rejected`).
 * PostgreSQL text cannot hold U+0000; a value with one is kept without it.
 */
function boundedText(value: unknown, column: IdentityColumn, reading: IdentityReading): string | undefined {
  if (typeof value !== 'string') return undefined;
  const cleaned = value.includes('\u0000') ? value.replaceAll('\u0000', '') : value;
  if (cleaned.length <= IDENTITY_LIMITS[column]) return cleaned;
  (reading.rejected ??= []).push(column);
  return undefined;
}

function identityOf(msg: string | null, fields: Record<string, unknown>): IdentityReading {
  if (msg === 'system.connected') {
    const identity: Identity = {};
    const reading: IdentityReading = { identity, rejected: null };
    const set = <K extends keyof Identity>(key: K, value: Identity[K]) => {
      if (value !== undefined) identity[key] = value;
    };
    set('peerId', boundedText(fields.network_id, 'peer_id', reading));
    set('name', boundedText(fields.name, 'name', reading));
    set('chain', boundedText(fields.chain, 'chain', reading));
    set('version', boundedText(fields.version, 'version', reading));
    if (typeof fields.authority === 'boolean') identity.authority = fields.authority;
    set('implementation', boundedText(fields.implementation, 'implementation', reading));
    set('genesisHash', boundedText(fields.genesis_hash, 'genesis_hash', reading));
    const startup = fields.startup_time;
    if (typeof startup === 'string' && /^\d{1,18}$/.test(startup)) identity.startupTime = startup;
    else if (typeof startup === 'number' && Number.isSafeInteger(startup) && startup >= 0) identity.startupTime = String(startup);
    return reading;
  }
  // Older messages only tell the peer id, inside the network state.
  const state = fields.state ?? fields.network_state;
  if (isObject(state) && typeof state.peerId === 'string') {
    const reading: IdentityReading = { identity: null, rejected: null };
    const peerId = boundedText(state.peerId, 'peer_id', reading);
    if (peerId !== undefined) reading.identity = { peerId };
    return reading;
  }
  return NO_IDENTITY;
}
