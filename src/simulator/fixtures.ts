// Locates and reads the shared capture fixtures (never copied into the repo); the only file I/O of the simulator.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { V1Message } from './messages.js';

/** `$FIXTURES_DIR`, else `<repo>/../shared/fixtures/` resolved from this module's location. */
export function fixturesDir(): string {
  return process.env.FIXTURES_DIR ?? fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));
}

/** The 16 flat 2020 messages of telemetry_messages.json, one per type. */
export function loadV1Fixture(dir = fixturesDir()): V1Message[] {
  return JSON.parse(readFileSync(path.join(dir, 'telemetry_messages.json'), 'utf8')) as V1Message[];
}

/** The raw lines (frames) of tetcore_v2_session.jsonl. */
export function loadV2Session(dir = fixturesDir()): string[] {
  return readFileSync(path.join(dir, 'tetcore_v2_session.jsonl'), 'utf8').split('\n').filter((line) => line.length > 0);
}
