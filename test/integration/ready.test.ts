// Item 10 of the hardening issue: /ready is public, so while the database is unavailable it answers
// "database unavailable" and nothing of the database's own message (names of databases, users, hosts);
// the detail goes to the log once per change, not at every probe. Both databases.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pg from 'pg';
import { pino } from 'pino';
import { ADMIN_URL, createPostgresDatabase } from '../helpers/backends.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { migrate } from '../../src/storage/migrate.js';
import { EmbeddedDatabase } from '../../src/storage/embedded.js';
import { testSettings } from '../helpers/server.js';

interface LogLine {
  level: number;
  msg: string;
  detail?: string;
}

/** A logger whose lines are kept, parsed, for the assertions. */
function capturingLogger() {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

async function adminQuery(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

async function probe(server: RunningServer): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${server.port}/ready`);
  return { status: response.status, text: await response.text() };
}

const readyLines = (lines: LogLine[]) => lines.filter((l) => l.msg.startsWith('/ready:'));

async function assertGenericAnswer(server: RunningServer, secret: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const { status, text } = await probe(server);
    assert.equal(status, 503);
    assert.deepEqual(JSON.parse(text), { status: 'not ready', reason: 'database unavailable' });
    assert.ok(!text.includes(secret), `the answer does not mention ${secret}`);
  }
}

describe('/ready while the database is unavailable, #10', () => {
  it('#10 postgres: a dropped database answers "database unavailable"; the detail is logged once per change', async () => {
    const database = await createPostgresDatabase();
    const name = new URL(database.url).pathname.slice(1);
    const { log, lines } = capturingLogger();
    const settings = testSettings({ LOG_LEVEL: 'info', DATABASE_URL: database.url, CACHE_UPDATE_INTERVAL_MS: '60000' });
    const server = await startServer(settings, log);
    try {
      assert.equal((await probe(server)).status, 200);
      await adminQuery(`DROP DATABASE ${name} WITH (FORCE)`);
      await assertGenericAnswer(server, name);
      const dropped = readyLines(lines);
      assert.equal(dropped.length, 1, 'one line for three probes');
      assert.equal(dropped[0].level, 40);
      assert.match(dropped[0].detail ?? '', new RegExp(`database "${name}" does not exist`));

      // Back, but empty: another reason, logged once more.
      await adminQuery(`CREATE DATABASE ${name}`);
      await assertGenericAnswer(server, name);
      assert.equal(readyLines(lines).length, 2);
      assert.doesNotMatch(readyLines(lines)[1].detail ?? '', /does not exist.*database/);

      await migrate(server.ingestDb);
      assert.equal((await probe(server)).status, 200);
      assert.equal((await probe(server)).status, 200);
      assert.deepEqual(readyLines(lines).slice(2).map((l) => l.msg), ['/ready: database available again']);
    } finally {
      await server.close().catch(() => {});
      await database.drop();
    }
  });

  it('#10 embedded: a closed database answers "database unavailable"; the detail is logged once', async () => {
    const db = await EmbeddedDatabase.open(null);
    const { log, lines } = capturingLogger();
    const settings = testSettings({ LOG_LEVEL: 'info', CACHE_UPDATE_INTERVAL_MS: '60000' });
    const server = await startServer(settings, log, { db });
    try {
      assert.equal((await probe(server)).status, 200);
      await db.close();
      await assertGenericAnswer(server, 'PGlite');
      const closed = readyLines(lines);
      assert.equal(closed.length, 1, 'one line for three probes');
      assert.ok((closed[0].detail ?? '').length > 0);
    } finally {
      await server.close().catch(() => {});
    }
  });
});
