// `npm run data:simulator`: writes src/simulator/data/v1-capture.json (the simulator's V1 replay data)
// from the capture test/fixtures/telemetry_messages.json. test/unit/simulator-data.test.ts checks they agree.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { V1_CAPTURE_PATH, v1CaptureText } from '../src/simulator/fixtures.js';

const capturePath = fileURLToPath(new URL('../test/fixtures/telemetry_messages.json', import.meta.url));
const capture = JSON.parse(readFileSync(capturePath, 'utf8'));
mkdirSync(path.dirname(V1_CAPTURE_PATH), { recursive: true });
writeFileSync(V1_CAPTURE_PATH, v1CaptureText(capture));
process.stdout.write(`wrote ${path.relative(process.cwd(), V1_CAPTURE_PATH)} (${capture.length} messages) from ${path.relative(process.cwd(), capturePath)}\n`);
