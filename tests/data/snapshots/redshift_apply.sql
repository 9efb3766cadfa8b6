/* moviestream warehouse schema, Redshift dialect (the single source; applied to PostgreSQL by */ /* moviestream/warehouse/dialect.py). Idempotent: every statement may be re-applied. */ CREATE SCHEMA IF NOT EXISTS movies;

/* One row per movie, upserted by the pipeline. DISTKEY(movie_id) co-locates the genre bridge's */ /* rows with their movie for the per-genre views' join; SORTKEY(imdb_rating) serves the */ /* "top rated" range scans that most views start with. */ CREATE TABLE IF NOT EXISTS movies.imdb_movies_rating (movie_id VARCHAR(16) NOT NULL, series_title VARCHAR(1024), released_year INTEGER, certificate VARCHAR(64), runtime_minutes INTEGER, genres VARCHAR(1024), imdb_rating DECIMAL(3, 1), overview VARCHAR(MAX), meta_score INTEGER, director VARCHAR(512), star1 VARCHAR(512), star2 VARCHAR(512), star3 VARCHAR(512), star4 VARCHAR(512), no_of_votes BIGINT, gross_usd BIGINT, poster_link VARCHAR(2048), event_id VARCHAR(64) NOT NULL, event_produced_at TIMESTAMP NOT NULL, first_seen_at TIMESTAMP NOT NULL, last_updated_at TIMESTAMP NOT NULL, last_job VARCHAR(256) NOT NULL, last_batch_id BIGINT NOT NULL, PRIMARY KEY (movie_id)) DISTKEY(movie_id) SORTKEY(imdb_rating);

/* Genre bridge: one row per movie and genre ("Crime, Drama" -> two rows). */ CREATE TABLE IF NOT EXISTS movies.movie_genres (movie_id VARCHAR(16) NOT NULL, genre VARCHAR(128) NOT NULL, PRIMARY KEY (movie_id, genre)) DISTKEY(movie_id) SORTKEY(genre);

/* Ledger of committed micro-batches: the exactly-once guard. A batch whose key is here was */ /* fully loaded in the same transaction that wrote this row, and is skipped if replayed. */ CREATE TABLE IF NOT EXISTS movies.batch_ledger (job_name VARCHAR(256) NOT NULL, stream_id VARCHAR(64) NOT NULL, batch_id BIGINT NOT NULL, records_in BIGINT NOT NULL, duplicates_dropped BIGINT NOT NULL, good_records BIGINT NOT NULL, bad_records BIGINT NOT NULL, movies_upserted BIGINT NOT NULL, bad_records_uri VARCHAR(2048), min_produced_at TIMESTAMP, max_produced_at TIMESTAMP, max_arrival_at TIMESTAMP, started_at TIMESTAMP NOT NULL, committed_at TIMESTAMP NOT NULL, seconds_total DOUBLE PRECISION NOT NULL /* until the warehouse transaction began */, PRIMARY KEY (job_name, stream_id, batch_id)) DISTSTYLE ALL SORTKEY(committed_at);

/* Per-batch outcome of every data-quality rule, in AWS Glue Data Quality's shape. */ CREATE TABLE IF NOT EXISTS movies.rule_outcomes (job_name VARCHAR(256) NOT NULL, stream_id VARCHAR(64) NOT NULL, batch_id BIGINT NOT NULL, rule VARCHAR(4096) NOT NULL, outcome VARCHAR(16) NOT NULL, failure_reason VARCHAR(4096), evaluated_metrics VARCHAR(MAX), PRIMARY KEY (job_name, stream_id, batch_id, rule)) DISTSTYLE ALL SORTKEY(batch_id);

/* Numbered migrations applied so far (moviestream/warehouse/sql/migrations/NNNN_name.sql, in order, once each). */ CREATE TABLE IF NOT EXISTS movies.schema_migrations (version VARCHAR(128) NOT NULL, applied_at TIMESTAMP NOT NULL, PRIMARY KEY (version)) DISTSTYLE ALL;

