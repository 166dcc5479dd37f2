// Composition root: read the settings, start the server, shut down cleanly on SIGTERM/SIGINT.
import { describeSettings, loadEnvironment, parseSettings, type Settings } from './config/settings.js';
import { createLogger } from './config/logger.js';
import { startServer } from './server.js';

async function main(): Promise<void> {
  let settings: Settings;
  try {
    settings = parseSettings(loadEnvironment());
  } catch (error) {
    process.stderr.write(`tetcore-analytics: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const log = createLogger(settings.logLevel);
  log.info({ settings: describeSettings(settings) }, 'starting');
  const server = await startServer(settings, log);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: closing node connections and writing buffered messages');
    const lost = await server.close();
    process.exit(lost > 0 ? 1 : 0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error) => {
  process.stderr.write(`tetcore-analytics failed to start: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
