-- One row per batch of messages written, in the same transaction as its rows: when a write fails in a
-- way that leaves its outcome unknown (the connection dropped around COMMIT), the retry looks here
-- first, so a batch is never stored twice. Rows older than a day are purged.
CREATE TABLE ingest_batches (
  batch_id UUID PRIMARY KEY,
  row_count INTEGER NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
