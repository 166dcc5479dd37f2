-- The reference's Grafana dashboard 01 ("Substrate Save") reads substrate_logs.node_ip, a column the
-- reference itself dropped in 2019 (W41). This schema shadows substrate_logs with a view that has it
-- (the address of the message's connection, `ip:port`), so that a Grafana data source whose role runs
--   ALTER ROLE <grafana role> SET search_path = reference_compat, public;
-- runs that dashboard unchanged. grafana/tetcore-analytics.json needs none of this.
CREATE SCHEMA reference_compat;
CREATE VIEW reference_compat.substrate_logs AS
  SELECT l.id, l.created_at, l.logs, l.peer_connection_id, l.audit, l.msg, pc.ip_addr AS node_ip
    FROM substrate_logs l
    JOIN peer_connections pc ON pc.id = l.peer_connection_id;
