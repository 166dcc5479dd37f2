// Bulk export (GET /export/logs, /export/blocks) over real HTTP on PostgreSQL and the embedded database:
// row counts equal the database's, NDJSON lines parse, the CSV reads back with a strict RFC 4180 reader
// (this file's), the embedded database's pages come in (connection, created_at, id) order, parameters are validated
// (400 naming the parameter, 409 for an ambiguous chain), API_TOKEN applies, and a client that goes away
// mid-stream leaves no query running (pg_stat_activity).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { ensurePartitions } from '../../src/storage/partitions.js';
import { countExportLogs, countExportBlocks } from '../../src/storage/export.js';
import { EXPORT_PAGE_ROWS } from '../../src/api/export.js';
import { formatTimestamp } from '../../src/domain/time.js';

const PEER_A = '12D3KooWExportA';
const PEER_B = '12D3KooWExportB';
const G1 = '0x' + '11'.repeat(32);
const G2 = '0x' + '22'.repeat(32);

/** Strict RFC 4180: fields separated by commas, records by CRLF, quoted fields may hold anything with "" for a quote. */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let i = 0;
  while (i < text.length) {
    const record: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= text.length) throw new Error('unterminated quoted field');
          if (text[i] === '"') {
            if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
            i++;
            break;
          }
          field += text[i++];
        }
      } else {
        while (i < text.length && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
          if (text[i] === '"') throw new Error(`a quote inside an unquoted field at ${i}`);
          field += text[i++];
        }
      }
      record.push(field);
      if (text[i] === ',') { i++; continue; }
      if (text[i] === '\r' && text[i + 1] === '\n') { i += 2; break; }
      if (i >= text.length) break;
      throw new Error(`expected a comma or CRLF at ${i}, found ${JSON.stringify(text[i])}`);
    }
    records.push(record);
  }
  const width = records[0]?.length;
  records.forEach((r, n) => assert.equal(r.length, width, `record ${n} has ${r.length} fields`));
  return records;
}

async function seed(server: TestServer, messages: number): Promise<void> {
  const db = server.db;
  await ensurePartitions(db, Date.now() - 3_600_000, 1, 3);
  await db.query(
    `INSERT INTO peer_connections (id, ip_addr, peer_id, created_at, name, chain, genesis_hash, version)
     VALUES (9001, '10.9.0.1:1', $1, now() AT TIME ZONE 'utc', 'a', 'Export Chain', $3, '1'),
            (9002, '10.9.0.2:1', $2, now() AT TIME ZONE 'utc', 'b', 'Export Chain', $3, '1'),
            (9003, '10.9.0.1:2', $1, now() AT TIME ZONE 'utc', 'a', 'Other Chain', $4, '1')`,
    [PEER_A, PEER_B, G1, G2],
  );
  // Message k: on connection 9001, 9002 or 9003 in turn, 1 ms apart over the last minutes; text with
  // commas, quotes and (escaped) line breaks; every fifth a block.import. Two rows share each instant.
  await db.query(
    `INSERT INTO substrate_logs (created_at, logs, peer_connection_id, audit)
     SELECT (now() AT TIME ZONE 'utc') - make_interval(secs => (k / 2) * 0.001),
            jsonb_build_object('msg', CASE WHEN k % 5 = 0 THEN 'block.import' ELSE 'system.interval' END, 'k', k,
                               'text', 'a, "quoted" value' || chr(10) || 'line ' || k, 'ts', ''),
            9001 + k % 3, false
       FROM generate_series(1, $1::int) k`,
    [messages],
  );
  await db.query(`INSERT INTO chains (id, chain, genesis_hash) VALUES (901, 'Export Chain', $1), (902, 'Twin', $1), (903, 'Twin', $2)`, [G1, G2]);
  await db.query(
    `INSERT INTO blocks (chain_id, height, hash, first_seen_at, first_seen_connection_id, first_seen_peer_id, audit)
     SELECT 901, h, '0x' || md5(h::text || f::text), (now() AT TIME ZONE 'utc') - make_interval(secs => 5000 - h), 9001, $1, false
       FROM generate_series(1, 4500) h, generate_series(0, 1) f WHERE f = 0 OR h % 7 = 0`,
    [PEER_A],
  );
}

interface Fetched { status: number; type: string; text: string }

async function fetchText(server: TestServer, path: string, headers: Record<string, string> = {}): Promise<Fetched> {
  const response = await fetch(server.httpUrl(path), { headers });
  return { status: response.status, type: response.headers.get('content-type') ?? '', text: await response.text() };
}

