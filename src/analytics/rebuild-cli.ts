// `npm run analytics:rebuild [-- --since TIME] [--until TIME]`: recomputes the network-analytics tables
// from the stored messages of the configured database (DATABASE_URL, or the embedded one in DATA_DIR),
// with a progress bar and an ETA on stderr and a summary on stdout. Times as the query API takes them.
import { parseArgs } from 'node:util';
import { loadEnvironment, parseSettings, type Settings } from '../config/settings.js';
import { openDatabases } from '../storage/open.js';
import { migrate } from '../storage/migrate.js';
import { parseTime, TIME_EXPECTED } from '../domain/time.js';
import { rebuildAnalytics, type RebuildProgress } from './rebuild.js';

const USAGE = `npm run analytics:rebuild [-- --since TIME] [--until TIME]
  Recomputes block arrivals, finality reports, blocks, finalized heights and block summaries from the
  messages with created_at in [since, until) (default: all of them, up to now). TIME: ${TIME_EXPECTED}.`;

function timeArg(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const parsed = parseTime(value);
  if (parsed === null) {
    process.stderr.write(`--${name}: expected ${TIME_EXPECTED}, got ${JSON.stringify(value)}\n\n${USAGE}\n`);
    process.exit(2);
  }
  return parsed;
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** One line: bar, share, messages/s, ETA; redrawn in place on a terminal, else printed every 10 %. */
function progressPrinter(): (p: RebuildProgress) => void {
  const tty = process.stderr.isTTY;
  let lastDecile = -1;
  return (p) => {
    const width = 30;
    const filled = Math.round(p.fraction * width);
    const done = p.messages * p.fraction;
    const rate = p.elapsedMs > 0 ? Math.round((done / p.elapsedMs) * 1000) : 0;
    const eta = p.fraction > 0 && p.fraction < 1 ? ` ETA ${duration((p.elapsedMs * (1 - p.fraction)) / p.fraction)}` : '';
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(p.fraction * 100).toFixed(1).padStart(5)} % ${p.phase}: ~${Math.round(done).toLocaleString('en')} of ${p.messages.toLocaleString('en')} messages, ${rate.toLocaleString('en')}/s, ${p.arrivals.toLocaleString('en')} arrivals, ${p.reports.toLocaleString('en')} finality reports, ${duration(p.elapsedMs)}${eta}`;
    if (tty) process.stderr.write(`\r${line}\x1b[K${p.phase === 'done' ? '\n' : ''}`);
    else {
      const decile = Math.floor(p.fraction * 10);
      if (decile !== lastDecile || p.phase !== 'deriving') process.stderr.write(`${line}\n`);
      lastDecile = decile;
    }
  };
}

const { values } = parseArgs({ options: { since: { type: 'string' }, until: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const since = timeArg('since', values.since);
const until = timeArg('until', values.until);
if (since !== undefined && until !== undefined && since >= until) {
  process.stderr.write(`--since must be before --until\n`);
  process.exit(2);
}
let settings: Settings;
try {
  settings = parseSettings(loadEnvironment());
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}
const databases = await openDatabases(settings);
try {
  await migrate(databases.ingest);
  const result = await rebuildAnalytics(databases.ingest, { since, until, onProgress: progressPrinter() });
  const rate = Math.round(result.messages / Math.max(0.001, result.elapsedMs / 1000));
  process.stdout.write(
    `rebuilt [${result.since}, ${result.until}): ${result.messages.toLocaleString('en')} messages in ${duration(result.elapsedMs)} (${rate.toLocaleString('en')} messages/s); ` +
      `${result.arrivals.toLocaleString('en')} arrivals, ${result.reports.toLocaleString('en')} finality reports (deleted before: ${result.arrivalsDeleted.toLocaleString('en')}, ${result.reportsDeleted.toLocaleString('en')}); ` +
      `${result.blocks.toLocaleString('en')} blocks, ${result.heights.toLocaleString('en')} finalized heights, ${result.summarized.toLocaleString('en')} blocks summarized\n`,
  );
} finally {
  await databases.close();
}
