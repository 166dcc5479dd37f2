// Query API, reputation: GET /reputation, /reputation/logged, /reputation/{peer_id}, /reputation/mock/{qty}
// from system.network_state messages in both shapes (older `state.peerset.nodes`, Tetcore
// `state.peerset.sets[].nodes`), ingested through the websocket; against PostgreSQL and the embedded database.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.js';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { v1Messages, v2SessionFrames } from '../helpers/fixtures.js';
import { api, apiTime, connectedV1, count, ingest, INJECTIONS, query, TIME_RE, tsAt, v1, v2 } from '../helpers/api-support.js';

type Entry = { connected: boolean; reputation: number };
type Snapshot = { reporting_peer: string; remote_peer: string[]; reputation: number[]; connected: boolean[]; ts: string };

/** JSONB key order: shorter keys first, then bytewise. */
const jsonbOrder = (a: string, b: string) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);

/** What the API must answer for one peerset: one entry per remote peer, in JSONB key order. */
function expectedArrays(sets: Array<Record<string, Entry>>) {
  const merged = new Map<string, Entry>();
  for (const nodes of sets) {
    for (const [peer, entry] of Object.entries(nodes)) {
      const seen = merged.get(peer);
      if (seen) seen.connected ||= entry.connected;
      else merged.set(peer, { ...entry });
    }
  }
  const peers = [...merged.keys()].sort(jsonbOrder);
  return { remote_peer: peers, reputation: peers.map((p) => merged.get(p)!.reputation), connected: peers.map((p) => merged.get(p)!.connected) };
}

const networkStateV1 = (peerId: string, ts: string, nodes: Record<string, Entry>) => v1('system.network_state', ts, { state: { peerId, peerset: { nodes, message_queue: 0, reserved_only: false } } });
const networkStateV2 = (id: number, peerId: string, ts: string, sets: Array<Record<string, Entry>>) =>
  v2(id, 'system.network_state', ts, { state: { peerId, peerset: { message_queue: 0, sets: sets.map((nodes) => ({ nodes, reserved_nodes: [], reserved_only: false })) } } });
const connectedV2 = (id: number, peerId: string, ts: string) => v2(id, 'system.connected', ts, { network_id: peerId, name: `v2-${peerId.slice(-4)}`, chain: 'Test Chain', authority: false });

