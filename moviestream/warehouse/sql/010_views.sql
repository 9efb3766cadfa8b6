-- Views people query (Redshift dialect), re-applied after the schema and migrations on every
-- `apply`. Each view is dropped and created again: Redshift has no OR REPLACE for materialized
-- views, and OR REPLACE cannot change a view's columns.
--
-- "Top rated" everywhere means: an IMDb rating of at least 8.0 from at least 25,000 votes (below
-- that, a rating says little). Aggregated views are materialized; the ones marked "incremental"
-- use only constructs AWS lists for incremental refresh (SELECT, FROM, inner JOIN, WHERE, GROUP
-- BY; COUNT, SUM, AVG; immutable functions), so Redshift refreshes them incrementally. The others
-- (window functions, the clock) are plain views, always current. No view orders its rows:
-- `moviestream warehouse query` does.
--
-- AUTO REFRESH NO, on purpose: Redshift runs auto refresh only when the workgroup has spare
-- capacity and pauses it for user workloads, and the streaming job's MERGE every few seconds is
-- one, so an auto-refreshed view lags by an unknown amount. The jobs refresh these views after
-- batches commit instead, at most every --views-refresh-seconds, and record each refresh
-- (moviestream/warehouse/views.py); auto refresh on top would only spend RPUs at times no one
-- chose. Locally they are PostgreSQL materialized views, refreshed by the same code.

-- Top rated movies. Materialized, incremental.
DROP MATERIALIZED VIEW IF EXISTS movies.top_rated;
CREATE MATERIALIZED VIEW movies.top_rated AUTO REFRESH NO AS
SELECT
    movie_id,
    series_title,
    released_year,
    imdb_rating,
    no_of_votes,
    director,
    genres
FROM movies.imdb_movies_rating
WHERE imdb_rating >= 8.0
  AND no_of_votes >= 25000;

-- The ten best rated movies of every genre with at least 25,000 votes (ties share a rank, so a
-- genre can list more than ten). Plain view: RANK() is a window function.
DROP VIEW IF EXISTS movies.top_rated_by_genre;
CREATE VIEW movies.top_rated_by_genre AS
SELECT genre, genre_rank, series_title, released_year, imdb_rating, no_of_votes
FROM (
    SELECT
        g.genre,
        RANK() OVER (PARTITION BY g.genre ORDER BY m.imdb_rating DESC, m.no_of_votes DESC) AS genre_rank,
        m.series_title,
        m.released_year,
        m.imdb_rating,
        m.no_of_votes
    FROM movies.movie_genres AS g
    JOIN movies.imdb_movies_rating AS m ON m.movie_id = g.movie_id
    WHERE m.imdb_rating IS NOT NULL
      AND m.no_of_votes >= 25000
) AS ranked
WHERE genre_rank <= 10;

-- Movies and their average rating per decade of release. Materialized, incremental.
DROP MATERIALIZED VIEW IF EXISTS movies.movies_by_decade;
CREATE MATERIALIZED VIEW movies.movies_by_decade AUTO REFRESH NO AS
SELECT
    (released_year / 10) * 10 AS decade,
    COUNT(*) AS movies,
    COUNT(imdb_rating) AS rated_movies,
    CAST(AVG(imdb_rating) AS DECIMAL(4, 2)) AS avg_rating
FROM movies.imdb_movies_rating
WHERE released_year IS NOT NULL
GROUP BY (released_year / 10) * 10;

-- Directors by their number of top rated movies. Materialized, incremental.
DROP MATERIALIZED VIEW IF EXISTS movies.top_directors;
CREATE MATERIALIZED VIEW movies.top_directors AUTO REFRESH NO AS
SELECT
    director,
    COUNT(*) AS top_rated_movies,
    CAST(AVG(imdb_rating) AS DECIMAL(4, 2)) AS avg_rating,
    SUM(no_of_votes) AS votes
FROM movies.imdb_movies_rating
WHERE imdb_rating >= 8.0
  AND no_of_votes >= 25000
  AND director IS NOT NULL
GROUP BY director;

-- Actors (any of the four billed stars) by their number of top rated movies. Materialized,
-- incremental (an inner join and GROUP BY).
DROP MATERIALIZED VIEW IF EXISTS movies.top_actors;
CREATE MATERIALIZED VIEW movies.top_actors AUTO REFRESH NO AS
SELECT
    c.actor,
    COUNT(*) AS top_rated_movies,
    SUM(CASE WHEN c.billing_order = 1 THEN 1 ELSE 0 END) AS top_billed,
    CAST(AVG(m.imdb_rating) AS DECIMAL(4, 2)) AS avg_rating
