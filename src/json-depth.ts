// The one nesting limit of JSON the server accepts (node messages and request bodies), and the scanner
// that enforces it before a document is parsed or reaches the database.

/**
 * Deepest nesting of arrays and objects accepted in any JSON document. Real telemetry nests fewer than
 * 10 levels (the network state is the deepest). The embedded database (PGlite, with WASM's small stack)
 * breaks on a 20 KB document nested 10,000 deep: the COPY of a node message crashed the whole process,
 * a POST body left it answering "bad buffer ID" to everything. PostgreSQL stores that depth, and stops
 * further out with "stack depth limit exceeded". 512 leaves a wide margin on both sides.
 */
export const MAX_JSON_DEPTH = 512;

/** Character codes of JSON's structure (also used by the raw-text helpers of ingest/json-text.ts). */
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const OPEN_BRACE = 0x7b;
export const CLOSE_BRACE = 0x7d;
export const OPEN_BRACKET = 0x5b;
export const CLOSE_BRACKET = 0x5d;

/**
 * True when `text` opens more than `maxDepth` arrays/objects inside one another (brackets inside strings
 * do not count). Works on any text, valid JSON or not, and stops at the first level too deep. A text no
 * longer than `maxDepth` cannot hold that many brackets and is not scanned at all.
 */
export function exceedsJsonDepth(text: string, maxDepth: number = MAX_JSON_DEPTH): boolean {
  if (text.length <= maxDepth) return false;
  let depth = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = skipString(text, i) - 1; // the loop steps past the closing quote
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

/**
 * Index just past the JSON string whose opening quote is at `start` (the end of the text when no quote
 * closes it). Shared with the raw-text helpers of ingest/json-text.ts.
 */
export function skipString(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const q = text.indexOf('"', from);
    if (q < 0) return text.length;
    let backslashes = 0;
    for (let j = q - 1; text.charCodeAt(j) === BACKSLASH; j--) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
    from = q + 1;
  }
}
