-- Ledger: where a backfill batch came from. A backfill loads a file in chunks, one batch each
-- (stream_id is file-<sha256 prefix>, batch_id the chunk's index); these columns name the file,
-- its full checksum and the chunk's CSV rows. Streaming batches leave them NULL.
ALTER TABLE movies.batch_ledger ADD COLUMN source_uri VARCHAR(2048);
ALTER TABLE movies.batch_ledger ADD COLUMN source_sha256 VARCHAR(64);
ALTER TABLE movies.batch_ledger ADD COLUMN source_first_row BIGINT;
ALTER TABLE movies.batch_ledger ADD COLUMN source_last_row BIGINT;
