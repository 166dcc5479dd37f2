// Migrations: applied once, idempotent on restart, safe when two instances start together.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS, createPostgresDatabase } from '../helpers/backends.js';
import { migrate, latestMigrationVersion } from '../../src/storage/migrate.js';
import { PostgresDatabase } from '../../src/storage/postgres.js';

for (const backend of BACKENDS) {
  describe(`migrations (${backend.name})`, () => {
    it('applies every migration once, and nothing on a second start', async () => {
      const { db, drop } = await backend.create();
      try {
        const first = await migrate(db);
        assert.equal(first.version, await latestMigrationVersion());
        assert.ok(first.applied.length >= 1);
        const second = await migrate(db);
        assert.deepEqual(second.applied, []);
        assert.equal(second.version, first.version);
        for (const table of ['peer_connections', 'substrate_logs', 'host_systems', 'benchmarks', 'benchmark_events']) {
          assert.equal((await db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table])).rows[0].t, table);
        }
      } finally {
        await drop();
      }
    });
  });
}

describe('migrations (two instances at once)', () => {
  it('serialises concurrent migrations: both succeed, the schema is created once', async () => {
    const created = await createPostgresDatabase();
    const a = new PostgresDatabase({ url: created.url, poolSize: 2, maxWriters: 1 });
    const b = new PostgresDatabase({ url: created.url, poolSize: 2, maxWriters: 1 });
    try {
      const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
      assert.equal(ra.version, rb.version);
      assert.equal(ra.applied.length + rb.applied.length, ra.applied.length || rb.applied.length, 'one instance applied, the other found nothing to do');
    } finally {
      await a.close();
      await b.close();
      await created.drop();
    }
  });
});

describe('migrations (a lower-numbered migration added later)', () => {
  it('refuses to start instead of skipping it', async () => {
    const created = await createPostgresDatabase();
    const db = new PostgresDatabase({ url: created.url, poolSize: 2, maxWriters: 1 });
    try {
      await migrate(db);
      // As if this database had been migrated by a build that lacked migration 1.
      await db.query(`DELETE FROM tetcore_analytics_migrations WHERE version = 1`);
      await assert.rejects(migrate(db), /migrations 1 are numbered below/);
    } finally {
      await db.close();
      await created.drop();
    }
  });
});
