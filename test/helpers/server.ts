// Starts a real server instance (in this process) on a free port against a test database.
import { pino } from 'pino';
import { parseSettings, type Settings } from '../../src/config/settings.js';
import { startServer, type RunningServer, type StartOptions } from '../../src/server.js';
import type { TestBackend } from './backends.js';

export interface TestServer extends RunningServer {
  settings: Settings;
  url(path?: string): string;
  httpUrl(path?: string): string;
  /** Closes the server (if still open) and drops the database. */
  dispose(): Promise<void>;
}

/**
 * Settings of a server started by a test: on a free loopback port, silent, and without a disk spool unless
 * the test names one (SPOOL_DIR): tests run side by side, and two servers on the default folder meet its lock.
 */
export function testSettings(env: Record<string, string> = {}): Settings {
  return parseSettings({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', SPOOL_DIR: '', ...env });
}

/** `options.clock`: the clock of partition maintenance and purge (default: the real one). */
export async function startTestServer(backend: TestBackend, env: Record<string, string> = {}, options: Pick<StartOptions, 'clock'> = {}): Promise<TestServer> {
  const created = await backend.create();
  const settings = testSettings({ DB_SAVE_LATENCY_MS: '20', ...env, ...(created.url ? { DATABASE_URL: created.url } : {}) });
  // PostgreSQL: the server opens its own pools (queries and ingestion apart), as in production.
  if (created.url) await created.db.close();
  const server = await startServer(settings, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), { ...options, ...(created.url ? {} : { db: created.db }) });
  let disposed = false;
  return {
    ...server,
    settings,
    url: (path = '/') => `ws://127.0.0.1:${server.port}${path}`,
    httpUrl: (path = '/') => `http://127.0.0.1:${server.port}${path}`,
    async dispose() {
      if (disposed) return;
      disposed = true;
      await server.close().catch(() => {});
      await created.drop();
    },
  };
}

/** Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T> | T, what: string, timeoutMs = 15_000): Promise<Exclude<T, null | undefined | false | 0 | ''>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, null | undefined | false | 0 | ''>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