COMMIT;

LOCK TABLE movies.schema_migrations;

SELECT 1 FROM movies.schema_migrations WHERE version = %s;

ALTER TABLE movies.batch_ledger ADD COLUMN min_arrival_at TIMESTAMP /* Ledger: the earliest Kinesis arrival and the seconds of the judge and S3 steps of each batch, */ /* so lag to commit (committed_at minus min/max_produced_at or min/max_arrival_at) and where a */ /* batch's time went can be queried. Existing rows get 0 seconds. */ /* Fixed in place: Redshift's grammar takes DEFAULT before NOT NULL (the first version had them the */ /* other way round, which PostgreSQL accepts and Redshift may not). schema_migrations records only */ /* the version, and both orders mean the same, so a warehouse that applied the first version has */ /* the same columns. */;

ALTER TABLE movies.batch_ledger ADD COLUMN seconds_judge DOUBLE PRECISION DEFAULT 0 NOT NULL;

ALTER TABLE movies.batch_ledger ADD COLUMN seconds_s3 DOUBLE PRECISION DEFAULT 0 NOT NULL;

INSERT INTO movies.schema_migrations (version, applied_at) VALUES (%s, %s);

COMMIT;

LOCK TABLE movies.schema_migrations;

SELECT 1 FROM movies.schema_migrations WHERE version = %s;

/* Cast bridge: one row per movie and billed star (Star1..Star4 -> billing_order 1..4), for the */ /* actor views. DISTKEY(movie_id) co-locates a movie's cast with its movie row for the join; */ /* SORTKEY(actor) serves the per-actor grouping. Backfilled from the movies already loaded; the */ /* batch MERGE keeps it current from then on (merge_movies.sql). */ CREATE TABLE IF NOT EXISTS movies.movie_cast (movie_id VARCHAR(16) NOT NULL, billing_order SMALLINT NOT NULL, actor VARCHAR(512) NOT NULL, PRIMARY KEY (movie_id, billing_order)) DISTKEY(movie_id) SORTKEY(actor);

DELETE FROM movies.movie_cast;

INSERT INTO movies.movie_cast (movie_id, billing_order, actor) SELECT movie_id, 1, star1 FROM movies.imdb_movies_rating WHERE NOT star1 IS NULL UNION ALL SELECT movie_id, 2, star2 FROM movies.imdb_movies_rating WHERE NOT star2 IS NULL UNION ALL SELECT movie_id, 3, star3 FROM movies.imdb_movies_rating WHERE NOT star3 IS NULL UNION ALL SELECT movie_id, 4, star4 FROM movies.imdb_movies_rating WHERE NOT star4 IS NULL;

/* top_rated becomes a materialized view on Redshift (010_views.sql); the plain view of that name */ /* that earlier versions created must go first, since the views file drops it as a materialized one. */ DROP VIEW IF EXISTS movies.top_rated;

INSERT INTO movies.schema_migrations (version, applied_at) VALUES (%s, %s);

COMMIT;

LOCK TABLE movies.schema_migrations;

SELECT 1 FROM movies.schema_migrations WHERE version = %s;

ALTER TABLE movies.batch_ledger ADD COLUMN source_uri VARCHAR(2048) /* Ledger: where a backfill batch came from. A backfill loads a file in chunks, one batch each */ /* (stream_id is file-<sha256 prefix>, batch_id the chunk's index); these columns name the file, */ /* its full checksum and the chunk's CSV rows. Streaming batches leave them NULL. */;

ALTER TABLE movies.batch_ledger ADD COLUMN source_sha256 VARCHAR(64);

ALTER TABLE movies.batch_ledger ADD COLUMN source_first_row BIGINT;

ALTER TABLE movies.batch_ledger ADD COLUMN source_last_row BIGINT;

INSERT INTO movies.schema_migrations (version, applied_at) VALUES (%s, %s);

