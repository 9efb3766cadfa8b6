-- Ledger: the earliest Kinesis arrival and the seconds of the judge and S3 steps of each batch,
-- so lag to commit (committed_at minus min/max_produced_at or min/max_arrival_at) and where a
-- batch's time went can be queried. Existing rows get 0 seconds.
ALTER TABLE movies.batch_ledger ADD COLUMN min_arrival_at TIMESTAMP;
ALTER TABLE movies.batch_ledger ADD COLUMN seconds_judge DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE movies.batch_ledger ADD COLUMN seconds_s3 DOUBLE PRECISION NOT NULL DEFAULT 0;
