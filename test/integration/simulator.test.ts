// End-to-end runs of the node simulator against a real `ws` server, checking what actually goes over the
// socket (the frame builders alone: test/unit/simulator.test.ts).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { runSimulation, type Simulation } from '../../src/simulator/index.js';

interface ServerConnection {
  request: IncomingMessage;
  socket: WebSocket;
  frames: Array<{ binary: boolean; text: string }>;
  pongs: number;
  /** Envelope id text → network_id, from this connection's system.connected frames. */
  networkIds: Map<string, string>;
}

async function startServer(onFrame: (connection: ServerConnection) => void) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  const connections: ServerConnection[] = [];
  server.on('connection', (socket, request) => {
    const connection: ServerConnection = { request, socket, frames: [], pongs: 0, networkIds: new Map() };
    connections.push(connection);
    socket.on('pong', () => connection.pongs++);
    socket.on('error', () => {});
    socket.on('message', (data, binary) => {
      const text = (data as Buffer).toString('utf8');
      connection.frames.push({ binary, text });
      const parsed = JSON.parse(text);
      if (parsed.payload?.msg === 'system.connected') {
        connection.networkIds.set(/^\{"id":(\d+),/.exec(text)![1], parsed.payload.network_id);
      }
      if (connection.frames.length === 1) socket.ping(); // a real node will never answer this
      onFrame(connection);
    });
  });
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/audit`;
  const close = async () => {
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  };
  return { url, connections, close };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Messages the server received, per network_id and msg. */
function receivedCounts(connections: ServerConnection[]): Map<string, Record<string, number>> {
  const counts = new Map<string, Record<string, number>>();
  for (const connection of connections) {
    for (const { text } of connection.frames) {
      const networkId = connection.networkIds.get(/^\{"id":(\d+),/.exec(text)![1])!;
      const msg: string = JSON.parse(text).payload.msg;
      const perType = counts.get(networkId) ?? {};
      perType[msg] = (perType[msg] ?? 0) + 1;
      counts.set(networkId, perType);
    }
  }
  return counts;
}

async function stopAndCompare(simulation: Simulation, connections: ServerConnection[]): Promise<void> {
  const stats = await simulation.stop();
  const receivedTotal = () => connections.reduce((sum, connection) => sum + connection.frames.length, 0);
  await waitFor(() => receivedTotal() >= stats.sent, 'the server to receive every recorded frame', 5000);
  const received = receivedCounts(connections);
  for (const record of simulation.records()) {
    assert.deepEqual(received.get(record.networkId), record.sent, `node ${record.name}`);
  }
  assert.equal(receivedTotal(), stats.sent);
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

test('end to end: binary frames, system.connected first, no pong, reconnect re-announces, records match', async () => {
  const droppedOnce = new Set<string>();
  const server = await startServer((connection) => {
    // Drop each simulated socket's first connection abruptly (TCP RST) after a few frames.
    const ids = [...connection.networkIds.values()];
    if (connection.frames.length === 8 && ids.every((id) => !droppedOnce.has(id))) {
      ids.forEach((id) => droppedOnce.add(id));
      setImmediate(() => connection.request.socket.resetAndDestroy());
    }
  });
  cleanups.push(server.close);
  const bigId = '18446744073709551614';
  const simulation = await runSimulation({
    url: server.url, nodes: 4, idsPerSocket: 2, firstEnvelopeId: bigId, verbosity: 5, role: 'validator',
    networkStateKb: 2, timeScale: 20, reconnectDelaySec: [1, 1], seed: 'e2e',
  });
  const records = simulation.records();
  const connectionsOf = (networkId: string) => server.connections.filter((c) => [...c.networkIds.values()].includes(networkId));
  await waitFor(() => records.every((record) => {
    const connections = connectionsOf(record.networkId);
    return connections.length >= 2 && connections[connections.length - 1].frames.length >= 10;
  }), 'every node to reconnect and send again');
  await stopAndCompare(simulation, server.connections);

  assert.equal(new Set(records.map((r) => r.networkId)).size, 4);
  for (const connection of server.connections) {
    assert.ok(connection.frames.every((frame) => frame.binary), 'only binary frames');
    assert.equal(connection.request.headers['sec-websocket-extensions'], undefined);
    assert.equal(connection.request.headers['sec-websocket-protocol'], undefined);
    assert.match(connection.request.headers.host!, /^127\.0\.0\.1:\d+$/);
    // Two nodes share the socket, so the first two frames are their two system.connected.
    const first = connection.frames.slice(0, 2).map((frame) => JSON.parse(frame.text));
    assert.deepEqual(first.map((frame) => frame.payload.msg), ['system.connected', 'system.connected']);
    const ids = connection.frames.map((frame) => /^\{"id":(\d+),/.exec(frame.text)![1]);
    assert.deepEqual(new Set(ids), new Set([bigId, '18446744073709551615']));
    assert.equal(connection.pongs, 0, 'a real node never answers pings');
  }
  for (const record of records) {
    const announcements = connectionsOf(record.networkId).map((connection) => connection.frames
      .map((frame) => JSON.parse(frame.text))
      .find((frame) => frame.payload.msg === 'system.connected' && frame.payload.network_id === record.networkId));
    assert.ok(announcements.length >= 2);
    assert.ok(record.reconnects >= 1);
    assert.equal(new Set(announcements.map((a) => a.payload.startup_time)).size, 1, 'same startup_time on reconnect');
    assert.equal(new Set(announcements.map((a) => a.ts)).size, announcements.length, 'fresh ts on reconnect');
  }
});

test('end to end, polite mode: pings are answered and records still match', async () => {
  const server = await startServer(() => {});
  cleanups.push(server.close);
  const simulation = await runSimulation({ url: server.url, nodes: 1, polite: true, timeScale: 20, networkStateKb: 2, seed: 'polite' });
  await waitFor(() => server.connections.some((connection) => connection.pongs > 0), 'a pong');
  await stopAndCompare(simulation, server.connections);
  const first = JSON.parse(server.connections[0].frames[0].text);
  assert.equal(first.payload.msg, 'system.connected');
  assert.deepEqual(Object.keys(first), ['id', 'payload', 'ts']);
});
