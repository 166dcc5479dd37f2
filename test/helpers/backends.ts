// The two databases every storage test runs against: a fresh database on the local PostgreSQL server
// (TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres) and an in-memory embedded one.
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import type { Database } from '../../src/storage/database.js';
import { PostgresDatabase } from '../../src/storage/postgres.js';
import { EmbeddedDatabase } from '../../src/storage/embedded.js';

export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestBackend {
  name: 'postgres' | 'embedded';
  /** A fresh, empty database; `url` is set for postgres. */
  create(): Promise<{ db: Database; url: string | null; drop(): Promise<void> }>;
}

export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tetcore_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export const BACKENDS: TestBackend[] = [
  {
    name: 'postgres',
    async create() {
      const created = await createPostgresDatabase();
      const db = new PostgresDatabase({ url: created.url, poolSize: 6, maxWriters: 2 });
      return {
        db,
        url: created.url,
        async drop() {
          await db.close().catch(() => {});
          await created.drop();
        },
      };
    },
  },
  {
    name: 'embedded',
    async create() {
      const db = await EmbeddedDatabase.open(null);
      return { db, url: null, drop: () => db.close() };
    },
  },
];
