// Start-up concerns that no part owns: the listening address is taken before the database is opened
// (so a port in use is reported before anything touches the data), and every start-up failure becomes
// one line for the operator, naming the setting to change.
import net from 'node:net';
import type { Settings } from './config/settings.js';
import { maskUrl } from './config/settings.js';
import { AppError } from './errors.js';

/** The address, held by a bare listening socket until the HTTP server takes it over. */
export interface PortReservation {
  /** The port actually held (PORT=0 picks a free one). */
  port: number;
  /** Frees the port; call right before the HTTP server listens on it. Idempotent. */
  release(): Promise<void>;
}

/** Maps a listen error to the one-line explanation naming HOST or PORT. */
export function listenError(error: NodeJS.ErrnoException, host: string, port: number): AppError {
  const where = `${host}:${port}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return new AppError('LISTEN_FAILED', `port ${port} is already in use on ${host} (PORT=${port}): stop the other process or set PORT to a free port`, { cause: error });
    case 'EACCES':
      return new AppError('LISTEN_FAILED', `no permission to listen on ${where} (PORT=${port}): ports below 1024 need root or CAP_NET_BIND_SERVICE; choose a higher PORT`, { cause: error });
    case 'EADDRNOTAVAIL':
      return new AppError('LISTEN_FAILED', `${host} is not an address of this machine (HOST=${host}): use one of its addresses, or 0.0.0.0 for all`, { cause: error });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new AppError('LISTEN_FAILED', `HOST=${host} does not resolve to an address of this machine`, { cause: error });
    default:
      return new AppError('LISTEN_FAILED', `cannot listen on ${where} (HOST, PORT): ${error.message}`, { cause: error });
  }
}

export async function reservePort(host: string, port: number): Promise<PortReservation> {
  const holder = net.createServer();
  // Connections arriving while the database opens wait in the backlog or are closed; none is served.
  holder.on('connection', (socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    holder.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, host, port)));
    holder.listen({ host, port, exclusive: true }, () => resolve());
  });
  const address = holder.address();
  const held = typeof address === 'object' && address !== null ? address.port : port;
  let released: Promise<void> | null = null;
  return {
    port: held,
    release: () => (released ??= new Promise<void>((resolve) => holder.close(() => resolve()))),
  };
}

/** The database in use as logged at start: the masked DATABASE_URL, or the embedded database's folder. */
export function describeDatabase(settings: Pick<Settings, 'databaseUrl' | 'dataDir'>): string {
  return settings.databaseUrl !== null ? maskUrl(settings.databaseUrl) : `embedded (DATA_DIR=${settings.dataDir})`;
}

/** The URL the server answers on, as an operator would type it (all addresses: shown as localhost). */
export function listenUrl(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${port}`;
}

/** Errors the operator fixes with a setting or by stopping another process: exit code 2. */
const OPERATOR_ERRORS = new Set(['CONFIG_INVALID', 'DATA_DIR_IN_USE', 'LISTEN_FAILED']);

/** One line (no stack) and the exit code for a start-up failure. */
export function describeStartupFailure(error: unknown): { line: string; exitCode: number } {
  if (error instanceof AppError) return { line: error.message, exitCode: OPERATOR_ERRORS.has(error.code) ? 2 : 1 };
  const message = error instanceof Error ? error.message : String(error);
  return { line: `start-up failed: ${message.split('\n')[0]} (LOG_LEVEL=debug shows the stack)`, exitCode: 1 };
}
