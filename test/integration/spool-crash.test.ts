// kill -9 of a real server process with the disk spool, on both databases: every message the server
// counted as received before the kill is stored after the restart, none twice (docs/spool.md#durability).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPostgresDatabase } from '../helpers/backends.js';
import { waitFor } from '../helpers/server.js';
import { connectNode, type TestNode } from '../helpers/fixtures.js';
import { startServerProcess, type ServerProcess } from '../helpers/process.js';
import { StreamingNode } from '../helpers/streaming-node.js';
import { PostgresDatabase } from '../../src/storage/postgres.js';
import { EmbeddedDatabase } from '../../src/storage/embedded.js';
import type { Database } from '../../src/storage/database.js';

const NODES = 5;
const PER_NODE = 200;

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const match = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  return match === null ? 0 : Number(match[1]);
}

/** A database for a server process: PostgreSQL (a fresh database) or embedded (a fresh DATA_DIR). */
interface ProcessBackend {
  name: string;
  env: Record<string, string>;
  /** Opened once the server process stopped (the embedded folder is the process's alone). */
  open(): Promise<Database>;
  drop(): Promise<void>;
}

const PROCESS_BACKENDS: Array<{ name: string; make: () => Promise<ProcessBackend> }> = [
  {
    name: 'postgres',
    make: async () => {
      const database = await createPostgresDatabase();
      return { name: 'postgres', env: { DATABASE_URL: database.url }, open: async () => new PostgresDatabase({ url: database.url, poolSize: 2, maxWriters: 1 }), drop: () => database.drop() };
    },
  },
  {
    name: 'embedded',
    make: async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'tetcore-spool-data-'));
      return { name: 'embedded', env: { DATA_DIR: dir }, open: () => EmbeddedDatabase.open(dir), drop: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
];

async function counts(db: Database): Promise<{ rows: number; distinct: number }> {
  const row = (await db.query<{ rows: number; distinct: number }>(`SELECT count(*)::int AS rows, count(DISTINCT logs->>'height')::int AS distinct FROM substrate_logs`)).rows[0];
  return { rows: Number(row.rows), distinct: Number(row.distinct) };
}

async function stop(server: ServerProcess, signal: NodeJS.Signals): Promise<void> {
  if (server.child.exitCode !== null) return;
  server.child.kill(signal);
  await server.exited;
}

for (const { name, make } of PROCESS_BACKENDS) {
  describe(`spool crash (${name})`, () => {
    it('kill -9 with everything still buffered (DB_SAVE_LATENCY_MS=5000): after the restart exactly the N received messages are stored', { timeout: 120_000 }, async () => {
      const backend = await make();
      const spoolDir = mkdtempSync(path.join(os.tmpdir(), 'tetcore-spool-'));
      const env = { ...backend.env, SPOOL_DIR: spoolDir, DB_SAVE_LATENCY_MS: '5000', DB_BATCH_SIZE: '100000' };
      let server = await startServerProcess(env);
      const nodes: TestNode[] = [];
      try {
        for (let n = 0; n < NODES; n++) nodes.push(await connectNode(`ws://127.0.0.1:${server.port}/`));
        await Promise.all(
          nodes.map((node, n) =>
            node.send(...Array.from({ length: PER_NODE }, (_, i) => `{"id":1,"ts":"${new Date().toISOString().replace('Z', '+00:00')}","payload":{"height":${n * 1_000_000 + i},"msg":"block.import"}}`)),
          ),
        );
        const received = NODES * PER_NODE;
        await waitFor(async () => (await metric(server.port, 'substrate_message_count')) === received, `${received} received`);
        assert.equal(await metric(server.port, 'tetcore_messages_stored_total'), 0, 'nothing written yet: all of it is only in memory and in the spool');
        await stop(server, 'SIGKILL');

        server = await startServerProcess({ ...env, DB_SAVE_LATENCY_MS: '100' });
        await waitFor(async () => (await metric(server.port, 'tetcore_messages_stored_total')) >= received, 'the spool replayed', 30_000);
        assert.equal(await metric(server.port, 'tetcore_spool_replayed_total'), received, 'every message came back from the spool');
        await stop(server, 'SIGTERM');
        const db = await backend.open();
        try {
          assert.deepEqual(await counts(db), { rows: received, distinct: received }, 'exactly the received messages, none twice');
          const nodeRows = Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM peer_connections')).rows[0].n);
          assert.equal(nodeRows, NODES, 'one connection row per node, rebuilt from the spool');
        } finally {
          await db.close();
        }
      } finally {
        for (const node of nodes) node.ws.terminate();
        await stop(server, 'SIGKILL');
        rmSync(spoolDir, { recursive: true, force: true });
        await backend.drop();
      }
    });

    it('kill -9 mid-stream while batches are being written: nothing received is lost, nothing stored twice', { timeout: 120_000 }, async () => {
      const backend = await make();
      const spoolDir = mkdtempSync(path.join(os.tmpdir(), 'tetcore-spool-'));
      const env = { ...backend.env, SPOOL_DIR: spoolDir, DB_SAVE_LATENCY_MS: '50', DB_BATCH_SIZE: '64' };
      let server = await startServerProcess(env);
      const streams = Array.from({ length: 10 }, (_, n) => new StreamingNode(`ws://127.0.0.1:${server.port}/`, n * 1_000_000, { intervalMs: 5, reconnectMs: 60_000 }));
      try {
        streams.forEach((s) => s.start());
        await waitFor(async () => (await metric(server.port, 'tetcore_messages_stored_total')) > 500, 'batches being written');
        const receivedBeforeKill = await metric(server.port, 'substrate_message_count');
        await stop(server, 'SIGKILL');
        streams.forEach((s) => s.stop());

        server = await startServerProcess(env);
        await waitFor(async () => (await fetch(`http://127.0.0.1:${server.port}/stats/ingest`).then((r) => r.json() as Promise<{ spool: { messages: number } }>)).spool.messages === 0, 'the spool settled', 30_000);
        await stop(server, 'SIGTERM');
        const db = await backend.open();
        try {
          const { rows, distinct } = await counts(db);
          assert.equal(rows, distinct, 'none stored twice');
          assert.ok(rows >= receivedBeforeKill, `${rows} stored, at least the ${receivedBeforeKill} received at the last look before the kill`);
          console.log(`spool crash (${backend.name}): ${receivedBeforeKill} received at the last look, ${rows} stored after the restart, no duplicates`);
        } finally {
          await db.close();
        }
      } finally {
        streams.forEach((s) => s.stop());
        await stop(server, 'SIGKILL');
        rmSync(spoolDir, { recursive: true, force: true });
        await backend.drop();
      }
    });
  });
}
