// GET /reputation, /reputation/logged, /reputation/{peer_id}, /reputation/mock/{qty}.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ApiContext } from './index.js';
import { loggedPeerIds, newestNetworkStates, reputationOfPeer } from '../storage/reputation.js';
import { expandPeerset, mergeEntries } from './peerset.js';
import { Limit, PeerId, QUERY_ERRORS, TimeInput, TimeOutput } from './schemas.js';
import { formatEpochMs, formatTimestamp, parseTime } from '../domain/time.js';
import { rawJson } from './json.js';
import { ApiError } from './errors.js';

const MAX_AGE_LIMIT_S = 366 * 24 * 3600;
const MaxAge = (defaultValue?: number, extra = '') =>
  Type.Integer({
    minimum: 1,
    maximum: MAX_AGE_LIMIT_S,
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
    description: `Only network states younger than this many seconds${defaultValue === undefined ? '' : ` (default ${defaultValue})`}${extra}`,
  });

const SnapshotQuery = Type.Object({ max_age_s: Type.Optional(MaxAge(60)), limit: Type.Optional(Limit(100, 'reporting peers')) });

const Snapshot = Type.Object(
  {
    reporting_peer: Type.String({ description: 'The node that reported' }),
    remote_peer: Type.Array(Type.String(), { description: 'Peers in its peerset (parallel arrays: same index, same peer)' }),
    reputation: Type.Array(Type.Integer()),
    connected: Type.Array(Type.Boolean()),
    ts: TimeOutput('Time of the network state used'),
  },
  { title: 'ReputationSnapshot' },
);

/** Every network state of the window is read (and detoasted) unless `limit` matches come first: keep it modest. */
const PEER_HISTORY_DEFAULT_AGE_S = 600;
const PeerHistoryQuery = Type.Object({
  max_age_s: Type.Optional(MaxAge(undefined, `; default ${PEER_HISTORY_DEFAULT_AGE_S} unless start_time is given`)),
  start_time: Type.Optional(TimeInput('Only network states newer than this (exclusive); not with max_age_s', null)),
  end_time: Type.Optional(TimeInput('Only network states older than this (exclusive); default: now', null)),
  limit: Type.Optional(Limit(1000, 'entries (the newest are kept)')),
});

const PeerHistory = Type.Object(
  { reporting_peer: Type.String(), reputation: Type.Integer(), connected: Type.Boolean(), ts: TimeOutput('Time of the network state') },
  { title: 'ReputationEntry' },
);

const MOCK_PEERS = [
  'QmSk5HQbn6LhUwDiNMseVUjuRYhEtYj4aUZ6WfWoGURpdV',
  'QmSk5HQbn6LhUwDiNMseVUjuRYhEtYj4aUZ6WfWoGURpdW',
  'QmWv9Ww7znzgLFyCzf21SR6tUKXrmHCZH9KhebeH4gyE9f',
  'QmWv9Ww7znzgLFyCzf21SR6tUKXrmHCZH9KhebeH4gyE9g',
  'QmTtcYKJho9vFmqtMA548QBSmLbmwAkBSiEKK3kWKfb6bJ',
  'QmTtcYKJho9vFmqtMA548QBSmLbmwAkBSiEKK3kWKfb6bK',
  'QmQJmDorK9c8KjMF5PdWiH2WGUXyzJtgTeJ55S5gggdju6',
  'QmQJmDorK9c8KjMF5PdWiH2WGUXyzJtgTeJ55S5gggdju7',
];

function mockReputation(): number {
  const x = Math.trunc(-Math.log(1 - Math.random()) / 0.01);
  const y = Math.floor(Math.random() * 11_000) - 1000;
  return y < 0 ? -(x * y * y) : 0;
}

