-- A node's history (/nodes/{peer_id}/history: docs/analytics.md) reads every arrival and finality report
-- of its connections in the window. With the block of each row in the index, those reads are index-only
-- scans of one contiguous range instead of one table page per row (10,000 pages for a node over a day).
-- The new indexes replace the narrower ones of migration 007 (same keys: the purge uses them as before).
CREATE INDEX block_arrivals_connection_cover_idx ON block_arrivals (peer_connection_id, received_at) INCLUDE (chain_id, height, hash, catch_up);
DROP INDEX block_arrivals_connection_idx;
CREATE INDEX finality_reports_connection_cover_idx ON finality_reports (peer_connection_id, received_at) INCLUDE (chain_id, height);
DROP INDEX finality_reports_connection_idx;
