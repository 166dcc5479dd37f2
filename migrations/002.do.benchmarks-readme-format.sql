-- Benchmarks in the README's format ({benchmark_spec, chain_spec, description, host_system_id, ts_start,
-- ts_end}) next to the reference code's {setup}: the README fields get their own columns (NULL for
-- benchmarks created with {setup}); `setup` stays NOT NULL ('{}' for README-format benchmarks).
ALTER TABLE benchmarks
  ADD COLUMN description VARCHAR,
  ADD COLUMN host_system_id INTEGER REFERENCES host_systems (id),
  ADD COLUMN ts_start TIMESTAMP,
  ADD COLUMN ts_end TIMESTAMP,
  ADD COLUMN chain_spec JSONB,
  ADD COLUMN benchmark_spec JSONB;
CREATE INDEX benchmarks_host_system_id_idx ON benchmarks (host_system_id);
CREATE INDEX benchmarks_created_at_idx ON benchmarks (created_at);
