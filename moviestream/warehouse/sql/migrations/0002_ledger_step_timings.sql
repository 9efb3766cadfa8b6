-- Ledger: the earliest Kinesis arrival and the seconds of the judge and S3 steps of each batch,
-- so lag to commit (committed_at minus min/max_produced_at or min/max_arrival_at) and where a
-- batch's time went can be queried. Existing rows get 0 seconds.
-- Fixed in place: Redshift's grammar takes DEFAULT before NOT NULL (the first version had them the
-- other way round, which PostgreSQL accepts and Redshift may not). schema_migrations records only
-- the version, and both orders mean the same, so a warehouse that applied the first version has
-- the same columns.
ALTER TABLE movies.batch_ledger ADD COLUMN min_arrival_at TIMESTAMP;
ALTER TABLE movies.batch_ledger ADD COLUMN seconds_judge DOUBLE PRECISION DEFAULT 0 NOT NULL;
ALTER TABLE movies.batch_ledger ADD COLUMN seconds_s3 DOUBLE PRECISION DEFAULT 0 NOT NULL;
