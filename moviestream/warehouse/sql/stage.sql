-- Staging tables of one micro-batch (Redshift dialect). Temporary: they belong to the loading
-- session, which ends with the batch's transaction, so concurrent loads never see each other's.
-- stage_movies has the warehouse table's exact columns and types, so COPY and MERGE line up.
CREATE TEMP TABLE stage_movies (LIKE movies.imdb_movies_rating);

CREATE TEMP TABLE stage_genres (
    movie_id  VARCHAR(16)  NOT NULL,
    genre     VARCHAR(128) NOT NULL
);
