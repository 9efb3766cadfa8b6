-- Views people query. Redshift dialect; re-applied after the schema on every `apply`.

-- Top rated movies with enough votes for the rating to mean something.
CREATE OR REPLACE VIEW movies.top_rated AS
SELECT
    series_title,
    released_year,
    imdb_rating,
    no_of_votes,
    director,
    genres
FROM movies.imdb_movies_rating
WHERE imdb_rating IS NOT NULL
  AND no_of_votes >= 25000
ORDER BY imdb_rating DESC, no_of_votes DESC, series_title;
