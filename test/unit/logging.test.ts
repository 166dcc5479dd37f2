// What the logger does without a server: the masker of secrets, LOG_FORMAT=auto, the folding of a
// reconnect storm into counts, and the summary line from the metrics (from a real server, on both
// databases: test/integration/logging.test.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, createMasker, resolveLogFormat } from '../../src/config/logger.js';
import { ConnectionLog } from '../../src/ingest/connection-log.js';
import { NodeHandle } from '../../src/ingest/node.js';
import { createMetrics } from '../../src/metrics/catalogue.js';
import { MetricsSummary } from '../../src/metrics/summary.js';
import { Collector } from '../helpers/log-collector.js';

const TOKEN = 'tok-0123456789-abcdefghij';

describe('the masker', () => {
  const mask = createMasker([TOKEN, 'pass word/1']);
  it('masks access_token values, URL passwords, Bearer tokens and each known secret in every form', () => {
    assert.equal(mask('GET /nodes?peer_id=x&access_token=abc123&limit=2'), 'GET /nodes?peer_id=x&access_token=***&limit=2');
    assert.equal(mask('{"url":"/feed?access_token=abc123"}'), '{"url":"/feed?access_token=***"}');
    assert.equal(mask('postgres://user:hunter22@db:5432/x'), 'postgres://user:***@db:5432/x');
    assert.equal(mask('authorization: Bearer abc.def-ghi'), 'authorization: Bearer ***');
    assert.equal(mask(`token ${TOKEN} in a message`), 'token *** in a message');
    assert.equal(mask(`{"p":${JSON.stringify('pass word/1')}}`), '{"p":"***"}');
    assert.equal(mask(`/x?t=${encodeURIComponent('pass word/1')}`), '/x?t=***');
    assert.equal(mask('nothing secret here: http://host:8080/path'), 'nothing secret here: http://host:8080/path');
  });

  it('LOG_FORMAT=auto is pretty on a terminal and JSON elsewhere', () => {
    assert.equal(resolveLogFormat('auto', { write() {}, isTTY: true }), 'pretty');
    assert.equal(resolveLogFormat('auto', { write() {}, isTTY: false }), 'json');
    assert.equal(resolveLogFormat('json', { write() {}, isTTY: true }), 'json');
    const out = new Collector();
    createLogger({ logLevel: 'info', logFormat: 'pretty', apiToken: TOKEN, databaseUrl: null }, out).info({ url: `/x?access_token=${TOKEN}` }, 'hello');
    assert.equal(out.lines.length, 1);
    assert.match(out.lines[0], /^\[[^\]]+\] INFO: hello \{"url":"\/x\?access_token=\*\*\*"\}$/);
  });
});

describe('connection log folding', () => {
  it('writes the first lines of a window one by one and folds the rest into one counted line', () => {
    const out = new Collector();
    const log = createLogger({ logLevel: 'info', logFormat: 'json', apiToken: null, databaseUrl: null }, out);
    const connections = new ConnectionLog(log, { linesPerWindow: 3, windowMs: 60_000 });
    const sockets = Array.from({ length: 10 }, (_, i) => ({ endpoint: '/', i }));
    sockets.forEach((socket, i) => {
      connections.opened(socket, `10.0.0.${i}:30333`);
      const node = new NodeHandle(`10.0.0.${i}:30333`, false, '1', i);
      node.learn({ peerId: `12D3KooWPeer${i}`, name: `node-${i}` });
      connections.identified(socket, node);
      connections.identified(socket, node); // a later identity change is not a second connect
    });
    connections.closed(sockets[0], 1006);
    assert.deepEqual(out.entries().map((e) => e.name), ['node-0', 'node-1', 'node-2']);
    connections.flush();
    const folded = out.entries().at(-1)!;
    assert.equal(folded.connected, 7);
    assert.equal(folded.disconnected, 1);
    assert.match(folded.msg, /counted here instead of logged one by one/);
  });
});

describe('summary line', () => {
  it('reports connections, rates, drops by reason, buffer fill and purge runs since the previous line', async () => {
    const out = new Collector();
    const metrics = createMetrics();
    const summary = new MetricsSummary(metrics, createLogger({ logLevel: 'info', logFormat: 'json', apiToken: null, databaseUrl: null }, out), { maxRows: 100, maxBytes: 1_000_000 });
    metrics.currentConnections.set(4);
    metrics.messagesReceived.inc(30);
    metrics.messagesStored.inc(25);
    metrics.messagesDropped.inc({ reason: 'invalid_json' }, 2);
    metrics.bufferRows.set(50);
    metrics.bufferBytes.set(1000);
    metrics.purgeRuns.inc({ outcome: 'ok' });
    metrics.purgePartitionsDropped.inc(2);
    const first = await summary.summarize();
    assert.equal(first.connections, 4);
    assert.deepEqual(first.dropped, { invalid_json: 2 });
    assert.deepEqual(first.buffer, { rows: 50, bytes: 1000, fillPercent: 50, paused: false });
    assert.deepEqual(first.purge, { runs: { ok: 1 }, partitionsDropped: 2, rowsDeleted: 0 });
    assert.ok((first.receivedPerS as number) > 0 && (first.storedPerS as number) > 0);
    const second = await summary.summarize(); // nothing happened since: only what is new is reported
    assert.equal(second.dropped, 'none');
    assert.equal(second.purge, 'no run');
    assert.equal(second.receivedPerS, 0);
    assert.deepEqual(out.entries().map((e) => e.msg), ['summary', 'summary']);
  });
});