COMMIT;

LOCK TABLE movies.schema_migrations;

SELECT 1 FROM movies.schema_migrations WHERE version = %s;

ALTER TABLE movies.batch_ledger ADD COLUMN lag_p50_s DOUBLE PRECISION /* Ledger: what the health metrics and the health page need beyond counts (issue 19). */ /*   lag_p50_s / lag_p95_s / lag_max_s  seconds from produced_at to committed_at over the batch's */ /*                                       records: streaming batches only (a backfill's produced_at */ /*                                       is an as-of time, so its lag means nothing); NULL otherwise */ /*   seconds_warehouse                  the warehouse transaction, connect to ledger insert */ /*   retried_errors                     transient errors the batch's steps met and retried before */ /*                                       it committed (a "failed" batch has at least one) */ /*   breached                           the batch breached data quality (the alert rule of */ /*                                       moviestream/pipeline/alerts.py; alerted when alerts are on) */ /* Existing rows: NULL lags and warehouse seconds, no retries, not breached. */;

ALTER TABLE movies.batch_ledger ADD COLUMN lag_p95_s DOUBLE PRECISION;

ALTER TABLE movies.batch_ledger ADD COLUMN lag_max_s DOUBLE PRECISION;

ALTER TABLE movies.batch_ledger ADD COLUMN seconds_warehouse DOUBLE PRECISION;

ALTER TABLE movies.batch_ledger ADD COLUMN retried_errors INTEGER DEFAULT 0 NOT NULL;

ALTER TABLE movies.batch_ledger ADD COLUMN breached BOOLEAN DEFAULT FALSE NOT NULL;

INSERT INTO movies.schema_migrations (version, applied_at) VALUES (%s, %s);

COMMIT;

LOCK TABLE movies.schema_migrations;

SELECT 1 FROM movies.schema_migrations WHERE version = %s;

/* The metric history dynamic DQDL rules and DetectAnomalies read (issue 21): every metric a run */ /* measured, under Glue's names (Dataset.*.RowCount, Column.imdb_rating.Mean), one row each. */ /*   context      the evaluation context the history belongs to (default: the job name) */ /*   job_name, stream_id, batch_id */ /*                the run: one micro-batch of the streaming job or one chunk of the backfill; it */ /*                is written in the batch's own transaction, with its ledger row, so a batch */ /*                re-run after a crash is recorded once */ /*   recorded_at  the batch's committed_at: runs are read back in this order */ CREATE TABLE IF NOT EXISTS movies.metric_history (context VARCHAR(256) NOT NULL, job_name VARCHAR(256) NOT NULL, stream_id VARCHAR(64) NOT NULL, batch_id BIGINT NOT NULL, recorded_at TIMESTAMP NOT NULL, metric VARCHAR(1024) NOT NULL, value DOUBLE PRECISION NOT NULL, PRIMARY KEY (context, job_name, stream_id, batch_id, metric)) DISTSTYLE ALL SORTKEY(context, recorded_at);

INSERT INTO movies.schema_migrations (version, applied_at) VALUES (%s, %s);

COMMIT;

LOCK TABLE movies.schema_migrations;

SELECT 1 FROM movies.schema_migrations WHERE version = %s;

ALTER TABLE movies.rule_outcomes ADD COLUMN observations VARCHAR(MAX) /* Rule outcomes: DetectAnomalies' findings (issue 21), as Glue reports them: a JSON list of */ /* {"Description", "MetricBasedObservation": {"MetricName", "MetricValues": {"ActualValue", */ /* "ExpectedValue", "LowerLimit", "UpperLimit"}}}; NULL for a rule that observes nothing. */;

INSERT INTO movies.schema_migrations (version, applied_at) VALUES (%s, %s);

COMMIT;

LOCK TABLE movies.schema_migrations;

SELECT 1 FROM movies.schema_migrations WHERE version = %s;

