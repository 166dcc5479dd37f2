// npm run bench -- copy: the database side alone. Raw COPY of realistic rows (simulator frames parsed by
// the server's parser) into substrate_logs, in variants run in turn and repeated (A B C … A B C …) so the
// machine's noise spreads over all of them: batch size, concurrent sessions, COPY text vs binary, the
// exactly-once marker transaction, and the cost of each index, the foreign key and the generated column.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import { PostgresDatabase } from '../src/storage/postgres.js';
import { migrate } from '../src/storage/migrate.js';
import { parseFrame } from '../src/ingest/frame.js';
import { copyLogs, copyLogsOnce, type LogRow } from '../src/storage/substrate-logs.js';
import { ensurePartitions } from '../src/storage/partitions.js';
import { frame, formatTs, buildNetworkStateTemplate, networkStateFrame } from '../src/simulator/messages.js';
import * as m from '../src/simulator/messages.js';
import { createPostgresDatabase, databaseName, round } from './lib/db.js';
import { PostgresCpu } from './lib/proc.js';
import { table, save } from './lib/report.js';

export const COPY_USAGE = `copy [--seconds 6] [--rounds 2] [--rows 20000] [--network-state-kb 22] [--only a,b,…]
  Raw COPY variants on the database alone (rows/s, database CPU per row).`;

const options = {
  seconds: { type: 'string', default: '6' },
  rounds: { type: 'string', default: '2' },
  rows: { type: 'string', default: '20000' },
  'network-state-kb': { type: 'string', default: '22' },
  only: { type: 'string' },
} satisfies ParseArgsConfig['options'];

/** Rows of the verbosity-0 mix in its natural proportions, as the parser makes them. */
function realisticRows(count: number, networkStateKb: number, peers: number[]): LogRow[] {
  const template = buildNetworkStateTemplate(networkStateKb * 1000);
  const rows: LogRow[] = [];
  const hash = (n: number) => m.hashHex('bench', n);
  for (let i = 0; rows.length < count; i++) {
    const ts = formatTs(BigInt(Date.now()) * 1_000_000n + BigInt(i));
    // Per 30 s: 6 + 5 interval parts, 10 block imports, 10 finalized, 1 network state.
    const k = i % 32;
    const text =
      k === 0
        ? networkStateFrame(template, 1, ts, m.peerIdFor(`p${i % 100}`))
        : k <= 6
          ? frame(1, ts, m.intervalChainPart({ best: hash(i), finalizedHash: hash(i - 2), finalizedHeight: i - 2, height: i, txcount: 0, usedStateCacheSize: 8376854 }))
          : k <= 11
            ? frame(1, ts, m.intervalNetworkPart({ bandwidthDownload: 18374, bandwidthUpload: 21973, peers: 25 }))
            : k <= 21
              ? frame(1, ts, m.blockImport(hash(i), i, 'NetworkBroadcast'))
              : frame(1, ts, m.notifyFinalized(hash(i), i));
    const parsed = parseFrame(Buffer.from(text));
    rows.push({ createdAt: parsed.row!.createdAt, logs: parsed.row!.logs, peerConnectionId: peers[i % peers.length], audit: false });
  }
  return rows;
}

const PG_EPOCH_US = BigInt(Date.UTC(2000, 0, 1)) * 1000n;

/** COPY BINARY encoding of (created_at timestamp, logs jsonb, peer_connection_id int4, audit bool). */
export function encodeCopyBinary(rows: readonly LogRow[]): Buffer {
  let size = 19 + 2;
  const lengths = rows.map((r) => Buffer.byteLength(r.logs));
  for (const n of lengths) size += 2 + 4 + 8 + 4 + 1 + n + 4 + 4 + 4 + 1;
  const out = Buffer.allocUnsafe(size);
  out.write('PGCOPY\n\xff\r\n\0', 0, 'latin1');
  out.writeInt32BE(0, 11);
  out.writeInt32BE(0, 15);
  let o = 19;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    out.writeInt16BE(4, o);
    const [whole, fraction = '0'] = r.createdAt.split('.');
    const us = BigInt(Date.parse(`${whole.replace(' ', 'T')}Z`)) * 1000n + BigInt(fraction.padEnd(6, '0').slice(0, 6)) - PG_EPOCH_US;
    out.writeInt32BE(8, o + 2);
    out.writeBigInt64BE(us, o + 6);
    o += 14;
    out.writeInt32BE(lengths[i] + 1, o);
    out.writeUInt8(1, o + 4); // jsonb binary format version
    o += 5 + out.write(r.logs, o + 5, 'utf8');
    out.writeInt32BE(4, o);
    out.writeInt32BE(r.peerConnectionId, o + 4);
    out.writeInt32BE(1, o + 8);
    out.writeUInt8(r.audit ? 1 : 0, o + 12);
    o += 13;
  }
  out.writeInt16BE(-1, o);
  return out.subarray(0, o + 2);
}

