// `npm run migrate`: applies the migrations to the configured database and exits.
import { loadEnvironment, parseSettings } from '../config/settings.js';
import { openDatabases } from './open.js';
import { migrate } from './migrate.js';

const settings = parseSettings(loadEnvironment());
const databases = await openDatabases(settings);
const db = databases.ingest;
try {
  const result = await migrate(db);
  process.stdout.write(`${db.kind} database at migration ${result.version}; applied now: ${result.applied.join(', ') || 'none'}\n`);
} finally {
  await databases.close();
}
