// The simulator's V1 replay data (src/simulator/data/v1-capture.json) is the capture in test/fixtures,
// compacted by `npm run data:simulator`: a stale or hand-edited copy fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { V1_CAPTURE_PATH, loadV1Fixture, v1CaptureText } from '../../src/simulator/fixtures.js';
import { v1Messages } from '../helpers/fixtures.js';

test('src/simulator/data/v1-capture.json is what `npm run data:simulator` makes from test/fixtures/telemetry_messages.json', () => {
  const expected = v1CaptureText(v1Messages() as Parameters<typeof v1CaptureText>[0]);
  assert.equal(readFileSync(V1_CAPTURE_PATH, 'utf8'), expected, 'run `npm run data:simulator` and commit the result');
});

test('the replay data holds every captured message with its keys in the captured order', () => {
  const capture = v1Messages();
  const replay = loadV1Fixture();
  assert.equal(replay.length, 16);
  assert.deepEqual(replay, capture);
  for (let i = 0; i < capture.length; i++) assert.deepEqual(Object.keys(replay[i]), Object.keys(capture[i]));
});