FROM movies.movie_cast AS c
JOIN movies.imdb_movies_rating AS m ON m.movie_id = c.movie_id
WHERE m.imdb_rating >= 8.0
  AND m.no_of_votes >= 25000
GROUP BY c.actor;

-- Box-office gross per genre (a movie counts in each of its genres); the average is rounded to
-- whole dollars from cents, which both databases compute alike. Materialized, incremental.
DROP MATERIALIZED VIEW IF EXISTS movies.gross_by_genre;
CREATE MATERIALIZED VIEW movies.gross_by_genre AUTO REFRESH NO AS
SELECT
    g.genre,
    COUNT(*) AS movies,
    COUNT(m.gross_usd) AS movies_with_gross,
    SUM(m.gross_usd) AS total_gross_usd,
    CAST(ROUND(AVG(CAST(m.gross_usd AS DECIMAL(20, 2)))) AS BIGINT) AS avg_gross_usd
FROM movies.movie_genres AS g
JOIN movies.imdb_movies_rating AS m ON m.movie_id = g.movie_id
GROUP BY g.genre;

-- Per committed batch: counts, data-quality pass rate (good / (good + bad)) and lag from
-- production to commit for its oldest and newest record. Plain view.
DROP VIEW IF EXISTS movies.pipeline_health_batches;
CREATE VIEW movies.pipeline_health_batches AS
SELECT
    l.job_name,
    l.stream_id,
    l.batch_id,
    l.committed_at,
    l.records_in,
    l.good_records,
    l.bad_records,
    l.duplicates_dropped,
    CAST(l.good_records AS DECIMAL(18, 4)) / NULLIF(l.good_records + l.bad_records, 0) AS dq_pass_rate,
    DATEDIFF(millisecond, l.min_produced_at, l.committed_at) / 1000.0 AS lag_oldest_s,
    DATEDIFF(millisecond, l.max_produced_at, l.committed_at) / 1000.0 AS lag_newest_s,
    l.seconds_total
FROM movies.batch_ledger AS l;

-- Per job and hour of commit: batches, records per minute, pass rate, lag. Plain view.
DROP VIEW IF EXISTS movies.pipeline_health_hourly;
CREATE VIEW movies.pipeline_health_hourly AS
SELECT
    job_name,
    DATE_TRUNC('hour', committed_at) AS committed_hour,
    COUNT(*) AS batches,
    SUM(records_in) AS records_in,
    SUM(records_in) / 60.0 AS records_per_minute,
    CAST(SUM(good_records) AS DECIMAL(18, 4)) / NULLIF(SUM(good_records) + SUM(bad_records), 0) AS dq_pass_rate,
    MAX(DATEDIFF(millisecond, min_produced_at, committed_at)) / 1000.0 AS max_lag_s
FROM movies.batch_ledger
GROUP BY job_name, DATE_TRUNC('hour', committed_at);

-- One row per job: its last committed batch, seconds since, and the last hour's throughput,
-- pass rate and lag. Plain view: it reads the clock.
DROP VIEW IF EXISTS movies.pipeline_health;
CREATE VIEW movies.pipeline_health AS
SELECT
    latest.job_name,
    latest.batch_id AS last_batch_id,
    latest.committed_at AS last_committed_at,
    DATEDIFF(second, latest.committed_at, GETDATE()) AS seconds_since_last_commit,
    COALESCE(recent.batches, 0) AS batches_last_hour,
    COALESCE(recent.records_in, 0) / 60.0 AS records_per_minute_last_hour,
    recent.dq_pass_rate AS dq_pass_rate_last_hour,
    recent.max_lag_s AS max_lag_s_last_hour
FROM (
    SELECT
        job_name,
        batch_id,
        committed_at,
        ROW_NUMBER() OVER (PARTITION BY job_name ORDER BY committed_at DESC, batch_id DESC) AS newest
    FROM movies.batch_ledger
) AS latest
LEFT JOIN (
    SELECT
        job_name,
        COUNT(*) AS batches,
        SUM(records_in) AS records_in,
        CAST(SUM(good_records) AS DECIMAL(18, 4)) / NULLIF(SUM(good_records) + SUM(bad_records), 0) AS dq_pass_rate,
        MAX(DATEDIFF(millisecond, min_produced_at, committed_at)) / 1000.0 AS max_lag_s
    FROM movies.batch_ledger
    WHERE committed_at >= DATEADD(hour, -1, GETDATE())
    GROUP BY job_name
) AS recent ON recent.job_name = latest.job_name
WHERE latest.newest = 1;