for (const backend of BACKENDS) {
  describe(`query API: reputation (${backend.name})`, () => {
    let server: TestServer;
    // Crafted reporters and remote peers (ids ordered the same way in every collation).
    const R3 = '12D3KooWRep3CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC';
    const R4 = '12D3KooWRep4DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD';
    const R5 = '12D3KooWRep5EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE';
    const P1 = '12D3KooWPeer1XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX';
    const P2 = '12D3KooWPeer2XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX';
    const P3 = 'QmPeer3XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX';
    const r3Old = { [P1]: { connected: false, reputation: 1 }, [P2]: { connected: false, reputation: -2 } };
    const r3New = { [P1]: { connected: true, reputation: 10 }, [P2]: { connected: false, reputation: -20 } };
    const r4Sets: Array<Record<string, Entry>> = [
      { [P1]: { connected: false, reputation: 5 }, [P3]: { connected: false, reputation: -7 }, [R3]: { connected: true, reputation: 300 } },
      { [P1]: { connected: true, reputation: 5 } },
      {},
    ];
    const R6 = '12D3KooWRep6FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF';
    const timesAt = () => ({ r3Old: tsAt(-20_000), r3New: tsAt(-1_000), r4: tsAt(-2_000), r5: tsAt(-120_000), r6: tsAt(-900_000), fixture: tsAt(-3_000) });
    let times: ReturnType<typeof timesAt>;
    // The two fixtures: the 2020 capture (old shape) and the Tetcore session (sets), re-timed to now.
    const v1State = v1Messages().find((m) => m.msg === 'system.network_state') as { state: { peerId: string; peerset: { nodes: Record<string, Entry> } } };
    const v2Frames = v2SessionFrames();
    const v2StateFrame = JSON.parse(v2Frames.find((f) => f.includes('"system.network_state"')) as string);
    const R1 = v1State.state.peerId;
    const R2 = JSON.parse(v2Frames[0]).payload.network_id as string;

    before(async () => {
      server = await startTestServer(backend, { MAX_NODES_PER_CONNECTION: '200' });
      times = timesAt();
      const nodes = [
        await ingest(server, '/', R1, [JSON.stringify({ ...v1State, ts: times.fixture })]),
        await ingest(server, '/', R2, [v2Frames[0], JSON.stringify({ ...v2StateFrame, ts: times.fixture })]),
        await ingest(server, '/', R3, [connectedV1(R3, times.r3Old), networkStateV1(R3, times.r3Old, r3Old), networkStateV1(R3, times.r3New, r3New)]),
        await ingest(server, '/audit', R4, [connectedV2(1, R4, times.r4), networkStateV2(1, R4, times.r4, r4Sets)]),
        await ingest(server, '/', R5, [connectedV1(R5, times.r5), networkStateV1(R5, times.r5, { [P2]: { connected: true, reputation: 42 } })]),
        await ingest(server, '/', R6, [connectedV1(R6, times.r6), networkStateV1(R6, times.r6, { [P1]: { connected: false, reputation: -99 } })]),
      ];
      await Promise.all(nodes.map((n) => n.close()));
    });
    after(() => server.dispose());

    it('GET /reputation: the newest network state of each reporter, both shapes, as parallel arrays', async () => {
      const { status, body } = await api<Snapshot[]>(server, '/reputation');
      assert.equal(status, 200);
      assert.deepEqual(body.map((s) => s.reporting_peer), [R1, R2, R3, R4].sort(), 'R5 is older than the default 60 s');
      for (const snapshot of body) {
        assert.deepEqual(Object.keys(snapshot), ['reporting_peer', 'remote_peer', 'reputation', 'connected', 'ts']);
        assert.match(snapshot.ts, TIME_RE);
      }
      const byReporter = new Map(body.map((s) => [s.reporting_peer, s]));
      // Old shape: the 2020 capture, 1,254 peers.
      const r1 = byReporter.get(R1)!;
      assert.equal(r1.remote_peer.length, 1254);
      assert.deepEqual({ ...r1, reporting_peer: undefined, ts: undefined }, { ...expectedArrays([v1State.state.peerset.nodes]), reporting_peer: undefined, ts: undefined });
      assert.equal(r1.ts, apiTime(times.fixture));
      // Tetcore shape: three sets merged into one entry per peer.
      const r2 = byReporter.get(R2)!;
      const sets = v2StateFrame.payload.state.peerset.sets.map((s: { nodes: Record<string, Entry> }) => s.nodes);
      assert.equal(sets.length, 3);
      assert.deepEqual({ remote_peer: r2.remote_peer, reputation: r2.reputation, connected: r2.connected }, expectedArrays(sets));
      assert.ok(r2.remote_peer.length >= 1254);
      // The newest of R3's two states.
      assert.deepEqual(byReporter.get(R3), { reporting_peer: R3, remote_peer: [P1, P2], reputation: [10, -20], connected: [true, false], ts: apiTime(times.r3New) });
      // R4 (sets): P1 is in two sets, connected in the second.
      assert.deepEqual(byReporter.get(R4), { reporting_peer: R4, remote_peer: [P3, P1, R3].sort(jsonbOrder), ...pick([P3, P1, R3].sort(jsonbOrder), { [P1]: [5, true], [P3]: [-7, false], [R3]: [300, true] }), ts: apiTime(times.r4) });
    });

    it('GET /reputation: max_age_s widens the window, limit caps the reporters', async () => {
      const wide = await api<Snapshot[]>(server, '/reputation?max_age_s=300');
      assert.deepEqual(wide.body.map((s) => s.reporting_peer), [R1, R2, R3, R4, R5].sort());
      assert.deepEqual(wide.body.find((s) => s.reporting_peer === R5), { reporting_peer: R5, remote_peer: [P2], reputation: [42], connected: [true], ts: apiTime(times.r5) });
      const narrow = await api<Snapshot[]>(server, '/reputation?max_age_s=10');
      assert.deepEqual(narrow.body.map((s) => s.reporting_peer), [R1, R2, R3, R4].sort());
      assert.deepEqual(narrow.body.find((s) => s.reporting_peer === R3)?.reputation, [10, -20]);
      const one = await api<Snapshot[]>(server, '/reputation?limit=1');
      assert.deepEqual(one.body.map((s) => s.reporting_peer), [[R1, R2, R3, R4].sort()[0]]);
    });

    it('GET /reputation/logged: only remote peers that are logged nodes', async () => {
      const { status, body } = await api<Snapshot[]>(server, '/reputation/logged');
      assert.equal(status, 200);
      assert.equal(body.find((s) => s.reporting_peer === R3), undefined, "R3's peers are not logged nodes");
      assert.deepEqual(body.find((s) => s.reporting_peer === R4), { reporting_peer: R4, remote_peer: [R3], reputation: [300], connected: [true], ts: apiTime(times.r4) });
      const logged = new Set((await server.db.query<{ peer_id: string }>(`SELECT DISTINCT peer_id FROM peer_connections WHERE peer_id IS NOT NULL`)).rows.map((r) => r.peer_id));
      for (const snapshot of body) for (const peer of snapshot.remote_peer) assert.ok(logged.has(peer), peer);
    });

    it('GET /reputation/{peer_id}: that peer’s own entry in every state, by reporter then time', async () => {
      const { status, body } = await api(server, `/reputation/${P1}`);
      assert.equal(status, 200);
      assert.deepEqual(body, [
        { reporting_peer: R3, reputation: 1, connected: false, ts: apiTime(times.r3Old) },
        { reporting_peer: R3, reputation: 10, connected: true, ts: apiTime(times.r3New) },
        { reporting_peer: R4, reputation: 5, connected: true, ts: apiTime(times.r4) },
      ]);
      assert.deepEqual((await api(server, `/reputation/${P1}?max_age_s=10`)).body.map((e: { ts: string }) => e.ts), [apiTime(times.r3New), apiTime(times.r4)]);
      // R6's state (15 minutes old) is outside the default 10-minute window.
      const wider = await api(server, `/reputation/${P1}?max_age_s=1000`);
      assert.deepEqual(wider.body.map((e: { reporting_peer: string; reputation: number }) => [e.reporting_peer, e.reputation]), [[R3, 1], [R3, 10], [R4, 5], [R6, -99]]);
      assert.deepEqual((await api(server, `/reputation/${P1}?limit=1`)).body, [{ reporting_peer: R3, reputation: 10, connected: true, ts: apiTime(times.r3New) }], 'the newest entries are kept');
      const window = await api(server, `/reputation/${P1}?${query({ start_time: apiTime(times.r3Old), end_time: apiTime(times.r4) })}`);
      assert.deepEqual(window.body, [], 'both bounds are exclusive');
      // P2 is in R3's two states and in R5's (2 minutes old: inside the default hour).
      assert.deepEqual((await api(server, `/reputation/${P2}`)).body.map((e: { reporting_peer: string; reputation: number }) => [e.reporting_peer, e.reputation]), [[R3, -2], [R3, -20], [R5, 42]]);
      // A peer of the Tetcore fixture (sets shape).
      const someone = Object.keys(v2StateFrame.payload.state.peerset.sets[1].nodes)[0];
      const seen = await api(server, `/reputation/${someone}`);
      const entry = seen.body.find((e: { reporting_peer: string }) => e.reporting_peer === R2);
      assert.deepEqual({ reputation: entry.reputation, connected: entry.connected }, { reputation: v2StateFrame.payload.state.peerset.sets[0].nodes[someone]?.reputation ?? v2StateFrame.payload.state.peerset.sets[1].nodes[someone].reputation, connected: true });
    });

    it('GET /reputation/mock/{qty}: random data in the snapshot shape', async () => {
      const { status, body } = await api<Snapshot[]>(server, '/reputation/mock/3');
      assert.equal(status, 200);
      assert.equal(body.length, 3);
      for (const s of body) {
        assert.equal(s.remote_peer.length, 2);
        assert.equal(s.reputation.length, 2);
        assert.deepEqual(s.connected, [true, true]);
        assert.match(s.ts, TIME_RE);
      }
      assert.equal((await api<Snapshot[]>(server, '/reputation/mock/100')).body.length, 8);
      assert.equal((await api(server, '/reputation/mock/x')).status, 400);
    });

    it('answers 400 naming the parameter for bad input', async () => {
      for (const [path, parameter] of [
        ['/reputation?max_age_s=abc', 'max_age_s'],
        ['/reputation?max_age_s=0', 'max_age_s'],
        ['/reputation?limit=0', 'limit'],
        ['/reputation/logged?limit=10001', 'limit'],
        [`/reputation/${P1}?start_time=yesterday`, 'start_time'],
        [`/reputation/${P1}?max_age_s=10&start_time=2021-01-01T00:00:00`, 'start_time'],
        [`/reputation/${P1}?start_time=2021-01-02T00:00:00&end_time=2021-01-01T00:00:00`, 'start_time'],
      ] as const) {
        const r = await api(server, path);
        assert.equal(r.status, 400, path);
        assert.equal(r.body.parameter, parameter, path);
        assert.equal(typeof r.body.message, 'string');
      }
    });

    it('treats SQL and JSON in the peer id as a plain value', async () => {
      const before = await count(server, 'SELECT count(*) AS n FROM substrate_logs');
      for (const attempt of [...INJECTIONS, '"', '{"a":1}', `${P1}"`]) {
        const r = await api(server, `/reputation/${encodeURIComponent(attempt)}`);
        assert.equal(r.status, 200, attempt);
        assert.deepEqual(r.body, [], attempt);
      }
      assert.equal(await count(server, 'SELECT count(*) AS n FROM substrate_logs'), before);
      assert.equal((await api(server, `/reputation/${P1}`)).body.length, 3);
    });

    it('GET /reputation: at most 100 reporters by default', async () => {
      // 101 more reporters, as V2 nodes multiplexed on one connection (one envelope id each).
      const frames: string[] = [];
      const ids = Array.from({ length: 101 }, (_, i) => `12D3KooWMany${String(i).padStart(3, '0')}${'M'.repeat(37)}`);
      ids.forEach((id, i) => frames.push(connectedV2(i + 10, id, tsAt(-1_000)), networkStateV2(i + 10, id, tsAt(-1_000), [{ [P1]: { connected: true, reputation: i } }])));
      const node = await ingest(server, '/', null, frames);
      await waitFor(async () => (await count(server, `SELECT count(*) AS n FROM substrate_logs s JOIN peer_connections pc ON pc.id = s.peer_connection_id WHERE pc.peer_id LIKE '12D3KooWMany%'`)) === 202, 'the 101 reporters');
      await node.close();
      const all = (await api<Snapshot[]>(server, '/reputation?limit=200')).body.map((s) => s.reporting_peer);
      assert.ok(all.length > 101 && all.length <= 105);
      assert.deepEqual(all, [...all].sort(), 'ordered by reporting peer');
      for (const id of ids) assert.ok(all.includes(id));
      assert.deepEqual((await api<Snapshot[]>(server, '/reputation')).body.map((s) => s.reporting_peer), all.slice(0, 100));
      const history = (await api(server, `/reputation/${P1}?max_age_s=30`)).body.filter((e: { reporting_peer: string }) => e.reporting_peer.startsWith('12D3KooWMany'));
      assert.deepEqual(history.map((e: { reputation: number }) => e.reputation), ids.map((_, i) => i));
    });
  });
}

function pick(peers: string[], values: Record<string, [number, boolean]>) {
  return { reputation: peers.map((p) => values[p][0]), connected: peers.map((p) => values[p][1]) };
}
