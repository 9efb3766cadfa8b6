-- moviestream warehouse schema, Redshift dialect (the single source; applied to PostgreSQL by
-- moviestream/warehouse/dialect.py). Idempotent: every statement may be re-applied.

CREATE SCHEMA IF NOT EXISTS movies;

-- One row per movie, upserted by the pipeline. DISTKEY(movie_id) co-locates the genre bridge's
-- rows with their movie for the per-genre views' join; SORTKEY(imdb_rating) serves the
-- "top rated" range scans that most views start with.
CREATE TABLE IF NOT EXISTS movies.imdb_movies_rating (
    movie_id            VARCHAR(16)    NOT NULL,
    series_title        VARCHAR(1024),
    released_year       INTEGER,
    certificate         VARCHAR(64),
    runtime_minutes     INTEGER,
    genres              VARCHAR(1024),
    imdb_rating         DECIMAL(3, 1),
    overview            VARCHAR(MAX),
    meta_score          INTEGER,
    director            VARCHAR(512),
    star1               VARCHAR(512),
    star2               VARCHAR(512),
    star3               VARCHAR(512),
    star4               VARCHAR(512),
    no_of_votes         BIGINT,
    gross_usd           BIGINT,
    poster_link         VARCHAR(2048),
    event_id            VARCHAR(64)    NOT NULL,
    event_produced_at   TIMESTAMP      NOT NULL,
    first_seen_at       TIMESTAMP      NOT NULL,
    last_updated_at     TIMESTAMP      NOT NULL,
    last_job            VARCHAR(256)   NOT NULL,
    last_batch_id       BIGINT         NOT NULL,
    PRIMARY KEY (movie_id)
) DISTKEY(movie_id) SORTKEY(imdb_rating);

-- Genre bridge: one row per movie and genre ("Crime, Drama" -> two rows).
CREATE TABLE IF NOT EXISTS movies.movie_genres (
    movie_id  VARCHAR(16)  NOT NULL,
    genre     VARCHAR(128) NOT NULL,
    PRIMARY KEY (movie_id, genre)
) DISTKEY(movie_id) SORTKEY(genre);

-- Ledger of committed micro-batches: the exactly-once guard. A batch whose key is here was
-- fully loaded in the same transaction that wrote this row, and is skipped if replayed.
CREATE TABLE IF NOT EXISTS movies.batch_ledger (
    job_name            VARCHAR(256)  NOT NULL,
    stream_id           VARCHAR(64)   NOT NULL,
    batch_id            BIGINT        NOT NULL,
    records_in          BIGINT        NOT NULL,
    duplicates_dropped  BIGINT        NOT NULL,
    good_records        BIGINT        NOT NULL,
    bad_records         BIGINT        NOT NULL,
    movies_upserted     BIGINT        NOT NULL,
    bad_records_uri     VARCHAR(2048),
    min_produced_at     TIMESTAMP,
    max_produced_at     TIMESTAMP,
    max_arrival_at      TIMESTAMP,
    started_at          TIMESTAMP     NOT NULL,
    committed_at        TIMESTAMP     NOT NULL,
    seconds_total       DOUBLE PRECISION NOT NULL,  -- until the warehouse transaction began
    PRIMARY KEY (job_name, stream_id, batch_id)
) DISTSTYLE ALL SORTKEY(committed_at);

-- Per-batch outcome of every data-quality rule, in AWS Glue Data Quality's shape.
CREATE TABLE IF NOT EXISTS movies.rule_outcomes (
    job_name           VARCHAR(256)  NOT NULL,
    stream_id          VARCHAR(64)   NOT NULL,
    batch_id           BIGINT        NOT NULL,
    rule               VARCHAR(4096) NOT NULL,
    outcome            VARCHAR(16)   NOT NULL,
    failure_reason     VARCHAR(4096),
    evaluated_metrics  VARCHAR(MAX),
    PRIMARY KEY (job_name, stream_id, batch_id, rule)
) DISTSTYLE ALL SORTKEY(batch_id);

-- Numbered migrations applied so far (moviestream/warehouse/sql/migrations/NNNN_name.sql, in order, once each).
CREATE TABLE IF NOT EXISTS movies.schema_migrations (
    version     VARCHAR(128)  NOT NULL,
    applied_at  TIMESTAMP     NOT NULL,
    PRIMARY KEY (version)
) DISTSTYLE ALL;
