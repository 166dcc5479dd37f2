// The simulator's command line as a person runs it (a child process): a URL no node would accept and a
// server it cannot reach each give one line saying why (refused, HTTP status, TLS, not HTTP), exit
// non-zero; --v1 replays the capture that ships in the repository against a real server.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { ROOT, freePort } from '../helpers/process.js';

function simulate(...flags: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/simulator/cli.ts', ...flags], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((line) => line.trim() !== '');
  assert.equal(lines.length, 1, `one line expected, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /^\s+at /m);
  return lines[0];
}

async function listening(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

describe('simulator command line: why it cannot connect', () => {
  let notFound: http.Server;
  let notFoundPort: number;
  let notHttp: net.Server;
  let notHttpPort: number;
  before(async () => {
    notFound = http.createServer((_req, res) => res.writeHead(404).end('no such page'));
    notFoundPort = await listening(notFound);
    // Answers every connection with the first bytes of a TLS record, as a TLS server would to plain text.
    notHttp = net.createServer((socket) => socket.end(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x2a, 0x02, 0x00])));
    notHttpPort = await listening(notHttp);
  });
  after(() => {
    notFound.close();
    notHttp.close();
  });

  it('rejects an http:// URL with a hint to use ws://, before dialing', { timeout: 60_000 }, async () => {
    const result = await simulate('--url', 'http://127.0.0.1:8080/', '--duration', '5');
    assert.equal(result.code, 2);
    assert.equal(oneLine(result.stderr), 'simulate: --url http://127.0.0.1:8080/ is an http URL; telemetry is a websocket: use ws://127.0.0.1:8080/');
    const tls = await simulate('--url', 'https://telemetry.example/submit/');
    assert.match(oneLine(tls.stderr), /use wss:\/\/telemetry\.example\/submit\/$/);
  });

  it('says the connection was refused', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const result = await simulate('--url', `ws://127.0.0.1:${port}/`, '--duration', '30');
    assert.equal(result.code, 1);
    assert.equal(oneLine(result.stderr), `simulate: cannot connect to ws://127.0.0.1:${port}/: connection refused by 127.0.0.1:${port}; is the server running, on that port?`);
  });

  it('says which HTTP status the server answered instead of the upgrade (404: wrong path)', { timeout: 60_000 }, async () => {
    const result = await simulate('--url', `ws://127.0.0.1:${notFoundPort}/submit`, '--duration', '30');
    assert.equal(result.code, 1);
    assert.match(oneLine(result.stderr), /^simulate: cannot connect to ws:\/\/127\.0\.0\.1:\d+\/submit: the server answered HTTP 404 instead of upgrading to a websocket; wrong path\? nodes stream to \/ or \/audit$/);
  });

  it('says TLS failed for wss:// to a plain server, and that a server not speaking HTTP may want wss://', { timeout: 60_000 }, async () => {
    const tls = await simulate('--url', `wss://localhost:${notFoundPort}/`, '--duration', '30');
    assert.equal(tls.code, 1);
    assert.match(oneLine(tls.stderr), /: TLS handshake with localhost:\d+ failed \(.+\); is it a TLS server\? for a plain server use ws:\/\/$/);
    const plain = await simulate('--url', `ws://127.0.0.1:${notHttpPort}/`, '--duration', '30');
    assert.equal(plain.code, 1);
    assert.match(oneLine(plain.stderr), /: 127\.0\.0\.1:\d+ does not answer HTTP; if it is a TLS server, use wss:\/\/$/);
  });
});

describe('simulator command line: --v1 against a real server', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(BACKENDS.find((b) => b.name === 'embedded')!);
  });
  after(() => server.dispose());

  it('replays the capture shipped in src/simulator/data (no folder beside the repository needed)', { timeout: 120_000 }, async () => {
    const result = await simulate('--url', server.url('/'), '--v1', '--rate', '20', '--duration', '4', '--seed', 'cli-v1');
    assert.equal(result.code, 0, result.stderr);
    const sent = Number(/messages sent: (\d+)/.exec(result.stdout)?.[1]);
    assert.ok(sent > 0, result.stdout);
    await waitFor(async () => Number((await server.db.query<{ n: number }>('SELECT count(*) AS n FROM substrate_logs')).rows[0].n) > 0, 'messages of the replay stored');
  });
});
