-- Schema of tetcore-analytics. Table and column names are a public interface (SQL dashboards read them):
-- they follow the reference's peer_connections / substrate_logs / host_systems / benchmarks / benchmark_events.
-- Every TIMESTAMP column holds naive UTC.

CREATE TABLE peer_connections (
  id SERIAL PRIMARY KEY,
  ip_addr VARCHAR NOT NULL,
  peer_id VARCHAR,
  created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
  audit BOOLEAN NOT NULL DEFAULT FALSE,
  name VARCHAR,
  chain VARCHAR,
  version VARCHAR,
  authority BOOLEAN,
  startup_time BIGINT,
  implementation VARCHAR,
  -- Additions to the reference's columns:
  genesis_hash VARCHAR,
  -- The V2 envelope id (a u64, exact) of the node this row stands for; NULL for flat V1 messages.
  envelope_id NUMERIC(20, 0),
  -- Refreshed in batches by the server holding the connection; NULL once it stops (see disconnected_at).
  last_seen TIMESTAMP,
  disconnected_at TIMESTAMP
);
CREATE INDEX peer_connections_peer_id_idx ON peer_connections (peer_id, created_at);

-- One row per stored message. `logs` holds the flat message (V2 envelopes are unwrapped: the payload's
-- fields at the top level, with the envelope's `ts`). `audit` and `msg` are additions: `audit` separates
-- messages that never expire, `msg` (= logs->>'msg') serves the per-node indexes.
-- Layout: LIST partitions on audit; the expiring side is RANGE-partitioned on created_at so that the
-- purge drops whole partitions. A DEFAULT partition catches timestamps outside the prepared ranges.
CREATE TABLE substrate_logs (
  id BIGSERIAL NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
  logs JSONB NOT NULL,
  peer_connection_id INTEGER NOT NULL REFERENCES peer_connections (id),
  audit BOOLEAN NOT NULL DEFAULT FALSE,
  msg VARCHAR GENERATED ALWAYS AS (logs ->> 'msg') STORED
) PARTITION BY LIST (audit);

CREATE TABLE substrate_logs_audit PARTITION OF substrate_logs FOR VALUES IN (TRUE);
CREATE TABLE substrate_logs_expiring PARTITION OF substrate_logs FOR VALUES IN (FALSE) PARTITION BY RANGE (created_at);
CREATE TABLE substrate_logs_expiring_default PARTITION OF substrate_logs_expiring DEFAULT;

-- Per-node queries: /nodes/logs (by time), /nodes/log_stats and the feed (by msg then time).
CREATE INDEX substrate_logs_peer_msg_created_idx ON substrate_logs (peer_connection_id, msg, created_at);
-- Recent network states of all nodes: /reputation. Partial, so it costs only those rows.
CREATE INDEX substrate_logs_network_state_idx ON substrate_logs (created_at) WHERE msg = 'system.network_state';

CREATE TABLE host_systems (
  id SERIAL PRIMARY KEY,
  description VARCHAR NOT NULL,
  os VARCHAR NOT NULL,
  cpu_qty INTEGER NOT NULL,
  cpu_clock INTEGER NOT NULL,
  ram_mb INTEGER NOT NULL,
  disk_info VARCHAR NOT NULL
);

CREATE TABLE benchmarks (
  id SERIAL PRIMARY KEY,
  setup JSONB NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE benchmark_events (
  id SERIAL PRIMARY KEY,
  benchmark_id INTEGER NOT NULL REFERENCES benchmarks (id),
  name VARCHAR NOT NULL,
  phase VARCHAR NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE INDEX benchmark_events_benchmark_id_idx ON benchmark_events (benchmark_id);
