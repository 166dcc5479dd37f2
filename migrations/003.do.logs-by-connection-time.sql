-- /nodes/logs without a msg filter: the newest messages of a connection, read backwards by time.
-- (substrate_logs_peer_msg_created_idx only gives time order within one msg.)
CREATE INDEX substrate_logs_peer_created_idx ON substrate_logs (peer_connection_id, created_at);