async function copyBinary(db: PostgresDatabase, rows: readonly LogRow[]): Promise<number> {
  const client = await db.pool.connect();
  try {
    const stream = client.query(copyFrom('COPY substrate_logs (created_at, logs, peer_connection_id, audit) FROM STDIN (FORMAT binary)'));
    await pipeline(Readable.from([encodeCopyBinary(rows)]), stream);
    return stream.rowCount ?? 0;
  } finally {
    client.release();
  }
}

interface Variant {
  name: string;
  batch: number;
  connections: number;
  write: (db: PostgresDatabase, rows: LogRow[]) => Promise<number>;
  /** Schema change before / undone after (run on a database of its own). */
  setup?: string;
  teardown?: string;
}

const text = (db: PostgresDatabase, rows: LogRow[]) => copyLogs(db, rows);
const once = (db: PostgresDatabase, rows: LogRow[]) => copyLogsOnce(db, randomUUID(), rows);

const VARIANTS: Variant[] = [
  { name: 'writer path (copyLogsOnce), 1024 × 2', batch: 1024, connections: 2, write: once },
  { name: 'plain COPY text, 1024 × 2', batch: 1024, connections: 2, write: text },
  { name: 'plain COPY text, 1024 × 1', batch: 1024, connections: 1, write: text },
  { name: 'plain COPY text, 1024 × 4', batch: 1024, connections: 4, write: text },
  { name: 'plain COPY text, 128 × 2', batch: 128, connections: 2, write: text },
  { name: 'plain COPY text, 4096 × 2', batch: 4096, connections: 2, write: text },
  { name: 'COPY binary, 1024 × 2', batch: 1024, connections: 2, write: copyBinary },
  {
    name: 'no foreign key, 1024 × 2', batch: 1024, connections: 2, write: text,
    setup: 'ALTER TABLE substrate_logs DROP CONSTRAINT substrate_logs_peer_connection_id_fkey',
    teardown: 'ALTER TABLE substrate_logs ADD CONSTRAINT substrate_logs_peer_connection_id_fkey FOREIGN KEY (peer_connection_id) REFERENCES peer_connections (id)',
  },
  {
    name: 'no (peer, msg, created_at) index, 1024 × 2', batch: 1024, connections: 2, write: text,
    setup: 'DROP INDEX substrate_logs_peer_msg_created_idx',
    teardown: 'CREATE INDEX substrate_logs_peer_msg_created_idx ON substrate_logs (peer_connection_id, msg, created_at)',
  },
  {
    name: 'no (peer, created_at) index, 1024 × 2', batch: 1024, connections: 2, write: text,
    setup: 'DROP INDEX substrate_logs_peer_created_idx',
    teardown: 'CREATE INDEX substrate_logs_peer_created_idx ON substrate_logs (peer_connection_id, created_at)',
  },
  {
    name: 'no indexes, no foreign key, 1024 × 2', batch: 1024, connections: 2, write: text,
    setup: 'ALTER TABLE substrate_logs DROP CONSTRAINT substrate_logs_peer_connection_id_fkey; DROP INDEX substrate_logs_peer_msg_created_idx; DROP INDEX substrate_logs_peer_created_idx; DROP INDEX substrate_logs_network_state_idx',
    teardown: 'ALTER TABLE substrate_logs ADD CONSTRAINT substrate_logs_peer_connection_id_fkey FOREIGN KEY (peer_connection_id) REFERENCES peer_connections (id); CREATE INDEX substrate_logs_peer_msg_created_idx ON substrate_logs (peer_connection_id, msg, created_at); CREATE INDEX substrate_logs_peer_created_idx ON substrate_logs (peer_connection_id, created_at); CREATE INDEX substrate_logs_network_state_idx ON substrate_logs (created_at) WHERE msg = \'system.network_state\'',
  },
];

