// Admission control of the query lane: concurrency bound, FIFO queue with a priority lane, queue bound
// and wait limit (QUERY_OVERLOADED with a Retry-After), gauges and counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Admission, QueryOverloadedError } from '../../src/api/admission.js';
import { createMetrics } from '../../src/metrics/catalogue.js';

async function metricValue(metrics: ReturnType<typeof createMetrics>, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await metrics.registry.getSingleMetric(name)?.get())?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return metric?.value ?? NaN;
}

test('at most `concurrency` run; the rest wait in order, priority first', async () => {
  const metrics = createMetrics();
  const admission = new Admission({ concurrency: 2, queueMax: 10, queueWaitMs: 60_000 }, metrics);
  const a = await admission.acquire();
  const b = await admission.acquire();
  const order: string[] = [];
  const c = admission.acquire().then((slot) => (order.push('c'), slot));
  const d = admission.acquire().then((slot) => (order.push('d'), slot));
  const urgent = admission.acquire({ priority: true }).then((slot) => (order.push('urgent'), slot));
  assert.equal(admission.running, 2);
  assert.equal(admission.waiting, 3);
  assert.equal(await metricValue(metrics, 'tetcore_query_admission_in_flight'), 2);
  assert.equal(await metricValue(metrics, 'tetcore_query_admission_queued'), 3);
  a.release();
  a.release(); // a second release gives nothing back
  const first = await urgent;
  assert.deepEqual(order, ['urgent']);
  assert.equal(admission.running, 2);
  b.release();
  first.release();
  await Promise.all([c, d]).then((slots) => slots.forEach((s) => s.release()));
  assert.deepEqual(order, ['urgent', 'c', 'd']);
  assert.equal(admission.running, 0);
  assert.equal(admission.waiting, 0);
});

test('a full queue refuses at once, a wait past the limit is refused; both counted, with Retry-After seconds', async () => {
  const metrics = createMetrics();
  const admission = new Admission({ concurrency: 1, queueMax: 1, queueWaitMs: 50 }, metrics);
  const held = await admission.acquire();
  const waiting = admission.acquire();
  await assert.rejects(admission.acquire(), (error: unknown) => error instanceof QueryOverloadedError && error.code === 'QUERY_OVERLOADED' && error.statusCode === 503 && error.retryAfterS === 1 && /QUERY_QUEUE_MAX=1/.test(error.message));
  await assert.rejects(waiting, (error: unknown) => error instanceof QueryOverloadedError && /QUERY_QUEUE_WAIT_MS/.test(error.message));
  assert.equal(await metricValue(metrics, 'tetcore_query_admission_rejected_total', { reason: 'queue_full' }), 1);
  assert.equal(await metricValue(metrics, 'tetcore_query_admission_rejected_total', { reason: 'wait_timeout' }), 1);
  assert.equal(admission.waiting, 0);
  held.release();
  // The slot freed goes to the next caller; run() releases even when fn throws.
  await assert.rejects(admission.run(async () => {
    throw new Error('boom');
  }), /boom/);
  assert.equal(admission.running, 0);
  assert.equal(await admission.run(async () => 42), 42);
});

test('while ingestion is behind, queries are admitted one at a time; the full concurrency returns with it', async () => {
  let behind = true;
  const admission = new Admission({ concurrency: 3, queueMax: 10, queueWaitMs: 60_000, ingestionBehind: () => behind }, createMetrics());
  const first = await admission.acquire();
  let secondGranted = false;
  const second = admission.acquire().then((slot) => ((secondGranted = true), slot));
  const third = admission.acquire();
  assert.equal(admission.running, 1);
  assert.equal(admission.waiting, 2);
  behind = false;
  first.release(); // the next admission sees ingestion caught up: both waiters go
  const slots = await Promise.all([second, third]);
  assert.equal(secondGranted, true);
  assert.equal(admission.running, 2);
  slots.forEach((s) => s.release());
});
