// Response serialization. JSONB documents (message bodies, benchmark setups) are selected as text and
// spliced into the response unchanged: parsing them in JavaScript would round integers above 2^53 and
// cost time for nothing.

/** JSON text to be written as it is. */
export class RawJson {
  constructor(readonly text: string) {}
}

export function rawJson(text: string): RawJson;
export function rawJson(text: string | null): RawJson | null;
export function rawJson(text: string | null): RawJson | null {
  return text === null ? null : new RawJson(text);
}

/** JSON.stringify that writes RawJson values verbatim (and, like it, leaves out undefined fields). */
export function toJson(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      const item = value[i];
      out += item === undefined ? 'null' : toJson(item);
    }
    return out + ']';
  }
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    let out = '{';
    let first = true;
    for (const key of Object.keys(value)) {
      const field = (value as Record<string, unknown>)[key];
      if (field === undefined || typeof field === 'function') continue;
      out += `${first ? '' : ','}${JSON.stringify(key)}:${toJson(field)}`;
      first = false;
    }
    return out + '}';
  }
  return JSON.stringify(value) ?? 'null';
}
