-- Cast bridge: one row per movie and billed star (Star1..Star4 -> billing_order 1..4), for the
-- actor views. DISTKEY(movie_id) co-locates a movie's cast with its movie row for the join;
-- SORTKEY(actor) serves the per-actor grouping. Backfilled from the movies already loaded; the
-- batch MERGE keeps it current from then on (merge_movies.sql).
CREATE TABLE IF NOT EXISTS movies.movie_cast (
    movie_id       VARCHAR(16)  NOT NULL,
    billing_order  SMALLINT     NOT NULL,
    actor          VARCHAR(512) NOT NULL,
    PRIMARY KEY (movie_id, billing_order)
) DISTKEY(movie_id) SORTKEY(actor);

DELETE FROM movies.movie_cast;

INSERT INTO movies.movie_cast (movie_id, billing_order, actor)
SELECT movie_id, 1, star1 FROM movies.imdb_movies_rating WHERE star1 IS NOT NULL
UNION ALL
SELECT movie_id, 2, star2 FROM movies.imdb_movies_rating WHERE star2 IS NOT NULL
UNION ALL
SELECT movie_id, 3, star3 FROM movies.imdb_movies_rating WHERE star3 IS NOT NULL
UNION ALL
SELECT movie_id, 4, star4 FROM movies.imdb_movies_rating WHERE star4 IS NOT NULL;

-- top_rated becomes a materialized view on Redshift (010_views.sql); the plain view of that name
-- that earlier versions created must go first, since the views file drops it as a materialized one.
DROP VIEW IF EXISTS movies.top_rated;
