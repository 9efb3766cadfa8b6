-- Refresh the genre and cast bridges for the movies a batch changed (Redshift dialect). Runs in
-- the batch's transaction right after merge_movies.sql, whose newer-wins DELETE has already
-- removed the staged rows the warehouse superseded, so only changed movies are touched. Only the
-- bridge rows that differ are deleted or inserted: an update that keeps a movie's genres and cast
-- (a new vote count, say) writes no bridge row at all.
--
-- A movie new to the warehouse (not in stage_existing, see merge_movies.sql) has no bridge rows
-- yet: its genres and cast are inserted without being compared, and the deletes only look at the
-- movies that existed. Comparing every staged movie instead made each batch of a backfill scan
-- (and sort) the whole of both bridge tables, a cost that grew with the warehouse.

-- Genres of staged movies that the MERGE dropped as superseded are not the warehouse's business.
-- Removing them here also keeps the join to stage_movies out of the INSERTs below: PostgreSQL
-- misjudged that anti-join as returning almost nothing and then joined stage_movies by a nested
-- loop, which took minutes for a 50,000-movie batch into a populated warehouse.
DELETE FROM stage_genres
WHERE NOT EXISTS (SELECT 1 FROM stage_movies WHERE stage_movies.movie_id = stage_genres.movie_id);

-- Genres the existing movies no longer have.
DELETE FROM movies.movie_genres
USING stage_existing
WHERE movies.movie_genres.movie_id = stage_existing.movie_id
  AND NOT EXISTS (
      SELECT 1 FROM stage_genres
      WHERE stage_genres.movie_id = movies.movie_genres.movie_id
        AND stage_genres.genre = movies.movie_genres.genre
  );

-- Every genre of a new movie, then the genres existing movies gain; each in key order (the
-- primary key's index then grows in order, not at random).
INSERT INTO movies.movie_genres (movie_id, genre)
SELECT DISTINCT sg.movie_id, sg.genre
FROM stage_genres AS sg
WHERE NOT EXISTS (SELECT 1 FROM stage_existing AS e WHERE e.movie_id = sg.movie_id)
ORDER BY sg.movie_id, sg.genre;

INSERT INTO movies.movie_genres (movie_id, genre)
SELECT DISTINCT sg.movie_id, sg.genre
FROM stage_genres AS sg
JOIN stage_existing AS e ON e.movie_id = sg.movie_id
WHERE NOT EXISTS (
    SELECT 1 FROM movies.movie_genres AS g WHERE g.movie_id = sg.movie_id AND g.genre = sg.genre
)
ORDER BY sg.movie_id, sg.genre;

-- Cast: Star1..Star4 of the staged movies as (billing_order, actor) rows.
CREATE TEMP TABLE stage_cast AS
SELECT movie_id, 1 AS billing_order, star1 AS actor FROM stage_movies WHERE star1 IS NOT NULL
UNION ALL
SELECT movie_id, 2, star2 FROM stage_movies WHERE star2 IS NOT NULL
UNION ALL
SELECT movie_id, 3, star3 FROM stage_movies WHERE star3 IS NOT NULL
UNION ALL
SELECT movie_id, 4, star4 FROM stage_movies WHERE star4 IS NOT NULL;

-- Billings of existing movies that changed or went away.
DELETE FROM movies.movie_cast
USING stage_existing
WHERE movies.movie_cast.movie_id = stage_existing.movie_id
  AND NOT EXISTS (
      SELECT 1 FROM stage_cast AS sc
      WHERE sc.movie_id = movies.movie_cast.movie_id
        AND sc.billing_order = movies.movie_cast.billing_order
        AND sc.actor = movies.movie_cast.actor
  );

-- Every billing of a new movie, then the billings of existing movies that are new or changed;
-- each in key order.
INSERT INTO movies.movie_cast (movie_id, billing_order, actor)
SELECT sc.movie_id, sc.billing_order, sc.actor
FROM stage_cast AS sc
WHERE NOT EXISTS (SELECT 1 FROM stage_existing AS e WHERE e.movie_id = sc.movie_id)
ORDER BY sc.movie_id, sc.billing_order;

INSERT INTO movies.movie_cast (movie_id, billing_order, actor)
SELECT sc.movie_id, sc.billing_order, sc.actor
FROM stage_cast AS sc
JOIN stage_existing AS e ON e.movie_id = sc.movie_id
WHERE NOT EXISTS (
    SELECT 1 FROM movies.movie_cast AS c
    WHERE c.movie_id = sc.movie_id AND c.billing_order = sc.billing_order
)
ORDER BY sc.movie_id, sc.billing_order;

DROP TABLE stage_cast;

DROP TABLE stage_existing;
