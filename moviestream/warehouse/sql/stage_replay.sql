-- A replay chunk's verdicts on its quarantined records (Redshift dialect), one row each, staged
-- in the chunk's transaction (moviestream/warehouse/loading.py) and applied by replay_verdicts.sql.
-- Temporary: it belongs to the loading session, like stage_movies.
CREATE TEMP TABLE stage_replay (
    quarantine_id      VARCHAR(64)    NOT NULL,
    movie_id           VARCHAR(64),
    event_produced_at  TIMESTAMP,
    status             VARCHAR(16)    NOT NULL,
    reasons            VARCHAR(4096),
    failed_rules       VARCHAR(4096),
    changed_at         TIMESTAMP      NOT NULL,
    changed_by         VARCHAR(256)   NOT NULL,
    replay_id          VARCHAR(64)    NOT NULL
);
