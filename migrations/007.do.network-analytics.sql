-- Network analytics (docs/analytics.md): facts derived from block.import, notify.finalized and
-- system.interval messages while they are stored, in the same transaction as the messages (so the
-- exactly-once guarantee of a batch covers them), plus per-block figures computed once a block has
-- settled. `npm run analytics:rebuild` recomputes all of it from substrate_logs.
-- Times are naive UTC. Rows derived at ingestion carry the server's receipt time; rows rebuilt from stored
-- messages (rebuilt = TRUE) carry the node's `ts` instead, the only time old messages have.
-- Retention: rows with audit = FALSE are purged with the messages they came from (purgeAnalyticsBefore);
-- audit rows are kept. No foreign keys: the purge removes these rows before their connections.

-- One row per chain a node announced: the (chain name, genesis hash) of system.connected. Every local test
-- network is called "Development", so the name alone does not identify a chain. genesis_hash NULL groups
-- the nodes of that name that never sent one.
CREATE TABLE chains (
  id SERIAL PRIMARY KEY,
  chain VARCHAR NOT NULL,
  genesis_hash VARCHAR,
  created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
  CONSTRAINT chains_chain_genesis_hash_key UNIQUE NULLS NOT DISTINCT (chain, genesis_hash)
);

-- One row per block.import message of an identified node (system.connected received on its connection).
CREATE TABLE block_arrivals (
  chain_id INTEGER NOT NULL,            -- chains.id
  height BIGINT NOT NULL,               -- payload `height` (a number or a decimal string)
  hash VARCHAR NOT NULL,                -- payload `best`
  peer_id VARCHAR NOT NULL,             -- the node (network_id of system.connected)
  peer_connection_id INTEGER NOT NULL,  -- peer_connections.id of the connection it came on
  received_at TIMESTAMP NOT NULL,       -- when the server read the frame (rebuilt rows: node_ts)
  node_ts TIMESTAMP NOT NULL,           -- the message's own `ts` (= substrate_logs.created_at)
  origin VARCHAR,                       -- payload `origin`, e.g. NetworkBroadcast, Own, NetworkInitialSync
  catch_up BOOLEAN NOT NULL,            -- origin NetworkInitialSync, File or Genesis: left out of propagation figures
  rebuilt BOOLEAN NOT NULL DEFAULT FALSE,
  audit BOOLEAN NOT NULL
);
-- The arrivals of a block (its height: the hash is checked in the row; heights rarely have several).
CREATE INDEX block_arrivals_block_idx ON block_arrivals (chain_id, height);
-- A node's arrivals over time (its history), and the purge (per expired connection).
CREATE INDEX block_arrivals_connection_idx ON block_arrivals (peer_connection_id, received_at);

-- One row per block (chain, height, hash) any node imported: its first seen, kept up to date as arrivals are
-- stored (an earlier arrival stored later, e.g. by another server, moves it back). The figures below are
-- computed from the block's arrivals once it is older than ANALYTICS_SETTLE_S (summarized_at set); until
-- then, and after a late arrival, they are NULL and the query API computes them from block_arrivals.
CREATE TABLE blocks (
  chain_id INTEGER NOT NULL,
  height BIGINT NOT NULL,
  hash VARCHAR NOT NULL,
  first_seen_at TIMESTAMP NOT NULL,            -- earliest arrival over all nodes of the chain
  first_seen_connection_id INTEGER NOT NULL,   -- peer_connections.id of that arrival
  first_seen_peer_id VARCHAR NOT NULL,
  audit BOOLEAN NOT NULL,                      -- an audit node reported it: kept by the purge
  summarized_at TIMESTAMP,
  nodes_reported INTEGER,                      -- distinct nodes that imported it (any origin)
  propagation_arrivals INTEGER,                -- of which not catch-up: the arrays below
  propagation_p50_ms INTEGER,                  -- nearest-rank percentiles of the propagation delays
  propagation_p90_ms INTEGER,
  propagation_p99_ms INTEGER,
  propagation_max_ms INTEGER,
  arrival_connection_ids INTEGER[],            -- each node's first arrival (not catch-up), by connection id,
  arrival_delays_ms INTEGER[],                 -- and its delay after first_seen_at, in ms (same order)
  PRIMARY KEY (chain_id, height, hash)
);
-- The block of a height is the hash first seen at it: newest heights first, earliest hash first.
CREATE INDEX blocks_height_first_seen_idx ON blocks (chain_id, height DESC, first_seen_at) INCLUDE (hash);
CREATE INDEX blocks_first_seen_idx ON blocks (chain_id, first_seen_at);
CREATE INDEX blocks_unsummarized_idx ON blocks (first_seen_at) WHERE summarized_at IS NULL;
CREATE INDEX blocks_expiring_idx ON blocks (first_seen_at) WHERE NOT audit;

-- Blocks that received arrivals, written with each batch; the summary job takes them and recomputes the
-- figures of those already summarized (a late arrival), so that a summary never stays stale.
CREATE TABLE block_summary_queue (
  chain_id INTEGER NOT NULL,
  height BIGINT NOT NULL,
  hash VARCHAR NOT NULL,
  queued_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

-- One row per rise of a connection's finalized height: a notify.finalized (`height`, `best`) or a
-- system.interval (`finalized_height`, `finalized_hash`) reporting a height above every earlier report of
-- the same connection. (Repeats carry nothing new: the first report of each height is what finality needs.)
CREATE TABLE finality_reports (
  chain_id INTEGER NOT NULL,
  height BIGINT NOT NULL,
  hash VARCHAR,
  peer_id VARCHAR NOT NULL,
  peer_connection_id INTEGER NOT NULL,
  received_at TIMESTAMP NOT NULL,
  node_ts TIMESTAMP NOT NULL,
  source VARCHAR NOT NULL,              -- 'notify.finalized' or 'system.interval'
  rebuilt BOOLEAN NOT NULL DEFAULT FALSE,
  audit BOOLEAN NOT NULL
);
CREATE INDEX finality_reports_connection_idx ON finality_reports (peer_connection_id, received_at);

-- One row per finalized height any node of the chain reported, with its first report. The chain's
-- finalized height at an instant is the highest height reported by then; a block of height h is finalized
-- at the earliest first_reported_at of the heights >= h.
CREATE TABLE finalized_heights (
  chain_id INTEGER NOT NULL,
  height BIGINT NOT NULL,
  first_reported_at TIMESTAMP NOT NULL,
  first_reported_connection_id INTEGER NOT NULL,
  first_reported_peer_id VARCHAR NOT NULL,
  audit BOOLEAN NOT NULL,
  PRIMARY KEY (chain_id, height)
);
CREATE INDEX finalized_heights_expiring_idx ON finalized_heights (first_reported_at) WHERE NOT audit;

-- The connections of a chain (/chains, the nodes of /chains/{chain}/propagation).
CREATE INDEX peer_connections_chain_idx ON peer_connections (chain, genesis_hash);
