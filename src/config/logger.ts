// The process logger: pino at LOG_LEVEL, JSON lines or readable lines (LOG_FORMAT) on stdout, and no
// secret in any line: every line is masked before it is written, whatever logged it (our modules,
// fastify's request logging, error messages that quote a URL).
import { pino, type DestinationStream, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import type { Settings } from './settings.js';

export type LogFormat = 'json' | 'pretty' | 'auto';

/** Where lines go: stdout by default; tests pass a collector. `isTTY` decides LOG_FORMAT=auto. */
export interface LogOutput {
  write(line: string): void;
  isTTY?: boolean;
}

const MASK = '***';

/**
 * Masks what must never reach a log: `access_token=` query values, the password of any URL with
 * credentials (DATABASE_URL), a Bearer token, and each known secret verbatim, JSON-escaped or
 * percent-encoded (API_TOKEN, the database password).
 */
export function createMasker(secrets: readonly string[] = []): (text: string) => string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < 4) continue; // too short to find without masking ordinary text
    forms.add(secret);
    forms.add(JSON.stringify(secret).slice(1, -1));
    forms.add(encodeURIComponent(secret));
  }
  const known = [...forms].sort((a, b) => b.length - a.length);
  return (text) => {
    let masked = text
      .replace(/(access_token=)[^&\s"'#\\]+/gi, `$1${MASK}`)
      .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/"'\\]*:)[^\s@/"'\\]+@/gi, `$1${MASK}@`)
      .replace(/(\bBearer\s+)[A-Za-z0-9._~+/=-]+/g, `$1${MASK}`);
    for (const form of known) if (masked.includes(form)) masked = masked.split(form).join(MASK);
    return masked;
  };
}

/** The secrets of the settings, for createMasker. */
export function settingSecrets(settings: Pick<Settings, 'apiToken' | 'databaseUrl'>): string[] {
  const secrets: string[] = [];
  if (settings.apiToken !== null) secrets.push(settings.apiToken);
  if (settings.databaseUrl !== null) {
    try {
      const password = new URL(settings.databaseUrl).password;
      if (password) secrets.push(decodeURIComponent(password), password);
    } catch {
      // not a URL: settings.ts refuses those
    }
  }
  return secrets;
}

/** `auto`: readable lines on a terminal, JSON otherwise (files, pipes, journald, containers). */
export function resolveLogFormat(format: LogFormat, output: LogOutput): 'json' | 'pretty' {
  if (format !== 'auto') return format;
  return output.isTTY === true ? 'pretty' : 'json';
}

export function createLogger(
  settings: Pick<Settings, 'logLevel' | 'logFormat' | 'apiToken' | 'databaseUrl'>,
  output: LogOutput = stdoutOutput(),
): Logger {
  const mask = createMasker(settingSecrets(settings));
  const format = resolveLogFormat(settings.logFormat, output);
  let sink: LogOutput = output;
  if (format === 'pretty') {
    // pino-pretty's formatter called in-line (no transport thread, no stream): each line is written
    // before the call returns, so lines keep their order and none is lost at process.exit.
    const prettify = prettyFactory({
      colorize: output.isTTY === true,
      translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
      ignore: 'pid,hostname,service',
      singleLine: true,
    });
    sink = { write: (line) => output.write(prettify(line)) };
  }
  const stream: DestinationStream = { write: (line: string) => sink.write(mask(line)) };
  return pino({ level: settings.logLevel, base: { service: 'tetcore-analytics' } }, stream);
}

/** Synchronous writes to stdout, so that the last lines before process.exit are not lost. */
function stdoutOutput(): LogOutput {
  const destination = pino.destination({ dest: 1, sync: true });
  return { write: (line) => destination.write(line), isTTY: process.stdout.isTTY === true };
}
