// Settings: defaults, the README's spellings, clear refusals, .env loading, masking, README in sync.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { SETTINGS, describeSettings, loadEnvironment, parseSettings } from '../../src/config/settings.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('settings', () => {
  it('uses the README defaults when nothing is set', () => {
    const s = parseSettings({});
    assert.equal(s.port, 8080);
    assert.equal(s.databaseUrl, null);
    assert.equal(s.dataDir, './data');
    assert.equal(s.spoolDir, path.join('./data', 'spool'));
    assert.equal(s.heartbeatIntervalS, 5);
    assert.equal(s.clientTimeoutS, 10);
    assert.equal(s.purgeIntervalS, 600);
    assert.equal(s.logExpiryH, 280320);
    assert.equal(s.partitionIntervalH, 24);
    assert.equal(s.maxPendingConnections, 8192);
    assert.equal(s.wsMaxPayload, 524288);
    assert.equal(s.dbPoolSize, s.numThreads);
    assert.equal(s.dbBatchSize, 1024);
    assert.equal(s.dbSaveLatencyMs, 100);
    assert.equal(s.cacheUpdateTimeoutS, 15);
    assert.equal(s.cacheUpdateIntervalMs, 1000);
    assert.equal(s.cacheExpiryS, 3600);
    assert.equal(s.assetsPath, './static');
    assert.equal(s.logLevel, 'info');
  });

  it('keeps the disk spool in DATA_DIR unless SPOOL_DIR names another folder (a container writes only to its volume)', () => {
    assert.equal(parseSettings({ DATA_DIR: '/data' }).spoolDir, '/data/spool');
    assert.equal(parseSettings({ DATA_DIR: '/data', SPOOL_DIR: '/var/spool/tetcore' }).spoolDir, '/var/spool/tetcore');
    assert.equal(parseSettings({ DATA_DIR: '/data', SPOOL_DIR: '' }).spoolDir, '');
  });

  it("accepts the README's 524_288 spelling and derived defaults", () => {
    const s = parseSettings({ WS_MAX_PAYLOAD: '524_288', NUM_THREADS: '4', LOG_EXPIRY_H: '3' });
    assert.equal(s.wsMaxPayload, 524288);
    assert.equal(s.dbPoolSize, 4);
    assert.equal(s.partitionIntervalH, 1);
  });

  for (const [env, value] of [
    ['DB_BATCH_SIZE', 'abc'],
    ['PURGE_INTERVAL_S', '-5'],
    ['PORT', '70000'],
    ['HEARTBEAT_INTERVAL', '1.5'],
    ['TRUST_PROXY', 'maybe'],
    ['TRUST_PROXY', '10.0.0.1,proxy.example'],
    ['ALLOWED_ORIGINS', 'https://dash.example.com/app'],
    ['DATABASE_URL', 'mysql://x'],
    ['LOG_LEVEL', 'loud'],
  ]) {
    it(`refuses ${env}=${value} with a message naming it`, () => {
      assert.throws(() => parseSettings({ [env]: value }), (error: Error) => error.message.startsWith(`${env}=`) && error.message.includes('expected'));
    });
  }

  it('TRUST_PROXY (#3) accepts false, true, a hop count and an address list, and refuses anything else', () => {
    assert.deepEqual(parseSettings({}).trustProxy, { kind: 'none' });
    assert.deepEqual(parseSettings({ TRUST_PROXY: 'false' }).trustProxy, { kind: 'none' });
    assert.deepEqual(parseSettings({ TRUST_PROXY: '0' }).trustProxy, { kind: 'none' });
    assert.deepEqual(parseSettings({ TRUST_PROXY: 'true' }).trustProxy, { kind: 'hops', hops: 1 });
    assert.deepEqual(parseSettings({ TRUST_PROXY: '1' }).trustProxy, { kind: 'hops', hops: 1 });
    assert.deepEqual(parseSettings({ TRUST_PROXY: '2' }).trustProxy, { kind: 'hops', hops: 2 });
    assert.deepEqual(parseSettings({ TRUST_PROXY: '10.0.0.1, 192.168.0.0/16,::1' }).trustProxy, { kind: 'addresses', proxies: ['10.0.0.1', '192.168.0.0/16', '::1'] });
    for (const bad of ['maybe', '17', '-1', '10.0.0.0/33', '10.0.0.1,proxy.example', '1.5']) {
      assert.throws(() => parseSettings({ TRUST_PROXY: bad }), (error: Error) => error.message.startsWith('TRUST_PROXY=') && error.message.includes('expected'), bad);
    }
  });

  it('ALLOWED_ORIGINS (#13) is validated and held in canonical form', () => {
    assert.deepEqual(parseSettings({}).allowedOrigins, []);
    assert.deepEqual(parseSettings({ ALLOWED_ORIGINS: 'HTTPS://Dash.example.com, http://localhost:3000/' }).allowedOrigins, ['https://dash.example.com', 'http://localhost:3000']);
    for (const bad of ['*', 'dash.example.com', 'https://dash.example.com/app', 'null']) {
      assert.throws(() => parseSettings({ ALLOWED_ORIGINS: bad }), (error: Error) => error.message.startsWith('ALLOWED_ORIGINS=') && error.message.includes('expected'), bad);
    }
  });

  it('takes RUST_LOG as an alias of LOG_LEVEL, filters included', () => {
    assert.equal(parseSettings({ RUST_LOG: 'debug' }).logLevel, 'debug');
    assert.equal(parseSettings({ RUST_LOG: 'tetcore_analytics=debug,actix_web=info' }).logLevel, 'debug');
    assert.equal(parseSettings({ RUST_LOG: 'debug', LOG_LEVEL: 'warn' }).logLevel, 'warn');
  });

  it('reads .env without overriding the environment', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tetcore-env-'));
    try {
      await writeFile(path.join(dir, '.env'), 'PORT=9999\nDB_BATCH_SIZE=77\n');
      const env = loadEnvironment({ PORT: '1234' }, path.join(dir, '.env'));
      const s = parseSettings(env);
      assert.equal(s.port, 1234);
      assert.equal(s.dbBatchSize, 77);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('masks the password of DATABASE_URL when logged', () => {
    const described = describeSettings(parseSettings({ DATABASE_URL: 'postgres://user:s3cret@db:5432/x' }));
    assert.equal(described.databaseUrl, 'postgres://user:***@db:5432/x');
    assert.ok(!JSON.stringify(described).includes('s3cret'));
  });

  it('stops the server at start-up with exit code 2 and the variable named', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env: { ...process.env, DB_BATCH_SIZE: 'abc' }, encoding: 'utf8' });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /DB_BATCH_SIZE="abc" is invalid: expected an integer/);
  });

  it('documents every setting in the README table with its default', async () => {
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
    for (const s of SETTINGS) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${s.env}\` |`));
      assert.ok(row, `README lists ${s.env}`);
      assert.ok(row.includes(s.defaultText), `README default of ${s.env} is ${s.defaultText}`);
    }
  });
});