for (const backend of BACKENDS) {
  describe(`bulk export (${backend.name})`, () => {
    let server: TestServer;
    const MESSAGES = backend.name === 'postgres' ? 60_000 : 12_000;
    before(async () => {
      server = await startTestServer(backend, { ANALYTICS_SUMMARY_INTERVAL_S: '3600' });
      await seed(server, MESSAGES);
    });
    after(async () => server?.dispose());

    it('exports every message as NDJSON, in (connection, created_at, id) order across pages, as many as the database has', async () => {
      const all = { peerId: null, chain: null, msg: null, start: null, end: null };
      const response = await fetchText(server, '/export/logs');
      assert.equal(response.status, 200);
      assert.match(response.type, /^application\/x-ndjson/);
      const lines = response.text.split('\n');
      assert.equal(lines.pop(), '', 'ends with a newline');
      assert.equal(lines.length, await countExportLogs(server.db, all));
      assert.ok(lines.length > 2 * EXPORT_PAGE_ROWS, 'several pages');
      const rows = lines.map((line) => JSON.parse(line) as { peer_id: string; created_at: string; msg: string; logs: { k: number } });
      const expected = (await server.db.query<{ peer_id: string; created_at: string; k: number }>(
        `SELECT pc.peer_id, s.created_at, (s.logs->>'k')::int AS k FROM substrate_logs s JOIN peer_connections pc ON pc.id = s.peer_connection_id
          ORDER BY s.peer_connection_id, s.created_at, s.id`)).rows;
      const got = rows.map((r) => [r.peer_id, r.created_at, r.logs.k] as const);
      const want = expected.map((e) => [e.peer_id, formatTimestamp(e.created_at), e.k] as const);
      // PostgreSQL streams a cursor in storage order; the embedded database pages in (connection, created_at, id) order.
      const byK = (list: ReadonlyArray<readonly [string, string, number]>) => [...list].sort((a, b) => a[2] - b[2]);
      if (backend.name === 'postgres') assert.deepEqual(byK(got), byK(want));
      else assert.deepEqual(got, want);
    });

    it('filters by node, chain, message type and time, with the counts of the database', async () => {
      const times = (await server.db.query<{ lo: string; hi: string }>(`SELECT (min(created_at) + interval '10 ms')::text AS lo, (max(created_at) - interval '10 ms')::text AS hi FROM substrate_logs`)).rows[0];
      const cases = [
        [{ peer_id: PEER_A }, { peerId: PEER_A, chain: null, msg: null, start: null, end: null }],
        [{ chain: 'Export Chain', msg: 'block.import' }, { peerId: null, chain: 'Export Chain', msg: 'block.import', start: null, end: null }],
        [{ peer_id: PEER_B, start_time: times.lo.replace(' ', 'T'), end_time: times.hi.replace(' ', 'T') }, { peerId: PEER_B, chain: null, msg: null, start: times.lo, end: times.hi }],
        [{ peer_id: '12D3KooWNobody' }, { peerId: '12D3KooWNobody', chain: null, msg: null, start: null, end: null }],
      ] as const;
      for (const [params, filter] of cases) {
        const response = await fetchText(server, `/export/logs?${new URLSearchParams(params)}`);
        assert.equal(response.status, 200);
        const expected = await countExportLogs(server.db, filter);
        assert.equal(response.text === '' ? 0 : response.text.split('\n').length - 1, expected, JSON.stringify(params));
      }
    });

    it('exports CSV that a strict RFC 4180 reader reads back, field for field', async () => {
      const response = await fetchText(server, `/export/logs?format=csv&peer_id=${PEER_B}`);
      assert.equal(response.status, 200);
      assert.match(response.type, /^text\/csv/);
      const [header, ...records] = parseCsv(response.text);
      assert.deepEqual(header, ['peer_id', 'created_at', 'msg', 'logs']);
      const expected = (await server.db.query<{ created_at: string; msg: string; logs: string }>(
        `SELECT s.created_at, s.msg, s.logs::text AS logs FROM substrate_logs s WHERE s.peer_connection_id = 9002 ORDER BY s.created_at, s.id`)).rows;
      assert.equal(records.length, expected.length);
      if (backend.name === 'postgres') {
        const k = (logs: string) => (JSON.parse(logs) as { k: number }).k;
        records.sort((a, b) => k(a[3]) - k(b[3]));
        expected.sort((a, b) => k(a.logs) - k(b.logs));
      }
      records.forEach((record, i) => {
        assert.deepEqual(record, [PEER_B, formatTimestamp(expected[i].created_at), expected[i].msg, expected[i].logs]);
        assert.match(JSON.parse(record[3]).text, /^a, "quoted" value\nline \d+$/);
      });
    });

    it('exports blocks (forks included) as NDJSON and CSV; an ambiguous chain is 409, an unknown one 404', async () => {
      const expected = await countExportBlocks(server.db, { chainId: 901, minHeight: null, maxHeight: null, start: null, end: null });
      assert.ok(expected > EXPORT_PAGE_ROWS, 'more than a page');
      const ndjson = await fetchText(server, '/export/blocks?chain=Export%20Chain');
      assert.equal(ndjson.status, 200, ndjson.text.slice(0, 300));
      const blocks = ndjson.text.trim().split('\n').map((line) => JSON.parse(line) as { chain: string; genesis_hash: string; height: number; hash: string });
      assert.equal(blocks.length, expected);
      assert.deepEqual(blocks[0].chain, 'Export Chain');
      assert.deepEqual(blocks[0].genesis_hash, G1);
      for (let i = 1; i < blocks.length; i++) {
        const [a, b] = [blocks[i - 1], blocks[i]];
        assert.ok(a.height < b.height || (a.height === b.height && a.hash < b.hash), `order at ${i}`);
      }
      const csv = await fetchText(server, '/export/blocks?chain=Export%20Chain&format=csv&start_height=100&end_height=700');
      const [header, ...records] = parseCsv(csv.text);
      assert.equal(header[2], 'height');
      assert.equal(records.length, await countExportBlocks(server.db, { chainId: 901, minHeight: 100, maxHeight: 700, start: null, end: null }));
      const twin = await fetchText(server, '/export/blocks?chain=Twin');
      assert.equal(twin.status, 409);
      assert.deepEqual(JSON.parse(twin.text).genesis_hashes, [G1, G2]);
      assert.equal((await fetchText(server, `/export/blocks?chain=Twin&genesis_hash=${G2}`)).text, '', 'a chain without blocks: nothing');
      assert.equal((await fetchText(server, '/export/blocks?chain=Nowhere')).status, 404);
    });

    it('documents both routes in the OpenAPI document', async () => {
      const doc = JSON.parse((await fetchText(server, '/docs/json')).text) as { paths: Record<string, { get?: { parameters?: Array<{ name: string }>; responses: Record<string, unknown> } }> };
      for (const path of ['/export/logs', '/export/blocks']) assert.ok(doc.paths[path]?.get?.responses['200'], path);
      assert.deepEqual(doc.paths['/export/logs'].get!.parameters!.map((p) => p.name).sort(), ['chain', 'end_time', 'format', 'msg', 'peer_id', 'start_time']);
      assert.ok(doc.paths['/export/blocks'].get!.responses['409']);
    });

    it('answers bad parameters with 400 naming the parameter', async () => {
      for (const [path, parameter] of [
        ['/export/logs?format=xml', 'format'],
        ['/export/logs?start_time=yesterday', 'start_time'],
        ['/export/logs?start_time=2024-01-02T00:00:00&end_time=2024-01-01T00:00:00', 'start_time'],
        ['/export/blocks', 'chain'],
        ['/export/blocks?chain=Export%20Chain&start_height=-1', 'start_height'],
        ['/export/blocks?chain=Export%20Chain&start_height=9&end_height=3', 'start_height'],
      ] as const) {
        const response = await fetchText(server, path);
        assert.equal(response.status, 400, path);
        assert.equal(JSON.parse(response.text).parameter, parameter, `${path}: ${response.text}`);
      }
    });

    it('a client that goes away mid-stream stops the export: no query left running, the server answers on', async () => {
      let slotsWhileStreaming = -1;
      const received = await new Promise<number>((resolve, reject) => {
        const request = http.get(server.httpUrl('/export/logs'), (response) => {
          let bytes = 0;
          response.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            // Gone after the first chunks, while most of the export is still unread.
            if (bytes > 100_000) {
              slotsWhileStreaming = server.admission.running;
              request.destroy();
              resolve(bytes);
            }
          });
          response.on('end', () => reject(new Error('the export ended before the client left')));
        });
        request.on('error', () => {});
      });
      assert.ok(received > 0);
      if (server.settings.databaseUrl !== null) {
        const running = async () => (await server.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid() AND query ILIKE '%substrate_logs%'`)).rows[0].n;
        await waitFor(async () => (await running()) === 0, 'no export query left running');
        // The cursor's transaction held one query slot (the export counts in admission control) and gave it back.
        assert.equal(slotsWhileStreaming, 1);
        await waitFor(() => server.admission.running === 0, 'the export released its query slot');
        // And none starts later: the stream is gone.
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(await running(), 0);
      }
      const again = await fetchText(server, `/export/logs?peer_id=${PEER_A}&msg=block.import`);
      assert.equal(again.status, 200);
    });
  });
}

describe('bulk export behind API_TOKEN', () => {
  it('refuses a request without the token and streams with it', async () => {
    const server = await startTestServer(BACKENDS.find((b) => b.name === 'embedded')!, { API_TOKEN: 'export-token-123456' });
    try {
      assert.equal((await fetchText(server, '/export/logs')).status, 401);
      assert.equal((await fetchText(server, '/export/blocks?chain=x')).status, 401);
      const ok = await fetchText(server, '/export/logs', { authorization: 'Bearer export-token-123456' });
      assert.equal(ok.status, 200);
    } finally {
      await server.dispose();
    }
  });
});