export async function copy(argv: string[]): Promise<void> {
  const { values: a } = parseArgs({ args: argv, options });
  const only = a.only ? a.only.split(',').map(Number) : null;
  const variants = VARIANTS.filter((_, i) => only === null || only.includes(i));
  const seconds = Number(a.seconds);
  const created = await createPostgresDatabase();
  const db = new PostgresDatabase({ url: created.url, poolSize: 6, maxWriters: 4, applicationName: 'tetcore-bench' });
  try {
    await migrate(db);
    await ensurePartitions(db, Date.now(), 24, 3); // as the server does at start (daily with the default expiry)
    const peers = (await db.query<{ id: number }>(`INSERT INTO peer_connections (ip_addr) SELECT '10.0.0.' || i FROM generate_series(1, 200) i RETURNING id`)).rows.map((r) => r.id);
    const rows = realisticRows(Number(a.rows), Number(a['network-state-kb']), peers);
    const bytes = rows.reduce((n, r) => n + r.logs.length, 0) / rows.length;
    console.log(`copy: ${rows.length} rows of the verbosity-0 mix (${Math.round(bytes)} B average), ${seconds} s per variant, ${a.rounds} rounds`);
    const results = new Map<string, Array<{ rowsPerSecond: number; dbCpuUsPerRow: number }>>();
    for (let round_ = 0; round_ < Number(a.rounds); round_++) {
      for (const v of variants) {
        if (v.setup) await db.exec(v.setup);
        try {
          const batches: LogRow[][] = [];
          for (let i = 0; i < rows.length; i += v.batch) batches.push(Array.from({ length: v.batch }, (_, k) => rows[(i + k) % rows.length]));
          let copied = 0;
          let next = 0;
          const cpu = new PostgresCpu(databaseName(created.url), 250).start();
          const t0 = performance.now();
          await Promise.all(
            Array.from({ length: v.connections }, async () => {
              while (performance.now() - t0 < seconds * 1000) {
                const n = await v.write(db, batches[next++ % batches.length]);
                copied += n;
              }
            }),
          );
          const elapsed = (performance.now() - t0) / 1000;
          const dbCpu = cpu.stop();
          const list = results.get(v.name) ?? [];
          list.push({ rowsPerSecond: copied / elapsed, dbCpuUsPerRow: (dbCpu / copied) * 1e6 });
          results.set(v.name, list);
          console.log(`  ${v.name}: ${Math.round(copied / elapsed)} rows/s, ${round((dbCpu / copied) * 1e6, 1)} µs database CPU per row`);
        } finally {
          if (v.teardown) await db.exec(v.teardown);
        }
        // Keep the table from growing without bound between variants (the same partition every time).
        await db.exec('TRUNCATE ingest_batches');
        await db.exec(`DO $$ DECLARE p text; BEGIN FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'substrate_logs_expiring'::regclass LOOP EXECUTE 'TRUNCATE ' || p; END LOOP; END $$`);
        await db.exec('VACUUM ANALYZE peer_connections');
      }
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    const base = median(results.get(variants[0].name)!.map((r) => r.rowsPerSecond));
    const rowsOut = variants.map((v) => {
      const list = results.get(v.name)!;
      const rate = median(list.map((r) => r.rowsPerSecond));
      return { variant: v.name, 'rows/s (median)': Math.round(rate), 'runs': list.map((r) => Math.round(r.rowsPerSecond)).join(' / '), [`vs ${variants[0].name.split(',')[0]}`]: round(rate / base, 2), 'db CPU µs/row': round(median(list.map((r) => r.dbCpuUsPerRow)), 1) };
    });
    table('raw COPY variants (same rows, same table)', rowsOut);
    save('copy', { command: `npm run bench -- copy ${argv.join(' ')}`.trim(), options: a, averageRowBytes: Math.round(bytes), variants: rowsOut });
  } finally {
    await db.close();
    await created.drop();
  }
}