/* Refreshing the materialized views (issue 29): the pipeline refreshes them after batches */ /* commit, at most every --views_refresh_seconds, one refresher at a time */ /* (moviestream/warehouse/views.py). */ /* movies.views_refreshes: one row per refresh, succeeded or not. */ /*   refresher            who refreshed: a job's name, or "moviestream warehouse refresh" */ /*   started_at           when it began (UTC), after it held the lease */ /*   finished_at          when the last view was refreshed, or the refresh failed */ /*   seconds              finished_at - started_at */ /*   newest_committed_at  committed_at of the newest batch in the ledger when it began: every */ /*                        batch up to it is in the views (NULL: the ledger was empty) */ /*   views                materialized views refreshed */ /*   succeeded            whether every view refreshed */ /*   error                the first line of the error that stopped it (NULL when it succeeded) */ CREATE TABLE IF NOT EXISTS movies.views_refreshes (refresher VARCHAR(256) NOT NULL, started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP NOT NULL, seconds DOUBLE PRECISION NOT NULL, newest_committed_at TIMESTAMP, views INTEGER NOT NULL, succeeded BOOLEAN NOT NULL, error VARCHAR(1024)) DISTSTYLE ALL SORTKEY(started_at);

/* The refreshers' lease: one row. A refresher claims it in a short transaction that locks the */ /* table (Redshift has no advisory locks), refreshes outside that transaction, then releases it. */ /* A lease that runs out (a killed refresher) is free again. */ /*   holder            who holds it (NULL: free) */ /*   lease_until       when a holder that never released it loses it */ /*   last_finished_at  when the last refresh ended: the cadence is counted from it */ CREATE TABLE IF NOT EXISTS movies.views_refresh_lease (lease_id INTEGER NOT NULL, holder VARCHAR(256), lease_until TIMESTAMP, last_finished_at TIMESTAMP, PRIMARY KEY (lease_id)) DISTSTYLE ALL;

INSERT INTO movies.views_refresh_lease (lease_id, holder, lease_until, last_finished_at) SELECT 1, NULL, NULL, NULL WHERE NOT EXISTS(SELECT 1 FROM movies.views_refresh_lease);

INSERT INTO movies.schema_migrations (version, applied_at) VALUES (%s, %s);

COMMIT;

LOCK TABLE movies.schema_migrations;

SELECT 1 FROM movies.schema_migrations WHERE version = %s;

/* The quarantine index (issue 31): one row per bad record, written in its batch's transaction */ /* (with the ledger row), so the ledger, the S3 bad-records file and the index agree across */ /* crashes. It holds no raw fields: those stay in the S3 file, read with the reader's own */ /* credentials (`moviestream quarantine show`). */ /* movies.quarantine: a bad record and its current status. */ /*   quarantine_id      sha256 of "<s3_uri>#<line_number>", hex: stable, and defined for records */ /*                      with no event id (an unparseable payload, a backfill's unreadable row) */ /*   event_id           the envelope's event id (NULL: it did not parse) */ /*   movie_id           the key its typed fields gave (NULL: no title or year to key on) */ /*   job_name, stream_id, batch_id   the batch that rejected it (the ledger's key) */ /*   ingest_date        the partition of its S3 file */ /*   source, row_number where it came from (the producer's file and row, or the backfill's) */ /*   reasons            why, as a JSON array of strings (cut to 4,096 characters) */ /*   failed_rules       the row-level rules it failed, as a JSON array (cut to 4,096) */ /*   record_error       why the record could not be read, if it could not */ /*   s3_uri, line_number  its line in the bad-records file (1-based) */ /*   quarantined_at     its batch's committed_at */ /*   status             open | replayed | still_bad | superseded | dismissed | expired */ /*   status_changed_at, status_changed_by   when and by whom (a job's name, an OS or IAM user) */ /*   replay_id          the replay that last changed it (NULL: none) */ /*   note               a person's note (dismiss) */ CREATE TABLE IF NOT EXISTS movies.quarantine (quarantine_id VARCHAR(64) NOT NULL, event_id VARCHAR(64), movie_id VARCHAR(64), job_name VARCHAR(256) NOT NULL, stream_id VARCHAR(256) NOT NULL, batch_id BIGINT NOT NULL, ingest_date DATE NOT NULL, source VARCHAR(1024), row_number BIGINT, reasons VARCHAR(4096) NOT NULL, failed_rules VARCHAR(4096) NOT NULL, record_error VARCHAR(1024), s3_uri VARCHAR(1024) NOT NULL, line_number INTEGER NOT NULL, quarantined_at TIMESTAMP NOT NULL, status VARCHAR(16) NOT NULL, status_changed_at TIMESTAMP NOT NULL, status_changed_by VARCHAR(256) NOT NULL, replay_id VARCHAR(64), note VARCHAR(1024), PRIMARY KEY (quarantine_id)) SORTKEY(quarantined_at);

