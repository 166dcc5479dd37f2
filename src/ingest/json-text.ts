// Raw-text helpers for JSON that has already been validated by JSON.parse: locate top-level values
// without re-serialising them (so numbers above 2^53 stay exact), and make text acceptable to JSONB.

import { skipString, QUOTE, BACKSLASH, OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, CLOSE_BRACKET } from '../json-depth.js';

const COLON = 0x3a;
const COMMA = 0x2c;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Index just past the value starting at `start` (no leading whitespace). */
function skipValue(text: string, start: number): number {
  const c = text.charCodeAt(start);
  if (c === QUOTE) return skipString(text, start);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    let depth = 0;
    let i = start;
    while (i < text.length) {
      const d = text.charCodeAt(i);
      if (d === QUOTE) {
        i = skipString(text, i);
        continue;
      }
      if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
      else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return text.length;
  }
  let i = start;
  while (i < text.length) {
    const d = text.charCodeAt(i);
    if (d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || isSpace(d)) break;
    i++;
  }
  return i;
}

/**
 * Raw text of the wanted top-level members of a JSON object (last occurrence wins, as in JSON.parse).
 * `text` must be a valid JSON object.
 */
export function topLevelMembers(text: string, wanted: readonly string[]): Map<string, string> {
  const found = new Map<string, string>();
  let i = text.indexOf('{') + 1;
  while (i < text.length) {
    while (i < text.length && (isSpace(text.charCodeAt(i)) || text.charCodeAt(i) === COMMA)) i++;
    if (text.charCodeAt(i) !== QUOTE) break; // closing brace
    const keyEnd = skipString(text, i);
    const rawKey = text.slice(i, keyEnd);
    i = keyEnd;
    while (i < text.length && (isSpace(text.charCodeAt(i)) || text.charCodeAt(i) === COLON)) i++;
    const valueEnd = skipValue(text, i);
    // Keys with escapes are compared decoded; plain keys (the common case) directly.
    const key = rawKey.includes('\\') ? (JSON.parse(rawKey) as string) : rawKey.slice(1, -1);
    if (wanted.includes(key)) found.set(key, text.slice(i, valueEnd));
    i = valueEnd;
  }
  return found;
}

const UNICODE_ESCAPE = /\\u([0-9a-fA-F]{4})/g;

/**
 * PostgreSQL's JSONB rejects `\u0000` and unpaired surrogate escapes that JSON.parse accepts. Rewrite those
 * escapes as literal text (`\\u0000`), so the message is stored with the character visibly escaped
 * instead of failing the whole batch it is in. Text without such escapes is returned unchanged.
 */
export function jsonbSafe(text: string): string {
  if (!text.includes('\\u')) return text;
  let changed = false;
  const result = text.replace(UNICODE_ESCAPE, (match: string, hex: string, offset: number) => {
    // Only a real escape: preceded by an even number of backslashes.
    let backslashes = 0;
    for (let j = offset - 1; j >= 0 && text.charCodeAt(j) === BACKSLASH; j--) backslashes++;
    if (backslashes % 2 === 1) return match;
    const code = parseInt(hex, 16);
    let bad = code === 0;
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = /^\\u([dD][c-fC-F][0-9a-fA-F]{2})/.exec(text.slice(offset + 6, offset + 12));
      bad = next === null;
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      const prev = offset >= 6 ? /^\\u[dD][89abAB][0-9a-fA-F]{2}$/.test(text.slice(offset - 6, offset)) : false;
      let prevBackslashes = 0;
      for (let j = offset - 7; j >= 0 && text.charCodeAt(j) === BACKSLASH; j--) prevBackslashes++;
      bad = !(prev && prevBackslashes % 2 === 0);
    }
    if (!bad) return match;
    changed = true;
    return '\\' + match;
  });
  return changed ? result : text;
}
