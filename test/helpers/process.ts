// Runs the server as its own process (as `npm start` would), for tests of signals, crashes and clusters.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import net from 'node:net';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** Everything the process logged on stdout so far. */
  lines: string[];
}

/** Starts `src/main.ts` (or `entry`), resolving once it listens. PORT defaults to a free one. */
export async function startServerProcess(env: Record<string, string>, entry: string[] = ['--import', 'tsx', 'src/main.ts']): Promise<ServerProcess> {
  const child = spawn(process.execPath, entry, {
    cwd: ROOT,
    // No disk spool unless the test gives one (SPOOL_DIR): tests run side by side, one folder each.
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', SPOOL_DIR: '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (!line.includes('tetcore-analytics listening')) return;
      try {
        resolve(JSON.parse(line).port);
      } catch {
        // not a JSON log line
      }
    });
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening:\n${lines.slice(-10).join('\n')}`)));
  });
  return { child, port, exited, lines };
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}
