// A real streaming replica of the local PostgreSQL (127.0.0.1:5432) for the read-replica tests and the
// query-flood benchmark: Debian's pg_basebackup -R into a temporary folder, started with pg_ctl on another
// loopback port as the postgres user. The primary must accept replication connections from 127.0.0.1:
// wal_level replica (Debian's default) and max_wal_senders > 0 need a restart, so they are only checked;
// a `host replication all 127.0.0.1/32 trust` line in pg_hba.conf is added when missing and the
// configuration reloaded (idempotent; .ci/run does the same, docs/scaling.md#read-replica).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { ADMIN_URL } from './backends.js';
import { freePort } from './process.js';

export interface Replica {
  port: number;
  /** The URL of `database` on the replica (same name as on the primary). */
  url(database: string): string;
  /** Pauses / resumes WAL replay: rows committed on the primary stay invisible here meanwhile (lag). */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Resolves once the replica has replayed everything the primary had written when called. */
  caughtUp(timeoutMs?: number): Promise<void>;
  /** Stops the replica (fast shutdown: sessions are cut). */
  stop(): void;
  /** Stops it if running and deletes its folder. */
  destroy(): void;
}

const REPLICATION_LINE = 'host replication all 127.0.0.1/32 trust';

async function adminQuery<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Checks what needs a restart, adds the pg_hba.conf line when missing; returns the server's bin folder. */
export async function allowReplication(): Promise<string> {
  const [settings] = await adminQuery<{ wal_level: string; senders: string; hba: string; major: string }>(
    ADMIN_URL,
    `SELECT current_setting('wal_level') AS wal_level, current_setting('max_wal_senders') AS senders, current_setting('hba_file') AS hba, current_setting('server_version_num')::int / 10000 AS major`,
  );
  if (!['replica', 'logical'].includes(settings.wal_level) || Number(settings.senders) < 1) {
    throw new Error(`the primary cannot stream to a replica: wal_level=${settings.wal_level}, max_wal_senders=${settings.senders} (set wal_level=replica and max_wal_senders ≥ 1 in postgresql.conf and restart it)`);
  }
  const hba = fs.readFileSync(settings.hba, 'utf8');
  const allowed = hba.split('\n').some((line) => line.trim().split(/\s+/).join(' ') === REPLICATION_LINE);
  if (!allowed) {
    fs.appendFileSync(settings.hba, `\n# added by tetcore-analytics tests (test/helpers/replica.ts): a local streaming replica\n${REPLICATION_LINE}\n`);
    await adminQuery(ADMIN_URL, 'SELECT pg_reload_conf()');
  }
  return `/usr/lib/postgresql/${settings.major}/bin`;
}

/** Runs a PostgreSQL tool as the postgres user (the server refuses to run as root). */
function asPostgres(bin: string, args: string[]): void {
  if (process.getuid?.() === 0) execFileSync('runuser', ['-u', 'postgres', '--', bin, ...args], { stdio: 'pipe' });
  else execFileSync(bin, args, { stdio: 'pipe' });
}

/** `nice`: CPU priority of the replica's processes (the query-flood benchmark: "another machine"). */
export async function startReplica(options: { nice?: number } = {}): Promise<Replica> {
  const bin = await allowReplication();
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tetcore-replica-'));
  const data = path.join(dir, 'data');
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres:postgres', dir]);
  const primary = new URL(ADMIN_URL);
  let running = false;
  const stop = () => {
    if (!running) return;
    running = false;
    asPostgres(`${bin}/pg_ctl`, ['-D', data, '-m', 'fast', '-w', 'stop']);
  };
  try {
    asPostgres(`${bin}/pg_basebackup`, ['-h', primary.hostname, '-p', primary.port || '5432', '-U', decodeURIComponent(primary.username || 'postgres'), '-D', data, '-R', '-X', 'stream', '-c', 'fast']);
    // Debian keeps the configuration in /etc: the copy gets a minimal one of its own.
    const conf = [`listen_addresses = '127.0.0.1'`, `port = ${port}`, `unix_socket_directories = '${dir}'`, 'hot_standby = on', 'max_connections = 200', 'shared_buffers = 64MB', 'fsync = off'];
    fs.writeFileSync(path.join(data, 'postgresql.conf'), `${conf.join('\n')}\n`);
    fs.writeFileSync(path.join(data, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 trust\n');
    if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
    asPostgres(`${bin}/pg_ctl`, ['-D', data, '-l', path.join(dir, 'log'), '-w', 'start']);
    running = true;
    if (options.nice) {
      // Backends forked later inherit the postmaster's priority; those running now are reniced with it.
      const postmaster = fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0].trim();
      const children = execFileSync('pgrep', ['-P', postmaster], { encoding: 'utf8' }).split('\n').filter(Boolean);
      execFileSync('renice', ['-n', String(Math.trunc(options.nice)), '-p', postmaster, ...children], { stdio: 'pipe' });
    }
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const url = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  // A process that ends without destroy() (a crash, an unhandled error) still leaves no cluster behind.
  const cleanUp = () => {
    try {
      stop();
    } catch {
      // already gone
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', cleanUp);
  return {
    port,
    url,
    async pauseReplay() {
      // A pause is a request: wait until the startup process has stopped replaying.
      await adminQuery(url('postgres'), 'SELECT pg_wal_replay_pause()');
      const deadline = Date.now() + 30_000;
      while ((await adminQuery<{ state: string }>(url('postgres'), 'SELECT pg_get_wal_replay_pause_state() AS state'))[0].state !== 'paused') {
        if (Date.now() > deadline) throw new Error('the replica did not pause its replay within 30 s');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    resumeReplay: async () => void (await adminQuery(url('postgres'), 'SELECT pg_wal_replay_resume()')),
    async caughtUp(timeoutMs = 60_000) {
      const [{ lsn }] = await adminQuery<{ lsn: string }>(ADMIN_URL, 'SELECT pg_current_wal_lsn()::text AS lsn');
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const [{ done }] = await adminQuery<{ done: boolean }>(url('postgres'), `SELECT coalesce(pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn, false) AS done`);
        if (done) return;
        if (Date.now() > deadline) throw new Error(`the replica did not replay up to ${lsn} within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    stop,
    destroy() {
      process.removeListener('exit', cleanUp);
      try {
        stop();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