/* movies.quarantine_changes: every status a record has had, oldest first (the first is `open`, */ /* written with the record): what became of it, when, by whom, in which replay, and, for */ /* still_bad, the new reasons. */ CREATE TABLE IF NOT EXISTS movies.quarantine_changes (quarantine_id VARCHAR(64) NOT NULL, status VARCHAR(16) NOT NULL, changed_at TIMESTAMP NOT NULL, changed_by VARCHAR(256) NOT NULL, replay_id VARCHAR(64), reasons VARCHAR(4096), note VARCHAR(1024)) SORTKEY(changed_at);

INSERT INTO movies.schema_migrations (version, applied_at) VALUES (%s, %s);

COMMIT;

LOCK TABLE movies.schema_migrations;

SELECT 1 FROM movies.schema_migrations WHERE version = %s;

/* People's annotations on the metric history (issue 32): a run's metric, or all its metrics, put */ /* out of the baseline dynamic rules and DetectAnomalies learn from, or into it, or a new normal */ /* starting at a run (moviestream/quality/annotations.py says how each is honoured). */ /*   context        the evaluation context whose history it annotates */ /*   job_name, stream_id, batch_id   the run, as movies.metric_history names it */ /*   metric         the metric (Glue's name); NULL: every metric of the run */ /*   action         include | exclude | reset */ /*   note           why (a known incident, a new source) */ /*   annotated_at, annotated_by      when and by whom (an OS or IAM user): the later of two */ /*                  annotations on the same run and metric wins, and both are kept */ CREATE TABLE IF NOT EXISTS movies.metric_annotations (context VARCHAR(256) NOT NULL, job_name VARCHAR(256) NOT NULL, stream_id VARCHAR(256) NOT NULL, batch_id BIGINT NOT NULL, metric VARCHAR(1024), action VARCHAR(16) NOT NULL, note VARCHAR(1024), annotated_at TIMESTAMP NOT NULL, annotated_by VARCHAR(256) NOT NULL) DISTSTYLE ALL SORTKEY(context, annotated_at);

INSERT INTO movies.schema_migrations (version, applied_at) VALUES (%s, %s);

COMMIT;

/* Views people query (Redshift dialect), re-applied after the schema and migrations on every */ /* `apply`. Each view is dropped and created again: Redshift has no OR REPLACE for materialized */ /* views, and OR REPLACE cannot change a view's columns. */ /* "Top rated" everywhere means: an IMDb rating of at least 8.0 from at least 25,000 votes (below */ /* that, a rating says little). Aggregated views are materialized; the ones marked "incremental" */ /* use only constructs AWS lists for incremental refresh (SELECT, FROM, inner JOIN, WHERE, GROUP */ /* BY; COUNT, SUM, AVG; immutable functions), so Redshift refreshes them incrementally. The others */ /* (window functions, the clock) are plain views, always current. No view orders its rows: */ /* `moviestream warehouse query` does. */ /* AUTO REFRESH NO, on purpose: Redshift runs auto refresh only when the workgroup has spare */ /* capacity and pauses it for user workloads, and the streaming job's MERGE every few seconds is */ /* one, so an auto-refreshed view lags by an unknown amount. The jobs refresh these views after */ /* batches commit instead, at most every --views-refresh-seconds, and record each refresh */ /* (moviestream/warehouse/views.py); auto refresh on top would only spend RPUs at times no one */ /* chose. Locally they are PostgreSQL materialized views, refreshed by the same code. */ /* Top rated movies. Materialized, incremental. */ DROP MATERIALIZED VIEW IF EXISTS movies.top_rated;

