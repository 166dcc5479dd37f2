// SIGTERM on a real server process: messages sent just before it are all in the database after exit 0.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPostgresDatabase } from './helpers/backends.js';
import { startServerProcess } from './helpers/process.js';
import { connectNode } from './helpers/fixtures.js';
import { EmbeddedDatabase } from '../src/storage/embedded.js';
import { PostgresDatabase } from '../src/storage/postgres.js';
import type { Database } from '../src/storage/database.js';

const MESSAGES = 2_000;

async function streamThenTerminate(env: Record<string, string>): Promise<{ code: number | null; lines: string[] }> {
  const server = await startServerProcess(env);
  const nodes = await Promise.all([1, 2, 3, 4].map(() => connectNode(`ws://127.0.0.1:${server.port}/`)));
  const frames = (n: number) => Array.from({ length: MESSAGES / 4 }, (_, i) => `{"id":1,"ts":"2021-06-23T01:02:03.${String(i).padStart(6, '0')}+00:00","payload":{"height":${n * 100000 + i},"msg":"block.import"}}`);
  await Promise.all(nodes.map((node, n) => node.send(...frames(n))));
  server.child.kill('SIGTERM');
  const code = await server.exited;
  return { code, lines: server.lines };
}

async function storedRows(db: Database): Promise<{ rows: number; distinct: number }> {
  const r = await db.query<{ rows: number; distinct: number }>(`SELECT count(*) AS rows, count(DISTINCT logs->>'height') AS distinct FROM substrate_logs`);
  return r.rows[0];
}

describe('graceful shutdown', () => {
  it('embedded database on disk: SIGTERM flushes everything, exit code 0', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'tetcore-data-'));
    try {
      const { code, lines } = await streamThenTerminate({ DATA_DIR: dataDir });
      assert.equal(code, 0, lines.slice(-5).join('\n'));
      const db = await EmbeddedDatabase.open(dataDir);
      try {
        assert.deepEqual(await storedRows(db), { rows: MESSAGES, distinct: MESSAGES });
        console.log(`shutdown (embedded): ${MESSAGES} sent just before SIGTERM, ${MESSAGES} stored, exit 0`);
      } finally {
        await db.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL: SIGTERM flushes everything, exit code 0', async () => {
    const database = await createPostgresDatabase();
    try {
      const { code, lines } = await streamThenTerminate({ DATABASE_URL: database.url });
      assert.equal(code, 0, lines.slice(-5).join('\n'));
      const db = new PostgresDatabase({ url: database.url, poolSize: 2, maxWriters: 1 });
      try {
        assert.deepEqual(await storedRows(db), { rows: MESSAGES, distinct: MESSAGES });
        console.log(`shutdown (postgres): ${MESSAGES} sent just before SIGTERM, ${MESSAGES} stored, exit 0`);
      } finally {
        await db.close();
      }
    } finally {
      await database.drop();
    }
  });
});
