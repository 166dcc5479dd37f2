// Start-up against a PostgreSQL whose migrations cannot apply: the server stops at once with the reason
// on one line, instead of waiting for the database as if it were unreachable. A database that really
// cannot be reached is still recognised as such (start-up waits for it).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { pino } from 'pino';
import { createPostgresDatabase } from '../helpers/backends.js';
import { startServer } from '../../src/server.js';
import { PostgresDatabase } from '../../src/storage/postgres.js';
import { migrate, MIGRATION_TABLE } from '../../src/storage/migrate.js';
import { isConnectionError } from '../../src/storage/connection-errors.js';
import { describeStartupFailure } from '../../src/startup.js';
import { testSettings } from '../helpers/server.js';

describe('start-up when a migration fails (postgres)', () => {
  it('a changed checksum of an applied migration stops start-up with a one-line message, without retrying', { timeout: 60_000 }, async () => {
    const database = await createPostgresDatabase();
    const db = new PostgresDatabase({ url: database.url, poolSize: 2, maxWriters: 1 });
    try {
      await migrate(db);
      // As if migration 1 had been edited after this database applied it (the repository's files stay as they are).
      await db.query(`UPDATE ${MIGRATION_TABLE} SET md5 = 'edited-after-it-was-applied' WHERE version = 1`);
      const settings = testSettings({ DATABASE_URL: database.url });
      const warnings: string[] = [];
      const log = pino({ level: 'warn' }, { write: (line: string) => { warnings.push(line); } });
      const error = await startServer(settings, log).then(
        async (server) => { await server.close(); return null; },
        (caught: unknown) => caught,
      );
      assert.ok(error !== null, 'start-up must fail');
      assert.equal(isConnectionError(error), false);
      const { line, exitCode } = describeStartupFailure(error);
      assert.match(line, /^database migration failed: MD5 checksum failed for migration \[1\]/);
      assert.doesNotMatch(line, /\n/);
      assert.equal(exitCode, 1);
      assert.ok(!warnings.some((w) => w.includes('retrying')), 'no retry was logged');
    } finally {
      await db.close();
      await database.drop();
    }
  });

  it('a refused connection is a connection error (start-up waits for it), as the pool reports it', async () => {
    // A port that was free a moment ago: nothing listens on it.
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    const db = new PostgresDatabase({ url: `postgres://postgres@127.0.0.1:${port}/postgres`, poolSize: 1, maxWriters: 1 });
    try {
      const error = await migrate(db).then(() => null, (caught: unknown) => caught);
      assert.ok(error !== null);
      assert.equal(isConnectionError(error), true, (error as Error).message);
    } finally {
      await db.close();
    }
  });
});