CREATE MATERIALIZED VIEW movies.top_rated AUTO REFRESH NO AS SELECT movie_id, series_title, released_year, imdb_rating, no_of_votes, director, genres FROM movies.imdb_movies_rating WHERE imdb_rating >= 8.0 AND no_of_votes >= 25000;

/* The ten best rated movies of every genre with at least 25,000 votes (ties share a rank, so a */ /* genre can list more than ten). Plain view: RANK() is a window function. */ DROP VIEW IF EXISTS movies.top_rated_by_genre;

CREATE VIEW movies.top_rated_by_genre AS SELECT genre, genre_rank, series_title, released_year, imdb_rating, no_of_votes FROM (SELECT g.genre, RANK() OVER (PARTITION BY g.genre ORDER BY m.imdb_rating DESC, m.no_of_votes DESC) AS genre_rank, m.series_title, m.released_year, m.imdb_rating, m.no_of_votes FROM movies.movie_genres AS g JOIN movies.imdb_movies_rating AS m ON m.movie_id = g.movie_id WHERE NOT m.imdb_rating IS NULL AND m.no_of_votes >= 25000) AS ranked WHERE genre_rank <= 10;

/* Movies and their average rating per decade of release. Materialized, incremental. */ DROP MATERIALIZED VIEW IF EXISTS movies.movies_by_decade;

CREATE MATERIALIZED VIEW movies.movies_by_decade AUTO REFRESH NO AS SELECT (released_year / 10) * 10 AS decade, COUNT(*) AS movies, COUNT(imdb_rating) AS rated_movies, CAST(AVG(imdb_rating) AS DECIMAL(4, 2)) AS avg_rating FROM movies.imdb_movies_rating WHERE NOT released_year IS NULL GROUP BY (released_year / 10) * 10;

/* Directors by their number of top rated movies. Materialized, incremental. */ DROP MATERIALIZED VIEW IF EXISTS movies.top_directors;

CREATE MATERIALIZED VIEW movies.top_directors AUTO REFRESH NO AS SELECT director, COUNT(*) AS top_rated_movies, CAST(AVG(imdb_rating) AS DECIMAL(4, 2)) AS avg_rating, SUM(no_of_votes) AS votes FROM movies.imdb_movies_rating WHERE imdb_rating >= 8.0 AND no_of_votes >= 25000 AND NOT director IS NULL GROUP BY director;

/* Actors (any of the four billed stars) by their number of top rated movies. Materialized, */ /* incremental (an inner join and GROUP BY). */ DROP MATERIALIZED VIEW IF EXISTS movies.top_actors;

CREATE MATERIALIZED VIEW movies.top_actors AUTO REFRESH NO AS SELECT c.actor, COUNT(*) AS top_rated_movies, SUM(CASE WHEN c.billing_order = 1 THEN 1 ELSE 0 END) AS top_billed, CAST(AVG(m.imdb_rating) AS DECIMAL(4, 2)) AS avg_rating FROM movies.movie_cast AS c JOIN movies.imdb_movies_rating AS m ON m.movie_id = c.movie_id WHERE m.imdb_rating >= 8.0 AND m.no_of_votes >= 25000 GROUP BY c.actor;

/* Box-office gross per genre (a movie counts in each of its genres); the average is rounded to */ /* whole dollars from cents, which both databases compute alike. Materialized, incremental. */ DROP MATERIALIZED VIEW IF EXISTS movies.gross_by_genre;

