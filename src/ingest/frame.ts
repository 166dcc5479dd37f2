// Pure parser of one websocket message from a node: bytes in, a row to store (or the reason it is
// dropped) and the node identity it carries out. Understands the flat V1 format of older Substrate and
// the Tetcore V2 envelope {"id","ts","payload"}; V2 messages are unwrapped so that every stored row has
// the same shape: the payload's fields at the top level of `logs`, plus `ts`.
import { isUtf8 } from 'node:buffer';
import { tsToUtc } from './timestamp.js';
import { jsonbSafe, topLevelMembers } from './json-text.js';

export const DROP_REASONS = [
  'invalid_utf8',
  'invalid_json',
  'not_an_object',
  'bad_envelope',
  'missing_ts',
  'invalid_ts',
  'too_many_nodes',
  'rejected_by_database',
  'shutdown_timeout',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

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
}

const MAX_U64 = 18446744073709551615n;

function dropped(reason: DropReason, envelopeId: string | null = null, identity: Identity | null = null, msg: string | null = null): ParsedFrame {
  return { envelopeId, msg, row: null, drop: reason, identity };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseFrame(data: Buffer | string): ParsedFrame {
  let text: string;
  if (typeof data === 'string') text = data;
  else {
    if (!isUtf8(data)) return dropped('invalid_utf8');
    text = data.toString('utf8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return dropped('invalid_json');
  }
  if (!isObject(value)) return dropped('not_an_object');

  const envelope = isObject(value.payload) ? value : null;
  if (envelope === null) return parseFlat(text, value);
  return parseEnvelope(text, envelope, envelope.payload as Record<string, unknown>);
}

function parseFlat(text: string, message: Record<string, unknown>): ParsedFrame {
  const msg = typeof message.msg === 'string' ? message.msg : null;
  const identity = identityOf(msg, message);
  const createdAt = timestampOf(message.ts);
  if (typeof createdAt !== 'string') return dropped(createdAt.drop, null, identity, msg);
  return { envelopeId: null, msg, identity, drop: null, row: { createdAt, logs: jsonbSafe(text), msg } };
}

function parseEnvelope(text: string, envelope: Record<string, unknown>, payload: Record<string, unknown>): ParsedFrame {
  const raw = topLevelMembers(text, ['id', 'ts', 'payload']);
  let envelopeId: string | null = null;
  if ('id' in envelope) {
    envelopeId = envelopeIdText(raw.get('id') ?? '');
    if (envelopeId === null) return dropped('bad_envelope');
  }
  const msg = typeof payload.msg === 'string' ? payload.msg : null;
  const identity = identityOf(msg, payload);
  const createdAt = timestampOf(envelope.ts);
  if (typeof createdAt !== 'string') return dropped(createdAt.drop, envelopeId, identity, msg);
  const payloadText = raw.get('payload') as string;
  const separator = isEmptyObjectText(payloadText) ? '' : ',';
  // The envelope's ts goes last so it wins over a (never expected) `ts` inside the payload.
  const logs = `${payloadText.slice(0, payloadText.lastIndexOf('}'))}${separator}"ts":${raw.get('ts')}}`;
  return { envelopeId, msg, identity, drop: null, row: { createdAt, logs: jsonbSafe(logs), msg } };
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

function timestampOf(ts: unknown): string | { drop: DropReason } {
  if (typeof ts !== 'string') return { drop: 'missing_ts' };
  return tsToUtc(ts) ?? { drop: 'invalid_ts' };
}

/** PostgreSQL text cannot hold U+0000; a node name with one is stored without it. */
function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value.replaceAll('\u0000', '') : undefined;
}

function identityOf(msg: string | null, fields: Record<string, unknown>): Identity | null {
  if (msg === 'system.connected') {
    const identity: Identity = {};
    if (typeof fields.network_id === 'string') identity.peerId = text(fields.network_id);
    if (typeof fields.name === 'string') identity.name = text(fields.name);
    if (typeof fields.chain === 'string') identity.chain = text(fields.chain);
    if (typeof fields.version === 'string') identity.version = text(fields.version);
    if (typeof fields.authority === 'boolean') identity.authority = fields.authority;
    if (typeof fields.implementation === 'string') identity.implementation = text(fields.implementation);
    if (typeof fields.genesis_hash === 'string') identity.genesisHash = text(fields.genesis_hash);
    const startup = fields.startup_time;
    if (typeof startup === 'string' && /^\d{1,18}$/.test(startup)) identity.startupTime = startup;
    else if (typeof startup === 'number' && Number.isSafeInteger(startup) && startup >= 0) identity.startupTime = String(startup);
    return identity;
  }
  // Older messages only tell the peer id, inside the network state.
  const state = fields.state ?? fields.network_state;
  if (isObject(state) && typeof state.peerId === 'string') return { peerId: text(state.peerId) };
  return null;
}
