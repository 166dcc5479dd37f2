// Start-up as an operator sees it, running src/main.ts as its own process: a second server on the same
// DATA_DIR, a port in use and a broken data folder each give one line and a non-zero exit (no stack
// trace unless LOG_LEVEL=debug); LOG_FORMAT picks JSON or readable lines; no secret is printed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, startServerProcess } from '../helpers/process.js';

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the server to its exit (these runs all fail at start-up). */
function runServer(env: Record<string, string>): Promise<Finished> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', LOG_FORMAT: 'auto', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '');
}

/** Holds a port as another program would. */
async function occupyPort(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const STACK_LINE = /^\s+at /m;
const TOKEN = 'tok-0123456789-abcdefghij';
const PASSWORD = 'pw-s3cret-9876';

describe('start-up failures', () => {
  let scratch: string;
  let taken: Awaited<ReturnType<typeof occupyPort>>;
  before(async () => {
    scratch = mkdtempSync(path.join(os.tmpdir(), 'tetcore-startup-'));
    taken = await occupyPort();
  });
  after(async () => {
    await taken.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('a second server on the same DATA_DIR exits 2 with one line naming the folder and the pid using it', { timeout: 180_000 }, async () => {
    const dataDir = path.join(scratch, 'shared-data');
    const first = await startServerProcess({ DATA_DIR: dataDir });
    try {
      const second = await runServer({ DATA_DIR: dataDir });
      assert.equal(second.code, 2);
      assert.deepEqual(lines(second.stderr), [
        `tetcore-analytics: the data folder ${dataDir} (DATA_DIR) is in use by another tetcore-analytics process, pid ${first.child.pid}; stop that one or choose another DATA_DIR`,
      ]);
      assert.doesNotMatch(second.stdout + second.stderr, /RuntimeError|Aborted/);
    } finally {
      first.child.kill('SIGTERM');
      assert.equal(await first.exited, 0);
    }
    // Released on exit: the folder can be used again.
    assert.equal(existsSync(path.join(dataDir, 'tetcore-analytics.lock')), false);
  });

  it('a port in use is one line naming the port and PORT, before the data folder is touched', { timeout: 60_000 }, async () => {
    const dataDir = path.join(scratch, 'never-created');
    const result = await runServer({ PORT: String(taken.port), DATA_DIR: dataDir });
    assert.equal(result.code, 2);
    assert.deepEqual(lines(result.stderr), [
      `tetcore-analytics: port ${taken.port} is already in use on 127.0.0.1 (PORT=${taken.port}): stop the other process or set PORT to a free port`,
    ]);
    assert.doesNotMatch(result.stderr, STACK_LINE);
    assert.equal(existsSync(dataDir), false, 'the port is checked before the database is opened');
  });

  it('a data folder that cannot be created is one line without a stack; LOG_LEVEL=debug adds the stack', { timeout: 60_000 }, async () => {
    const aFile = path.join(scratch, 'a-file');
    writeFileSync(aFile, 'not a folder');
    const quiet = await runServer({ DATA_DIR: path.join(aFile, 'data') });
    assert.equal(quiet.code, 1);
    const [line, ...rest] = lines(quiet.stderr);
    assert.match(line, /^tetcore-analytics: the embedded database in .*a-file\/data \(DATA_DIR\) could not be opened: ENOTDIR/);
    assert.deepEqual(rest, []);
    assert.doesNotMatch(quiet.stdout + quiet.stderr, STACK_LINE);

    const verbose = await runServer({ DATA_DIR: path.join(aFile, 'data'), LOG_LEVEL: 'debug' });
    assert.equal(verbose.code, 1);
    assert.match(lines(verbose.stderr)[0], /could not be opened: ENOTDIR/);
    assert.match(verbose.stderr, STACK_LINE);
  });

  it('an invalid setting is one line naming the variable, exit 2', { timeout: 60_000 }, async () => {
    const result = await runServer({ LOG_FORMAT: 'fancy' });
    assert.equal(result.code, 2);
    assert.deepEqual(lines(result.stderr), ['tetcore-analytics: LOG_FORMAT="fancy" is invalid: expected one of json, pretty, auto']);
  });
});

describe('LOG_FORMAT and secrets in the process output', () => {
  let taken: Awaited<ReturnType<typeof occupyPort>>;
  // A run that logs its settings (debug) and then fails on the port: quick, and prints the settings line.
  const env = () => ({
    PORT: String(taken.port),
    LOG_LEVEL: 'debug',
    API_TOKEN: TOKEN,
    DATABASE_URL: `postgres://analytics:${PASSWORD}@127.0.0.1:5432/tetcore`,
  });
  before(async () => {
    taken = await occupyPort();
  });
  after(() => taken.close());

  it('json: one JSON object per line, settings at debug with API_TOKEN and the password masked', { timeout: 60_000 }, async () => {
    const result = await runServer({ ...env(), LOG_FORMAT: 'json' });
    assert.equal(result.code, 2);
    const entries = lines(result.stdout).map((line) => JSON.parse(line));
    const settings = entries.find((entry) => entry.msg === 'settings')?.settings;
    assert.ok(settings, 'the settings are logged at debug');
    assert.equal(settings.apiToken, '***');
    assert.equal(settings.databaseUrl, 'postgres://analytics:***@127.0.0.1:5432/tetcore');
    assert.ok(!result.stdout.includes(TOKEN) && !result.stdout.includes(PASSWORD));
    assert.ok(!result.stderr.includes(TOKEN) && !result.stderr.includes(PASSWORD));
  });

  it('auto writes JSON when stdout is not a terminal', { timeout: 60_000 }, async () => {
    const result = await runServer({ ...env(), LOG_FORMAT: 'auto' });
    for (const line of lines(result.stdout)) JSON.parse(line);
    assert.ok(lines(result.stdout).length > 0);
  });

  it('pretty: readable lines (time, level, message), not JSON, secrets masked', { timeout: 60_000 }, async () => {
    const result = await runServer({ ...env(), LOG_FORMAT: 'pretty' });
    assert.equal(result.code, 2);
    const settingsLine = lines(result.stdout).find((line) => line.includes('DEBUG') && line.includes('settings'));
    assert.ok(settingsLine, result.stdout);
    assert.match(settingsLine, /^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}\] DEBUG: settings /);
    assert.throws(() => JSON.parse(settingsLine));
    assert.match(settingsLine, /"apiToken":"\*\*\*"/);
    assert.ok(!result.stdout.includes(TOKEN) && !result.stdout.includes(PASSWORD));
  });
});
