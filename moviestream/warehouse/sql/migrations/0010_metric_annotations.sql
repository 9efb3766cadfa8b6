-- People's annotations on the metric history (issue 32): a run's metric, or all its metrics, put
-- out of the baseline dynamic rules and DetectAnomalies learn from, or into it, or a new normal
-- starting at a run (moviestream/quality/annotations.py says how each is honoured).
--   context        the evaluation context whose history it annotates
--   job_name, stream_id, batch_id   the run, as movies.metric_history names it
--   metric         the metric (Glue's name); NULL: every metric of the run
--   action         include | exclude | reset
--   note           why (a known incident, a new source)
--   annotated_at, annotated_by      when and by whom (an OS or IAM user): the later of two
--                  annotations on the same run and metric wins, and both are kept
CREATE TABLE IF NOT EXISTS movies.metric_annotations (
    context        VARCHAR(256)   NOT NULL,
    job_name       VARCHAR(256)   NOT NULL,
    stream_id      VARCHAR(256)   NOT NULL,
    batch_id       BIGINT         NOT NULL,
    metric         VARCHAR(1024),
    action         VARCHAR(16)    NOT NULL,
    note           VARCHAR(1024),
    annotated_at   TIMESTAMP      NOT NULL,
    annotated_by   VARCHAR(256)   NOT NULL
) DISTSTYLE ALL SORTKEY(context, annotated_at);
