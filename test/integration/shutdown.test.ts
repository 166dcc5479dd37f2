// SIGTERM on a real server process: messages sent just before it are all in the database after exit 0.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPostgresDatabase } from '../helpers/backends.js';
import { startServerProcess } from '../helpers/process.js';
import { connectNode } from '../helpers/fixtures.js';
import { EmbeddedDatabase } from '../../src/storage/embedded.js';
import { PostgresDatabase } from '../../src/storage/postgres.js';
import type { Database } from '../../src/storage/database.js';

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

/** Where a server process keeps its data, and how the test reads it back afterwards. */
interface Storage {
  name: string;
  create(): Promise<{ env: Record<string, string>; open(): Promise<Database>; remove(): Promise<void> }>;
}

const STORAGES: Storage[] = [
  {
    name: 'embedded database on disk',
    async create() {
      const dataDir = await mkdtemp(path.join(tmpdir(), 'tetcore-data-'));
      return { env: { DATA_DIR: dataDir }, open: () => EmbeddedDatabase.open(dataDir), remove: () => rm(dataDir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    async create() {
      const database = await createPostgresDatabase();
      return { env: { DATABASE_URL: database.url }, open: async () => new PostgresDatabase({ url: database.url, poolSize: 2, maxWriters: 1 }), remove: () => database.drop() };
    },
  },
];

describe('graceful shutdown', () => {
  for (const storage of STORAGES) {
    it(`${storage.name}: SIGTERM flushes everything, exit code 0`, async () => {
      const created = await storage.create();
      try {
        const { code, lines } = await streamThenTerminate(created.env);
        assert.equal(code, 0, lines.slice(-5).join('\n'));
        const db = await created.open();
        try {
          assert.deepEqual(await storedRows(db), { rows: MESSAGES, distinct: MESSAGES });
          console.log(`shutdown (${storage.name}): ${MESSAGES} sent just before SIGTERM, ${MESSAGES} stored, exit 0`);
        } finally {
          await db.close();
        }
      } finally {
        await created.remove();
      }
    });
  }
});
