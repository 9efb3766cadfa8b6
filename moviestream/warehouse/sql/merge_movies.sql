-- Load one staged micro-batch into movies.imdb_movies_rating (Redshift dialect).
-- The pipeline runs these statements inside the batch's transaction, after staging the batch
-- (newest event per movie) into the temporary table stage_movies.

-- An older event never overwrites a newer one: drop staged rows the warehouse has already
-- superseded (Redshift's MERGE allows no extra condition on WHEN MATCHED, so it happens here).
DELETE FROM stage_movies
USING movies.imdb_movies_rating
WHERE stage_movies.movie_id = movies.imdb_movies_rating.movie_id
  AND stage_movies.event_produced_at < movies.imdb_movies_rating.event_produced_at;

-- The staged movies the warehouse has already, before this MERGE. Only their genre and cast
-- rows can need deleting or comparing (refresh_bridges.sql): a movie new to the warehouse has
-- none, since bridge rows are only ever written with their movie, in the same transaction.
CREATE TEMP TABLE stage_existing AS
SELECT s.movie_id
FROM stage_movies AS s
WHERE EXISTS (SELECT 1 FROM movies.imdb_movies_rating AS m WHERE m.movie_id = s.movie_id);

ANALYZE stage_existing;

MERGE INTO movies.imdb_movies_rating
USING stage_movies AS s
ON movies.imdb_movies_rating.movie_id = s.movie_id
WHEN MATCHED THEN UPDATE SET
    series_title = s.series_title,
    released_year = s.released_year,
    certificate = s.certificate,
    runtime_minutes = s.runtime_minutes,
    genres = s.genres,
    imdb_rating = s.imdb_rating,
    overview = s.overview,
    meta_score = s.meta_score,
    director = s.director,
    star1 = s.star1,
    star2 = s.star2,
    star3 = s.star3,
    star4 = s.star4,
    no_of_votes = s.no_of_votes,
    gross_usd = s.gross_usd,
    poster_link = s.poster_link,
    event_id = s.event_id,
    event_produced_at = s.event_produced_at,
    last_updated_at = s.last_updated_at,
    last_job = s.last_job,
    last_batch_id = s.last_batch_id
WHEN NOT MATCHED THEN INSERT (
    movie_id, series_title, released_year, certificate, runtime_minutes, genres, imdb_rating,
    overview, meta_score, director, star1, star2, star3, star4, no_of_votes, gross_usd,
    poster_link, event_id, event_produced_at, first_seen_at, last_updated_at, last_job, last_batch_id
) VALUES (
    s.movie_id, s.series_title, s.released_year, s.certificate, s.runtime_minutes, s.genres, s.imdb_rating,
    s.overview, s.meta_score, s.director, s.star1, s.star2, s.star3, s.star4, s.no_of_votes, s.gross_usd,
    s.poster_link, s.event_id, s.event_produced_at, s.first_seen_at, s.last_updated_at, s.last_job, s.last_batch_id
);