CREATE MATERIALIZED VIEW movies.gross_by_genre AUTO REFRESH NO AS SELECT g.genre, COUNT(*) AS movies, COUNT(m.gross_usd) AS movies_with_gross, SUM(m.gross_usd) AS total_gross_usd, CAST(ROUND(AVG(CAST(m.gross_usd AS DECIMAL(20, 2)))) AS BIGINT) AS avg_gross_usd FROM movies.movie_genres AS g JOIN movies.imdb_movies_rating AS m ON m.movie_id = g.movie_id GROUP BY g.genre;

/* Per committed batch: counts, data-quality pass rate (good / (good + bad)) and lag from */ /* production to commit for its oldest and newest record. Plain view. */ DROP VIEW IF EXISTS movies.pipeline_health_batches;

CREATE VIEW movies.pipeline_health_batches AS SELECT l.job_name, l.stream_id, l.batch_id, l.committed_at, l.records_in, l.good_records, l.bad_records, l.duplicates_dropped, CAST(l.good_records AS DECIMAL(18, 4)) / NULLIF(l.good_records + l.bad_records, 0) AS dq_pass_rate, DATEDIFF(MILLISECOND, l.min_produced_at, l.committed_at) / 1000.0 AS lag_oldest_s, DATEDIFF(MILLISECOND, l.max_produced_at, l.committed_at) / 1000.0 AS lag_newest_s, l.seconds_total FROM movies.batch_ledger AS l;

/* Per job and hour of commit: batches, records per minute, pass rate, lag. Plain view. */ DROP VIEW IF EXISTS movies.pipeline_health_hourly;

CREATE VIEW movies.pipeline_health_hourly AS SELECT job_name, DATE_TRUNC('HOUR', committed_at) AS committed_hour, COUNT(*) AS batches, SUM(records_in) AS records_in, SUM(records_in) / 60.0 AS records_per_minute, CAST(SUM(good_records) AS DECIMAL(18, 4)) / NULLIF(SUM(good_records) + SUM(bad_records), 0) AS dq_pass_rate, MAX(DATEDIFF(MILLISECOND, min_produced_at, committed_at)) / 1000.0 AS max_lag_s FROM movies.batch_ledger GROUP BY job_name, DATE_TRUNC('HOUR', committed_at);

/* One row per job: its last committed batch, seconds since, and the last hour's throughput, */ /* pass rate and lag. Plain view: it reads the clock. */ DROP VIEW IF EXISTS movies.pipeline_health;

CREATE VIEW movies.pipeline_health AS SELECT latest.job_name, latest.batch_id AS last_batch_id, latest.committed_at AS last_committed_at, DATEDIFF(SECOND, latest.committed_at, GETDATE()) AS seconds_since_last_commit, COALESCE(recent.batches, 0) AS batches_last_hour, COALESCE(recent.records_in, 0) / 60.0 AS records_per_minute_last_hour, recent.dq_pass_rate AS dq_pass_rate_last_hour, recent.max_lag_s AS max_lag_s_last_hour FROM (SELECT job_name, batch_id, committed_at, ROW_NUMBER() OVER (PARTITION BY job_name ORDER BY committed_at DESC, batch_id DESC) AS newest FROM movies.batch_ledger) AS latest LEFT JOIN (SELECT job_name, COUNT(*) AS batches, SUM(records_in) AS records_in, CAST(SUM(good_records) AS DECIMAL(18, 4)) / NULLIF(SUM(good_records) + SUM(bad_records), 0) AS dq_pass_rate, MAX(DATEDIFF(MILLISECOND, min_produced_at, committed_at)) / 1000.0 AS max_lag_s FROM movies.batch_ledger WHERE committed_at >= DATEADD(HOUR, -1, GETDATE()) GROUP BY job_name) AS recent ON recent.job_name = latest.job_name WHERE latest.newest = 1;

COMMIT;

