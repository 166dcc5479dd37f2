// Pure derivation of network-analytics facts from one stored message: the row's `msg` and `logs` text (as
// stored, so that analytics:rebuild, which reads the same text back with SQL, derives the same facts),
// the identity of the node that sent it, and what earlier messages of the connection already told.
// Field rules (mirrored by the rebuild's SQL in storage/analytics-write.ts):
//   height:  a JSON number that is an integer in [0, 2^53), or a string of 1 to 15 decimal digits;
//   hash:    a JSON string of 1 to 256 characters;
//   origin:  a JSON string, else null.
import { topLevelMembers } from '../ingest/json-text.js';

/** block.import origins that are catch-up (syncing, loading), not propagation. */
export const CATCH_UP_ORIGINS: ReadonlySet<string> = new Set(['NetworkInitialSync', 'File', 'Genesis']);
export const MAX_HASH_LENGTH = 256;

/** The node's chain and peer id, from its system.connected; facts are only derived once both are known. */
export interface ChainIdentity {
  chain: string;
  /** null: the node never sent one. */
  genesisHash: string | null;
  peerId: string;
}

export interface ArrivalFact {
  kind: 'arrival';
  height: number;
  hash: string;
  origin: string | null;
  catchUp: boolean;
}

export type FinalitySource = 'notify.finalized' | 'system.interval';

export interface FinalityFact {
  kind: 'finality';
  height: number;
  hash: string | null;
  source: FinalitySource;
}

export type Fact = ArrivalFact | FinalityFact;

/** What the derivation remembers of a connection: the highest finalized height it reported (-1: none). */
export interface ConnectionState {
  maxFinalized: number;
}

export const initialState = (): ConnectionState => ({ maxFinalized: -1 });

/** A height as the rules above accept it, else null. */
export function heightOf(raw: string | undefined): number | null {
  if (raw === undefined || raw.length === 0) return null;
  if (raw.charCodeAt(0) === 0x22) {
    const text = JSON.parse(raw) as string;
    return /^[0-9]{1,15}$/.test(text) ? Number(text) : null;
  }
  const c = raw.charCodeAt(0);
  if (c !== 0x2d && (c < 0x30 || c > 0x39)) return null; // not a number: true, null, {…}, […]
  const value = Number(raw);
  return Number.isSafeInteger(value) && value >= 0 ? Math.abs(value) : null;
}

/** A JSON string value (decoded), or null for anything else. */
function stringOf(raw: string | undefined): string | null {
  if (raw === undefined || raw.charCodeAt(0) !== 0x22) return null;
  return JSON.parse(raw) as string;
}

function hashOf(raw: string | undefined): string | null {
  const text = stringOf(raw);
  return text !== null && text.length >= 1 && text.length <= MAX_HASH_LENGTH ? text : null;
}

const ARRIVAL_FIELDS = ['best', 'height', 'origin'];
const NOTIFY_FIELDS = ['best', 'height'];
const INTERVAL_FIELDS = ['finalized_hash', 'finalized_height'];

/**
 * The fact a message carries, if any, and updates `state`. Only block.import (an arrival), notify.finalized
 * and system.interval with a finalized height (a finality report, when above every earlier report of the
 * connection) carry one. `logs` is the stored JSON text (a valid JSON object).
 */
export function deriveFact(msg: string | null, logs: string, state: ConnectionState): Fact | null {
  if (msg === 'block.import') {
    const fields = topLevelMembers(logs, ARRIVAL_FIELDS);
    const height = heightOf(fields.get('height'));
    const hash = hashOf(fields.get('best'));
    if (height === null || hash === null) return null;
    const origin = stringOf(fields.get('origin'));
    return { kind: 'arrival', height, hash, origin, catchUp: origin !== null && CATCH_UP_ORIGINS.has(origin) };
  }
  let height: number | null;
  let hash: string | null;
  if (msg === 'notify.finalized') {
    const fields = topLevelMembers(logs, NOTIFY_FIELDS);
    height = heightOf(fields.get('height'));
    hash = hashOf(fields.get('best'));
  } else if (msg === 'system.interval') {
    const fields = topLevelMembers(logs, INTERVAL_FIELDS);
    height = heightOf(fields.get('finalized_height'));
    hash = hashOf(fields.get('finalized_hash'));
  } else return null;
  if (height === null || height <= state.maxFinalized) return null;
  state.maxFinalized = height;
  return { kind: 'finality', height, hash, source: msg };
}
