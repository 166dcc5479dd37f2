// Composition root: read the settings, start the server, shut down cleanly on SIGTERM/SIGINT. A start-up
// failure is one line on stderr and a non-zero exit (2: fix a setting or stop another process; 1: other),
// with the stack only at LOG_LEVEL=debug or trace.
import { describeSettings, loadEnvironment, parseSettings, type Settings } from './config/settings.js';
import { createLogger } from './config/logger.js';
import { startServer, type RunningServer } from './server.js';
import { describeStartupFailure } from './startup.js';

function exitWithLine(line: string, exitCode: number, detail?: string): never {
  process.stderr.write(`tetcore-analytics: ${line}\n${detail ? `${detail}\n` : ''}`);
  process.exit(exitCode);
}

async function main(): Promise<void> {
  let settings: Settings;
  try {
    settings = parseSettings(loadEnvironment());
  } catch (error) {
    exitWithLine((error as Error).message, 2);
  }
  const log = createLogger(settings);
  log.debug({ settings: describeSettings(settings) }, 'settings');
  let server: RunningServer;
  try {
    server = await startServer(settings, log);
  } catch (error) {
    const { line, exitCode } = describeStartupFailure(error);
    const verbose = settings.logLevel === 'debug' || settings.logLevel === 'trace';
    exitWithLine(line, exitCode, verbose ? String((error as Error)?.stack ?? error) : undefined);
  }

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

main().catch((error) => exitWithLine(describeStartupFailure(error).line, 1));
