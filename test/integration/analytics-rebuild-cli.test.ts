// `npm run analytics:rebuild` as its own process, on PostgreSQL (DATABASE_URL) and the embedded database
// (DATA_DIR): derives the facts of stored messages, reports progress on stderr and a summary on stdout;
// refuses a bad time with exit code 2 naming the option.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPostgresDatabase } from '../helpers/backends.js';
import { ROOT } from '../helpers/process.js';
import { PostgresDatabase } from '../../src/storage/postgres.js';
import { EmbeddedDatabase } from '../../src/storage/embedded.js';
import type { Database } from '../../src/storage/database.js';
import { migrate } from '../../src/storage/migrate.js';
import { ensurePartitions } from '../../src/storage/partitions.js';

/** The environment without a database setting of its own (the test names one). */
function withoutDatabase(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { DATABASE_URL: _url, DATA_DIR: _dir, ...rest } = env;
  return rest;
}

function rebuildCli(env: Record<string, string>, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/analytics/rebuild-cli.ts', ...args], {
      cwd: ROOT,
      env: { ...withoutDatabase(process.env), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function storeMessages(db: Database): Promise<void> {
  await migrate(db);
  // The time partitions of the messages' hour (a server prepares them at start; there is no DEFAULT partition).
  await ensurePartitions(db, Date.parse('2024-01-01T00:00:00Z'), 1, 3);
  await db.query(
    `INSERT INTO peer_connections (id, ip_addr, peer_id, name, chain, genesis_hash, created_at, disconnected_at)
     VALUES (1, '10.0.0.1:1', '12D3KooWCliA', 'a', 'Development', '0x01', '2024-01-01', '2024-01-02'),
            (2, '10.0.0.2:1', '12D3KooWCliB', 'b', 'Development', '0x01', '2024-01-01', '2024-01-02')`,
  );
  const row = (id: number, at: string, logs: object) => `('${at}', '${JSON.stringify(logs)}', ${id}, false)`;
  await db.query(
    `INSERT INTO substrate_logs (created_at, logs, peer_connection_id, audit) VALUES
       ${row(1, '2024-01-01 00:00:01', { msg: 'system.connected', chain: 'Development', genesis_hash: '0x01', network_id: '12D3KooWCliA' })},
       ${row(1, '2024-01-01 00:00:02', { msg: 'block.import', best: '0xaa', height: 5, origin: 'Own' })},
       ${row(2, '2024-01-01 00:00:02.300', { msg: 'block.import', best: '0xaa', height: '5', origin: 'NetworkBroadcast' })},
       ${row(2, '2024-01-01 00:00:04', { msg: 'notify.finalized', best: '0xaa', height: '5' })},
       ${row(2, '2024-01-01 00:00:05', { msg: 'txpool.import', ready: 1 })}`,
  );
}

const BACKENDS = [
  {
    name: 'postgres',
    async prepare() {
      const created = await createPostgresDatabase();
      const db = new PostgresDatabase({ url: created.url, poolSize: 2, maxWriters: 1 });
      await storeMessages(db);
      await db.close();
      return {
        env: { DATABASE_URL: created.url },
        open: async () => new PostgresDatabase({ url: created.url, poolSize: 2, maxWriters: 1 }) as Database,
        drop: () => created.drop(),
      };
    },
  },
  {
    name: 'embedded',
    async prepare() {
      const dir = await mkdtemp(path.join(tmpdir(), 'tetcore-rebuild-'));
      const db = await EmbeddedDatabase.open(dir);
      await storeMessages(db);
      await db.close();
      return { env: { DATA_DIR: dir }, open: async () => (await EmbeddedDatabase.open(dir)) as Database, drop: () => rm(dir, { recursive: true, force: true }) };
    },
  },
];

for (const backend of BACKENDS) {
  describe(`npm run analytics:rebuild (${backend.name})`, () => {
    it('rebuilds the tables from the stored messages, with progress on stderr and a summary on stdout', async () => {
      const prepared = await backend.prepare();
      try {
        const bad = await rebuildCli(prepared.env, ['--since', 'last tuesday']);
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /--since: expected a time like/);

        const run = await rebuildCli(prepared.env, ['--since', '2024-01-01T00:00:00', '--until', '2024-01-02T00:00:00']);
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stdout, /rebuilt \[2024-01-01 00:00:00\.000000, 2024-01-02 00:00:00\.000000\): 5 messages .* 2 arrivals, 1 finality reports .* 1 blocks, 1 finalized heights, 1 blocks summarized/);
        assert.match(run.stderr, /deriving/);
        assert.match(run.stderr, /100\.0 % done/);
        const db = await prepared.open();
        try {
          const blocks = await db.query<{ first_seen_peer_id: string; propagation_max_ms: number; nodes_reported: number }>(`SELECT first_seen_peer_id, propagation_max_ms, nodes_reported FROM blocks`);
          assert.deepEqual(blocks.rows, [{ first_seen_peer_id: '12D3KooWCliA', propagation_max_ms: 300, nodes_reported: 2 }]);
          const heights = await db.query<{ height: number; first_reported_at: string }>(`SELECT height, first_reported_at FROM finalized_heights`);
          assert.deepEqual(heights.rows, [{ height: 5, first_reported_at: '2024-01-01 00:00:04' }]);
        } finally {
          await db.close();
        }
      } finally {
        await prepared.drop();
      }
    });
  });
}
