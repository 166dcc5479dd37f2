-- Partition layout that lets partitions be created and dropped without ever blocking writers
-- (docs/retention.md):
--
-- 1. No DEFAULT partition under substrate_logs_expiring. With one, creating a partition scans (and had to
--    empty) the DEFAULT partition under a lock that queues writers, and ALTER TABLE … DETACH PARTITION …
--    CONCURRENTLY is refused. Instead the time partitions tile the whole past: one partition from MINVALUE
--    to the first boundary (substrate_logs_before_<boundary>) holds old timestamps, then one partition per
--    interval up to the partitions prepared ahead. The rows of the DEFAULT partition move into that tiling.
--
-- 2. No foreign key from substrate_logs.peer_connection_id to peer_connections. A foreign key on a
--    partitioned table makes every partition change lock peer_connections: attaching or detaching a
--    partition takes SHARE ROW EXCLUSIVE on it (blocking the writer's connection inserts and updates), and
--    dropping a detached partition takes ACCESS EXCLUSIVE on it (blocking every COPY, whose foreign-key
--    check reads peer_connections, and every query). The writer stores a connection's row before its
--    messages, and the purge deletes a connection only when no message refers to it, so the reference holds
--    without the constraint (which also cost ~20 % of the database's CPU per stored row, bench/README.md).
--
-- Tables, columns and indexes do not change: every query on substrate_logs works as before.
ALTER TABLE substrate_logs DROP CONSTRAINT IF EXISTS substrate_logs_peer_connection_id_fkey;

DO $$
DECLARE
  old_default CONSTANT text := 'substrate_logs_expiring_default';
  first_from timestamp;
  top timestamp;
  hole record;
  day timestamp;
BEGIN
  -- Partition names as src/storage/partitions.ts makes them: substrate_logs_p<YYYYMMDD> for whole days from
  -- midnight, substrate_logs_p<YYYYMMDD_HH> otherwise, substrate_logs_before_<YYYYMMDD_HH of the upper bound>.
  IF to_regclass(old_default) IS NULL THEN
    RETURN;
  END IF;
  ALTER TABLE substrate_logs_expiring DETACH PARTITION substrate_logs_expiring_default;

  -- The range partitions made so far: [lo, hi) each (this layout had no MINVALUE bound).
  CREATE TEMP TABLE migration_006_bounds ON COMMIT DROP AS
    SELECT m[1]::timestamp AS lo, m[2]::timestamp AS hi
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
     CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)') m
     WHERE i.inhparent = 'substrate_logs_expiring'::regclass;

  SELECT min(lo), max(hi) INTO first_from, top FROM migration_006_bounds;
  IF first_from IS NULL THEN
    -- No partition yet: the server creates the tiling around its clock at start. Rows already stored
    -- (none unless the server never ran) get a partition up to the current hour, the rest per day below.
    IF NOT EXISTS (SELECT 1 FROM substrate_logs_expiring_default) THEN
      DROP TABLE substrate_logs_expiring_default;
      RETURN;
    END IF;
    first_from := date_trunc('hour', now() AT TIME ZONE 'utc');
    top := first_from;
  END IF;

  -- Older than every partition: the MINVALUE partition.
  EXECUTE format('CREATE TABLE %I PARTITION OF substrate_logs_expiring FOR VALUES FROM (MINVALUE) TO (%L)',
                 'substrate_logs_before_' || to_char(first_from, 'YYYYMMDD_HH24'), first_from);
  -- Gaps between partitions (the server was stopped longer than the partitions ahead): one partition each.
  FOR hole IN
    SELECT hi AS lo, next_lo AS hi
      FROM (SELECT hi, lead(lo) OVER (ORDER BY lo) AS next_lo FROM migration_006_bounds) b
     WHERE next_lo > hi
  LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF substrate_logs_expiring FOR VALUES FROM (%L) TO (%L)',
                   'substrate_logs_p' || to_char(hole.lo, 'YYYYMMDD') || CASE WHEN hole.lo = date_trunc('day', hole.lo)
                     AND extract(epoch FROM hole.hi - hole.lo)::bigint % 86400 = 0 THEN '' ELSE to_char(hole.lo, '_HH24') END,
                   hole.lo, hole.hi);
  END LOOP;
  -- Later than every partition: one partition per day that holds such rows (the server fills the days
  -- between them with its usual partitions as they come within reach).
  FOR day IN
    SELECT DISTINCT date_trunc('day', created_at) FROM substrate_logs_expiring_default WHERE created_at >= top ORDER BY 1
  LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF substrate_logs_expiring FOR VALUES FROM (%L) TO (%L)',
                   'substrate_logs_p' || to_char(greatest(day, top), 'YYYYMMDD') || CASE WHEN day >= top THEN '' ELSE to_char(top, '_HH24') END,
                   greatest(day, top), day + interval '1 day');
  END LOOP;

  INSERT INTO substrate_logs (id, created_at, logs, peer_connection_id, audit)
    SELECT id, created_at, logs, peer_connection_id, audit FROM substrate_logs_expiring_default;
  DROP TABLE substrate_logs_expiring_default;
END
$$;