export function registerReputationRoutes(app: FastifyInstance, { run }: ApiContext): void {
  const snapshotRoute = (loggedOnly: boolean) =>
    async (request: { query: Static<typeof SnapshotQuery> }) => {
      const maxAgeS = request.query.max_age_s ?? 60;
      const limit = request.query.limit ?? 100;
      return run(async (db) => {
        const keep = loggedOnly ? await loggedPeerIds(db) : undefined;
        const out = [];
        // Reporters in peer-id order; those left with no entry are skipped and the next ones fetched.
        let after: string | undefined;
        for (;;) {
          const wanted = limit - out.length;
          const states = await newestNetworkStates(db, { maxAgeS, limit: wanted, after });
          for (const state of states) {
            const arrays = expandPeerset(state.peerset, keep);
            if (arrays.remote_peer.length === 0) continue;
            out.push({
              reporting_peer: state.reporting_peer,
              remote_peer: rawJson(JSON.stringify(arrays.remote_peer)),
              reputation: rawJson(JSON.stringify(arrays.reputation)),
              connected: rawJson(JSON.stringify(arrays.connected)),
              ts: formatTimestamp(state.ts),
            });
          }
          if (out.length >= limit || states.length < wanted) break;
          after = states[states.length - 1].reporting_peer;
        }
        return out;
      });
    };

  app.get<{ Querystring: Static<typeof SnapshotQuery> }>(
    '/reputation',
    {
      schema: {
        tags: ['reputation'],
        summary: 'Latest reputation snapshot of every reporting node',
        description:
          'For each reporting node (ascending peer id, at most `limit`), its newest `system.network_state` younger than `max_age_s`, ' +
          'expanded into parallel arrays. Both shapes are read: `state.peerset.nodes` (older Substrate) and `state.peerset.sets[].nodes` (Tetcore; ' +
          'a peer in several sets appears once, connected if connected in any). Reporters whose peerset is empty are left out.',
        querystring: SnapshotQuery,
        response: { 200: Type.Array(Snapshot), ...QUERY_ERRORS },
      },
    },
    snapshotRoute(false),
  );

  app.get<{ Querystring: Static<typeof SnapshotQuery> }>(
    '/reputation/logged',
    {
      schema: {
        tags: ['reputation'],
        summary: 'Like /reputation, keeping only remote peers that are logged nodes',
        description: 'Remote peers are kept only if some connection row has their peer id. Reporters left with no entry are absent.',
        querystring: SnapshotQuery,
        response: { 200: Type.Array(Snapshot), ...QUERY_ERRORS },
      },
    },
    snapshotRoute(true),
  );

  app.get<{ Params: { qty: string } }>(
    '/reputation/mock/:qty',
    {
      schema: {
        tags: ['reputation'],
        summary: 'Random reputation data for front-end tests (no database)',
        params: Type.Object({ qty: Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'Number of mock peers (at most 8 are used)' }) }),
        response: { 200: Type.Array(Snapshot), 400: QUERY_ERRORS[400] },
      },
    },
    async (request) => {
      const peers = MOCK_PEERS.slice(0, Math.min(Number(request.params.qty), MOCK_PEERS.length));
      const ts = formatEpochMs(Date.now() - 10_000);
      return peers.map((reporter) => {
        const others = peers.filter((p) => p !== reporter);
        return { reporting_peer: reporter, remote_peer: others, reputation: others.map(mockReputation), connected: others.map(() => true), ts };
      });
    },
  );

  app.get<{ Params: { peer_id: string }; Querystring: Static<typeof PeerHistoryQuery> }>(
    '/reputation/:peer_id',
    {
      schema: {
        tags: ['reputation'],
        summary: 'Reputation of one peer over time, from every reporting node',
        description:
          'The entry of `peer_id` in every network state of the window that contains it (both shapes), one per (reporter, time): ' +
          'the newest `limit`, ordered by reporting peer then time.',
        params: Type.Object({ peer_id: PeerId('Peer id whose reputation is wanted') }),
        querystring: PeerHistoryQuery,
        response: { 200: Type.Array(PeerHistory), ...QUERY_ERRORS },
      },
    },
    async (request) => {
      const q = request.query;
      if (q.max_age_s !== undefined && q.start_time !== undefined) {
        throw new ApiError('INVALID_PARAMETER', 'give either max_age_s or start_time, not both', { parameter: 'start_time', in: 'querystring', expected: 'absent when max_age_s is given' });
      }
      const end = q.end_time === undefined ? undefined : (parseTime(q.end_time) as string);
      const start = q.start_time === undefined ? undefined : (parseTime(q.start_time) as string);
      if (start !== undefined && end !== undefined && start >= end) {
        throw new ApiError('INVALID_PARAMETER', `start_time (${q.start_time}) must be before end_time (${q.end_time})`, { parameter: 'start_time', in: 'querystring', expected: 'a time before end_time' });
      }
      const maxAgeS = start === undefined ? (q.max_age_s ?? PEER_HISTORY_DEFAULT_AGE_S) : undefined;
      const rows = await run((db) => reputationOfPeer(db, { peerId: request.params.peer_id, start, maxAgeS, end, limit: q.limit ?? 1000 }));
      const out = [];
      for (const row of rows) {
        const entry = mergeEntries(row.entries);
        if (entry !== null) out.push({ reporting_peer: row.reporting_peer, reputation: entry.reputation, connected: entry.connected, ts: formatTimestamp(row.ts) });
      }
      return out;
    },
  );
}
