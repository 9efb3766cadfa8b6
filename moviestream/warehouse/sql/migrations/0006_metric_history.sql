-- The metric history dynamic DQDL rules and DetectAnomalies read (issue 21): every metric a run
-- measured, under Glue's names (Dataset.*.RowCount, Column.imdb_rating.Mean), one row each.
--   context      the evaluation context the history belongs to (default: the job name)
--   job_name, stream_id, batch_id
--                the run: one micro-batch of the streaming job or one chunk of the backfill; it
--                is written in the batch's own transaction, with its ledger row, so a batch
--                re-run after a crash is recorded once
--   recorded_at  the batch's committed_at: runs are read back in this order
CREATE TABLE IF NOT EXISTS movies.metric_history (
    context      VARCHAR(256)     NOT NULL,
    job_name     VARCHAR(256)     NOT NULL,
    stream_id    VARCHAR(64)      NOT NULL,
    batch_id     BIGINT           NOT NULL,
    recorded_at  TIMESTAMP        NOT NULL,
    metric       VARCHAR(1024)    NOT NULL,
    value        DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (context, job_name, stream_id, batch_id, metric)
) DISTSTYLE ALL SORTKEY(context, recorded_at);
