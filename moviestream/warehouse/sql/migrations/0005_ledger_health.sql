-- Ledger: what the health metrics and the health page need beyond counts (issue 19).
--   lag_p50_s / lag_p95_s / lag_max_s  seconds from produced_at to committed_at over the batch's
--                                       records: streaming batches only (a backfill's produced_at
--                                       is an as-of time, so its lag means nothing); NULL otherwise
--   seconds_warehouse                  the warehouse transaction, connect to ledger insert
--   retried_errors                     transient errors the batch's steps met and retried before
--                                       it committed (a "failed" batch has at least one)
--   breached                           the batch breached data quality (the alert rule of
--                                       moviestream/pipeline/alerts.py; alerted when alerts are on)
-- Existing rows: NULL lags and warehouse seconds, no retries, not breached.
ALTER TABLE movies.batch_ledger ADD COLUMN lag_p50_s DOUBLE PRECISION;
ALTER TABLE movies.batch_ledger ADD COLUMN lag_p95_s DOUBLE PRECISION;
ALTER TABLE movies.batch_ledger ADD COLUMN lag_max_s DOUBLE PRECISION;
ALTER TABLE movies.batch_ledger ADD COLUMN seconds_warehouse DOUBLE PRECISION;
ALTER TABLE movies.batch_ledger ADD COLUMN retried_errors INTEGER DEFAULT 0 NOT NULL;
ALTER TABLE movies.batch_ledger ADD COLUMN breached BOOLEAN DEFAULT FALSE NOT NULL;
