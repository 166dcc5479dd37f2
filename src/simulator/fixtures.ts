// The simulator's V1 replay data: the 2020 capture, compacted into src/simulator/data/v1-capture.json
// (one message per line) by `npm run data:simulator` from test/fixtures/telemetry_messages.json.
// The only file I/O of the simulator.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { V1Message } from './messages.js';

/** Where the V1 replay data is; it ships with the simulator, so no other folder is needed. */
export const V1_CAPTURE_PATH = fileURLToPath(new URL('./data/v1-capture.json', import.meta.url));

/** The 16 flat 2020 messages, one per type, as captured (key order kept). */
export function loadV1Fixture(path = V1_CAPTURE_PATH): V1Message[] {
  return JSON.parse(readFileSync(path, 'utf8')) as V1Message[];
}

/**
 * The text of v1-capture.json for a capture: the same messages and key order, compact JSON, one message
 * per line. Deterministic, so a test can check the committed file against the capture it came from.
 */
export function v1CaptureText(capture: V1Message[]): string {
  return `[\n${capture.map((message) => JSON.stringify(message)).join(',\n')}\n]\n`;
}
