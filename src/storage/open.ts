// Chooses the database backend from the settings: DATABASE_URL, or the embedded database in DATA_DIR.
import type { Settings } from '../config/settings.js';
import type { Database } from './database.js';
import { PostgresDatabase } from './postgres.js';
import { EmbeddedDatabase } from './embedded.js';

export async function openDatabase(settings: Pick<Settings, 'databaseUrl' | 'dataDir' | 'dbPoolSize' | 'dbWriters'>): Promise<Database> {
  if (settings.databaseUrl) {
    return new PostgresDatabase({ url: settings.databaseUrl, poolSize: settings.dbPoolSize, maxWriters: Math.min(settings.dbWriters, settings.dbPoolSize - 1) });
  }
  return EmbeddedDatabase.open(settings.dataDir);
}
