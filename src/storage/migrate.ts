// Applies the SQL migrations in ./migrations with postgrator, inside one transaction that holds an
// advisory lock, so instances starting together apply them once and never see a half-migrated schema.
import { fileURLToPath } from 'node:url';
import { readdir } from 'node:fs/promises';
import Postgrator from 'postgrator';
import type { Database } from './database.js';
import { AppError } from '../errors.js';
import { MIGRATION_LOCK_KEY } from './locks.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
export const MIGRATION_TABLE = 'tetcore_analytics_migrations';

export interface MigrationResult {
  applied: string[];
  version: number;
}

/** `target`: migrate up to this version only (tests of a migration start from the schema before it). */
export async function migrate(db: Database, target?: number): Promise<MigrationResult> {
  try {
    return await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      // postgrator finds its table by catalog name: it must be the real database's name.
      const database = (await tx.query<{ name: string }>('SELECT current_database() AS name')).rows[0].name;
      const postgrator = new Postgrator({
        migrationPattern: `${MIGRATIONS_DIR.replaceAll('\\', '/')}*.sql`,
        driver: 'pg',
        database,
        schemaTable: MIGRATION_TABLE,
        execQuery: (sql: string) => tx.query(sql),
        execSqlScript: (sql: string) => tx.exec(sql),
      });
      const applied = await postgrator.migrate(target === undefined ? undefined : String(target));
      const version = Number(await postgrator.getDatabaseVersion());
      // postgrator only moves forward from the highest version applied: a migration numbered below it
      // that was added later would be skipped silently. Refuse to start instead.
      const done = new Set((await tx.query<{ version: string | number }>(`SELECT version FROM ${MIGRATION_TABLE}`)).rows.map((r) => Number(r.version)));
      const skipped = (await migrationVersions()).filter((v) => v <= version && !done.has(v));
      if (skipped.length > 0) throw new Error(`migrations ${skipped.join(', ')} are numbered below the database's version ${version} but were never applied; renumber them above ${version}`);
      return { applied: applied.map((m) => `${m.version}.${m.name}`), version };
    });
  } catch (error) {
    throw new AppError('MIGRATION_FAILED', `database migration failed: ${(error as Error).message}`, { cause: error });
  }
}

async function migrationVersions(): Promise<number[]> {
  return (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).map((f) => Number(f.split('.')[0])).filter(Number.isFinite);
}

/** The highest migration version present in the repository (what `/ready` expects). */
export async function latestMigrationVersion(): Promise<number> {
  return Math.max(0, ...(await migrationVersions()));
}
