// Response serialization. JSONB documents (message bodies, benchmark setups) are selected as text and
// spliced into the response unchanged: parsing them in JavaScript would round integers above 2^53 and
// cost time for nothing.
import { ApiError } from './errors.js';
import { MAX_JSON_DEPTH, exceedsJsonDepth } from '../json-depth.js';

/** JSON text to be written as it is. */
export class RawJson {
  constructor(readonly text: string) {}
}

export function rawJson(text: string): RawJson;
export function rawJson(text: string | null): RawJson | null;
export function rawJson(text: string | null): RawJson | null {
  return text === null ? null : new RawJson(text);
}

/** Whether `value` holds a RawJson at the top level, in its items, or in its items' fields. */
function holdsRaw(value: unknown, depth = 0): boolean {
  if (value instanceof RawJson) return true;
  if (depth > 2 || value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) {
    for (const item of value) if (holdsRaw(item, depth + 1)) return true;
    return false;
  }
  for (const key in value) if ((value as Record<string, unknown>)[key] instanceof RawJson) return true;
  return false;
}

/** JSON.stringify that writes RawJson values verbatim (and, like it, leaves out undefined fields). */
export function toJson(value: unknown): string {
  return holdsRaw(value) ? serialize(value) : (JSON.stringify(value) ?? 'null');
}

function serialize(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      const item: unknown = value[i];
      out += item === undefined ? 'null' : serialize(item);
    }
    return out + ']';
  }
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    let out = '{';
    let first = true;
    for (const key of Object.keys(value)) {
      const field = (value as Record<string, unknown>)[key];
      if (field === undefined || typeof field === 'function') continue;
      out += `${first ? '' : ','}${JSON.stringify(key)}:${field instanceof RawJson ? field.text : (JSON.stringify(field) ?? 'null')}`;
      first = false;
    }
    return out + '}';
  }
  return JSON.stringify(value) ?? 'null';
}

const rawBodies = new WeakMap<object, string>();

/** The JSON text of a request body, as received (see jsonBodyParser). */
export function rawBodyOf(request: object): string | undefined {
  return rawBodies.get(request);
}

/**
 * The API's JSON body parser: keeps the received text (so documents stored as JSONB keep integers above
 * 2^53 exact), and answers malformed JSON, or JSON nested deeper than MAX_JSON_DEPTH (which the databases
 * cannot take), with a 400 naming the body.
 */
export function jsonBodyParser(request: object, body: string, done: (error: Error | null, value?: unknown) => void): void {
  if (exceedsJsonDepth(body)) {
    const expected = `a JSON document nested at most ${MAX_JSON_DEPTH} deep`;
    done(new ApiError('INVALID_BODY', `the body is nested deeper than ${MAX_JSON_DEPTH} arrays/objects`, { parameter: 'body', in: 'body', expected }));
    return;
  }
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    done(new ApiError('INVALID_BODY', `the body is not valid JSON: ${(error as Error).message}`, { parameter: 'body', in: 'body', expected: 'a JSON document' }));
    return;
  }
  rawBodies.set(request, body);
  done(null, value);
}
